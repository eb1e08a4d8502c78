"""The GCS cold store (`gs://bucket/prefix`), through google-cloud-storage.

DuckDB cannot read gs:// here (no httpfs offline): files it needs are downloaded into a
local cache folder first, each checked against its recorded SHA-256.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from session_backup.cold.storage import (
    ColdStore,
    ObjectExists,
    RetentionBlocked,
    StoredObject,
    file_md5_base64,
)
from session_backup.errors import BackupError


def make_storage_client(settings=None):
    """google-cloud-storage client: the configured endpoint (Settings.gcs_endpoint: an emulator,
    or a private endpoint) with anonymous credentials, else Application Default Credentials.
    Errors are one clear line."""
    if settings is None:
        from session_backup.config import load_settings

        settings = load_settings()
    try:
        from google.cloud import storage
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BackupError(
            "google-cloud-storage is not installed (pip install google-cloud-storage)."
        ) from exc
    project = settings.gcs_project
    endpoint = settings.gcs_endpoint
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(
            project=project or "local",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
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

    def __init__(self, root_uri: str, cache_dir: Path, client=None, settings=None) -> None:
        if not root_uri.startswith("gs://"):
            raise BackupError(f"Not a gs:// cold root: {root_uri!r}")
        bucket, _, prefix = root_uri[len("gs://") :].partition("/")
        if not bucket:
            raise BackupError(
                f"The cold root {root_uri!r} names no bucket: use gs://bucket/prefix."
            )
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.root_uri = f"gs://{bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self.cache_dir = Path(cache_dir).resolve()
        self._client = client
        self._bucket = None
        self.settings = settings
        # The BigQuery emulator writes EXPORT DATA to `gs://` here instead (bigquery_staging.py).
        self.export_local_root = settings.bigquery_export_local_root if settings else None

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = make_storage_client(self.settings)
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
            raise BackupError(
                f"GCS refused to {what} in {self.root_uri}: {_first_line(exc)} "
                "(check the credentials' roles on the bucket)."
            ) from exc
        except gexc.Unauthorized as exc:
            raise BackupError(
                f"GCS credentials were rejected for {self.root_uri}: {_first_line(exc)}"
            ) from exc
        except gexc.GoogleAPICallError:
            raise
        except BackupError:
            raise
        except Exception as exc:  # connection refused, DNS, TLS...: the client raises many types
            from google.auth.exceptions import DefaultCredentialsError, RefreshError

            if isinstance(exc, (DefaultCredentialsError, RefreshError)):
                raise BackupError(
                    f"No usable Google Cloud credentials for {self.root_uri}: {_first_line(exc)}"
                ) from exc
            raise BackupError(
                f"Cannot reach GCS for {self.root_uri} ({what}): {_first_line(exc)}"
            ) from exc

    # -- ColdStore --------------------------------------------------------------------------------
    def uri_for(self, relative: str) -> str:
        return f"gs://{self.bucket_name}/{self._name(relative)}"

    def check_ready(self) -> None:
        from google.api_core import exceptions as gexc

        try:
            self._call(
                "check",
                lambda: list(
                    self.client.list_blobs(self.bucket_name, prefix=self._name(""), max_results=1)
                ),
            )
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
        names = self._call(
            "list",
            lambda: [blob.name for blob in self.client.list_blobs(self.bucket_name, prefix=full)],
        )
        return sorted(name[len(base) :] if base else name for name in names)

    def staging_dir(self) -> Path:
        path = self.cache_dir / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def put(
        self, local_path: Path, relative: str, storage_class: str | None = None
    ) -> StoredObject:
        from google.api_core import exceptions as gexc

        blob = self.bucket.blob(self._name(relative))
        if storage_class:
            blob.storage_class = storage_class
        try:
            self._call(
                "upload",
                blob.upload_from_filename,
                str(local_path),
                if_generation_match=0,
                checksum="md5",
            )
        except gexc.PreconditionFailed as exc:
            raise ObjectExists(
                f"Cold object {self.uri_for(relative)} already exists; it is never overwritten."
            ) from exc
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
        return StoredObject(
            uri=self.uri_for(relative),
            relative_path=relative,
            bytes=int(blob.size),
            md5_base64=blob.md5_hash,
            generation=blob.generation,
            storage_class=blob.storage_class or storage_class,
        )

    def stat(self, relative: str) -> StoredObject | None:
        blob = self._call("read", self.bucket.get_blob, self._name(relative))
        if blob is None:
            return None
        return StoredObject(
            uri=self.uri_for(relative),
            relative_path=relative,
            bytes=int(blob.size or 0),
            md5_base64=blob.md5_hash,
            generation=blob.generation,
            storage_class=blob.storage_class,
        )

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
        retain_until = (
            getattr(retention, "retain_until_time", None) if retention is not None else None
        )
        if retain_until and (until is None or retain_until > until):
            until = retain_until
        if until is not None and until > now:
            return RetentionBlocked(
                uri, until, f"under the bucket retention policy until {until.isoformat()}"
            )
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
            raise BackupError(
                f"{self.uri_for(relative)} changed since it was recorded (generation "
                f"{generation}); not deleted."
            ) from exc
        except gexc.Forbidden as exc:  # pragma: no cover - mapped in _call
            raise RetentionBlocked(self.uri_for(relative), None, _first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
