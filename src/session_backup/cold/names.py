"""Names of the cold and retention bookkeeping tables, and defaults shared by the commands."""

from __future__ import annotations

from session_backup.config import DEFAULT_COLD_STORAGE_CLASS

COLD_MANIFEST = "cold_manifest"
COLD_VIEW_STATE = "cold_view_state"
PRUNED_SESSIONS = "backup_pruned_sessions"
PRUNED_MANIFEST = "backup_pruned_manifest"
HOLDS = "backup_holds"
PRUNE_WINDOWS = "backup_prune_windows"
# The configured class (SESSION_BACKUP_COLD_STORAGE_CLASS) is Settings.cold_storage_class.
DEFAULT_STORAGE_CLASS = DEFAULT_COLD_STORAGE_CLASS
# Parquet (zstd) bytes per BigQuery logical byte, used only by `tier --dry-run` before any file
# of this backup exists to measure it (TPC-H history measured ~0.25-0.35).
ASSUMED_PARQUET_RATIO = 0.3
