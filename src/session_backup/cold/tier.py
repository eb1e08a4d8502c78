"""`tier`: old History versions to verified cold Parquet files, on either engine.

Write order of every engine (each step safe to interrupt and to repeat): journal the files as
`writing`; write each to staging; read it back and compare with the hot rows; place it (never
overwriting); one transaction: manifest rows `active`, hot rows deleted. A table that fails is
reported with its reason, undone, and the other tables still tier.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from session_backup.cold.dates import parse_now, subtract_duration
from session_backup.cold.engine import cold_engine
from session_backup.cold.faults import fault
from session_backup.cold.manifest import store_lookup
from session_backup.cold.plan import Unit
from session_backup.cold.prices import load_prices, measured_ratio, monthly_cost
from session_backup.cold.progress import Progress
from session_backup.cold.storage import (
    STORAGE_CLASSES,
    open_store,
)
from session_backup.config import Settings
from session_backup.errors import BackupError


def tier(
    settings: Settings,
    older_than: str,
    now: str | datetime | date | None = None,
    dry_run: bool = False,
    tables: Iterable[str] | None = None,
    storage_class: str | None = None,
    prices_path: str | Path | None = None,
    wait: bool = False,
    fail_after: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Moves History versions closed before `now - older_than` to cold Parquet files.

    Returns the summary the CLI prints (`--json`): what moved, bytes and estimated monthly
    storage cost before/after."""
    from session_backup.backup import backup_lock
    from session_backup.declarations import load_declarations

    progress = progress or Progress()
    moment = parse_now(now)
    cutoff = subtract_duration(moment, older_than, "--older-than").date()
    storage_class = (storage_class or settings.cold_storage_class).upper()
    fail_after = fail_after or settings.cold_fail_after
    if storage_class not in STORAGE_CLASSES:
        raise BackupError(
            f"--storage-class {storage_class}: expected one of {', '.join(STORAGE_CLASSES)}."
        )
    prices, prices_source = load_prices(settings, prices_path)
    long_term_before = (
        moment - timedelta(days=int(prices["bigquery"].get("long_term_after_days", 90)))
    ).date()
    declared = load_declarations(settings.project_dir)
    engine = cold_engine(settings)
    store = open_store(settings)
    engine.check_paths(store)
    stores = store_lookup(settings)
    summary: dict[str, Any] = {
        "dry_run": dry_run,
        "now": moment.isoformat(sep=" "),
        "older_than": older_than,
        "cutoff_date": cutoff.isoformat(),
        "cold_root": store.root_uri,
        "storage_class": storage_class,
        "prices_file": prices_source,
        "refused": [],
    }
    started = time.perf_counter()
    lock = backup_lock(settings, wait) if not dry_run else no_lock()
    with lock:
        # Plan (and, for real runs, finish whatever an interrupted run left).
        with engine.open(read_only=dry_run) as backup:
            chosen = backup.history_tables(declared, tables)
            if not dry_run:
                backup.ensure_tables()
                summary["recovered"] = engine.finish_interrupted(backup, stores)
            # Bytes and cost cover the whole backup, whatever --table chose.
            hot_before = engine.hot_totals(
                backup, backup.history_tables(declared), long_term_before
            )
            cold_before = engine.cold_totals(backup)
            plan = {}
            for table in chosen:
                try:
                    plan[table] = engine.plan_units(backup, table, cutoff, long_term_before)
                except BackupError as exc:
                    summary["refused"].append({"table": table, "reason": str(exc)})
        summary["tables"] = chosen
        fault("tier", "plan", fail_after)
        units = [unit for table_units in plan.values() for unit in table_units]
        if dry_run or not units:
            summary.update(
                _tier_summary(
                    units,
                    hot_before,
                    cold_before,
                    {
                        storage_class: int(
                            sum(unit.logical_bytes for unit in units) * measured_ratio(cold_before)
                        )
                    },
                    prices,
                    storage_class,
                )
            )
            summary["cold_bytes_estimated"] = bool(units)
            summary["seconds"] = round(time.perf_counter() - started, 3)
            return summary

        store.check_ready()
        engine.prepare_views([table for table, table_units in plan.items() if table_units])
        progress.start(len(units) * 3, "tiering")
        moved: list[Unit] = []
        try:
            for table, table_units in plan.items():
                if not table_units:
                    continue
                try:
                    engine.tier_table(
                        store,
                        table,
                        table_units,
                        storage_class,
                        moment,
                        cutoff,
                        fail_after,
                        progress,
                    )
                except BackupError as exc:
                    # This table stays hot, with nothing of this run left behind; the others go on.
                    engine.abandon(stores, store)
                    summary["refused"].append({"table": table, "reason": str(exc)})
                    continue
                moved += table_units
        finally:
            progress.finish()
        engine.finish(store)
        with engine.open(read_only=True) as backup:
            cold_after = engine.cold_totals(backup)
        new_cold = {storage_class: sum(int(unit.stats.get("bytes", 0)) for unit in moved)}
        summary.update(
            _tier_summary(moved, hot_before, cold_before, new_cold, prices, storage_class)
        )
        summary["cold_bytes_estimated"] = False
        summary["cold_after"] = cold_after
        summary["seconds"] = round(time.perf_counter() - started, 3)
        return summary


@contextmanager
def no_lock() -> Iterator[None]:
    yield


def _tier_summary(units, hot_before, cold_before, new_cold_bytes, prices, storage_class) -> dict:
    moved_logical = sum(unit.logical_bytes for unit in units)
    moved_long_term = sum(unit.long_term_logical_bytes for unit in units)
    hot_after = dict(hot_before)
    hot_after["history_long_term"] -= moved_long_term
    hot_after["history_active"] -= moved_logical - moved_long_term
    cold_after = {cls: dict(item) for cls, item in cold_before.items()}
    for cls, size in new_cold_bytes.items():
        entry = cold_after.setdefault(cls, {"bytes": 0, "logical_bytes": 0})
        entry["bytes"] += size
        entry["logical_bytes"] += moved_logical
    moved_cold = sum(new_cold_bytes.values())
    by_table: dict[str, dict] = {}
    for unit in units:
        entry = by_table.setdefault(
            unit.table, {"rows": 0, "files": 0, "hot_logical_bytes": 0, "cold_bytes": 0}
        )
        entry["rows"] += unit.row_count
        entry["files"] += 1
        entry["hot_logical_bytes"] += unit.logical_bytes
        entry["cold_bytes"] += int(unit.stats.get("bytes", 0))
    return {
        "moved": {
            "rows": sum(unit.row_count for unit in units),
            "files": len(units),
            "hot_logical_bytes": moved_logical,
            "cold_bytes": moved_cold,
            "by_table": by_table,
            "units": [unit.describe() for unit in units],
        },
        "bytes": {
            "before": {
                "hot_logical": sum(hot_before.values()),
                "cold": sum(i["bytes"] for i in cold_before.values()),
            },
            "after": {
                "hot_logical": sum(hot_after.values()),
                "cold": sum(i["bytes"] for i in cold_after.values()),
            },
        },
        "monthly_storage_cost": {
            "currency": prices.get("currency", "USD"),
            "before": monthly_cost(prices, hot_before, cold_before, storage_class),
            "after": monthly_cost(prices, hot_after, cold_after, storage_class),
        },
    }
