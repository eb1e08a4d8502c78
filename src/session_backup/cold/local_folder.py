"""The local-folder cold store (the default)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from session_backup.cold.storage import ColdStore, ObjectExists, StoredObject
from session_backup.errors import BackupError


class LocalFolderStore(ColdStore):
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root_uri = str(self.root)

    def _path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if self.root not in path.parents:
            raise BackupError(
                f"Refusing a cold path outside the cold root {self.root}: {relative!r}"
            )
        return path

    def uri_for(self, relative: str) -> str:
        return str(self._path(relative))

    def check_ready(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(
                f"Cannot create the cold folder {self.root}: {exc.strerror}. "
                "Set SESSION_BACKUP_COLD_ROOT to a writable folder or gs://bucket/prefix."
            ) from exc
        if not os.access(self.root, os.W_OK):
            raise BackupError(f"The cold folder {self.root} is not writable.")

    def list_relative(self, prefix: str) -> list[str]:
        folder = self._path(prefix) if prefix else self.root
        if not folder.is_dir():
            return []
        return sorted(
            str(path.relative_to(self.root)) for path in folder.rglob("*") if path.is_file()
        )

    def staging_dir(self) -> Path:
        path = self.root / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def put(
        self, local_path: Path, relative: str, storage_class: str | None = None
    ) -> StoredObject:
        destination = self._path(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        _fsync_file(local_path)
        try:
            # A hard link puts the fully written, verified file in place atomically and fails
            # if the name exists: never a half-written or overwritten part file.
            os.link(local_path, destination)
        except FileExistsError as exc:
            raise ObjectExists(
                f"Cold file {destination} already exists; it is never overwritten."
            ) from exc
        except OSError:
            with open(local_path, "rb") as source, open(destination, "xb") as target:
                shutil.copyfileobj(source, target)
                target.flush()
                os.fsync(target.fileno())
        _fsync_dir(destination.parent)
        return StoredObject(
            uri=str(destination),
            relative_path=relative,
            bytes=destination.stat().st_size,
            md5_base64=None,
            generation=None,
            storage_class=None,
        )

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
