"""Cold History Storage: tiering, rehydration and retention of History. Design: docs/cold-storage.md.

    tier       closed versions older than a threshold leave the hot `history_<t>` tables for
               zstd Parquet files in the cold root (local folder or gs://), recorded in
               `cold_manifest`.
    rehydrate  chosen cold files come back into the hot tables.
    prune      removes what no session inside the retention window (or on hold) needs.

Restores read hot and cold together through `cold_history_<t>`, which `history_sources()`
unions into every `restore_<t>` function. One module per concern: plan (what to tier),
paths / storage / local_folder / gcs (where files go), manifest (the commit record), the
commands (tier, rehydrate, prune, reads), and the engine-specific SQL (duckdb_*, bigquery_*).
"""

from session_backup.cold.dates import parse_now, subtract_duration
from session_backup.cold.faults import FAULT_ENV, STEPS, InjectedFault
from session_backup.cold.progress import Progress
from session_backup.cold.prune import prune, pruned_session_ids, read_hold_file
from session_backup.cold.reads import check_cold, prepare_cold_reads
from session_backup.cold.rehydrate import rehydrate
from session_backup.cold.tier import tier

__all__ = [
    "FAULT_ENV",
    "STEPS",
    "InjectedFault",
    "Progress",
    "check_cold",
    "parse_now",
    "prepare_cold_reads",
    "prune",
    "pruned_session_ids",
    "read_hold_file",
    "rehydrate",
    "subtract_duration",
    "tier",
]
