"""`prune`: what no session inside the retention window (or on hold) needs is removed (DuckDB)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from session_backup.cold import prune_bigquery
from session_backup.cold.dates import parse_now, subtract_duration
from session_backup.cold.duckdb_engine import DuckDBBackup, duckdb_string, engine_label, open_backup
from session_backup.cold.duckdb_sql import checksum_select, described
from session_backup.cold.engine import cold_engine
from session_backup.cold.faults import fault
from session_backup.cold.manifest import (
    clean_staging,
    finish_interrupted,
    next_part,
    store_lookup,
)
from session_backup.cold.names import (
    COLD_MANIFEST,
    HOLDS,
    PRUNE_WINDOWS,
    PRUNED_MANIFEST,
    PRUNED_SESSIONS,
)
from session_backup.cold.paths import relative_path
from session_backup.cold.plan import Unit, committed_closing_sql, validity_ranges
from session_backup.cold.progress import Progress
from session_backup.cold.prune_plan import Removable, plan_prune
from session_backup.cold.reads import ensure_local
from session_backup.cold.storage import ColdStore, file_sha256
from session_backup.cold.tier import no_lock
from session_backup.cold.view import install_cold_view
from session_backup.config import Settings
from session_backup.errors import BackupError


def read_hold_file(path: str | Path) -> list[str]:
    """One session id per line; blank lines and `#` comments ignored."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise BackupError(f"Cannot read the hold file {path}: {exc.strerror}.") from exc
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def prune(
    settings: Settings,
    keep: str,
    now: str | datetime | date | None = None,
    dry_run: bool = False,
    holds: Iterable[str] = (),
    hold_files: Iterable[str | Path] = (),
    releases: Iterable[str] = (),
    wait: bool = False,
    fail_after: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Removes what no session inside the retention window needs.

    A History version is needed only by the sessions of its scope in [valid_from, valid_to).
    When its closing session started before the window, every session that needs it is older
    than the window, so it goes, unless a held session needs it. Sessions older than the window
    become `pruned` (their manifest rows move to backup_pruned_manifest; their claims stay, so
    sequence numbers never repeat), except held sessions and each scope's last session before
    the window, whose versions are all still kept (it is the state at the window's start)."""
    from session_backup.backup import backup_lock

    progress = progress or Progress()
    fail_after = fail_after or settings.cold_fail_after
    moment = parse_now(now)
    window_start = subtract_duration(moment, keep, "--keep")
    requested_holds = list(
        dict.fromkeys(list(holds) + [sid for path in hold_files for sid in read_hold_file(path)])
    )
    releases = list(dict.fromkeys(releases))
    stores = store_lookup(settings)
    from session_backup.declarations import load_declarations

    declared = load_declarations(settings.project_dir)
    summary: dict[str, Any] = {
        "dry_run": dry_run,
        "keep": keep,
        "now": moment.isoformat(sep=" "),
        "window_start": window_start.isoformat(sep=" "),
    }
    started = time.perf_counter()
    lock = backup_lock(settings, wait) if not dry_run else no_lock()
    bigquery = settings.target == "bigquery"
    engine = cold_engine(settings)
    with lock:
        with engine.open(read_only=dry_run) as backup:
            tables = backup.history_tables(declared)
            if not dry_run:
                backup.ensure_tables()
                if bigquery:
                    prune_bigquery.ensure_retention_tables(backup)
                else:
                    backup.ensure_retention_tables()
                summary["recovered"] = engine.finish_interrupted(backup, stores)
            plan = plan_prune(
                backup,
                tables,
                window_start,
                requested_holds,
                releases,
                active_files=engine.active_files,
                removable_for=(
                    prune_bigquery.removable_for if bigquery else _removable_through_temp_tables
                ),
            )
        summary.update(plan["summary"])
        fault("prune", "plan", fail_after)
        if dry_run:
            summary["seconds"] = round(time.perf_counter() - started, 3)
            return summary
        progress.start(max(1, len(plan["rewrite"]) + len(tables)), "pruning")
        try:
            if bigquery:
                outcome = prune_bigquery.apply_prune(
                    settings,
                    stores,
                    plan,
                    keep,
                    window_start,
                    parse_now(None),
                    fail_after,
                    progress,
                )
            else:
                outcome = _apply_prune(
                    settings, stores, plan, moment, keep, window_start, fail_after, progress
                )
        finally:
            progress.finish()
            # An interrupted prune leaves no staging file: rewrites are redone from the start.
            clean_staging(stores(settings.cold_root))
        summary.update(outcome)
        summary["seconds"] = round(time.perf_counter() - started, 3)
        return summary


def _install_prune_tables(
    backup: DuckDBBackup, window: dict[str, int], held_rows: list[tuple[str, int]]
) -> None:
    """The window and holds as temp tables of this connection (they may be many)."""
    backup.execute("create or replace temp table prune_window (scope varchar, window_seq bigint)")
    backup.execute("create or replace temp table prune_holds (scope varchar, seq bigint)")
    if window:
        backup.connection.executemany(
            "insert into prune_window values (?, ?)", list(window.items())
        )
    if held_rows:
        backup.connection.executemany("insert into prune_holds values (?, ?)", held_rows)


def _removable_through_temp_tables(
    backup: DuckDBBackup, window: dict[str, int], held_rows: list[tuple[str, int]]
):
    """prune_plan's `removable` on DuckDB: joins the temp tables of the window and holds."""
    _install_prune_tables(backup, window, held_rows)
    template = (
        "{a}.backup_valid_to_seq < (select w.window_seq from prune_window as w where w.scope = {a}.backup_scope) "
        "and not exists (select 1 from prune_holds as h where h.scope = {a}.backup_scope "
        "and h.seq >= {a}.backup_valid_from_seq and h.seq < {a}.backup_valid_to_seq)"
    )
    return lambda alias: template.format(a=alias)


def _apply_prune(
    settings,
    stores,
    plan: dict,
    moment: datetime,
    keep: str,
    window_start: datetime,
    fail_after,
    progress: Progress,
) -> dict:
    removable = plan["removable"]
    rewritten: list[tuple[dict, dict]] = []  # (old item, new file info) for partly removable files
    fetched: list[str] = []
    for item in plan["rewrite"]:
        item["read_path"] = str(ensure_local(settings, stores, item, True, fetched))
    wall_clock = parse_now(None)  # audit times are real; --now only moves the window
    with open_backup(settings) as warehouse:
        backup = DuckDBBackup(warehouse)
        # The temp tables live in this connection: rebuild them.
        _install_prune_tables(backup, plan["window"], plan["held_rows"])
        # Rewrites of partly removable files: journal, write, verify, place (like tier).
        if plan["rewrite"]:
            taken: set[tuple] = set()
            with backup.transaction():
                for item in plan["rewrite"]:
                    store = stores(item["cold_root"])
                    unit = Unit(
                        item["table_name"],
                        item["scope"],
                        item["closed_month"],
                        "true",
                        date.min,
                        date.min,
                        0,
                        0,
                        0,
                    )
                    part = next_part(backup, store, unit, taken)
                    relative = relative_path(
                        item["table_name"], item["scope"], item["closed_month"], part
                    )
                    new = {
                        "file_id": uuid.uuid4().hex,
                        "part": part,
                        "relative_path": relative,
                        "file_uri": store.uri_for(relative),
                        "read_path": str(store.read_path(relative)),
                        "store": store,
                    }
                    backup.execute(
                        f"insert into {backup.rel(COLD_MANIFEST)} (file_id, state, table_name, scope, closed_month, "
                        f"part, cold_root, relative_path, file_uri, read_path, storage_class, cutoff_date, created_at) "
                        f"select $new_id, 'writing', table_name, scope, closed_month, $part, cold_root, $relative, "
                        f"$uri, $read_path, storage_class, cutoff_date, now() from {backup.rel(COLD_MANIFEST)} "
                        f"where file_id = $old_id",
                        {
                            "new_id": new["file_id"],
                            "part": part,
                            "relative": relative,
                            "uri": new["file_uri"],
                            "read_path": new["read_path"],
                            "old_id": item["file_id"],
                        },
                    )
                    rewritten.append((item, new))
        fault("prune", "journal", fail_after)
        for item, new in rewritten:
            _rewrite_kept_rows(backup, item, new, removable)
            progress.advance()
        fault("prune", "rewrite", fail_after)
        # One transaction: sessions pruned, manifest rows moved, versions removed, files retired.
        with backup.transaction():
            # Versions first: the committed filter reads backup_manifest, whose rows of pruned
            # sessions move out below.
            removed = {}
            for table in plan["tables"]:
                hot = backup.rel("history_" + table)
                before = backup.query(f"select count(*) from {hot}")[0][0]
                backup.execute(
                    f"delete from {hot} as hot where {removable('hot')} and {committed_closing_sql(backup)}",
                    {"table": table},
                )
                removed[table] = int(before - backup.query(f"select count(*) from {hot}")[0][0])
                progress.advance()
            if plan["to_prune"]:
                backup.connection.executemany(
                    f"insert into {backup.rel(PRUNED_SESSIONS)} values (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            sid,
                            plan["known"][sid][0],
                            plan["known"][sid][1],
                            plan["known"][sid][2],
                            wall_clock,
                            keep,
                            window_start,
                        )
                        for sid in plan["to_prune"]
                    ],
                )
                backup.execute("create or replace temp table prune_sessions (session_id varchar)")
                # Only History tables: other strategies keep their own storage and manifest rows.
                backup.execute("create or replace temp table prune_tables (table_name varchar)")
                backup.connection.executemany(
                    "insert into prune_tables values (?)", [(table,) for table in plan["tables"]]
                )
                backup.connection.executemany(
                    "insert into prune_sessions values (?)", [(sid,) for sid in plan["to_prune"]]
                )
                manifest = backup.rel("backup_manifest")
                backup.execute(
                    f"insert into {backup.rel(PRUNED_MANIFEST)} by name select manifest.*, "
                    f"cast($moment as timestamp) as pruned_at from {manifest} as manifest "
                    f"where manifest.session_id in (select session_id from prune_sessions) "
                    f"and manifest.table_name in (select table_name from prune_tables)",
                    {"moment": wall_clock},
                )
                backup.execute(
                    f"delete from {manifest} where session_id in (select session_id from prune_sessions) "
                    f"and table_name in (select table_name from prune_tables)"
                )
            # The data test history_matches_manifest leaves closings before these out.
            backup.connection.executemany(
                f"insert into {backup.rel(PRUNE_WINDOWS)} values (?, ?, ?, ?, ?)",
                [
                    (scope, seq, window_start, keep, wall_clock)
                    for scope, seq in plan["window"].items()
                ],
            )
            for sid in plan["requested_holds"]:
                if sid not in plan["persisted_holds"]:
                    backup.execute(
                        f"insert into {backup.rel(HOLDS)} values ($id, $at, 'prune --hold')",
                        {"id": sid, "at": wall_clock},
                    )
            for sid in plan["releases"]:
                backup.execute(
                    f"delete from {backup.rel(HOLDS)} where session_id = $id", {"id": sid}
                )
            retire = [(item["file_id"], "pruned") for item in plan["drop"]] + [
                (item["file_id"], "pruned (rewritten)") for item, _ in rewritten
            ]
            for file_id, reason in retire:
                backup.execute(
                    f"update {backup.rel(COLD_MANIFEST)} set state = 'retired', retired_at = now(), "
                    f"retired_reason = $reason where file_id = $id and state = 'active'",
                    {"id": file_id, "reason": reason},
                )
            for item, new in rewritten:
                stats = new["stats"]
                if stats["row_count"] == 0:
                    continue
                backup.execute(
                    f"update {backup.rel(COLD_MANIFEST)} set state = 'active', row_count = $rows, bytes = $bytes, "
                    f"logical_bytes = null, content_sha256 = $sha256, content_md5 = $md5, generation = $generation, "
                    f"row_checksum_low = $low, row_checksum_high = $high, checksum_engine = $engine, "
                    f"min_closed_date = $min_closed, max_closed_date = $max_closed, min_valid_from_seq = $min_from, "
                    f"max_valid_from_seq = $max_from, min_valid_to_seq = $min_to, max_valid_to_seq = $max_to, "
                    f"committed_at = now() where file_id = $id and state = 'writing'",
                    {
                        "id": new["file_id"],
                        "rows": stats["row_count"],
                        "bytes": stats["bytes"],
                        "sha256": stats["sha256"],
                        "md5": stats.get("md5"),
                        "generation": stats.get("generation"),
                        "low": stats["low"],
                        "high": stats["high"],
                        "engine": engine_label(),
                        "min_closed": stats["min_closed"],
                        "max_closed": stats["max_closed"],
                        "min_from": stats["min_from"],
                        "max_from": stats["max_from"],
                        "min_to": stats["min_to"],
                        "max_to": stats["max_to"],
                    },
                )
            touched = {item["table_name"] for item in plan["drop"]} | {
                item["table_name"] for item, _ in rewritten
            }
            for table in sorted(touched):
                install_cold_view(backup, table)
        fault("prune", "commit", fail_after)
        report = finish_interrupted(backup, settings, stores)
        fault("prune", "delete", fail_after)
    for item, new in rewritten:
        if new["stats"]["row_count"] == 0:
            continue
    for item in plan["drop"] + [item for item, _ in rewritten]:
        if item["file_uri"].startswith("gs://"):
            Path(item["read_path"]).unlink(missing_ok=True)
    return {
        "pruned_sessions": len(plan["to_prune"]),
        "hot_versions_removed": removed,
        "cold_files_deleted": report["deleted"],
        "cold_files_rewritten": [
            new["file_uri"] for _, new in rewritten if new["stats"]["row_count"]
        ],
        "kept_under_retention": report["kept_under_retention"],
    }


def _rewrite_kept_rows(backup: DuckDBBackup, item: dict, new: dict, removable: Removable) -> None:
    """Writes the rows of a cold file that prune keeps to a new part, verified before use."""
    store: ColdStore = new["store"]
    table = item["table_name"]
    columns = backup.columns(f"history_{table}")
    source = f"read_parquet({duckdb_string(item['read_path'])})"
    staging = store.staging_dir() / f"{new['file_id']}.parquet"
    keep = f"not ({removable('cold')})"
    backup.execute(
        f"copy (select * from {source} as cold where {keep} order by cold.backup_valid_to_seq, "
        f"cold.backup_valid_from_seq) to {duckdb_string(str(staging))} (format parquet, compression zstd)"
    )
    read_columns = described(backup.query(f"describe select * from {source}"))
    present = [(name, column_type) for name, column_type in columns if name in read_columns]
    expected = backup.query(checksum_select(source, "cold", present, keep))[0]
    actual = backup.query(
        checksum_select(f"read_parquet({duckdb_string(str(staging))})", "cold", present)
    )[0]
    if tuple(expected) != tuple(actual):
        raise BackupError(
            f"Rewriting {item['file_uri']} without pruned rows did not read back identical; "
            "nothing was pruned."
        )
    ranges = validity_ranges(backup, f"read_parquet({duckdb_string(str(staging))})")
    new["stats"] = {
        "row_count": int(actual[0]),
        "high": int(actual[1]),
        "low": int(actual[2]),
        "sha256": file_sha256(staging),
        "bytes": staging.stat().st_size,
        **ranges,
    }
    if new["stats"]["row_count"] == 0:
        staging.unlink(missing_ok=True)
        return
    stored = store.put(staging, new["relative_path"], item.get("storage_class"))
    new["stats"]["generation"] = stored.generation
    new["stats"]["md5"] = stored.md5_base64
    if store.kind == "gcs":
        cached = Path(new["read_path"])
        cached.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, cached)
    else:
        staging.unlink(missing_ok=True)


def pruned_session_ids(warehouse) -> set[str]:
    """For `status`: sessions retention has pruned (empty when prune never ran)."""
    if not warehouse.relation_exists(PRUNED_SESSIONS):
        return set()
    return {
        row[0]
        for row in warehouse.query(
            f"select session_id from {warehouse.backup_relation(PRUNED_SESSIONS)}"
        )
    }
