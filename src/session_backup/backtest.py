"""Back-testing and explaining: many sessions at once, a session by point in time, what changed
between two sessions, and the life of one row.

Everything reads the table functions dbt creates for each History table (macros/backtest/):
restore_<t>_sessions, restore_<t>_as_of, diff_<t> and versions_<t>, so the CLI, SQL users and
the tests exercise the same SQL. Session ids, scopes and values are query parameters or
escaped literals, never SQL text; in export paths they are percent-encoded.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from session_backup.declarations import TableDeclaration
from session_backup.errors import BackupError, ProblemFound
from session_backup.warehouse import Warehouse, checked_identifier

# Percent-encoding keeps only these bytes as they are: never '/', '.', '%' or anything a file
# system, a URL or a Hive-style reader could read differently. Reversible with unquote().
_SAFE_PATH_BYTES = "-_"
MAX_PATH_SEGMENT_BYTES = (
    255  # the common file-name limit (ext4, APFS, GCS has 1024 for the whole name)
)


@dataclass(frozen=True)
class SessionRef:
    session_id: str
    scope: str
    started_at: datetime.datetime
    session_seq: int

    def as_dict(self) -> dict:
        return {**asdict(self), "started_at": str(self.started_at)}


# ----------------------------------------------------------------------------------------------
# Options


def parse_timestamp(value: str, option: str) -> datetime.datetime:
    """An ISO 8601 date or timestamp; one with an offset is converted to UTC (the landing
    contract's started_at is UTC)."""
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        raise BackupError(
            f"{option} {value!r} is not an ISO date or timestamp (e.g. 2024-01-31 or "
            "2024-01-31T12:00:00Z)."
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return parsed


def read_sessions_file(path: str) -> list[str]:
    """One session id per line, as written: only the line break is removed (ids may hold
    spaces); blank lines are skipped and repeated ids taken once."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BackupError(f"Cannot read the sessions file {path}: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError as exc:
        raise BackupError(f"The sessions file {path} is not UTF-8 text ({exc.reason}).") from exc
    ids = [line for line in text.splitlines() if line != ""]
    if not ids:
        raise BackupError(f"The sessions file {path} holds no session id (one per line).")
    return list(dict.fromkeys(ids))


def history_tables(declared: list[TableDeclaration], requested: Iterable[str]) -> list[str]:
    """The tables to work on: the requested ones (each declared with the history strategy),
    or every History table."""
    by_name = {table.name: table for table in declared}
    requested = list(dict.fromkeys(requested))
    for name in requested:
        if name not in by_name:
            raise BackupError(
                f"Table {name!r} is not declared for backup (declared: {', '.join(sorted(by_name))})."
            )
        if by_name[name].strategy != "history":
            raise BackupError(
                f"Table {name!r} uses the {by_name[name].strategy} strategy; restoring many "
                "sessions at once, diff and log need the history strategy."
            )
    if requested:
        return requested
    chosen = [table.name for table in declared if table.strategy == "history"]
    if not chosen:
        raise BackupError("No table is declared with the history strategy.")
    return chosen


# ----------------------------------------------------------------------------------------------
# Finding sessions


def _table_list(tables: list[str]) -> str:
    # Declared table names are identifiers (checked when declarations are read): safe literals.
    return ", ".join("'" + table + "'" for table in tables)


def _sessions_backed_up_for(
    warehouse: Warehouse, tables: list[str], where: str, every_table: bool = True, **params: Any
) -> list[SessionRef]:
    """Sessions matching `where` (over `sessions`) that hold a backup of every table or, with
    every_table=False, of any declared table (the ones lacking some of `tables` are then the
    caller's call: missing_backups). A session pruned by retention holds none."""
    sessions = warehouse.backup_relation("backup_sessions")
    manifest = warehouse.backup_relation("backup_manifest")
    if every_table:
        tables_held = f"and manifest.table_name in ({_table_list(tables)}) "
        every = f"having count(distinct manifest.table_name) = {len(tables)} "
    else:
        tables_held = every = ""
    rows = warehouse.query(
        "select sessions.session_id, sessions.scope, sessions.started_at, sessions.session_seq "
        f"from {sessions} as sessions inner join {manifest} as manifest "
        f"on manifest.session_id = sessions.session_id {tables_held}"
        f"where {where} "
        "group by sessions.session_id, sessions.scope, sessions.started_at, sessions.session_seq "
        f"{every}"
        "order by sessions.scope, sessions.session_seq",
        **params,
    )
    return [SessionRef(row[0], row[1], row[2], int(row[3])) for row in rows]


def _require_scope(warehouse: Warehouse, scope: str) -> None:
    sessions = warehouse.backup_relation("backup_sessions")
    found = warehouse.query(
        f"select count(*) from {sessions} where scope = {warehouse.param('scope')}", scope=scope
    )
    if found[0][0] == 0:
        raise BackupError(
            f"Scope {scope!r} has no session in the backup (see `session-backup status`)."
        )


def sessions_between(
    warehouse: Warehouse,
    scope: str,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    tables: list[str],
) -> list[SessionRef]:
    """The backed-up sessions of a scope that started at or after `since` and before `until`,
    whichever tables they hold (missing_backups tells which lack some of `tables`)."""
    _require_scope(warehouse, scope)
    where = f"sessions.scope = {warehouse.param('scope')}"
    params: dict[str, Any] = {"scope": scope}
    if since is not None:
        where += f" and sessions.started_at >= {warehouse.param('since')}"
        params["since"] = since
    if until is not None:
        where += f" and sessions.started_at < {warehouse.param('until')}"
        params["until"] = until
    found = _sessions_backed_up_for(warehouse, tables, where, every_table=False, **params)
    if not found:
        window = f"from {since or 'the start'} until before {until or 'now'}"
        raise BackupError(
            f"Scope {scope!r} has no session backed up for {', '.join(tables)} that started {window}."
        )
    return found


def sessions_listed(
    warehouse: Warehouse, session_ids: list[str], tables: list[str], every_table: bool = True
) -> list[SessionRef]:
    """The listed sessions, in the order given; each must be in the backup and, unless
    every_table=False (missing_backups then tells which lack some), backed up for every table."""
    sessions = warehouse.backup_relation("backup_sessions")
    manifest = warehouse.backup_relation("backup_manifest")
    found: dict[str, SessionRef] = {}
    held: dict[str, set[str]] = {}
    for start in range(0, len(session_ids), 1000):  # bounded parameter lists
        chunk = session_ids[start : start + 1000]
        params = {f"id{index}": value for index, value in enumerate(chunk)}
        placeholders = ", ".join(warehouse.param(name) for name in params)
        for row in warehouse.query(
            f"select session_id, scope, started_at, session_seq from {sessions} where session_id in ({placeholders})",
            **params,
        ):
            found[row[0]] = SessionRef(row[0], row[1], row[2], int(row[3]))
        if not tables:
            continue
        for row in warehouse.query(
            f"select session_id, table_name from {manifest} where session_id in ({placeholders}) "
            f"and table_name in ({_table_list(tables)})",
            **params,
        ):
            held.setdefault(row[0], set()).add(row[1])
    for session_id in session_ids:
        if session_id not in found:
            raise BackupError(
                f"Session {session_id!r} is not in the backup (see `session-backup status`)."
            )
        missing = [table for table in tables if table not in held.get(session_id, set())]
        if missing and every_table:
            raise BackupError(f"Table {missing[0]!r} has no backup for session {session_id!r}.")
    return [found[session_id] for session_id in session_ids]


def missing_backups(
    warehouse: Warehouse,
    sessions: list[SessionRef],
    tables: list[str],
    declared: list[TableDeclaration],
) -> dict[str, dict[str, str]]:
    """The sessions that hold no backup of some of the tables: {session_id: {table: why}}
    (why as `session-backup status` says it: declared after the session, never backed up...)."""
    from session_backup.status import missing_tables

    manifest = warehouse.backup_relation("backup_manifest")
    held: dict[str, set[str]] = {}
    ids = [session.session_id for session in sessions]
    for start in range(0, len(ids), 1000):  # bounded parameter lists
        params = {f"id{index}": value for index, value in enumerate(ids[start : start + 1000])}
        placeholders = ", ".join(warehouse.param(name) for name in params)
        for row in warehouse.query(
            f"select session_id, table_name from {manifest} where session_id in ({placeholders}) "
            f"and table_name in ({_table_list(tables)})",
            **params,
        ):
            held.setdefault(row[0], set()).add(row[1])
    lacking = [session for session in sessions if set(tables) - held.get(session.session_id, set())]
    if not lacking:
        return {}
    reasons = missing_tables(
        warehouse,
        declared,
        [
            {"session_id": s.session_id, "scope": s.scope, "session_seq": s.session_seq}
            for s in lacking
        ],
    )
    return {
        session.session_id: {
            table: why.get(table, "not in the backup manifest")
            for table in tables
            if table not in held.get(session.session_id, set())
        }
        for session, why in zip(lacking, reasons)
    }


def session_as_of(
    warehouse: Warehouse, scope: str, as_of: datetime.datetime, tables: list[str]
) -> SessionRef:
    """The last session of the scope, by its position, that started at or before `as_of` and is
    backed up for every table. Only succeeded sessions are ever claimed, so failed and running
    ones are never picked."""
    _require_scope(warehouse, scope)
    found = _sessions_backed_up_for(
        warehouse,
        tables,
        f"sessions.scope = {warehouse.param('scope')} and sessions.started_at <= {warehouse.param('as_of')}",
        scope=scope,
        as_of=as_of,
    )
    if not found:
        raise BackupError(
            f"Scope {scope!r} has no session backed up for {', '.join(tables)} that started at "
            f"or before {as_of}."
        )
    return found[-1]


def session_ref(warehouse: Warehouse, session_id: str) -> SessionRef:
    return sessions_listed(warehouse, [session_id], [])[0]


# ----------------------------------------------------------------------------------------------
# Restore into a schema


def _literal(value: str) -> str:
    """A string literal for view text (a view cannot take parameters)."""
    return "'" + value.replace("'", "''") + "'"


def _bigquery_literal(value: str) -> str:
    return (
        "'"
        + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
        + "'"
    )


def _id_list_literal(warehouse: Warehouse, session_ids: list[str]) -> str:
    if warehouse.kind == "bigquery":
        return "[" + ", ".join(_bigquery_literal(value) for value in session_ids) + "]"
    return "[" + ", ".join(_literal(value) for value in session_ids) + "]::varchar[]"


def _earliest_date(sessions: list[SessionRef]) -> datetime.date:
    return min(session.started_at for session in sessions).date()


def _pruned(warehouse: Warehouse, function: str) -> bool:
    """BigQuery's constant-filter variant exists (dbt creates it for History tables)."""
    return warehouse.kind == "bigquery" and warehouse.routine_exists(f"{function}_pruned")


def restore_source(warehouse: Warehouse, table: str, sessions: list[SessionRef]) -> str:
    """The FROM item restoring a table for a set of sessions, with the ids as literals (a view
    cannot take parameters). On BigQuery the pruned variant, with the sessions' scopes and
    earliest start date as constants."""
    session_ids = [session.session_id for session in sessions]
    function = f"restore_{table}_sessions"
    if _pruned(warehouse, function):
        scopes = sorted({session.scope for session in sessions})
        return warehouse.function_call(
            f"{function}_pruned",
            f"{_id_list_literal(warehouse, session_ids)}, {_id_list_literal(warehouse, scopes)}, "
            f"date '{_earliest_date(sessions).isoformat()}'",
        )
    return warehouse.function_call(function, _id_list_literal(warehouse, session_ids))


def single_restore_source(warehouse: Warehouse, table: str, session_id: str) -> str:
    literal = (
        _bigquery_literal(session_id) if warehouse.kind == "bigquery" else _literal(session_id)
    )
    return warehouse.function_call(f"restore_{table}", literal)


def materialize(
    warehouse: Warehouse, sources: dict[str, str], into_schema: str, as_views: bool
) -> dict[str, int | None]:
    """Creates one table (or view) per table in `into_schema` from the given FROM items; all or
    none. Returns the row count of each (None for views: counting would run the restore)."""
    kind = "view" if as_views else "table"
    if warehouse.kind == "duckdb":
        return _materialize_duckdb(warehouse, sources, into_schema, kind)
    if warehouse.kind == "bigquery":
        return _materialize_bigquery(warehouse, sources, into_schema, kind)
    raise BackupError(f"Restoring into a schema is not implemented for {warehouse.kind}.")


def _materialize_duckdb(
    warehouse: Any, sources: dict[str, str], into_schema: str, kind: str
) -> dict[str, int | None]:
    import duckdb

    into = warehouse._quote(checked_identifier(into_schema, "Schema"))
    counts: dict[str, int | None] = {}
    connection = warehouse.connection
    try:
        connection.execute("begin transaction")
        connection.execute(f"create schema if not exists {into}")
        for table, source in sources.items():
            target = f"{into}.{warehouse._quote(table)}"
            # A table and a view cannot share a name: replace whichever exists.
            existing = connection.execute(
                "select table_type from information_schema.tables where table_catalog = ? "
                "and table_schema = ? and table_name = ?",
                [warehouse.catalog, into_schema, table],
            ).fetchall()
            if existing:
                connection.execute(
                    f"drop {'view' if existing[0][0] == 'VIEW' else 'table'} {target}"
                )
            if kind == "view":
                # DuckDB (2.0) cannot bind a view over "x"."x".<name> (a catalog and a schema of
                # one name, as in the default backup.duckdb): "ambiguous reference". The query()
                # table function binds its text as an ordinary query.
                inner = f"select * from {source}"
                connection.execute(
                    f"create view {target} as select * from query({_literal(inner)})"
                )
            else:
                connection.execute(f"create table {target} as select * from {source}")
            counts[table] = (
                connection.execute(f"select count(*) from {target}").fetchone()[0]
                if kind == "table"
                else None
            )
        connection.execute("commit")
    except duckdb.Error as exc:
        connection.execute("rollback")
        from session_backup.warehouse import _translate_error

        raise _translate_error(exc) from exc
    return counts


def _materialize_bigquery(
    warehouse: Any, sources: dict[str, str], into_schema: str, kind: str
) -> dict[str, int | None]:
    """BigQuery DDL cannot sit in a transaction: on any failure, drop what this call made."""
    from google.cloud import bigquery

    into = checked_identifier(into_schema, "Dataset")
    dataset = bigquery.Dataset(f"{warehouse.project}.{into}")
    dataset.location = warehouse.location
    warehouse.client.create_dataset(dataset, exists_ok=True)
    made: list[str] = []
    counts: dict[str, int | None] = {}
    try:
        for table, source in sources.items():
            target = f"`{warehouse.project}`.`{into}`.`{table}`"
            warehouse.client.delete_table(f"{warehouse.project}.{into}.{table}", not_found_ok=True)
            warehouse.query(f"create {kind} {target} as select * from {source}")
            made.append(f"{warehouse.project}.{into}.{table}")
            counts[table] = (
                warehouse.query(f"select count(*) from {target}")[0][0] if kind == "table" else None
            )
    except BackupError:
        for table_id in made:
            warehouse.client.delete_table(table_id, not_found_ok=True)
        raise
    return counts


# ----------------------------------------------------------------------------------------------
# Export to Parquet


def encode_path_segment(value: str, what: str) -> str:
    """Percent-encoding (RFC 3986) of every byte but letters, digits, '-' and '_': no '/', no
    '.', no '..', the same on every file system and in gs:// names; decode with unquote()."""
    # quote() always keeps '.' and '~' (RFC 3986 unreserved); encode them too ('..', '.').
    encoded = quote(value, safe=_SAFE_PATH_BYTES).replace(".", "%2E").replace("~", "%7E")
    if len(encoded.encode()) + 16 > MAX_PATH_SEGMENT_BYTES:
        raise BackupError(
            f"{what} {value[:40]!r}... is too long to be a file name once encoded "
            f"({len(encoded)} bytes; at most {MAX_PATH_SEGMENT_BYTES - 16})."
        )
    return encoded


def decode_path_segment(segment: str) -> str:
    return unquote(segment.split("=", 1)[1] if "=" in segment else segment)


def export_path(table: str, session: SessionRef) -> str:
    """Where one (table, session) goes, relative to the export root. Hive-style segments, so
    pandas, polars, Spark, DuckDB and BigQuery external tables read a table's folder with
    backup_scope and backup_session as partition columns (prefixed: no landing column can
    carry those names)."""
    return "/".join(
        [
            encode_path_segment(table, "Table"),
            "backup_scope=" + encode_path_segment(session.scope, "Scope"),
            "backup_session=" + encode_path_segment(session.session_id, "Session id"),
            "data.parquet",
        ]
    )


def _manifest_checksums(
    warehouse: Warehouse, sessions: list[SessionRef], tables: list[str]
) -> dict[tuple[str, str], dict]:
    manifest = warehouse.backup_relation("backup_manifest")
    checksums: dict[tuple[str, str], dict] = {}
    ids = [session.session_id for session in sessions]
    for start in range(0, len(ids), 1000):
        params = {f"id{index}": value for index, value in enumerate(ids[start : start + 1000])}
        placeholders = ", ".join(warehouse.param(name) for name in params)
        for row in warehouse.query(
            "select session_id, table_name, row_count, checksum_low, checksum_high, hash_version "
            f"from {manifest} where session_id in ({placeholders}) and table_name in ({_table_list(tables)})",
            **params,
        ):
            checksums[(row[0], row[1])] = {
                "row_count": int(row[2]),
                "checksum_low": int(row[3]),
                "checksum_high": int(row[4]),
                "hash_version": row[5],
            }
    return checksums


def _record_batches(warehouse: Any, table: str, sessions: list[SessionRef], ordered: bool = True):
    """The multi-session restore of a table as Arrow record batches (ordered by session, or
    in any order)."""
    session_ids = [session.session_id for session in sessions]
    if warehouse.kind == "duckdb":
        source = warehouse.function_call(f"restore_{table}_sessions", "$session_ids")
        order = ' order by "session_id"' if ordered else ""
        relation = warehouse.connection.sql(
            f"select * from {source}{order}", params={"session_ids": session_ids}
        )
        return relation.to_arrow_reader(100_000)
    from google.cloud import bigquery

    parameters = [bigquery.ArrayQueryParameter("session_ids", "STRING", session_ids)]
    source = warehouse.function_call(f"restore_{table}_sessions", "@session_ids")
    if sessions and _pruned(warehouse, f"restore_{table}_sessions"):
        parameters += [
            bigquery.ArrayQueryParameter("scopes", "STRING", sorted({s.scope for s in sessions})),
            bigquery.ScalarQueryParameter("closed_since", "DATE", _earliest_date(sessions)),
        ]
        source = warehouse.function_call(
            f"restore_{table}_sessions_pruned", "@session_ids, @scopes, @closed_since"
        )
    order = " order by `session_id`" if ordered else ""
    job = warehouse.client.query(
        f"select * from {source}{order}",
        job_config=bigquery.QueryJobConfig(query_parameters=parameters),
    )
    return job.result().to_arrow_iterable()


class _Output:
    """A local folder, or gs://bucket/prefix (files are written locally, then uploaded)."""

    def __init__(self, out: str) -> None:
        self.out = out
        if out.startswith("gs://"):
            bucket, _, prefix = out[len("gs://") :].partition("/")
            if not bucket:
                raise BackupError(f"--out {out!r}: expected gs://bucket[/prefix].")
            from session_backup.cold.gcs import make_storage_client

            self.bucket = make_storage_client().bucket(bucket)
            self.prefix = prefix.strip("/")
            if any(
                True
                for _ in self.bucket.client.list_blobs(
                    self.bucket, prefix=self.prefix + "/" if self.prefix else None, max_results=1
                )
            ):
                raise BackupError(
                    f"{out} already holds objects; export into a new prefix (a reader of a table's "
                    "folder would also read what is there)."
                )
            self.staging = Path(tempfile.mkdtemp(prefix="session-backup-export-"))
            self.root = self.staging
        else:
            self.bucket = None
            self.root = Path(out)
            if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
                raise BackupError(
                    f"{out} is not an empty folder; export into a new one (a reader of a table's "
                    "folder would also read the files already there)."
                )
            self.root.mkdir(parents=True, exist_ok=True)

    def local_path(self, relative: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, relative: str) -> None:
        """Moves a finished file to its place (an upload for gs://)."""
        if self.bucket is None:
            return
        name = f"{self.prefix}/{relative}" if self.prefix else relative
        local = self.root / relative
        self.bucket.blob(name).upload_from_filename(str(local))
        local.unlink()

    def location(self, relative: str) -> str:
        if self.bucket is None:
            return str(self.root / relative)
        return f"gs://{self.bucket.name}/{self.prefix + '/' if self.prefix else ''}{relative}"


def export_sessions(
    warehouse: Warehouse,
    sessions: list[SessionRef],
    tables: list[str],
    out: str,
    on_progress: Callable[[int], None] = lambda steps: None,
    timings: dict[str, float] | None = None,
    sessions_by_table: dict[str, list[SessionRef]] | None = None,
) -> dict:
    """Writes every (table, session) as one zstd Parquet file (landing layout: session_id and
    the table's columns) under `out`, plus manifest.json with, per file, its row count and
    SHA-256 and the backup's own row count and checksum of that session. One restore query per
    table for all sessions, its Arrow batches streamed into one writer per session (a
    partitioned COPY was slower: DuckDB buffers ~0.5M rows per open partition, and under a
    1 GB memory limit 100 lineitem partitions spill to disk). Files are hashed (and uploaded, for gs://) on a second thread while
    the next table is written. A file whose row count differs from the backup's manifest stops
    the export (exit 1). `timings`, when given, receives the seconds spent per phase;
    `sessions_by_table` narrows a table to the sessions backed up for it (a partial export)."""
    from concurrent.futures import ThreadPoolExecutor

    clock = _PhaseClock(timings)
    output = _Output(out)
    with clock("manifest_checksums"):
        checksums = _manifest_checksums(warehouse, sessions, tables)
    files: list[dict] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-hash") as hasher:
        pending = []

        def finish(table: str, session: SessionRef, rows: int):
            pending.append(
                hasher.submit(
                    clock.timed,
                    "hash_and_publish",
                    _finish_file,
                    output,
                    table,
                    session,
                    rows,
                    checksums,
                )
            )
            on_progress(1)

        for table in tables:
            table_sessions = (sessions_by_table or {}).get(table, sessions)
            with clock("write"):
                _export_table(warehouse, output, table, table_sessions, finish)
        with clock("wait_for_hashing"):
            files.extend(future.result() for future in pending)
    files.sort(key=lambda entry: (entry["table"], entry["scope"], entry["session_seq"]))
    manifest = {
        "format": "parquet",
        "compression": "zstd",
        "layout": "<table>/backup_scope=<scope>/backup_session=<session_id>/data.parquet",
        "path_encoding": "percent-encoding (RFC 3986) of UTF-8; only A-Z a-z 0-9 - _ kept as they are",
        "checksum": "row_count, checksum_low, checksum_high: the backup manifest's, taken from landing at backup "
        "time (hash_version); sha256: of the file",
        "sessions": len(sessions),
        "tables": tables,
        "files": files,
    }
    manifest_path = output.local_path("manifest.json")
    manifest_path.write_text(
        json.dumps(manifest, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    output.publish("manifest.json")
    manifest["location"] = output.location("manifest.json")
    mismatched = [
        entry
        for entry in files
        if entry["backup"] and entry["row_count"] != entry["backup"]["row_count"]
    ]
    if mismatched:
        first = mismatched[0]
        raise ProblemFound(
            f"Exported {first['row_count']} rows of {first['table']} for session "
            f"{first['session_id']!r}, the backup manifest says {first['backup']['row_count']}."
        )
    return manifest


class _PhaseClock:
    """Seconds per named phase, summed (phases timed on the hashing thread included)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings if timings is not None else {}

    def __call__(self, phase: str):
        import contextlib

        @contextlib.contextmanager
        def timing():
            started = time.perf_counter()
            try:
                yield
            finally:
                self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started

        return timing()

    def timed(self, phase: str, work: Callable, *args: Any) -> Any:
        with self(phase):
            return work(*args)


ROW_GROUP_ROWS = 65_536  # rows buffered per session before a write (one row group) ...
BUFFERED_ROWS = 6_553_600  # ... at most this many over all open files (memory ~ rows x width)
MAX_OPEN_FILES = (
    200  # beyond this many sessions, rows come sorted by session (one file open at a time)
)


def _export_table(
    warehouse: Warehouse,
    output: _Output,
    table: str,
    sessions: list[SessionRef],
    finish: Callable[[str, SessionRef, int], None],
) -> None:
    """One table of every session from a single restore query read as Arrow batches, each
    session's rows streamed into its own file (bounded memory); `finish` gets each file. Up
    to MAX_OPEN_FILES sessions the rows come in any
    order (sorting them cost as much as writing them) and every file stays open until the end;
    beyond, they come sorted and a file is closed as soon as the next session starts."""
    import pyarrow as pa
    from pyarrow import compute, parquet

    by_id = {session.session_id: session for session in sessions}
    ordered = len(sessions) > MAX_OPEN_FILES
    written: set[str] = set()
    writers: dict[str, Any] = {}
    rows: dict[str, int] = {}
    schema = None

    pending: dict[str, list] = {}  # slices not yet written, per session
    pending_rows: dict[str, int] = {}
    # Slices keep their whole batch alive: bound the rows held over all open files.
    open_files = 1 if ordered else max(1, len(sessions))
    rows_per_write = max(4096, min(ROW_GROUP_ROWS, BUFFERED_ROWS // open_files))

    def flush(session_id: str) -> None:
        # One write per rows_per_write rows: a write per slice would make a row group per
        # slice (~1k rows), which compresses worse and writes slower.
        if pending.get(session_id):
            writers[session_id].write_table(pa.Table.from_batches(pending.pop(session_id)))
        pending_rows[session_id] = 0

    def close(session_id: str) -> None:
        flush(session_id)
        writers.pop(session_id).close()
        written.add(session_id)
        finish(table, by_id[session_id], rows[session_id])

    for batch in _record_batches(warehouse, table, sessions, ordered=ordered):
        schema = batch.schema
        index = batch.schema.get_field_index("session_id")
        if not ordered:
            batch = batch.take(compute.sort_indices(batch.column(index)))
        # The runs of one session in the (sorted) batch, found by Arrow, not row by row.
        runs = compute.run_end_encode(batch.column(index))
        start = 0
        for session_id, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist()):
            if session_id not in writers:
                if ordered:
                    for finished in list(writers):
                        close(finished)
                writers[session_id] = parquet.ParquetWriter(
                    output.local_path(export_path(table, by_id[session_id])),
                    schema,
                    compression="zstd",
                )
                rows[session_id] = 0
                pending_rows[session_id] = 0
            pending.setdefault(session_id, []).append(batch.slice(start, end - start))
            pending_rows[session_id] += end - start
            rows[session_id] += end - start
            if pending_rows[session_id] >= rows_per_write:
                flush(session_id)
            start = end
    for session_id in list(writers):
        close(session_id)
    if schema is None:
        schema = _empty_schema(warehouse, table)
    for session in sessions:  # sessions with no rows still get a file: empty is data
        if session.session_id not in written:
            parquet.write_table(
                pa.Table.from_batches([], schema=schema),
                output.local_path(export_path(table, session)),
                compression="zstd",
            )
            finish(table, session, 0)


def _empty_schema(warehouse: Any, table: str):
    """The Arrow schema of a table's restore, from a query that returns no row."""
    import pyarrow as pa

    batches = _record_batches(warehouse, table, [])
    for batch in batches:
        return batch.schema
    schema = getattr(batches, "schema", None)
    if schema is None:
        raise BackupError(f"Cannot tell the columns of {table} to write empty files.")
    return schema if isinstance(schema, pa.Schema) else pa.schema(schema)


def _finish_file(
    output: _Output, table: str, session: SessionRef, rows: int, checksums: dict
) -> dict:
    relative = export_path(table, session)
    local = output.root / relative
    digest = hashlib.sha256()
    with open(local, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    size = os.path.getsize(local)
    output.publish(relative)
    return {
        "table": table,
        "scope": session.scope,
        "session_id": session.session_id,
        "session_seq": session.session_seq,
        "started_at": str(session.started_at),
        "path": relative,
        "row_count": rows,
        "bytes": size,
        "sha256": digest.hexdigest(),
        "backup": checksums.get((session.session_id, table)),
    }


# ----------------------------------------------------------------------------------------------
# Diff and log


def jsonable(value: Any) -> Any:
    """Values as JSON can hold them: NaN and infinities as strings, structs as objects."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if hasattr(value, "items") and callable(value.items):  # BigQuery Row-like structs
        return {key: jsonable(item) for key, item in value.items()}
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def diff_sessions(
    warehouse: Warehouse,
    from_id: str,
    to_id: str,
    tables: list[str],
    keys: dict[str, tuple[str, ...]],
) -> dict:
    """Per table, what changed from one session to the other (diff_<t>)."""
    start, end = session_ref(warehouse, from_id), session_ref(warehouse, to_id)
    if start.scope != end.scope:
        raise BackupError(
            f"Sessions {from_id!r} (scope {start.scope!r}) and {to_id!r} (scope {end.scope!r}) "
            "are in different scopes; a diff compares two sessions of one scope."
        )
    sessions_listed(warehouse, [from_id, to_id], tables)  # both backed up for every table
    result: dict[str, Any] = {
        "scope": start.scope,
        "from": start.as_dict(),
        "to": end.as_dict(),
        "tables": {},
    }
    for table in tables:
        arguments = f"{warehouse.param('from_id')}, {warehouse.param('to_id')}"
        params: dict[str, Any] = {"from_id": from_id, "to_id": to_id}
        function = f"diff_{table}"
        if _pruned(warehouse, function):
            function += "_pruned"
            arguments += f", {warehouse.param('scope')}, {warehouse.param('closed_since')}"
            params.update(scope=start.scope, closed_since=_earliest_date([start, end]))
        rows = warehouse.query(
            f"select * from {warehouse.function_call(function, arguments)}", **params
        )
        keyed = bool(keys.get(table))
        entries = [_diff_entry(row, keyed) for row in rows]
        entries.sort(
            key=lambda entry: json.dumps(
                entry.get("key", entry.get("row")), default=str, sort_keys=True
            )
        )
        counts = {"added": 0, "removed": 0, "changed": 0}
        for entry in entries:
            counts[entry["change"]] += 1
        result["tables"][table] = {"keyed": keyed, **counts, "rows": entries}
    return result


def _diff_entry(row: tuple, keyed: bool) -> dict:
    if not keyed:
        change, values, old_count, new_count = row
        return {
            "change": change,
            "row": jsonable(values),
            "old_count": old_count,
            "new_count": new_count,
        }
    change, key, changed_columns, old_values, new_values = row
    entry: dict[str, Any] = {"change": change, "key": jsonable(key)}
    if change == "changed":
        entry["changed_columns"] = list(changed_columns)
        entry["old"] = {name: jsonable(old_values[name]) for name in changed_columns}
        entry["new"] = {name: jsonable(new_values[name]) for name in changed_columns}
    elif change == "added":
        entry["new"] = jsonable(new_values)
    else:
        entry["old"] = jsonable(old_values)
    return entry


def row_log(
    warehouse: Warehouse, table: str, key_values: dict[str, str], scope: str | None
) -> list[dict]:
    """Every stored version of the rows whose columns equal `key_values` (versions_<t>), oldest
    first per scope, with the sessions and times each was valid in."""
    source = warehouse.function_call(f"versions_{table}", "")
    probe = _columns_of(warehouse, source)
    lowered = {name.lower(): name for name in probe}
    conditions, params = [], {}
    for index, (name, value) in enumerate(key_values.items()):
        column = lowered.get(name.lower())
        if column is None or column.startswith("backup_"):
            landing = [column for column in probe if not column.startswith("backup_")]
            raise BackupError(
                f"Table {table!r} has no column {name!r} (columns: {', '.join(landing)})."
            )
        quoted = warehouse._quote(column) if warehouse.kind == "duckdb" else f"`{column}`"
        # Compared as text, so one --key form fits every column type.
        conditions.append(
            f"cast({quoted} as {'varchar' if warehouse.kind == 'duckdb' else 'string'}) = "
            f"{warehouse.param(f'key{index}')}"
        )
        params[f"key{index}"] = value
    if scope is not None:
        _require_scope(warehouse, scope)
        conditions.append(f"backup_scope = {warehouse.param('scope')}")
        params["scope"] = scope
    rows = warehouse.query(
        f"select * from {source} where {' and '.join(conditions)} order by backup_scope, backup_valid_from_seq",
        **params,
    )
    return [dict(zip(probe, (jsonable(value) for value in row))) for row in rows]


def _columns_of(warehouse: Any, source: str) -> list[str]:
    if warehouse.kind == "duckdb":
        try:
            return [
                column[0]
                for column in warehouse.connection.execute(
                    f"select * from {source} limit 0"
                ).description
            ]
        except Exception as exc:  # one clear line for any engine error
            from session_backup.warehouse import _translate_error

            raise _translate_error(exc) from exc
    job = warehouse.client.query(f"select * from {source} limit 0")
    return [field.name for field in job.result().schema]
