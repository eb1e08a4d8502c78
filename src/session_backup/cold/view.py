"""`cold_history_<t>`: the view over a table's active cold files that every restore unions (DuckDB)."""

from __future__ import annotations

import hashlib

from session_backup.cold.duckdb_engine import DuckDBBackup, open_backup, quote
from session_backup.cold.duckdb_sql import check_path_literal, read_casts, read_parquet_sql
from session_backup.cold.manifest import active_files
from session_backup.cold.names import COLD_VIEW_STATE
from session_backup.config import Settings, profile_environment
from session_backup.errors import BackupError


def fingerprint(files: list[dict]) -> str:
    text = "\n".join(
        f"{item['file_id']}\t{item['read_path']}"
        for item in sorted(files, key=lambda f: f["file_id"])
    )
    return hashlib.sha256(text.encode()).hexdigest()


def install_cold_view(backup: DuckDBBackup, table: str) -> str:
    """(Re)points `cold_history_<table>` at the manifest's active files, inside the caller's
    transaction. Columns follow History: `union all by name` with an empty select of History,
    so a column added to History later shows up as NULL for older files, and columns whose type
    Parquet cannot hold are cast back. Returns the view kind."""
    hot = f"history_{table}"
    columns = backup.columns(hot)
    files = active_files(backup, table)
    paths = [check_path_literal(item["read_path"]) for item in files]
    # Names inside a DuckDB view resolve in the view's own schema; a fully qualified
    # "backup"."backup"."history_t" is refused as ambiguous there (DuckDB 2.0, catalog = schema).
    anchor = f"select * from {quote(hot)} where false"
    if paths:
        casts = read_casts(backup, paths, columns)
        replace = ""
        if casts:
            replace = (
                " replace ("
                + ", ".join(
                    f"cast({quote(name)} as {column_type}) as {quote(name)}"
                    for name, column_type in casts.items()
                )
                + ")"
            )
        body = f"{anchor}\nunion all by name\nselect *{replace} from {read_parquet_sql(paths)}"
        kind = "files"
    else:
        body = anchor
        kind = "empty"
    backup.execute(f"create or replace view {backup.rel('cold_history_' + table)} as\n{body}")
    backup.execute(
        f"delete from {backup.rel(COLD_VIEW_STATE)} where table_name = $table", {"table": table}
    )
    backup.execute(
        f"insert into {backup.rel(COLD_VIEW_STATE)} values ($table, $kind, $fingerprint, now())",
        {"table": table, "kind": kind, "fingerprint": fingerprint(files)},
    )
    return kind


def view_state(backup: DuckDBBackup, table: str) -> tuple[str, str] | None:
    if not backup.exists(COLD_VIEW_STATE) or not backup.exists(f"cold_history_{table}"):
        return None
    rows = backup.query(
        f"select kind, fingerprint from {backup.rel(COLD_VIEW_STATE)} where table_name = $table",
        {"table": table},
    )
    return (rows[0][0], rows[0][1]) if rows else ("unknown", "")


def functions_missing_cold(backup: DuckDBBackup, tables: list[str]) -> list[str]:
    """Tables whose restore_<t> function was created before cold_history_<t> existed."""
    missing = []
    for table in tables:
        rows = backup.query(
            "select macro_definition from duckdb_functions() where database_name = $catalog "
            "and schema_name = $schema and function_name = $name",
            {"catalog": backup.catalog, "schema": backup.schema, "name": f"restore_{table}"},
        )
        if rows and f"cold_history_{table}" not in (rows[0][0] or ""):
            missing.append(table)
    return missing


def refresh_restore_functions(settings: Settings) -> None:
    """Re-creates restore_<t>/checksum_<t> (dbt run-operation session_backup.create_backup_functions), so they
    union the cold views. Needed once per table, the first time it gets a cold view."""
    from session_backup.dbt_runner import run_dbt

    with profile_environment(settings):
        result = run_dbt(
            settings, ["--quiet", "run-operation", "session_backup.create_backup_functions"]
        )
    if not result.succeeded:
        detail = result.errors[0] if result.errors else "see logs/dbt.log"
        raise BackupError(
            f"Could not re-create the restore functions to read cold history ({detail}); nothing was moved. "
            "Fix that (`dbt run-operation session_backup.create_backup_functions`) and re-run."
        )


def prepare_views(settings: Settings, tables: list[str]) -> None:
    """Before anything moves: every table has a cold view (empty if need be) and its restore
    function reads it. Then a commit that moves rows to cold is visible to restores at once."""
    with open_backup(settings) as warehouse:
        backup = DuckDBBackup(warehouse)
        backup.ensure_tables()
        with backup.transaction():
            for table in tables:
                if view_state(backup, table) is None:
                    install_cold_view(backup, table)
        stale = functions_missing_cold(backup, tables)
    if stale:
        refresh_restore_functions(settings)
        with open_backup(settings, read_only=True) as warehouse:
            still = functions_missing_cold(DuckDBBackup(warehouse), stale)
        if still:
            raise BackupError(
                f"restore functions of {', '.join(still)} still do not read cold history; "
                "run `dbt run-operation session_backup.create_backup_functions` and retry."
            )
