"""`rehydrate`: chosen cold files come back into the hot History tables (DuckDB)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from session_backup.cold.dates import month_range
from session_backup.cold.duckdb_engine import (
    DuckDBBackup,
    duckdb_string,
    engine_label,
    open_backup,
    quote,
)
from session_backup.cold.duckdb_sql import checksum_select, described
from session_backup.cold.engine import cold_engine
from session_backup.cold.faults import fault
from session_backup.cold.manifest import finish_interrupted, store_lookup
from session_backup.cold.names import COLD_MANIFEST
from session_backup.cold.progress import Progress
from session_backup.cold.reads import ensure_local
from session_backup.cold.tier import no_lock
from session_backup.cold.view import install_cold_view
from session_backup.config import Settings
from session_backup.errors import BackupError


def rehydrate(
    settings: Settings,
    tables: Iterable[str] = (),
    scopes: Iterable[str] = (),
    months: Iterable[str] = (),
    delete_files: bool = False,
    dry_run: bool = False,
    wait: bool = False,
    fail_after: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Brings cold files (chosen by table, scope and closed month; all when nothing is given)
    back into the hot History tables, and takes them out of the cold manifest."""
    from session_backup.backup import backup_lock
    from session_backup.declarations import load_declarations

    progress = progress or Progress()
    fail_after = fail_after or settings.cold_fail_after
    ranges = month_range(months)
    scopes = list(dict.fromkeys(scopes))
    declared = load_declarations(settings.project_dir)
    stores = store_lookup(settings)
    summary: dict[str, Any] = {"dry_run": dry_run, "delete_files": delete_files}
    started = time.perf_counter()
    lock = backup_lock(settings, wait) if not dry_run else no_lock()
    with lock:
        engine = cold_engine(settings)
        with engine.open(read_only=dry_run) as backup:
            chosen = backup.history_tables(declared, tables or None)
            if not dry_run:
                backup.ensure_tables()
                summary["recovered"] = engine.finish_interrupted(backup, stores)
            selected: dict[str, list[dict]] = {}
            for table in chosen:
                items = [
                    item
                    for item in engine.active_files(backup, table)
                    if (not scopes or item["scope"] in scopes)
                    and (
                        not ranges
                        or any(first <= item["closed_month"] <= last for first, last in ranges)
                    )
                ]
                if items:
                    selected[table] = items
        summary["files"] = [
            {
                "table": table,
                "scope": item["scope"],
                "closed_month": item["closed_month"],
                "rows": item["row_count"],
                "file": item["file_uri"],
                "bytes": item["bytes"],
            }
            for table, items in selected.items()
            for item in items
        ]
        summary["rows"] = sum(item["rows"] for item in summary["files"])
        if dry_run or not selected:
            summary["seconds"] = round(time.perf_counter() - started, 3)
            return summary
        progress.start(sum(len(items) for items in selected.values()), "rehydrating")
        deleted, kept = [], []
        try:
            for table, items in selected.items():
                outcome = engine.rehydrate_table(
                    stores, table, items, delete_files, fail_after, progress
                )
                deleted += outcome["deleted"]
                kept += outcome["kept_under_retention"]
        finally:
            progress.finish()
        summary["deleted_files"] = deleted
        summary["kept_under_retention"] = kept
        summary["seconds"] = round(time.perf_counter() - started, 3)
        return summary


def rehydrate_table(
    settings,
    stores,
    table: str,
    items: list[dict],
    delete_files: bool,
    fail_after,
    progress: Progress,
) -> dict:
    hot = f"history_{table}"
    fetched: list[str] = []
    for item in items:
        item["table_name"] = table
        item["read_path"] = str(ensure_local(settings, stores, item, True, fetched))
    fault("rehydrate", "fetch", fail_after)
    with open_backup(settings) as warehouse:
        backup = DuckDBBackup(warehouse)
        columns = backup.columns(hot)
        with backup.transaction():
            for item in items:
                source = f"read_parquet({duckdb_string(item['read_path'])})"
                read_columns = described(backup.query(f"describe select * from {source}"))
                casts = {
                    name: column_type
                    for name, column_type in columns
                    if name in read_columns and read_columns[name] != column_type
                }
                present = [
                    (name, column_type) for name, column_type in columns if name in read_columns
                ]
                counted = backup.query(checksum_select(source, "cold", present, "true", casts))[0]
                same_engine = item["checksum_engine"] == engine_label() and len(present) == len(
                    columns
                )
                if int(counted[0]) != int(item["row_count"]) or (
                    same_engine
                    and (int(counted[1]), int(counted[2]))
                    != (int(item["row_checksum_high"]), int(item["row_checksum_low"]))
                ):
                    raise BackupError(
                        f"Cold file {item['file_uri']} does not hold the rows recorded for it "
                        f"({counted[0]} rows, {item['row_count']} recorded); nothing was rehydrated."
                    )
                projection = ", ".join(
                    f"cast(cold.{quote(name)} as {casts[name]}) as {quote(name)}"
                    if name in casts
                    else f"cold.{quote(name)}"
                    for name, _ in present
                )
                backup.execute(
                    f"insert into {backup.rel(hot)} by name select {projection} from {source} as cold"
                )
                progress.advance()
            fault("rehydrate", "insert", fail_after)
            state = "retired" if delete_files else "released"
            for item in items:
                backup.execute(
                    f"update {backup.rel(COLD_MANIFEST)} set state = $state, retired_at = now(), "
                    f"retired_reason = 'rehydrated' where file_id = $id and state = 'active'",
                    {"state": state, "id": item["file_id"]},
                )
            fault("rehydrate", "manifest", fail_after)
            install_cold_view(backup, table)
        fault("rehydrate", "commit", fail_after)
        outcome = {"deleted": [], "kept_under_retention": []}
        if delete_files:
            report = finish_interrupted(backup, settings, stores)
            outcome["deleted"] = report["deleted"]
            outcome["kept_under_retention"] = report["kept_under_retention"]
            for item in items:  # the cache copy of a gs:// file goes with it
                if item["file_uri"].startswith("gs://"):
                    Path(item["read_path"]).unlink(missing_ok=True)
        fault("rehydrate", "delete", fail_after)
    return outcome
