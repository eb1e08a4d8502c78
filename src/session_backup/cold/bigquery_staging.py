"""Where EXPORT DATA's objects are read from before they become cold files.

BigQuery exports each unit to a fresh staging prefix of the cold root,
`<root>/.staging/<file_id>/part-*.parquet`; the CLI reads those objects back, checks them, and
writes the verified bytes under their final names with `if_generation_match=0` (EXPORT DATA
itself cannot refuse to overwrite). Then the staging objects are deleted.

The BigQuery API emulator writes `gs://bucket/path` to a local folder instead of GCS
(`SESSION_BACKUP_BQ_EXPORT_LOCAL_ROOT` names it, for the emulator only): the same steps then
read that folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from session_backup.cold.gcs import GCSStore

STAGING = ".staging"


class ExportStaging:
    """The staging prefix of one GCS cold root."""

    def __init__(self, store: GCSStore) -> None:
        self.store = store
        self.local_root = store.export_local_root  # Settings.bigquery_export_local_root

    def relative_prefix(self, file_id: str) -> str:
        return f"{STAGING}/{file_id}/"

    def uri_pattern(self, file_id: str) -> str:
        return self.store.uri_for(self.relative_prefix(file_id) + "part-*.parquet")

    def _local_folder(self, file_id: str) -> Path:
        assert self.local_root is not None
        return (
            self.local_root
            / self.store.bucket_name
            / self.store._name(self.relative_prefix(file_id))
        )

    def list(self, file_id: str) -> list[str]:
        """Relative names (under the cold root) of the objects exported for this file, sorted."""
        if self.local_root is not None:
            folder = self._local_folder(file_id)
            if not folder.is_dir():
                return []
            return sorted(
                self.relative_prefix(file_id) + path.name
                for path in folder.iterdir()
                if path.is_file()
            )
        return [
            name
            for name in self.store.list_relative(self.relative_prefix(file_id))
            if name.endswith(".parquet")
        ]

    def download(self, relative: str, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        if self.local_root is not None:
            source = self.local_root / self.store.bucket_name / self.store._name(relative)
            shutil.copyfile(source, destination)
            return
        self.store.fetch(relative, None, destination)

    def delete(self, file_id: str) -> None:
        """Idempotent: nothing left of this file's staging prefix."""
        if self.local_root is not None:
            shutil.rmtree(self._local_folder(file_id), ignore_errors=True)
            return
        for relative in self.store.list_relative(self.relative_prefix(file_id)):
            self.store.delete(relative)
