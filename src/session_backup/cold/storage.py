"""A cold store: one cold root (local folder or gs://bucket/prefix) that only moves whole files.

Every object is created once and never overwritten (local: hard link into place; GCS:
`if_generation_match=0`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from session_backup.errors import BackupError

STORAGE_CLASSES = ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")


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

    def put(
        self, local_path: Path, relative: str, storage_class: str | None = None
    ) -> StoredObject:
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


def cache_dir_for(settings) -> Path:
    """Where gs:// cold files are downloaded for DuckDB: SESSION_BACKUP_COLD_CACHE, else a
    `cold-cache` folder next to the backup database."""
    if settings.cold_cache_dir is not None:
        return Path(settings.cold_cache_dir)
    return Path(settings.backup_db).resolve().parent / "cold-cache"


def open_store(settings, root_uri: str | None = None, client=None) -> ColdStore:
    """The store for a cold root (default: the configured SESSION_BACKUP_COLD_ROOT)."""
    from session_backup.cold.gcs import GCSStore
    from session_backup.cold.local_folder import LocalFolderStore

    root = root_uri or settings.cold_root
    if root.startswith("gs://"):
        return GCSStore(root, cache_dir_for(settings), client=client, settings=settings)
    if "://" in root:
        raise BackupError(
            f"Unsupported cold root {root!r}: use a local folder or gs://bucket/prefix."
        )
    return LocalFolderStore(Path(root))
