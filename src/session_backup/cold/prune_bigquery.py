"""`prune` on BigQuery: the rules of prune.py, with BigQuery's SQL and files.

Plan: per scope the first session inside the window; removable versions closed before it
(unless a held session needs them), committed rows only. Apply, each step safe to interrupt:
  journal  `writing` rows for the cold files partly removable (new parts);
  rewrite  each such file fetched and checked, loaded into a scratch table, its kept rows
           exported (EXPORT DATA), read back, verified and placed as in `tier`;
  commit   one transaction: hot versions deleted, sessions pruned (manifest rows moved to
           backup_pruned_manifest), window and holds recorded, files retired, new parts active;
  delete   retired objects deleted (unless under retention), loaded rows and scratch tables dropped.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path

from session_backup.cold.bigquery_engine import BigQueryBackup, open_bigquery_backup
from session_backup.cold.bigquery_manifest import finish_interrupted
from session_backup.cold.bigquery_relation import (
    create_scratch,
    ensure_loaded_table,
    fetch_checked,
    load_files,
    read_form,
)
from session_backup.cold.bigquery_sql import export_sql, literal
from session_backup.cold.bigquery_staging import ExportStaging
from session_backup.cold.faults import fault
from session_backup.cold.manifest import next_part
from session_backup.cold.names import (
    COLD_MANIFEST,
    HOLDS,
    PRUNE_WINDOWS,
    PRUNED_MANIFEST,
    PRUNED_SESSIONS,
)
from session_backup.cold.paths import relative_path
from session_backup.cold.plan import Unit, committed_closing_sql
from session_backup.cold.progress import Progress
from session_backup.cold.tier_bigquery import _activate_sql, place, verify_export
from session_backup.config import Settings


def ensure_retention_tables(backup: BigQueryBackup) -> None:
    backup.execute(f"""create table if not exists {backup.rel(PRUNED_SESSIONS)} (
        session_id string not null, scope string not null, session_seq int64 not null,
        started_at timestamp, pruned_at timestamp not null, retention string, window_start timestamp)""")
    backup.execute(
        f"create table if not exists {backup.rel(PRUNED_MANIFEST)} as select *, "
        f"cast(null as timestamp) as pruned_at from {backup.rel('backup_manifest')} where false"
    )
    present = {name for name, _ in backup.columns(PRUNED_MANIFEST)}
    for name, column_type in backup.columns("backup_manifest"):  # the manifest may gain columns
        if name not in present:
            backup.execute(
                f"alter table {backup.rel(PRUNED_MANIFEST)} add column if not exists `{name}` {column_type}"
            )
    backup.execute(f"""create table if not exists {backup.rel(PRUNE_WINDOWS)} (
        scope string not null, window_seq int64 not null, window_start timestamp not null,
        retention string, pruned_at timestamp not null)""")
    backup.execute(f"""create table if not exists {backup.rel(HOLDS)} (
        session_id string not null, held_at timestamp not null, source string)""")


def removable_sql(window: dict[str, int], held_rows: list[tuple[str, int]], alias: str) -> str:
    """The version closed before its scope's window, and no held session needs it. Scopes and
    holds are few: written inline (a dry run writes nothing)."""
    whens = " ".join(f"when {literal(scope)} then {int(seq)}" for scope, seq in window.items())
    closed_before = (
        f"{alias}.backup_valid_to_seq < (case {alias}.backup_scope {whens} else -1 end)"
        if whens
        else "false"
    )
    needed = " or ".join(
        f"({alias}.backup_scope = {literal(scope)} and {alias}.backup_valid_from_seq <= {int(seq)} "
        f"and {alias}.backup_valid_to_seq > {int(seq)})"
        for scope, seq in held_rows
    )
    return f"{closed_before} and not ({needed})" if needed else closed_before


def removable_for(backup, window: dict[str, int], held_rows: list[tuple[str, int]]):
    """prune_plan's `removable` on BigQuery: the scopes and holds inline."""
    return lambda alias: removable_sql(window, held_rows, alias)


def apply_prune(
    settings: Settings,
    stores,
    plan: dict,
    keep: str,
    window_start: datetime,
    wall_clock: datetime,
    fail_after,
    progress: Progress,
) -> dict:
    rewritten: list[tuple[dict, Unit]] = []
    with (
        open_bigquery_backup(settings) as backup,
        tempfile.TemporaryDirectory(prefix="cold-prune-") as folder,
    ):
        removable = plan["removable"]("hot")
        # Journal the new parts of partly removable files.
        taken: set[tuple] = set()
        statements = []
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
            unit.file_id = uuid.uuid4().hex
            unit.part = next_part(backup, store, unit, taken)
            unit.relative_path = relative_path(unit.table, unit.scope, unit.closed_month, unit.part)
            unit.file_uri = store.uri_for(unit.relative_path)
            statements.append(
                f"insert into {backup.rel(COLD_MANIFEST)} (file_id, state, table_name, scope, closed_month, part, "
                f"cold_root, relative_path, file_uri, read_path, storage_class, cutoff_date, created_at) "
                f"select {literal(unit.file_id)}, 'writing', table_name, scope, closed_month, {unit.part}, cold_root, "
                f"{literal(unit.relative_path)}, {literal(unit.file_uri)}, "
                f"{literal(ExportStaging(store).uri_pattern(unit.file_id))}, storage_class, cutoff_date, "
                f"current_timestamp() from {backup.rel(COLD_MANIFEST)} where file_id = {literal(item['file_id'])}"
            )
            rewritten.append((item, unit))
        backup.run_transaction(statements)
        fault("prune", "journal", fail_after)
        for item, unit in rewritten:
            _rewrite_kept_rows(
                backup, stores(item["cold_root"]), item, unit, Path(folder), removable
            )
            progress.advance()
        fault("prune", "rewrite", fail_after)

        statements = []
        # Versions first: the committed filter reads backup_manifest, whose rows of pruned
        # sessions move out below.
        for table in plan["tables"]:
            statements.append(
                f"delete from {backup.rel('history_' + table)} as hot where {removable} and "
                + committed_closing_sql(backup).replace("$table", literal(table))
            )
        if plan["to_prune"]:
            values = ", ".join(
                f"({literal(sid)}, {literal(plan['known'][sid][0])}, {plan['known'][sid][1]}, "
                f"{literal(plan['known'][sid][2])}, {literal(wall_clock)}, {literal(keep)}, {literal(window_start)})"
                for sid in plan["to_prune"]
            )
            statements.append(f"insert into {backup.rel(PRUNED_SESSIONS)} values {values}")
            ids = ", ".join(literal(sid) for sid in plan["to_prune"])
            names = ", ".join(literal(table) for table in plan["tables"]) or "''"
            manifest = backup.rel("backup_manifest")
            columns = ", ".join(f"`{name}`" for name, _ in backup.columns("backup_manifest"))
            statements.append(
                f"insert into {backup.rel(PRUNED_MANIFEST)} ({columns}, pruned_at) select {columns}, "
                f"{literal(wall_clock)} from {manifest} where session_id in ({ids}) and table_name in ({names})"
            )
            statements.append(
                f"delete from {manifest} where session_id in ({ids}) and table_name in ({names})"
            )
        if plan["window"]:
            values = ", ".join(
                f"({literal(scope)}, {seq}, {literal(window_start)}, {literal(keep)}, "
                f"{literal(wall_clock)})"
                for scope, seq in plan["window"].items()
            )
            statements.append(f"insert into {backup.rel(PRUNE_WINDOWS)} values {values}")
        for sid in plan["requested_holds"]:
            if sid not in plan["persisted_holds"]:
                statements.append(
                    f"insert into {backup.rel(HOLDS)} values ({literal(sid)}, {literal(wall_clock)}, "
                    f"'prune --hold')"
                )
        for sid in plan["releases"]:
            statements.append(f"delete from {backup.rel(HOLDS)} where session_id = {literal(sid)}")
        retire = [(item["file_id"], "pruned") for item in plan["drop"]] + [
            (item["file_id"], "pruned (rewritten)") for item, _ in rewritten
        ]
        for file_id, reason in retire:
            statements.append(
                f"update {backup.rel(COLD_MANIFEST)} set state = 'retired', "
                f"retired_at = current_timestamp(), retired_reason = {literal(reason)} "
                f"where file_id = {literal(file_id)} and state = 'active'"
            )
        for _, unit in rewritten:
            if unit.row_count:
                statements.append(_activate_sql(backup, unit))
        backup.run_transaction(statements)
        progress.advance(len(plan["tables"]))
        fault("prune", "commit", fail_after)
        # Rewritten files that kept no row are nothing: their `writing` rows are undone below.
        report = finish_interrupted(backup, stores)
        for _, unit in rewritten:
            backup.drop(f"cold_check_{unit.file_id}")
        fault("prune", "delete", fail_after)
    return {
        "pruned_sessions": len(plan["to_prune"]),
        "hot_versions_removed": plan["summary"]["hot_versions_to_remove"],
        "cold_files_deleted": report["deleted"],
        "cold_files_rewritten": [unit.file_uri for _, unit in rewritten if unit.row_count],
        "kept_under_retention": report["kept_under_retention"],
    }


def _rewrite_kept_rows(
    backup: BigQueryBackup, store, item: dict, unit: Unit, folder: Path, removable: str
) -> None:
    """The rows of a cold file that prune keeps, as a new part verified like `tier`'s."""
    table = item["table_name"]
    hot = f"history_{table}"
    fields = backup.schema_fields(hot)
    columns = backup.columns(hot)
    source = f"cold_source_{item['file_id']}"
    create_scratch(backup, source, fields)
    try:
        load_files(backup, backup.table_id(source), fetch_checked(store, item, folder), fields)
        keep = f"not ({removable})"
        unit.row_count = int(
            backup.query(f"select count(*) from {backup.rel(source)} as hot where {keep}")[0][0]
        )
        if unit.row_count == 0:
            return
        staging = ExportStaging(store)
        backup.execute(
            export_sql(backup, table, keep, staging.uri_pattern(unit.file_id), backup.rel(source))
        )
        verify_export(
            backup,
            staging,
            store.staging_dir(),
            hot,
            columns,
            fields,
            unit,
            source=backup.rel(source),
            where=keep,
        )
        form = read_form(backup.settings)
        if form == "load":
            ensure_loaded_table(backup, table)
        place(
            backup,
            store,
            staging,
            table,
            unit,
            item.get("storage_class") or "STANDARD",
            fields,
            form,
        )
    finally:
        backup.drop(source)
