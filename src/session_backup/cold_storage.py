"""Where cold history lives: a local folder (the default) or a GCS bucket (`gs://bucket/prefix`).

A store only moves whole files; it knows nothing about tables or sessions. Every object is
created once and never overwritten (local: hard link into place; GCS: `if_generation_match=0`).

Layout under the cold root (readable, and safe whatever a scope contains):

    <table>/scope=<percent-encoded scope>/closed_month=<yyyy-mm>/part-<nnnnn>.parquet

DuckDB cannot read `gs://` here (no httpfs offline), so a GCS store downloads the files DuckDB
needs into a local cache folder first, checking each one against its recorded SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from session_backup.errors import BackupError

# Longest encoded scope kept verbatim in a path segment (file systems cap a segment at 255 bytes).
MAX_SCOPE_SEGMENT = 120
STORAGE_CLASSES = ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")


def encode_scope(scope: str) -> str:
    """A path segment for a scope: percent-encoding of its UTF-8 bytes, '%' and '/' included,
    so `..`, slashes, wildcards or control characters can never act as path syntax. Very long
    scopes keep a readable prefix and a hash suffix; the manifest holds the exact scope."""
    # Letters, digits and `_.-~` stay as they are; everything else becomes %XX. The segment
    # always starts with `scope=`, so even a scope of `..` is not a path step.
    encoded = quote(scope, safe="")
    if len(encoded) > MAX_SCOPE_SEGMENT:
        digest = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:16]
        cut = encoded[: MAX_SCOPE_SEGMENT - 17]
        escape = cut.rfind("%")
        if escape != -1 and escape > len(cut) - 3:  # never split a %XX sequence
            cut = cut[:escape]
        encoded = f"{cut}~{digest}"
    return encoded


def relative_path(table: str, scope: str, closed_month: str, part: int) -> str:
    return f"{table}/scope={encode_scope(scope)}/closed_month={closed_month}/part-{part:05d}.parquet"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_md5_base64(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


@dataclass(frozen=True)
class StoredObject:
    uri: str
    relative_path: str
    bytes: int
    md5_base64: str | None = None
    generation: int | None = None
    storage_class: str | None = None


class ObjectExists(BackupError):
    """The name is taken: cold objects are never overwritten."""


class RetentionBlocked(Exception):
    """The object may not be deleted yet (bucket retention policy or an object hold)."""

    def __init__(self, uri: str, until: datetime | None, reason: str) -> None:
        super().__init__(f"{uri}: {reason}")
        self.uri = uri
        self.until = until
        self.reason = reason


class ColdStore:
    """One cold root. Paths given to it are relative to that root."""

    root_uri: str
    kind: str

    def uri_for(self, relative: str) -> str:
        raise NotImplementedError

    def check_ready(self) -> None:
        """Raise a clear BackupError when the root cannot be used (no bucket, no credentials)."""

    def list_relative(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def put(self, local_path: Path, relative: str, storage_class: str | None = None) -> StoredObject:
        raise NotImplementedError

    def stat(self, relative: str) -> StoredObject | None:
        raise NotImplementedError

    def read_path(self, relative: str) -> Path:
        """The local file DuckDB reads for this object."""
        raise NotImplementedError

    def fetch(self, relative: str, generation: int | None, destination: Path) -> None:
        raise NotImplementedError

    def retention_block(self, relative: str) -> RetentionBlocked | None:
        return None

    def delete(self, relative: str, generation: int | None = None) -> None:
        raise NotImplementedError

    def staging_dir(self) -> Path:
        raise NotImplementedError


class LocalFolderStore(ColdStore):
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root_uri = str(self.root)

    def _path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root not in path.parents:
            raise BackupError(f"Refusing a cold path outside the cold root {self.root}: {relative!r}")
        return path

    def uri_for(self, relative: str) -> str:
        return str(self._path(relative))

    def check_ready(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"Cannot create the cold folder {self.root}: {exc.strerror}. "
                              "Set SESSION_BACKUP_COLD_ROOT to a writable folder or gs://bucket/prefix.") from exc
        if not os.access(self.root, os.W_OK):
            raise BackupError(f"The cold folder {self.root} is not writable.")

    def list_relative(self, prefix: str) -> list[str]:
        folder = self._path(prefix) if prefix else self.root
        if not folder.is_dir():
            return []
        return sorted(str(path.relative_to(self.root)) for path in folder.rglob("*") if path.is_file())

    def staging_dir(self) -> Path:
        path = self.root / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def put(self, local_path: Path, relative: str, storage_class: str | None = None) -> StoredObject:
        destination = self._path(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        _fsync_file(local_path)
        try:
            # A hard link puts the fully written, verified file in place atomically and fails
            # if the name exists: never a half-written or overwritten part file.
            os.link(local_path, destination)
        except FileExistsError as exc:
            raise ObjectExists(f"Cold file {destination} already exists; it is never overwritten.") from exc
        except OSError:
            with open(local_path, "rb") as source, open(destination, "xb") as target:
                shutil.copyfileobj(source, target)
                target.flush()
                os.fsync(target.fileno())
        _fsync_dir(destination.parent)
        return StoredObject(uri=str(destination), relative_path=relative, bytes=destination.stat().st_size,
                            md5_base64=None, generation=None, storage_class=None)

    def stat(self, relative: str) -> StoredObject | None:
        path = self._path(relative)
        if not path.is_file():
            return None
        return StoredObject(uri=str(path), relative_path=relative, bytes=path.stat().st_size)

    def read_path(self, relative: str) -> Path:
        return self._path(relative)

    def fetch(self, relative: str, generation: int | None, destination: Path) -> None:
        source = self._path(relative)
        if source != destination:
            shutil.copyfile(source, destination)

    def delete(self, relative: str, generation: int | None = None) -> None:
        path = self._path(relative)
        path.unlink(missing_ok=True)
        # Tidy empty month/scope/table folders; the root itself stays.
        parent = path.parent
        while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def gcs_endpoint() -> str | None:
    """An explicit endpoint (an emulator, or a private endpoint): anonymous credentials then."""
    return os.environ.get("SESSION_BACKUP_GCS_ENDPOINT") or os.environ.get("STORAGE_EMULATOR_HOST") or None


def make_storage_client():
    """google-cloud-storage client: the configured endpoint with anonymous credentials (emulator),
    else Application Default Credentials. Errors are one clear line."""
    try:
        from google.cloud import storage
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BackupError("google-cloud-storage is not installed (pip install google-cloud-storage).") from exc
    project = os.environ.get("SESSION_BACKUP_GCS_PROJECT") or os.environ.get("SESSION_BACKUP_BQ_PROJECT") or None
    endpoint = gcs_endpoint()
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project or "local", credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": endpoint})
    try:
        from google.auth.exceptions import DefaultCredentialsError
    except ImportError:  # pragma: no cover
        DefaultCredentialsError = Exception
    try:
        return storage.Client(project=project)
    except DefaultCredentialsError as exc:
        raise BackupError(
            "No Google Cloud credentials for the gs:// cold root: set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service account key, or run `gcloud auth application-default login` "
            "(SESSION_BACKUP_GCS_ENDPOINT / STORAGE_EMULATOR_HOST point at an emulator instead)."
        ) from exc


class GCSStore(ColdStore):
    kind = "gcs"

    def __init__(self, root_uri: str, cache_dir: Path, client=None) -> None:
        if not root_uri.startswith("gs://"):
            raise BackupError(f"Not a gs:// cold root: {root_uri!r}")
        bucket, _, prefix = root_uri[len("gs://"):].partition("/")
        if not bucket:
            raise BackupError(f"The cold root {root_uri!r} names no bucket: use gs://bucket/prefix.")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.root_uri = f"gs://{bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self.cache_dir = Path(cache_dir).resolve()
        self._client = client
        self._bucket = None

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = make_storage_client()
        return self._client

    @property
    def bucket(self):
        if self._bucket is None:
            self._bucket = self.client.bucket(self.bucket_name)
        return self._bucket

    def _name(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _call(self, what: str, function, *args, **kwargs):
        """Runs one GCS call; maps its many exception types to one clear line each."""
        from google.api_core import exceptions as gexc

        try:
            return function(*args, **kwargs)
        except gexc.NotFound as exc:
            # Listing or creating an object only 404s when the bucket is missing; for a read or a
            # delete a 404 means the object, which the caller handles.
            if what in ("check", "list", "upload"):
                raise BackupError(
                    f"GCS bucket {self.bucket_name!r} does not exist or is not visible with these credentials "
                    f"(cold root {self.root_uri}): create it, or fix SESSION_BACKUP_COLD_ROOT."
                ) from exc
            raise
        except gexc.Forbidden as exc:
            raise BackupError(f"GCS refused to {what} in {self.root_uri}: {_first_line(exc)} "
                              "(check the credentials' roles on the bucket).") from exc
        except gexc.Unauthorized as exc:
            raise BackupError(f"GCS credentials were rejected for {self.root_uri}: {_first_line(exc)}") from exc
        except gexc.GoogleAPICallError:
            raise
        except BackupError:
            raise
        except Exception as exc:  # connection refused, DNS, TLS...: the client raises many types
            from google.auth.exceptions import DefaultCredentialsError, RefreshError

            if isinstance(exc, (DefaultCredentialsError, RefreshError)):
                raise BackupError(f"No usable Google Cloud credentials for {self.root_uri}: {_first_line(exc)}") from exc
            raise BackupError(f"Cannot reach GCS for {self.root_uri} ({what}): {_first_line(exc)}") from exc

    # -- ColdStore --------------------------------------------------------------------------------
    def uri_for(self, relative: str) -> str:
        return f"gs://{self.bucket_name}/{self._name(relative)}"

    def check_ready(self) -> None:
        from google.api_core import exceptions as gexc

        try:
            self._call("check", lambda: list(self.client.list_blobs(self.bucket_name, prefix=self._name(""),
                                                                    max_results=1)))
        except gexc.NotFound as exc:  # pragma: no cover - mapped in _call
            raise BackupError(f"GCS bucket {self.bucket_name!r} does not exist.") from exc

    def retention_period_seconds(self) -> int | None:
        """The bucket's retention policy, when the credentials may read bucket metadata."""
        from google.api_core import exceptions as gexc

        try:
            bucket = self.client.get_bucket(self.bucket_name)
        except (gexc.Forbidden, gexc.NotFound):
            return None
        return bucket.retention_period

    def list_relative(self, prefix: str) -> list[str]:
        full = self._name(prefix)
        base = self._name("")
        names = self._call("list", lambda: [blob.name for blob in self.client.list_blobs(self.bucket_name, prefix=full)])
        return sorted(name[len(base):] if base else name for name in names)

    def staging_dir(self) -> Path:
        path = self.cache_dir / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def put(self, local_path: Path, relative: str, storage_class: str | None = None) -> StoredObject:
        from google.api_core import exceptions as gexc

        blob = self.bucket.blob(self._name(relative))
        if storage_class:
            blob.storage_class = storage_class
        try:
            self._call("upload", blob.upload_from_filename, str(local_path), if_generation_match=0,
                       checksum="md5")
        except gexc.PreconditionFailed as exc:
            raise ObjectExists(f"Cold object {self.uri_for(relative)} already exists; it is never overwritten.") from exc
        # Read back what GCS stored (size and MD5 from the server): no download, so no retrieval
        # fee on a cold storage class.
        self._call("read back", blob.reload)
        expected_md5 = file_md5_base64(local_path)
        expected_size = local_path.stat().st_size
        if blob.size != expected_size or (blob.md5_hash and blob.md5_hash != expected_md5):
            raise BackupError(
                f"GCS stored {self.uri_for(relative)} with size {blob.size} / md5 {blob.md5_hash}, "
                f"expected {expected_size} / {expected_md5}: upload corrupted, nothing committed."
            )
        return StoredObject(uri=self.uri_for(relative), relative_path=relative, bytes=int(blob.size),
                            md5_base64=blob.md5_hash, generation=blob.generation,
                            storage_class=blob.storage_class or storage_class)

    def stat(self, relative: str) -> StoredObject | None:
        blob = self._call("read", self.bucket.get_blob, self._name(relative))
        if blob is None:
            return None
        return StoredObject(uri=self.uri_for(relative), relative_path=relative, bytes=int(blob.size or 0),
                            md5_base64=blob.md5_hash, generation=blob.generation, storage_class=blob.storage_class)

    def read_path(self, relative: str) -> Path:
        path = (self.cache_dir / self.bucket_name / self._name(relative)).resolve()
        if self.cache_dir not in path.parents:
            raise BackupError(f"Refusing a cache path outside {self.cache_dir}: {relative!r}")
        return path

    def fetch(self, relative: str, generation: int | None, destination: Path) -> None:
        from google.api_core import exceptions as gexc

        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        blob = self.bucket.blob(self._name(relative), generation=generation)
        try:
            self._call("download", blob.download_to_filename, str(partial))
        except gexc.NotFound as exc:
            partial.unlink(missing_ok=True)
            raise BackupError(
                f"Cold file {self.uri_for(relative)} is missing from GCS at its recorded generation {generation} "
                "(deleted, or replaced by other bytes); nothing was restored. With object versioning or soft "
                "delete on the bucket the recorded generation can be brought back (docs/cold-storage.md)."
            ) from exc
        os.replace(partial, destination)

    def retention_block(self, relative: str) -> RetentionBlocked | None:
        blob = self._call("read", self.bucket.get_blob, self._name(relative))
        if blob is None:
            return None
        now = datetime.now(timezone.utc)
        uri = self.uri_for(relative)
        if blob.temporary_hold or blob.event_based_hold:
            return RetentionBlocked(uri, None, "the object is under a hold")
        until = blob.retention_expiration_time
        retention = getattr(blob, "retention", None)  # object retention lock (newer API)
        retain_until = getattr(retention, "retain_until_time", None) if retention is not None else None
        if retain_until and (until is None or retain_until > until):
            until = retain_until
        if until is not None and until > now:
            return RetentionBlocked(uri, until, f"under the bucket retention policy until {until.isoformat()}")
        return None

    def delete(self, relative: str, generation: int | None = None) -> None:
        from google.api_core import exceptions as gexc

        blocked = self.retention_block(relative)
        if blocked is not None:
            raise blocked
        blob = self.bucket.blob(self._name(relative))
        try:
            self._call("delete", blob.delete, if_generation_match=generation)
        except gexc.NotFound:
            return  # already gone: deleting is idempotent
        except gexc.PreconditionFailed as exc:
            raise BackupError(f"{self.uri_for(relative)} changed since it was recorded (generation "
                              f"{generation}); not deleted.") from exc
        except gexc.Forbidden as exc:  # pragma: no cover - mapped in _call
            raise RetentionBlocked(self.uri_for(relative), None, _first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def cache_dir_for(settings) -> Path:
    """Where gs:// cold files are downloaded for DuckDB: SESSION_BACKUP_COLD_CACHE, else a
    `cold-cache` folder next to the backup database."""
    configured = os.environ.get("SESSION_BACKUP_COLD_CACHE")
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else Path(settings.project_dir) / path
    return Path(settings.backup_db).resolve().parent / "cold-cache"


def open_store(settings, root_uri: str | None = None, client=None) -> ColdStore:
    """The store for a cold root (default: the configured SESSION_BACKUP_COLD_ROOT)."""
    root = root_uri or settings.cold_root
    if root.startswith("gs://"):
        return GCSStore(root, cache_dir_for(settings), client=client)
    if "://" in root:
        raise BackupError(f"Unsupported cold root {root!r}: use a local folder or gs://bucket/prefix.")
    return LocalFolderStore(Path(root))
