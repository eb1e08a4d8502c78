"""Restore and verify: both go through the restore_<table>/checksum_<table> functions that
dbt creates, so the CLI, SQL users and the tests all exercise the same path."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import yaml

from session_backup.config import Settings
from session_backup.declarations import TableDeclaration
from session_backup.errors import BackupError, ProblemFound
from session_backup.warehouse import Warehouse


def backup_schemas(settings: Settings) -> set[str]:
    """The schemas (datasets) the backup itself lives in: its own, and `<own>_<custom>` for each
    `+schema` of the project's dbt_project.yml (staging, testing), as dbt's default
    generate_schema_name names them. Lower-cased: DuckDB names are case-insensitive."""
    base = settings.backup_schema
    customs = {"staging", "testing"}
    try:
        project = yaml.safe_load((settings.project_dir / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        project = {}
    pending = [project.get(section) for section in ("models", "seeds", "snapshots")]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "+schema" and isinstance(value, str):
                    customs.add(value.strip())
                else:
                    pending.append(value)
    return {base.lower()} | {f"{base}_{custom}".lower() for custom in customs}


def refuse_backup_schema(settings: Settings, into_schema: str) -> None:
    """A restore never writes where the backup lives: refused before anything is written."""
    if into_schema.lower() in backup_schemas(settings):
        raise BackupError(
            f"--into {into_schema!r} is one of the backup's own schemas "
            f"({', '.join(sorted(backup_schemas(settings)))}); restore into another schema."
        )


def backed_up_tables(warehouse: Warehouse, session_id: str) -> list[str]:
    """Tables the manifest holds for a session; an unknown session is an error."""
    manifest = warehouse.backup_relation("backup_manifest")
    sessions = warehouse.backup_relation("backup_sessions")
    p = warehouse.param("session_id")
    known = warehouse.query(
        f"select count(*) from {sessions} where session_id = {p}", session_id=session_id
    )
    if known[0][0] == 0:
        raise BackupError(
            f"Session {session_id!r} is not in the backup (see `session-backup status`)."
        )
    rows = warehouse.query(
        f"select table_name from {manifest} where session_id = {p} order by table_name",
        session_id=session_id,
    )
    return [row[0] for row in rows]


def choose_tables(
    warehouse: Warehouse,
    session_id: str,
    requested: Iterable[str],
    declared: list[TableDeclaration],
    allow_partial: bool = False,
) -> list[str]:
    """The tables to restore. All of a session's tables, unless some declared table has no
    backup of it: then the restore is refused with each missing table and why, and restoring
    the others is an explicit choice (allow_partial, or naming them)."""
    available = backed_up_tables(warehouse, session_id)
    requested = list(dict.fromkeys(requested))
    declared_names = {table.name for table in declared}
    for table in requested:
        if table not in declared_names:
            raise BackupError(
                f"Table {table!r} is not declared for backup (declared: {', '.join(sorted(declared_names))})."
            )
    wanted = requested or sorted(declared_names | set(available))
    absent = [table for table in wanted if table in declared_names and table not in available]
    if not absent:
        return requested or available
    # Why each is missing reads the whole manifest: only worth it when something is missing.
    reasons_by_table = _missing_reasons(warehouse, session_id, declared)
    missing = {table: reasons_by_table.get(table, "not in the backup manifest") for table in absent}
    reasons = "; ".join(f"{table}: {reason}" for table, reason in sorted(missing.items()))
    rest = [table for table in wanted if table in available]
    if requested:
        raise ProblemFound(
            f"Session {session_id!r} has no backup of {', '.join(sorted(missing))} ({reasons}). "
            "Nothing was restored."
        )
    if not rest:
        raise ProblemFound(
            f"No table of session {session_id!r} is backed up ({reasons}). Nothing was restored."
        )
    if allow_partial:
        return rest
    raise ProblemFound(
        f"Session {session_id!r} is only partly backed up: no backup of {', '.join(sorted(missing))} "
        f"({reasons}). Nothing was restored; restore the others with --allow-partial, or name them with --table."
    )


def _missing_reasons(
    warehouse: Warehouse, session_id: str, declared: list[TableDeclaration]
) -> dict[str, str]:
    from session_backup.status import missing_tables

    sessions = warehouse.backup_relation("backup_sessions")
    rows = warehouse.query(
        f"select scope, session_seq from {sessions} where session_id = {warehouse.param('session_id')}",
        session_id=session_id,
    )
    state = {"session_id": session_id, "scope": rows[0][0], "session_seq": int(rows[0][1])}
    return missing_tables(warehouse, declared, [state])[0]


def restore(
    warehouse: Warehouse,
    session_id: str,
    tables: list[str],
    into_schema: str,
) -> dict[str, int]:
    return warehouse.restore_tables(session_id, tables, into_schema)


@dataclass
class VerifyResult:
    session_id: str
    table: str
    ok: bool
    expected: tuple[int, int, int]
    actual: tuple[int, int, int] | None
    error: str | None = None

    def as_dict(self) -> dict:
        return {
            "session_id": self.session_id,
            "table": self.table,
            "ok": self.ok,
            "expected": {"row_count": self.expected[0], "checksum": list(self.expected[1:])},
            "actual": None
            if self.actual is None
            else {"row_count": self.actual[0], "checksum": list(self.actual[1:])},
            "error": self.error,
        }


def manifest_entries(warehouse: Warehouse, session_id: str | None) -> list[tuple]:
    manifest = warehouse.backup_relation("backup_manifest")
    sessions = warehouse.backup_relation("backup_sessions")
    where = ""
    params = {}
    if session_id is not None:
        backed_up_tables(
            warehouse, session_id
        )  # an unknown session is an error, not "nothing to do"
        where = f"where manifest.session_id = {warehouse.param('session_id')}"
        params["session_id"] = session_id
    return warehouse.query(
        "select manifest.session_id, manifest.table_name, manifest.row_count, manifest.checksum_low, "
        f"manifest.checksum_high, manifest.hash_version from {manifest} as manifest "
        f"inner join {sessions} as sessions on manifest.session_id = sessions.session_id {where} "
        "order by sessions.scope, sessions.session_seq, manifest.table_name",
        **params,
    )


def verify(
    warehouse: Warehouse,
    entries: list[tuple],
    hash_version: str,
    on_progress: Callable[[], None] = lambda: None,
) -> list[VerifyResult]:
    results = []
    for session_id, table, row_count, low, high, written_with in entries:
        expected = (int(row_count), int(low), int(high))
        if written_with != hash_version:
            results.append(
                VerifyResult(
                    session_id,
                    table,
                    False,
                    expected,
                    None,
                    f"checksum written with hash version {written_with!r}, this project hashes with "
                    f"{hash_version!r}: it cannot be compared (restores are unaffected)",
                )
            )
            on_progress()
            continue
        try:
            source, params = warehouse.checksum_call(table, session_id)
            rows = warehouse.query(f"select * from {source}", **params)
            actual = tuple(int(value) for value in rows[0])
            results.append(VerifyResult(session_id, table, actual == expected, expected, actual))
        except BackupError as exc:
            results.append(VerifyResult(session_id, table, False, expected, None, str(exc)))
        on_progress()
    return results
