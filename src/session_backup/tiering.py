"""Cold tiering, rehydration and retention of History (issue 4). Design: docs/cold-storage.md.

    tier       closed versions older than a threshold leave the hot `history_<t>` tables for
               zstd Parquet files in the cold root (local folder or gs://), one file per
               (table, scope, closed month) and run, recorded in `cold_manifest`.
    rehydrate  chosen cold files come back into the hot tables.
    prune      removes what no session inside the retention window (or on hold) needs.

Restores read hot and cold together: `cold_history_<t>` is a view over the manifest's active
files, and `history_sources()` unions it into every `restore_<t>` function.

Write order of every command (each step safe to interrupt and to repeat):
  1. journal: the files about to be created are recorded as `writing` (committed);
  2. write each file to a staging folder, read it back and compare it with its source rows
     (count + 64-bit row-hash sums, value by value through DuckDB's hash of the whole row);
  3. place it in the cold root (never overwriting: hard link / if_generation_match=0);
  4. one transaction: manifest rows `active`, hot rows deleted, view re-pointed;
  5. housekeeping: objects no longer needed are deleted (unless under retention).
A re-run first finishes or undoes what an interrupted run left (`writing` and `retired` rows).
Tests interrupt every step through `fail_after=` / SESSION_BACKUP_FAIL_AFTER.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from session_backup.cold_storage import (
    ColdStore,
    ObjectExists,
    RetentionBlocked,
    cache_dir_for,
    file_sha256,
    open_store,
    relative_path,
)
from session_backup.config import Settings
from session_backup.errors import BackupError

# --------------------------------------------------------------------------------------------
# Names

COLD_MANIFEST = "cold_manifest"
COLD_VIEW_STATE = "cold_view_state"
PRUNED_SESSIONS = "backup_pruned_sessions"
PRUNED_MANIFEST = "backup_pruned_manifest"
HOLDS = "backup_holds"
PRUNE_WINDOWS = "backup_prune_windows"
DEFAULT_STORAGE_CLASS = os.environ.get("SESSION_BACKUP_COLD_STORAGE_CLASS", "COLDLINE").upper()
# Parquet (zstd) bytes per BigQuery logical byte, used only by `tier --dry-run` before any file
# of this backup exists to measure it (TPC-H history measured ~0.25-0.35).
ASSUMED_PARQUET_RATIO = 0.3

FAULT_ENV = "SESSION_BACKUP_FAIL_AFTER"
STEPS = {
    "tier": ("plan", "journal", "write", "verify", "upload", "manifest", "delete", "commit"),
    "rehydrate": ("fetch", "insert", "manifest", "commit", "delete"),
    "prune": ("plan", "journal", "rewrite", "commit", "delete"),
}


class InjectedFault(RuntimeError):
    """Raised by a fault injection point (tests only)."""


def _fault(command: str, step: str, fail_after: str | None) -> None:
    """Fault injection for tests: `fail_after='write'` (or env SESSION_BACKUP_FAIL_AFTER=tier.write)
    stops right after that step; a `:exit` suffix kills the process (os._exit, no cleanup at all)."""
    wanted = fail_after or os.environ.get(FAULT_ENV)
    if not wanted:
        return
    spec, _, mode = wanted.partition(":")
    if spec in (step, f"{command}.{step}"):
        if mode == "exit":
            sys.stderr.flush()
            os._exit(97)
        raise InjectedFault(f"injected failure after {command}.{step}")


# --------------------------------------------------------------------------------------------
# Dates, durations, prices

DURATION = re.compile(r"^\s*(\d+)\s*(d|day|days|w|week|weeks|m|month|months|y|year|years)\s*$", re.IGNORECASE)


def parse_now(value: str | datetime | date | None) -> datetime:
    """`--now`: an ISO date or timestamp (UTC, naive like the landing's started_at); default now."""
    if value is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BackupError(f"--now {value!r}: expected a date like 2024-12-31 or a timestamp.") from exc
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def subtract_duration(now: datetime, text: str, option: str) -> datetime:
    """`90d`, `12w`, `6m`, `2y`: days and weeks exactly, months and years on the calendar."""
    match = DURATION.match(text or "")
    if not match:
        raise BackupError(f"{option} {text!r}: expected a number and a unit, e.g. 90d, 12w, 6m or 2y.")
    count, unit = int(match.group(1)), match.group(2).lower()[0]
    if unit == "d":
        return now - timedelta(days=count)
    if unit == "w":
        return now - timedelta(weeks=count)
    months = count * (12 if unit == "y" else 1)
    year, month = divmod(now.year * 12 + (now.month - 1) - months, 12)
    month += 1
    last_day = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return now.replace(year=year, month=month, day=min(now.day, last_day))


def month_bounds(closed_month: str) -> tuple[date, date]:
    year, month = (int(part) for part in closed_month.split("-"))
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def load_prices(settings: Settings, path: str | Path | None = None) -> tuple[dict, str]:
    """The price list: --prices / SESSION_BACKUP_PRICES, else <project>/prices.toml, else the
    packaged default; keys missing from an override fall back to the packaged file."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    packaged = Path(__file__).with_name("prices.toml")
    try:
        with open(packaged, "rb") as handle:
            prices = tomllib.load(handle)
    except FileNotFoundError as exc:  # a wheel built without package data
        raise BackupError(f"The packaged price list {packaged} is missing: reinstall session-backup, "
                          "or give --prices PATH / SESSION_BACKUP_PRICES with a full price list.") from exc
    chosen = path or os.environ.get("SESSION_BACKUP_PRICES")
    if not chosen and (Path(settings.project_dir) / "prices.toml").is_file():
        chosen = Path(settings.project_dir) / "prices.toml"
    source = str(packaged)
    if chosen:
        chosen_path = Path(chosen)
        try:
            with open(chosen_path, "rb") as handle:
                override = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise BackupError(f"Prices file {chosen_path} not found.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise BackupError(f"Prices file {chosen_path} is not valid TOML: {exc}") from exc
        prices = _merge(prices, override)
        source = str(chosen_path)
    return prices, source


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


GIB = float(1 << 30)


def gcs_price(prices: dict, storage_class: str | None) -> float:
    return float(prices["gcs"][(storage_class or DEFAULT_STORAGE_CLASS).lower()])


# --------------------------------------------------------------------------------------------
# The backup database (DuckDB)


def _duckdb_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8"}


class _Backup:
    """The backup database as tiering needs it: names, columns, transactions."""

    def __init__(self, warehouse) -> None:
        if warehouse.kind != "duckdb":
            raise BackupError(
                "Cold tiering runs on the DuckDB backup only for now; on BigQuery see "
                "docs/cold-storage.md (BigQuery design, not implemented yet)."
            )
        self.warehouse = warehouse
        self.connection = warehouse.connection
        self.catalog = warehouse.catalog
        self.schema = warehouse.schema

    def rel(self, name: str) -> str:
        return self.warehouse.backup_relation(name)

    def exists(self, name: str) -> bool:
        return self.warehouse.relation_exists(name)

    def query(self, sql: str, params: dict | list | None = None) -> list[tuple]:
        return self.connection.execute(sql, params or None).fetchall()

    def execute(self, sql: str, params: dict | list | None = None) -> None:
        self.connection.execute(sql, params or None)

    def columns(self, name: str) -> list[tuple[str, str]]:
        return [(row[0], row[1]) for row in self.query(f"describe {self.rel(name)}")]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin transaction")
        try:
            yield
        except BaseException:
            with suppress(Exception):  # the original error matters more than a failed rollback
                self.execute("rollback")
            raise
        self.execute("commit")

    def ensure_tables(self) -> None:
        """Tiering's own bookkeeping, created on first use (not dbt models: dbt never drops them)."""
        self.execute(f"""
            create table if not exists {self.rel(COLD_MANIFEST)} (
                file_id varchar not null,
                state varchar not null,            -- writing | active | retired | released
                table_name varchar not null,
                scope varchar not null,
                closed_month varchar not null,     -- yyyy-mm of backup_closed_date
                part integer not null,
                cold_root varchar not null,
                relative_path varchar not null,
                file_uri varchar not null,
                read_path varchar,                 -- the local file DuckDB reads (cache for gs://)
                storage_class varchar,
                row_count bigint,
                bytes bigint,
                logical_bytes bigint,              -- BigQuery logical bytes of the rows when hot
                content_sha256 varchar,
                content_md5 varchar,
                generation bigint,
                row_checksum_low hugeint,
                row_checksum_high hugeint,
                checksum_engine varchar,
                min_closed_date date,
                max_closed_date date,
                min_valid_from_seq bigint,
                max_valid_from_seq bigint,
                min_valid_to_seq bigint,
                max_valid_to_seq bigint,
                cutoff_date date,
                created_at timestamp,
                committed_at timestamp,
                retired_at timestamp,
                retired_reason varchar,
                delete_after timestamp
            )""")
        self.execute(f"""
            create table if not exists {self.rel(COLD_VIEW_STATE)} (
                table_name varchar not null,
                kind varchar not null,             -- files | empty | guard
                fingerprint varchar,
                installed_at timestamp
            )""")

    def ensure_retention_tables(self) -> None:
        self.execute(f"""
            create table if not exists {self.rel(PRUNED_SESSIONS)} (
                session_id varchar not null,
                scope varchar not null,
                session_seq bigint not null,
                started_at timestamp,
                pruned_at timestamp not null,
                retention varchar,
                window_start timestamp
            )""")
        self.execute(f"""
            create table if not exists {self.rel(PRUNED_MANIFEST)} as
            select *, cast(null as timestamp) as pruned_at from {self.rel('backup_manifest')} where 1 = 0""")
        # backup_manifest may gain columns later: the copy follows before each move.
        present = {name for name, _ in self.columns(PRUNED_MANIFEST)}
        for name, column_type in self.columns("backup_manifest"):
            if name not in present:
                self.execute(f"alter table {self.rel(PRUNED_MANIFEST)} add column {_quote(name)} {column_type}")
        self.execute(f"""
            create table if not exists {self.rel(PRUNE_WINDOWS)} (
                scope varchar not null,
                window_seq bigint not null,        -- first session of the scope inside the window
                window_start timestamp not null,
                retention varchar,
                pruned_at timestamp not null
            )""")
        self.execute(f"""
            create table if not exists {self.rel(HOLDS)} (
                session_id varchar not null,
                held_at timestamp not null,
                source varchar
            )""")

    def history_tables(self, declared: Iterable, only: Iterable[str] | None = None) -> list[str]:
        """Declared tables of the history strategy that have a History table."""
        names = [table.name for table in declared if table.strategy == "history"]
        if only:
            wanted = list(dict.fromkeys(only))
            unknown = [name for name in wanted if name not in names]
            if unknown:
                raise BackupError(f"Table(s) {', '.join(unknown)} are not declared with the history strategy "
                                  f"(tiered tables: {', '.join(names) or 'none'}).")
            names = wanted
        return [name for name in names if self.exists(f"history_{name}")]


def _open_backup(settings: Settings, read_only: bool = False):
    from session_backup.warehouse import open_warehouse

    return open_warehouse(settings, read_only=read_only)


# --------------------------------------------------------------------------------------------
# Row checksums, logical bytes, Parquet encodings


def _row_hash(alias: str, columns: list[tuple[str, str]], casts: dict[str, str] | None = None) -> str:
    """64-bit hash of a whole row; floats add their sign bit (hash(-0.0) = hash(0.0))."""
    casts = casts or {}
    parts = []
    for name, column_type in columns:
        reference = f"{alias}.{_quote(name)}"
        parts.append(f"cast({reference} as {casts[name]})" if name in casts else reference)
    for name, column_type in columns:
        if column_type.upper() in FLOAT_TYPES:
            parts.append(f"signbit({alias}.{_quote(name)})")
    return f"hash(row({', '.join(parts)}))"


def _checksum_select(source: str, alias: str, columns, where: str = "true", casts=None) -> str:
    return (
        f"select count(*) as row_count, coalesce(sum(h >> 32), 0) as high, "
        f"coalesce(sum(h & 4294967295), 0) as low "
        f"from (select {_row_hash(alias, columns, casts)} as h from {source} as {alias} where {where}) as hashed"
    )


def _logical_bytes_expr(alias: str, columns: list[tuple[str, str]]) -> str:
    """BigQuery's logical size of a row (its storage billing unit): 8 bytes for numbers, dates
    and timestamps, 16 for NUMERIC, 2 + length for strings and bytes, NULL = 0."""
    terms = []
    for name, column_type in columns:
        reference = f"{alias}.{_quote(name)}"
        upper = column_type.upper()
        if upper == "BOOLEAN":
            size = "1"
        elif upper.startswith("DECIMAL") or upper in ("HUGEINT", "UHUGEINT", "INTERVAL", "UUID"):
            size = "16"
        elif upper.startswith("VARCHAR") or upper == "JSON":
            size = f"2 + strlen({reference})"
        elif upper == "BLOB":
            size = f"2 + octet_length({reference})"
        elif upper in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
                       "UBIGINT", "DOUBLE", "FLOAT", "REAL", "DATE", "TIME") or upper.startswith("TIMESTAMP"):
            size = "8"
        else:  # nested and exotic types: their text length is a fair stand-in
            size = f"2 + strlen(cast({reference} as varchar))"
        terms.append(f"(case when {reference} is null then 0 else {size} end)")
    return " + ".join(terms) or "0"


def _parquet_text_columns(backup: _Backup, hot: str, columns: list[tuple[str, str]], staging: Path) -> set[str]:
    """Columns whose DuckDB type does not survive Parquet (HUGEINT -> DOUBLE, ENUM -> VARCHAR,
    TIMESTAMP_S -> TIMESTAMP, BIT...): stored as text and cast back on read. Found by writing an
    empty probe file, so any type the Parquet writer changes is caught, not a hand-kept list."""
    probe = staging / f"probe-{uuid.uuid4().hex}.parquet"
    try:
        backup.execute(f"copy (select * from {backup.rel(hot)} limit 0) to {_duckdb_string(str(probe))} "
                       "(format parquet, compression zstd)")
        read = _described(backup.query(
            f"describe select * from read_parquet({_duckdb_string(str(probe))})"))
    finally:
        probe.unlink(missing_ok=True)
    return {name for name, column_type in columns if read.get(name) != column_type}


def _described(rows: list[tuple]) -> dict[str, str]:
    """`describe` output as {column: type}."""
    return {row[0]: row[1] for row in rows}


def _write_projection(columns: list[tuple[str, str]], text_columns: set[str]) -> str:
    return ", ".join(
        f"cast(hot.{_quote(name)} as varchar) as {_quote(name)}" if name in text_columns else f"hot.{_quote(name)}"
        for name, _ in columns
    )


def _read_casts(backup: _Backup, paths: list[str], columns: list[tuple[str, str]]) -> dict[str, str]:
    """For the columns of these Parquet files whose read type differs from History's: the type
    to cast them back to."""
    if not paths:
        return {}
    read = _described(backup.query(f"describe select * from {_read_parquet(paths)}"))
    return {name: column_type for name, column_type in columns if name in read and read[name] != column_type}


def _read_parquet(paths: list[str]) -> str:
    listed = ", ".join(_duckdb_string(path) for path in paths)
    return f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"


GLOB_CHARACTERS = set("*?[]{}")


def _check_path_literal(path: str) -> str:
    if GLOB_CHARACTERS & set(path):
        raise BackupError(f"Cold path {path!r} contains a wildcard character (* ? [ ] {{ }}), which DuckDB "
                          "would expand: choose a cold root / cache folder without them.")
    return path


# --------------------------------------------------------------------------------------------
# The cold view each restore reads


def _active_files(backup: _Backup, table: str) -> list[dict]:
    if not backup.exists(COLD_MANIFEST):
        return []
    rows = backup.query(
        f"select file_id, read_path, file_uri, cold_root, relative_path, generation, bytes, content_sha256, "
        f"scope, closed_month, row_count, min_valid_from_seq, max_valid_to_seq, storage_class, "
        f"row_checksum_low, row_checksum_high, checksum_engine "
        f"from {backup.rel(COLD_MANIFEST)} where table_name = $table and state = 'active' "
        f"order by scope, closed_month, part",
        {"table": table},
    )
    keys = ("file_id", "read_path", "file_uri", "cold_root", "relative_path", "generation", "bytes",
            "content_sha256", "scope", "closed_month", "row_count", "min_valid_from_seq", "max_valid_to_seq",
            "storage_class", "row_checksum_low", "row_checksum_high", "checksum_engine")
    return [dict(zip(keys, row)) for row in rows]


def _fingerprint(files: list[dict]) -> str:
    text = "\n".join(f"{item['file_id']}\t{item['read_path']}" for item in sorted(files, key=lambda f: f["file_id"]))
    return hashlib.sha256(text.encode()).hexdigest()


def install_cold_view(backup: _Backup, table: str) -> str:
    """(Re)points `cold_history_<table>` at the manifest's active files, inside the caller's
    transaction. Columns follow History: `union all by name` with an empty select of History,
    so a column added to History later shows up as NULL for older files, and columns whose type
    Parquet cannot hold are cast back. Returns the view kind."""
    hot = f"history_{table}"
    columns = backup.columns(hot)
    files = _active_files(backup, table)
    paths = [_check_path_literal(item["read_path"]) for item in files]
    # Names inside a DuckDB view resolve in the view's own schema; a fully qualified
    # "backup"."backup"."history_t" is refused as ambiguous there (DuckDB 2.0, catalog = schema).
    anchor = f"select * from {_quote(hot)} where false"
    if paths:
        casts = _read_casts(backup, paths, columns)
        replace = ""
        if casts:
            replace = " replace (" + ", ".join(
                f"cast({_quote(name)} as {column_type}) as {_quote(name)}" for name, column_type in casts.items()
            ) + ")"
        body = f"{anchor}\nunion all by name\nselect *{replace} from {_read_parquet(paths)}"
        kind = "files"
    else:
        body = anchor
        kind = "empty"
    backup.execute(f"create or replace view {backup.rel('cold_history_' + table)} as\n{body}")
    backup.execute(f"delete from {backup.rel(COLD_VIEW_STATE)} where table_name = $table", {"table": table})
    backup.execute(
        f"insert into {backup.rel(COLD_VIEW_STATE)} values ($table, $kind, $fingerprint, now())",
        {"table": table, "kind": kind, "fingerprint": _fingerprint(files)},
    )
    return kind


def _view_state(backup: _Backup, table: str) -> tuple[str, str] | None:
    if not backup.exists(COLD_VIEW_STATE) or not backup.exists(f"cold_history_{table}"):
        return None
    rows = backup.query(f"select kind, fingerprint from {backup.rel(COLD_VIEW_STATE)} where table_name = $table",
                        {"table": table})
    return (rows[0][0], rows[0][1]) if rows else ("unknown", "")


def _functions_missing_cold(backup: _Backup, tables: list[str]) -> list[str]:
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
    """Re-creates restore_<t>/checksum_<t> (dbt run-operation create_backup_functions), so they
    union the cold views. Needed once per table, the first time it gets a cold view."""
    from dbt.cli.main import dbtRunner

    saved = {key: os.environ.get(key) for key in ("SESSION_BACKUP_DB", "SESSION_BACKUP_LANDING_DB")}
    os.environ["SESSION_BACKUP_DB"] = str(settings.backup_db)
    os.environ["SESSION_BACKUP_LANDING_DB"] = str(settings.landing_db)
    cwd = os.getcwd()
    os.chdir(settings.project_dir)  # relative paths in profiles resolve against the project
    try:
        result = dbtRunner().invoke([
            "run-operation", "create_backup_functions", "--quiet",
            "--project-dir", str(settings.project_dir), "--profiles-dir", str(settings.profiles_dir),
            "--target", settings.target,
        ])
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _close_dbt_duckdb()
    if not result.success:
        detail = str(result.exception).strip().splitlines()[0] if result.exception else "see logs/dbt.log"
        raise BackupError(
            f"Could not re-create the restore functions to read cold history ({detail}); nothing was moved. "
            "Fix that (`dbt run-operation create_backup_functions`) and re-run."
        )


def _close_dbt_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open after `run-operation`; a later connection of
    ours with other options would then be refused ("different configuration")."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover
        return
    environment = getattr(DuckDBConnectionManager, "_ENV", None)
    if environment is not None:
        with suppress(Exception):  # best effort
            environment.close()
    DuckDBConnectionManager.close_all_connections()


def _prepare_views(settings: Settings, tables: list[str]) -> None:
    """Before anything moves: every table has a cold view (empty if need be) and its restore
    function reads it. Then a commit that moves rows to cold is visible to restores at once."""
    with _open_backup(settings) as warehouse:
        backup = _Backup(warehouse)
        backup.ensure_tables()
        with backup.transaction():
            for table in tables:
                if _view_state(backup, table) is None:
                    install_cold_view(backup, table)
        stale = _functions_missing_cold(backup, tables)
    if stale:
        refresh_restore_functions(settings)
        with _open_backup(settings, read_only=True) as warehouse:
            still = _functions_missing_cold(_Backup(warehouse), stale)
        if still:
            raise BackupError(f"restore functions of {', '.join(still)} still do not read cold history; "
                              "run `dbt run-operation create_backup_functions` and retry.")


# --------------------------------------------------------------------------------------------
# Recovery of interrupted runs


def _stores(settings: Settings) -> Callable[[str], ColdStore]:
    cache: dict[str, ColdStore] = {}

    def get(root: str) -> ColdStore:
        if root not in cache:
            cache[root] = open_store(settings, root)
        return cache[root]

    return get


def _finish_interrupted(backup: _Backup, settings: Settings, stores) -> dict:
    """Undo `writing` files of an interrupted run and delete `retired` objects whose deletion
    an earlier run did not finish. Objects under retention stay listed until they may go
    (retention is wall-clock time, whatever --now says)."""
    now = parse_now(None)
    report = {"undone": [], "deleted": [], "kept_under_retention": []}
    if not backup.exists(COLD_MANIFEST):
        return report
    rows = backup.query(
        f"select file_id, state, cold_root, relative_path, file_uri, generation, delete_after "
        f"from {backup.rel(COLD_MANIFEST)} where state in ('writing', 'retired') order by created_at"
    )
    for file_id, state, root, relative, uri, generation, delete_after in rows:
        if state == "retired" and delete_after is not None and delete_after > now:
            report["kept_under_retention"].append({"uri": uri, "until": str(delete_after)})
            continue
        store = stores(root)
        try:
            store.delete(relative, None if state == "writing" else generation)
        except RetentionBlocked as blocked:
            backup.execute(
                f"update {backup.rel(COLD_MANIFEST)} set state = 'retired', retired_at = coalesce(retired_at, now()), "
                f"retired_reason = coalesce(retired_reason, 'interrupted write'), delete_after = $until "
                f"where file_id = $id",
                {"id": file_id, "until": _naive(blocked.until)},
            )
            report["kept_under_retention"].append({"uri": uri, "until": str(blocked.until), "reason": blocked.reason})
            continue
        backup.execute(f"delete from {backup.rel(COLD_MANIFEST)} where file_id = $id", {"id": file_id})
        report["undone" if state == "writing" else "deleted"].append(uri)
    return report


def _naive(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _clean_staging(store: ColdStore) -> None:
    staging = store.staging_dir()
    for path in staging.glob("*"):
        if path.is_file():
            path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Progress


class Progress:
    """What a command reports while it works; the CLI turns it into a bar on stderr."""

    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


# --------------------------------------------------------------------------------------------
# tier


@dataclass
class _Unit:
    table: str
    scope: str
    closed_month: str
    applied_seq: int
    month_start: date
    month_end: date  # exclusive: the earlier of next month and the cutoff
    row_count: int
    logical_bytes: int
    long_term_logical_bytes: int
    file_id: str = ""
    part: int = 0
    relative_path: str = ""
    file_uri: str = ""
    read_path: str = ""
    staging: Path | None = None
    stats: dict = field(default_factory=dict)

    def predicate(self) -> tuple[str, dict]:
        return (
            ("hot.backup_scope = $scope and hot.backup_closed_date >= $month_start "
             "and hot.backup_closed_date < $month_end and hot.backup_valid_to_seq <= $applied_seq"),
            {"scope": self.scope, "month_start": self.month_start, "month_end": self.month_end,
             "applied_seq": self.applied_seq},
        )

    def describe(self) -> dict:
        return {"table": self.table, "scope": self.scope, "closed_month": self.closed_month,
                "rows": self.row_count, "hot_logical_bytes": self.logical_bytes,
                "cold_bytes": self.stats.get("bytes"), "file": self.file_uri or None}


def _applied_watermarks_sql(backup: _Backup) -> str:
    """Per scope, the last session whose batch this table committed: History rows closed by a
    later (uncommitted) batch are left alone, so a retried backup never appends them twice."""
    return (
        f"select sessions.scope, max(sessions.session_seq) as applied_seq "
        f"from {backup.rel('backup_manifest')} as manifest "
        f"inner join {backup.rel('backup_sessions')} as sessions on manifest.session_id = sessions.session_id "
        f"where manifest.table_name = $table group by sessions.scope"
    )


def _plan_units(backup: _Backup, table: str, cutoff: date, long_term_before: date) -> list[_Unit]:
    hot = f"history_{table}"
    columns = backup.columns(hot)
    logical = _logical_bytes_expr("hot", columns)
    rows = backup.query(
        f"""
        with watermarks as ({_applied_watermarks_sql(backup)})
        select
            hot.backup_scope,
            strftime(hot.backup_closed_date, '%Y-%m') as closed_month,
            watermarks.applied_seq,
            count(*),
            sum({logical}),
            sum(case when hot.backup_closed_date < $long_term_before then {logical} else 0 end)
        from {backup.rel(hot)} as hot
        inner join watermarks on hot.backup_scope = watermarks.scope
        where hot.backup_closed_date < $cutoff
            and hot.backup_valid_to_seq <= watermarks.applied_seq
        group by all
        order by 1, 2
        """,
        {"table": table, "cutoff": cutoff, "long_term_before": long_term_before},
    )
    units = []
    for scope, closed_month, applied_seq, count, logical_bytes, long_term in rows:
        start, end = month_bounds(closed_month)
        units.append(_Unit(table, scope, closed_month, int(applied_seq), start, min(end, cutoff), int(count),
                           int(logical_bytes or 0), int(long_term or 0)))
    return units


_PART = re.compile(r"part-(\d+)\.parquet$")


def _next_part(backup: _Backup, store: ColdStore, unit: _Unit, taken: set[tuple]) -> int:
    rows = backup.query(
        f"select coalesce(max(part), 0) from {backup.rel(COLD_MANIFEST)} "
        f"where table_name = $table and scope = $scope and closed_month = $month",
        {"table": unit.table, "scope": unit.scope, "month": unit.closed_month},
    )
    highest = int(rows[0][0])
    folder = relative_path(unit.table, unit.scope, unit.closed_month, 1).rsplit("/", 1)[0] + "/"
    for name in store.list_relative(folder):
        match = _PART.search(name)
        if match:
            highest = max(highest, int(match.group(1)))
    part = highest + 1
    while (unit.table, unit.scope, unit.closed_month, part) in taken:
        part += 1
    taken.add((unit.table, unit.scope, unit.closed_month, part))
    return part


def _hot_totals(backup: _Backup, tables: list[str], long_term_before: date) -> dict:
    """BigQuery logical bytes of the hot backup, split by price tier: Head is rewritten by every
    backup (active); a History partition untouched for 90 days bills as long-term."""
    totals = {"head_active": 0, "history_active": 0, "history_long_term": 0}
    for table in tables:
        head = f"head_{table}"
        if backup.exists(head):
            columns = [c for c in backup.columns(head)]
            totals["head_active"] += int(backup.query(
                f"select coalesce(sum({_logical_bytes_expr('hot', columns)}), 0) from {backup.rel(head)} as hot")[0][0])
        columns = backup.columns(f"history_{table}")
        expr = _logical_bytes_expr("hot", columns)
        active, long_term = backup.query(
            f"select coalesce(sum(case when hot.backup_closed_date >= $before then {expr} end), 0), "
            f"coalesce(sum(case when hot.backup_closed_date < $before then {expr} end), 0) "
            f"from {backup.rel('history_' + table)} as hot", {"before": long_term_before})[0]
        totals["history_active"] += int(active)
        totals["history_long_term"] += int(long_term)
    return totals


def _cold_totals(backup: _Backup) -> dict:
    """Bytes of active cold files per storage class (a local folder counts as the class it is
    priced as, see docs/cold-storage.md)."""
    if not backup.exists(COLD_MANIFEST):
        return {}
    rows = backup.query(
        f"select coalesce(storage_class, ''), coalesce(sum(bytes), 0), coalesce(sum(logical_bytes), 0) "
        f"from {backup.rel(COLD_MANIFEST)} where state = 'active' group by 1"
    )
    return {cls: {"bytes": int(size), "logical_bytes": int(logical)} for cls, size, logical in rows}


def _monthly_cost(prices: dict, hot: dict, cold: dict, local_class: str) -> dict:
    bigquery = prices["bigquery"]
    hot_cost = (hot["head_active"] + hot["history_active"]) / GIB * float(bigquery["active_logical"]) + (
        hot["history_long_term"] / GIB * float(bigquery["long_term_logical"]))
    cold_cost = sum(item["bytes"] / GIB * gcs_price(prices, cls or local_class) for cls, item in cold.items())
    return {"hot_usd": round(hot_cost, 10), "cold_usd": round(cold_cost, 10), "total_usd": round(hot_cost + cold_cost, 10)}


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
    storage_class = (storage_class or DEFAULT_STORAGE_CLASS).upper()
    from session_backup.cold_storage import STORAGE_CLASSES

    if storage_class not in STORAGE_CLASSES:
        raise BackupError(f"--storage-class {storage_class}: expected one of {', '.join(STORAGE_CLASSES)}.")
    prices, prices_source = load_prices(settings, prices_path)
    long_term_before = (moment - timedelta(days=int(prices["bigquery"].get("long_term_after_days", 90)))).date()
    declared = load_declarations(settings.project_dir)
    store = open_store(settings)
    if store.kind == "local":
        _check_path_literal(store.root_uri)
    else:
        _check_path_literal(str(cache_dir_for(settings)))
    stores = _stores(settings)
    stores_cache_key = store.root_uri
    summary: dict[str, Any] = {
        "dry_run": dry_run,
        "now": moment.isoformat(sep=" "),
        "older_than": older_than,
        "cutoff_date": cutoff.isoformat(),
        "cold_root": store.root_uri,
        "storage_class": storage_class,
        "prices_file": prices_source,
    }
    started = time.perf_counter()
    lock = backup_lock(settings, wait) if not dry_run else _no_lock()
    with lock:
        # Plan (and, for real runs, finish whatever an interrupted run left).
        with _open_backup(settings, read_only=dry_run) as warehouse:
            backup = _Backup(warehouse)
            chosen = backup.history_tables(declared, tables)
            if not dry_run:
                backup.ensure_tables()
                summary["recovered"] = _finish_interrupted(backup, settings, stores)
            # Bytes and cost cover the whole backup, whatever --table chose.
            hot_before = _hot_totals(backup, backup.history_tables(declared), long_term_before)
            cold_before = _cold_totals(backup)
            plan = {table: _plan_units(backup, table, cutoff, long_term_before) for table in chosen}
        units = [unit for table_units in plan.values() for unit in table_units]
        summary["tables"] = chosen
        moved_logical = sum(unit.logical_bytes for unit in units)
        moved_long_term = sum(unit.long_term_logical_bytes for unit in units)
        _fault("tier", "plan", fail_after)
        if dry_run or not units:
            ratio = _measured_ratio(cold_before)
            estimated_cold = int(moved_logical * ratio)
            summary.update(_tier_summary(units, hot_before, cold_before, moved_logical, moved_long_term,
                                         {storage_class: estimated_cold}, prices, storage_class))
            summary["cold_bytes_estimated"] = bool(units)
            summary["seconds"] = round(time.perf_counter() - started, 3)
            return summary

        store.check_ready()
        _prepare_views(settings, [table for table, table_units in plan.items() if table_units])
        progress.start(len(units) * 3, "tiering")
        try:
            for table, table_units in plan.items():
                if table_units:
                    _tier_table(settings, store, stores_cache_key, table, table_units, storage_class, moment,
                                cutoff, fail_after, progress)
        finally:
            progress.finish()
        _clean_staging(store)
        with _open_backup(settings, read_only=True) as warehouse:
            backup = _Backup(warehouse)
            cold_after = _cold_totals(backup)
        new_cold = {}
        for unit in units:
            new_cold[storage_class] = new_cold.get(storage_class, 0) + int(unit.stats.get("bytes", 0))
        summary.update(_tier_summary(units, hot_before, cold_before, moved_logical, moved_long_term, new_cold,
                                     prices, storage_class))
        summary["cold_bytes_estimated"] = False
        summary["cold_after"] = cold_after
        summary["seconds"] = round(time.perf_counter() - started, 3)
        return summary


@contextmanager
def _no_lock() -> Iterator[None]:
    yield


def _measured_ratio(cold: dict) -> float:
    size = sum(item["bytes"] for item in cold.values())
    logical = sum(item["logical_bytes"] for item in cold.values())
    return size / logical if size and logical else ASSUMED_PARQUET_RATIO


def _tier_summary(units, hot_before, cold_before, moved_logical, moved_long_term, new_cold_bytes, prices,
                  storage_class) -> dict:
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
        entry = by_table.setdefault(unit.table, {"rows": 0, "files": 0, "hot_logical_bytes": 0, "cold_bytes": 0})
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
            "before": {"hot_logical": sum(hot_before.values()), "cold": sum(i["bytes"] for i in cold_before.values())},
            "after": {"hot_logical": sum(hot_after.values()), "cold": sum(i["bytes"] for i in cold_after.values())},
        },
        "monthly_storage_cost": {
            "currency": prices.get("currency", "USD"),
            "before": _monthly_cost(prices, hot_before, cold_before, storage_class),
            "after": _monthly_cost(prices, hot_after, cold_after, storage_class),
        },
    }


def _tier_table(settings, store: ColdStore, root_key: str, table: str, units: list[_Unit], storage_class: str,
                moment: datetime, cutoff: date, fail_after, progress: Progress) -> None:
    hot = f"history_{table}"
    staging_dir = store.staging_dir()
    with _open_backup(settings) as warehouse:
        backup = _Backup(warehouse)
        columns = backup.columns(hot)
        text_columns = _parquet_text_columns(backup, hot, columns, staging_dir)
        taken: set[tuple] = set()
        # 1. Journal: the files about to be created, so an interrupted run can undo them.
        with backup.transaction():
            for unit in units:
                unit.file_id = uuid.uuid4().hex
                unit.part = _next_part(backup, store, unit, taken)
                unit.relative_path = relative_path(table, unit.scope, unit.closed_month, unit.part)
                unit.file_uri = store.uri_for(unit.relative_path)
                unit.read_path = str(store.read_path(unit.relative_path))
                backup.execute(
                    f"insert into {backup.rel(COLD_MANIFEST)} (file_id, state, table_name, scope, closed_month, part, "
                    f"cold_root, relative_path, file_uri, read_path, storage_class, cutoff_date, created_at) values "
                    f"($id, 'writing', $table, $scope, $month, $part, $root, $relative, $uri, $read_path, $class, "
                    f"$cutoff, now())",
                    {"id": unit.file_id, "table": table, "scope": unit.scope, "month": unit.closed_month,
                     "part": unit.part, "root": root_key, "relative": unit.relative_path, "uri": unit.file_uri,
                     "read_path": unit.read_path, "class": storage_class if store.kind == "gcs" else None,
                     "cutoff": cutoff},
                )
        _fault("tier", "journal", fail_after)

        # 2. Write each unit to staging, sorted so Parquet row-group statistics on the validity
        #    interval let a restore skip most of a file.
        projection = _write_projection(columns, text_columns)
        for unit in units:
            where, params = unit.predicate()
            unit.staging = staging_dir / f"{unit.file_id}.parquet"
            backup.execute(
                f"copy (select {projection} from {backup.rel(hot)} as hot where {where} "
                f"order by hot.backup_valid_to_seq, hot.backup_valid_from_seq) "
                f"to {_duckdb_string(str(unit.staging))} (format parquet, compression zstd)",
                params,
            )
            progress.advance()
        _fault("tier", "write", fail_after)

        # 3. Read back and verify, value by value, before anything is committed.
        for unit in units:
            _verify_staged(backup, hot, columns, unit)
            progress.advance()
        _fault("tier", "verify", fail_after)

        # 4. Place in the cold root; never overwrite.
        for unit in units:
            try:
                stored = store.put(unit.staging, unit.relative_path, storage_class if store.kind == "gcs" else None)
            except ObjectExists as exc:
                raise BackupError(f"{exc} An unrecorded file sits where tiering writes; nothing was moved.") from exc
            unit.stats["generation"] = stored.generation
            unit.stats["md5"] = stored.md5_base64
            unit.stats["storage_class"] = stored.storage_class
            if store.kind == "gcs":
                # Keep the verified bytes as the DuckDB read cache: no download right after upload.
                cached = Path(unit.read_path)
                cached.parent.mkdir(parents=True, exist_ok=True)
                os.replace(unit.staging, cached)
            else:
                unit.staging.unlink(missing_ok=True)
            progress.advance()
        _fault("tier", "upload", fail_after)

        # 5. One transaction: manifest rows active, hot rows gone, view re-pointed.
        with backup.transaction():
            for unit in units:
                stats = unit.stats
                backup.execute(
                    f"update {backup.rel(COLD_MANIFEST)} set state = 'active', row_count = $rows, bytes = $bytes, "
                    f"logical_bytes = $logical, content_sha256 = $sha256, content_md5 = $md5, generation = $generation, "
                    f"storage_class = coalesce($class, storage_class), "
                    f"row_checksum_low = $low, row_checksum_high = $high, checksum_engine = $engine, "
                    f"min_closed_date = $min_closed, max_closed_date = $max_closed, "
                    f"min_valid_from_seq = $min_from, max_valid_from_seq = $max_from, "
                    f"min_valid_to_seq = $min_to, max_valid_to_seq = $max_to, committed_at = now() "
                    f"where file_id = $id and state = 'writing'",
                    {"id": unit.file_id, "rows": unit.row_count, "bytes": stats["bytes"],
                     "logical": unit.logical_bytes, "sha256": stats["sha256"], "md5": stats.get("md5"),
                     "generation": stats.get("generation"), "class": stats.get("storage_class"),
                     "low": stats["low"], "high": stats["high"], "engine": _engine(),
                     "min_closed": stats["min_closed"], "max_closed": stats["max_closed"],
                     "min_from": stats["min_from"], "max_from": stats["max_from"],
                     "min_to": stats["min_to"], "max_to": stats["max_to"]},
                )
            _fault("tier", "manifest", fail_after)
            for unit in units:
                where, params = unit.predicate()
                present = backup.query(f"select count(*) from {backup.rel(hot)} as hot where {where}", params)[0][0]
                if present != unit.row_count:
                    raise BackupError(
                        f"history_{table} changed while tiering ({unit.scope} {unit.closed_month}: {present} rows, "
                        f"{unit.row_count} written); nothing was moved. Re-run."
                    )
                backup.execute(f"delete from {backup.rel(hot)} as hot where {where}", params)
            _fault("tier", "delete", fail_after)
            install_cold_view(backup, table)
        _fault("tier", "commit", fail_after)


def _engine() -> str:
    import duckdb

    return f"duckdb-{duckdb.__version__}"


def _verify_staged(backup: _Backup, hot: str, columns, unit: _Unit) -> None:
    path = str(unit.staging)
    read_columns = _described(backup.query(
        f"describe select * from read_parquet({_duckdb_string(path)})"))
    missing = [name for name, _ in columns if name not in read_columns]
    if missing:
        raise BackupError(f"Parquet file for history_{unit.table} lacks columns {missing}; nothing was moved.")
    casts = {name: column_type for name, column_type in columns if read_columns[name] != column_type}
    where, params = unit.predicate()
    expected = backup.query(_checksum_select(f"{backup.rel(hot)}", "hot", columns, where), params)[0]
    source = f"read_parquet({_duckdb_string(path)})"
    actual = backup.query(_checksum_select(source, "cold", columns, "true", casts))[0]
    if tuple(expected) != tuple(actual) or int(actual[0]) != unit.row_count:
        raise BackupError(
            f"The Parquet copy of history_{unit.table} ({unit.scope}, {unit.closed_month}) does not read back "
            f"identical to the hot rows (rows/checksum {tuple(expected)} vs {tuple(actual)}): a column type "
            "probably does not survive Parquet. Nothing was moved; that table stays hot."
        )
    stats = backup.query(
        f"select min(backup_closed_date), max(backup_closed_date), min(backup_valid_from_seq), "
        f"max(backup_valid_from_seq), min(backup_valid_to_seq), max(backup_valid_to_seq) from {source}"
    )[0]
    unit.stats.update({
        "row_count": int(actual[0]), "high": int(actual[1]), "low": int(actual[2]),
        "sha256": file_sha256(unit.staging), "bytes": unit.staging.stat().st_size,
        "min_closed": stats[0], "max_closed": stats[1], "min_from": stats[2], "max_from": stats[3],
        "min_to": stats[4], "max_to": stats[5],
    })


# --------------------------------------------------------------------------------------------
# Reading cold files: checks before any restore / verify


def _file_problem(item: dict, path: Path, deep: bool) -> str | None:
    if not path.is_file():
        return "is missing"
    size = path.stat().st_size
    if item["bytes"] is not None and size != int(item["bytes"]):
        return f"has {size} bytes, {item['bytes']} recorded (truncated or replaced)"
    if deep and item["content_sha256"] and file_sha256(path) != item["content_sha256"]:
        return "does not match its recorded SHA-256 (corrupted)"
    return None


def _ensure_local(settings: Settings, stores, item: dict, deep: bool, fetched: list[str]) -> Path:
    """The local file DuckDB reads for a manifest row, downloaded into the cache for gs://
    (checked against its SHA-256); a clear error naming the file otherwise."""
    store = stores(item["cold_root"])
    path = Path(store.read_path(item["relative_path"]))
    where = f"table {item.get('table_name', '?')}, scope {item['scope']!r}, {item['closed_month']}"
    problem = _file_problem(item, path, deep)
    if problem is None:
        return path
    if store.kind == "gcs":
        store.fetch(item["relative_path"], item["generation"], path)
        fetched.append(item["file_uri"])
        problem = _file_problem(item, path, True)
        if problem is None:
            return path
        path.unlink(missing_ok=True)
        raise BackupError(f"Cold file {item['file_uri']} ({where}) downloaded from GCS {problem}; "
                          "the cache copy was removed. Nothing was restored.")
    raise BackupError(
        f"Cold file {item['file_uri']} ({where}, {item['row_count']} rows) {problem}. Restores that need it "
        "cannot be exact; nothing was restored. Put the file back (from a copy of the cold root) — "
        "see docs/cold-storage.md#missing-or-corrupted-files."
    )


def prepare_cold_reads(settings: Settings, session_id: str | None = None, tables: Iterable[str] | None = None,
                       deep: bool = True) -> dict:
    """Called by `restore` and `verify` before they read: a pruned session is refused clearly;
    every active cold file of the tables read (all when none are given) is present with its
    recorded size (gs:// files are fetched into the local cache) — a table's cold view reads
    all its files, so one missing file stops every restore of that table; the files the
    session may need match their SHA-256 (all files without a session); and the cold views
    point at exactly the manifest's files."""
    only = set(tables or ())
    report = {"checked": 0, "fetched": [], "views_refreshed": []}
    if settings.target != "duckdb" or not Path(settings.backup_db).exists():
        return report
    stores = _stores(settings)
    with _open_backup(settings, read_only=True) as warehouse:
        backup = _Backup(warehouse)
        if session_id is not None and backup.exists(PRUNED_SESSIONS):
            pruned = backup.query(
                f"select pruned_at, retention, window_start from {backup.rel(PRUNED_SESSIONS)} where session_id = $id",
                {"id": session_id},
            )
            if pruned:
                pruned_at, retention, window_start = pruned[0]
                raise BackupError(
                    f"Session {session_id!r} was pruned on {str(pruned_at)[:19]} by retention (keep {retention}: it "
                    f"started before the window starting {str(window_start)[:19]}); it can no longer be restored."
                )
        if not backup.exists(COLD_MANIFEST):
            return report
        needed_scope = None
        if session_id is not None:
            rows = backup.query(f"select scope, session_seq from {backup.rel('backup_sessions')} "
                                f"where session_id = $id", {"id": session_id})
            if not rows:
                return report  # unknown session: restore/verify say so themselves
            needed_scope = rows[0]
        cold_tables = [row[0] for row in backup.query(
            f"select distinct table_name from {backup.rel(COLD_MANIFEST)} where state = 'active' order by 1")]
        cold_tables = [table for table in cold_tables if not only or table in only]
        files = {table: _active_files(backup, table) for table in cold_tables}
        states = {table: _view_state(backup, table) for table in cold_tables}
    refresh = []
    for table, items in files.items():
        for item in items:
            item["table_name"] = table
            needed = needed_scope is None or (
                item["scope"] == needed_scope[0]
                and item["min_valid_from_seq"] <= needed_scope[1] < item["max_valid_to_seq"]
            )
            path = _ensure_local(settings, stores, item, deep and needed, report["fetched"])
            report["checked"] += 1
            if str(path) != item["read_path"]:
                item["read_path"] = str(path)
                item["moved"] = True
        state = states[table]
        wanted = _fingerprint(items)
        if state is None or state[0] != "files" or state[1] != wanted or any(i.get("moved") for i in items):
            refresh.append(table)
    if refresh:
        with _open_backup(settings) as warehouse:
            backup = _Backup(warehouse)
            with backup.transaction():
                for table in refresh:
                    for item in files[table]:
                        if item.get("moved"):
                            backup.execute(f"update {backup.rel(COLD_MANIFEST)} set read_path = $path "
                                           f"where file_id = $id", {"path": item["read_path"], "id": item["file_id"]})
                    install_cold_view(backup, table)
        report["views_refreshed"] = refresh
    return report


def check_cold(settings: Settings) -> dict:
    """`tier --check`: every cold file checked in full (size and SHA-256), gs:// files fetched
    into the cache, views re-pointed; moves nothing."""
    report = prepare_cold_reads(settings, None, deep=True)  # every file of every table
    with _open_backup(settings, read_only=True) as warehouse:
        backup = _Backup(warehouse)
        report["active_files"] = 0
        report["cold_bytes"] = 0
        if backup.exists(COLD_MANIFEST):
            count, size = backup.query(f"select count(*), coalesce(sum(bytes), 0) from {backup.rel(COLD_MANIFEST)} "
                                       "where state = 'active'")[0]
            report["active_files"], report["cold_bytes"] = int(count), int(size)
    return report


# --------------------------------------------------------------------------------------------
# rehydrate


def _month_range(months: Iterable[str]) -> list[tuple[str, str]]:
    ranges = []
    for text in months:
        first, _, last = text.partition("..")
        last = last or first
        for value in (first, last):
            if not re.match(r"^\d{4}-\d{2}$", value):
                raise BackupError(f"--month {text!r}: expected YYYY-MM or YYYY-MM..YYYY-MM.")
        if last < first:
            raise BackupError(f"--month {text!r}: the range ends before it starts.")
        ranges.append((first, last))
    return ranges


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
    ranges = _month_range(months)
    scopes = list(dict.fromkeys(scopes))
    declared = load_declarations(settings.project_dir)
    stores = _stores(settings)
    summary: dict[str, Any] = {"dry_run": dry_run, "delete_files": delete_files}
    started = time.perf_counter()
    lock = backup_lock(settings, wait) if not dry_run else _no_lock()
    with lock:
        with _open_backup(settings, read_only=dry_run) as warehouse:
            backup = _Backup(warehouse)
            chosen = backup.history_tables(declared, tables or None)
            if not dry_run:
                backup.ensure_tables()
                summary["recovered"] = _finish_interrupted(backup, settings, stores)
            selected: dict[str, list[dict]] = {}
            for table in chosen:
                items = [
                    item for item in _active_files(backup, table)
                    if (not scopes or item["scope"] in scopes)
                    and (not ranges or any(first <= item["closed_month"] <= last for first, last in ranges))
                ]
                if items:
                    selected[table] = items
        summary["files"] = [
            {"table": table, "scope": item["scope"], "closed_month": item["closed_month"], "rows": item["row_count"],
             "file": item["file_uri"], "bytes": item["bytes"]}
            for table, items in selected.items() for item in items
        ]
        summary["rows"] = sum(item["rows"] for item in summary["files"])
        if dry_run or not selected:
            summary["seconds"] = round(time.perf_counter() - started, 3)
            return summary
        progress.start(sum(len(items) for items in selected.values()), "rehydrating")
        deleted, kept = [], []
        try:
            for table, items in selected.items():
                outcome = _rehydrate_table(settings, stores, table, items, delete_files, fail_after, progress)
                deleted += outcome["deleted"]
                kept += outcome["kept_under_retention"]
        finally:
            progress.finish()
        summary["deleted_files"] = deleted
        summary["kept_under_retention"] = kept
        summary["seconds"] = round(time.perf_counter() - started, 3)
        return summary


def _rehydrate_table(settings, stores, table: str, items: list[dict], delete_files: bool, fail_after,
                     progress: Progress) -> dict:
    hot = f"history_{table}"
    fetched: list[str] = []
    for item in items:
        item["table_name"] = table
        item["read_path"] = str(_ensure_local(settings, stores, item, True, fetched))
    _fault("rehydrate", "fetch", fail_after)
    with _open_backup(settings) as warehouse:
        backup = _Backup(warehouse)
        columns = backup.columns(hot)
        with backup.transaction():
            for item in items:
                source = f"read_parquet({_duckdb_string(item['read_path'])})"
                read_columns = _described(backup.query(f"describe select * from {source}"))
                casts = {name: column_type for name, column_type in columns
                         if name in read_columns and read_columns[name] != column_type}
                present = [(name, column_type) for name, column_type in columns if name in read_columns]
                counted = backup.query(_checksum_select(source, "cold", present, "true", casts))[0]
                same_engine = item["checksum_engine"] == _engine() and len(present) == len(columns)
                if int(counted[0]) != int(item["row_count"]) or (same_engine and (
                        int(counted[1]), int(counted[2])) != (int(item["row_checksum_high"]),
                                                              int(item["row_checksum_low"]))):
                    raise BackupError(f"Cold file {item['file_uri']} does not hold the rows recorded for it "
                                      f"({counted[0]} rows, {item['row_count']} recorded); nothing was rehydrated.")
                projection = ", ".join(
                    f"cast(cold.{_quote(name)} as {casts[name]}) as {_quote(name)}" if name in casts
                    else f"cold.{_quote(name)}" for name, _ in present)
                backup.execute(f"insert into {backup.rel(hot)} by name select {projection} from {source} as cold")
                progress.advance()
            _fault("rehydrate", "insert", fail_after)
            state = "retired" if delete_files else "released"
            for item in items:
                backup.execute(
                    f"update {backup.rel(COLD_MANIFEST)} set state = $state, retired_at = now(), "
                    f"retired_reason = 'rehydrated' where file_id = $id and state = 'active'",
                    {"state": state, "id": item["file_id"]},
                )
            _fault("rehydrate", "manifest", fail_after)
            install_cold_view(backup, table)
        _fault("rehydrate", "commit", fail_after)
        outcome = {"deleted": [], "kept_under_retention": []}
        if delete_files:
            report = _finish_interrupted(backup, settings, stores)
            outcome["deleted"] = report["deleted"]
            outcome["kept_under_retention"] = report["kept_under_retention"]
            for item in items:  # the cache copy of a gs:// file goes with it
                if item["file_uri"].startswith("gs://"):
                    Path(item["read_path"]).unlink(missing_ok=True)
        _fault("rehydrate", "delete", fail_after)
    return outcome


# --------------------------------------------------------------------------------------------
# prune


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
    moment = parse_now(now)
    window_start = subtract_duration(moment, keep, "--keep")
    requested_holds = list(dict.fromkeys(list(holds) + [sid for path in hold_files for sid in read_hold_file(path)]))
    releases = list(dict.fromkeys(releases))
    stores = _stores(settings)
    from session_backup.declarations import load_declarations

    declared = load_declarations(settings.project_dir)
    summary: dict[str, Any] = {"dry_run": dry_run, "keep": keep, "now": moment.isoformat(sep=" "),
                               "window_start": window_start.isoformat(sep=" ")}
    started = time.perf_counter()
    lock = backup_lock(settings, wait) if not dry_run else _no_lock()
    with lock:
        with _open_backup(settings, read_only=dry_run) as warehouse:
            backup = _Backup(warehouse)
            tables = backup.history_tables(declared)
            if not dry_run:
                backup.ensure_tables()
                backup.ensure_retention_tables()
                summary["recovered"] = _finish_interrupted(backup, settings, stores)
            plan = _plan_prune(backup, tables, window_start, requested_holds, releases)
        summary.update(plan["summary"])
        _fault("prune", "plan", fail_after)
        if dry_run:
            summary["seconds"] = round(time.perf_counter() - started, 3)
            return summary
        progress.start(max(1, len(plan["rewrite"]) + len(tables)), "pruning")
        try:
            outcome = _apply_prune(settings, stores, plan, moment, keep, window_start, fail_after, progress)
        finally:
            progress.finish()
        summary.update(outcome)
        summary["seconds"] = round(time.perf_counter() - started, 3)
        return summary


def _plan_prune(backup: _Backup, tables: list[str], window_start: datetime, requested_holds: list[str],
                releases: list[str]) -> dict:
    sessions = backup.rel("backup_sessions")
    known = {row[0]: (row[1], int(row[2]), row[3]) for row in backup.query(
        f"select session_id, scope, session_seq, started_at from {sessions}")}
    unknown = [sid for sid in requested_holds + releases if sid not in known]
    if unknown:
        raise BackupError(f"Unknown session(s) for --hold/--release: {', '.join(unknown[:10])} "
                          "(see `session-backup status`).")
    persisted = []
    if backup.exists(HOLDS):
        persisted = [row[0] for row in backup.query(f"select distinct session_id from {backup.rel(HOLDS)}")]
    held = sorted((set(persisted) | set(requested_holds)) - set(releases))
    already_pruned = set()
    if backup.exists(PRUNED_SESSIONS):
        already_pruned = {row[0] for row in backup.query(f"select session_id from {backup.rel(PRUNED_SESSIONS)}")}
    refused = [sid for sid in requested_holds if sid in already_pruned]
    if refused:
        raise BackupError(f"Session(s) {', '.join(refused)} were already pruned: a hold cannot bring them back.")
    # Per scope: the first session inside the window (or one past the last session).
    window = {scope: int(seq) for scope, seq in backup.query(
        f"select scope, coalesce(min(session_seq) filter (where started_at >= $start), max(session_seq) + 1) "
        f"from {sessions} group by scope", {"start": window_start})}
    with_manifest = {row[0] for row in backup.query(
        f"select distinct session_id from {backup.rel('backup_manifest')}")}
    to_prune = sorted(
        (sid for sid, (scope, seq, _) in known.items()
         if seq < window[scope] - 1 and sid not in held and sid not in already_pruned and sid in with_manifest),
        key=lambda sid: (known[sid][0], known[sid][1]),
    )
    held_rows = [(known[sid][0], known[sid][1]) for sid in held]
    backup.execute("create or replace temp table prune_window (scope varchar, window_seq bigint)")
    backup.execute("create or replace temp table prune_holds (scope varchar, seq bigint)")
    if window:
        backup.connection.executemany("insert into prune_window values (?, ?)", list(window.items()))
    if held_rows:
        backup.connection.executemany("insert into prune_holds values (?, ?)", held_rows)
    removable = (
        "{a}.backup_valid_to_seq < (select w.window_seq from prune_window as w where w.scope = {a}.backup_scope) "
        "and not exists (select 1 from prune_holds as h where h.scope = {a}.backup_scope "
        "and h.seq >= {a}.backup_valid_from_seq and h.seq < {a}.backup_valid_to_seq)"
    )
    hot_counts = {}
    for table in tables:
        hot_counts[table] = int(backup.query(
            f"with watermarks as ({_applied_watermarks_sql(backup)}) "
            f"select count(*) from {backup.rel('history_' + table)} as hot "
            f"where {removable.format(a='hot')} and hot.backup_valid_to_seq <= "
            f"(select applied_seq from watermarks where watermarks.scope = hot.backup_scope)",
            {"table": table})[0][0])
    # Cold files: whole files go when every row is removable; partly removable files are
    # rewritten with the rows that stay.
    drop, rewrite = [], []
    for table in tables:
        for item in _active_files(backup, table):
            item["table_name"] = table
            scope_window = window.get(item["scope"])
            if scope_window is None or item["min_valid_from_seq"] is None:
                continue
            if int(item["max_valid_to_seq"]) < scope_window and not any(
                scope == item["scope"] and item["min_valid_from_seq"] <= seq < item["max_valid_to_seq"]
                for scope, seq in held_rows
            ):
                drop.append(item)
            elif _min_valid_to(backup, item) < scope_window:
                rewrite.append(item)
    by_scope: dict[str, list[str]] = {}
    for sid in to_prune:
        by_scope.setdefault(known[sid][0], []).append(sid)
    summary = {
        "held_sessions": held,
        "newly_held": [sid for sid in requested_holds if sid not in persisted],
        "released": [sid for sid in releases if sid in persisted],
        "sessions_to_prune": len(to_prune),
        "sessions_to_prune_by_scope": {scope: {"count": len(ids), "first": ids[0], "last": ids[-1]}
                                       for scope, ids in by_scope.items()},
        "pruned_session_ids": to_prune,
        "hot_versions_to_remove": hot_counts,
        "cold_files_to_delete": [{"table": i["table_name"], "file": i["file_uri"], "rows": i["row_count"],
                                  "bytes": i["bytes"]} for i in drop],
        "cold_files_to_rewrite": [{"table": i["table_name"], "file": i["file_uri"], "rows": i["row_count"]}
                                  for i in rewrite],
    }
    return {"summary": summary, "tables": tables, "to_prune": to_prune, "known": known, "held": held,
            "requested_holds": requested_holds, "releases": releases, "persisted_holds": persisted,
            "window": window, "held_rows": held_rows, "drop": drop, "rewrite": rewrite, "removable": removable}


def _min_valid_to(backup: _Backup, item: dict) -> int:
    rows = backup.query(f"select min_valid_to_seq from {backup.rel(COLD_MANIFEST)} where file_id = $id",
                        {"id": item["file_id"]})
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _apply_prune(settings, stores, plan: dict, moment: datetime, keep: str, window_start: datetime, fail_after,
                 progress: Progress) -> dict:
    removable = plan["removable"]
    rewritten: list[tuple[dict, dict]] = []  # (old item, new file info) for partly removable files
    fetched: list[str] = []
    for item in plan["rewrite"]:
        item["read_path"] = str(_ensure_local(settings, stores, item, True, fetched))
    wall_clock = parse_now(None)  # audit times are real; --now only moves the window
    with _open_backup(settings) as warehouse:
        backup = _Backup(warehouse)
        # The temp tables live in this connection: rebuild them.
        backup.execute("create or replace temp table prune_window (scope varchar, window_seq bigint)")
        backup.execute("create or replace temp table prune_holds (scope varchar, seq bigint)")
        if plan["window"]:
            backup.connection.executemany("insert into prune_window values (?, ?)", list(plan["window"].items()))
        if plan["held_rows"]:
            backup.connection.executemany("insert into prune_holds values (?, ?)", plan["held_rows"])
        # Rewrites of partly removable files: journal, write, verify, place (like tier).
        if plan["rewrite"]:
            taken: set[tuple] = set()
            with backup.transaction():
                for item in plan["rewrite"]:
                    store = stores(item["cold_root"])
                    unit = _Unit(item["table_name"], item["scope"], item["closed_month"], 0, date.min, date.min, 0, 0, 0)
                    part = _next_part(backup, store, unit, taken)
                    relative = relative_path(item["table_name"], item["scope"], item["closed_month"], part)
                    new = {"file_id": uuid.uuid4().hex, "part": part, "relative_path": relative,
                           "file_uri": store.uri_for(relative), "read_path": str(store.read_path(relative)),
                           "store": store}
                    backup.execute(
                        f"insert into {backup.rel(COLD_MANIFEST)} (file_id, state, table_name, scope, closed_month, "
                        f"part, cold_root, relative_path, file_uri, read_path, storage_class, cutoff_date, created_at) "
                        f"select $new_id, 'writing', table_name, scope, closed_month, $part, cold_root, $relative, "
                        f"$uri, $read_path, storage_class, cutoff_date, now() from {backup.rel(COLD_MANIFEST)} "
                        f"where file_id = $old_id",
                        {"new_id": new["file_id"], "part": part, "relative": relative, "uri": new["file_uri"],
                         "read_path": new["read_path"], "old_id": item["file_id"]},
                    )
                    rewritten.append((item, new))
        _fault("prune", "journal", fail_after)
        for item, new in rewritten:
            _rewrite_kept_rows(backup, item, new, removable)
            progress.advance()
        _fault("prune", "rewrite", fail_after)
        # One transaction: sessions pruned, manifest rows moved, versions removed, files retired.
        with backup.transaction():
            if plan["to_prune"]:
                backup.connection.executemany(
                    f"insert into {backup.rel(PRUNED_SESSIONS)} values (?, ?, ?, ?, ?, ?, ?)",
                    [(sid, plan["known"][sid][0], plan["known"][sid][1], plan["known"][sid][2], wall_clock, keep,
                      window_start) for sid in plan["to_prune"]],
                )
                backup.execute("create or replace temp table prune_sessions (session_id varchar)")
                # Only History tables: other strategies keep their own storage and manifest rows.
                backup.execute("create or replace temp table prune_tables (table_name varchar)")
                backup.connection.executemany("insert into prune_tables values (?)",
                                              [(table,) for table in plan["tables"]])
                backup.connection.executemany("insert into prune_sessions values (?)",
                                              [(sid,) for sid in plan["to_prune"]])
                manifest = backup.rel("backup_manifest")
                backup.execute(
                    f"insert into {backup.rel(PRUNED_MANIFEST)} by name select manifest.*, "
                    f"cast($moment as timestamp) as pruned_at from {manifest} as manifest "
                    f"where manifest.session_id in (select session_id from prune_sessions) "
                    f"and manifest.table_name in (select table_name from prune_tables)", {"moment": wall_clock})
                backup.execute(f"delete from {manifest} where session_id in (select session_id from prune_sessions) "
                               f"and table_name in (select table_name from prune_tables)")
            # The data test history_matches_manifest leaves closings before these out.
            backup.connection.executemany(
                f"insert into {backup.rel(PRUNE_WINDOWS)} values (?, ?, ?, ?, ?)",
                [(scope, seq, window_start, keep, wall_clock) for scope, seq in plan["window"].items()],
            )
            for sid in plan["requested_holds"]:
                if sid not in plan["persisted_holds"]:
                    backup.execute(f"insert into {backup.rel(HOLDS)} values ($id, $at, 'prune --hold')",
                                   {"id": sid, "at": wall_clock})
            for sid in plan["releases"]:
                backup.execute(f"delete from {backup.rel(HOLDS)} where session_id = $id", {"id": sid})
            removed = {}
            for table in plan["tables"]:
                hot = backup.rel("history_" + table)
                before = backup.query(f"select count(*) from {hot}")[0][0]
                backup.execute(
                    f"with watermarks as ({_applied_watermarks_sql(backup)}) "
                    f"delete from {hot} as hot where {removable.format(a='hot')} and hot.backup_valid_to_seq <= "
                    f"(select applied_seq from watermarks where watermarks.scope = hot.backup_scope)",
                    {"table": table})
                removed[table] = int(before - backup.query(f"select count(*) from {hot}")[0][0])
                progress.advance()
            retire = [(item["file_id"], "pruned") for item in plan["drop"]] + [
                (item["file_id"], "pruned (rewritten)") for item, _ in rewritten]
            for file_id, reason in retire:
                backup.execute(
                    f"update {backup.rel(COLD_MANIFEST)} set state = 'retired', retired_at = now(), "
                    f"retired_reason = $reason where file_id = $id and state = 'active'",
                    {"id": file_id, "reason": reason})
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
                    {"id": new["file_id"], "rows": stats["row_count"], "bytes": stats["bytes"],
                     "sha256": stats["sha256"], "md5": stats.get("md5"), "generation": stats.get("generation"),
                     "low": stats["low"], "high": stats["high"], "engine": _engine(),
                     "min_closed": stats["min_closed"], "max_closed": stats["max_closed"],
                     "min_from": stats["min_from"], "max_from": stats["max_from"], "min_to": stats["min_to"],
                     "max_to": stats["max_to"]})
            touched = {item["table_name"] for item in plan["drop"]} | {item["table_name"] for item, _ in rewritten}
            for table in sorted(touched):
                install_cold_view(backup, table)
        _fault("prune", "commit", fail_after)
        report = _finish_interrupted(backup, settings, stores)
        _fault("prune", "delete", fail_after)
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
        "cold_files_rewritten": [new["file_uri"] for _, new in rewritten if new["stats"]["row_count"]],
        "kept_under_retention": report["kept_under_retention"],
    }


def _rewrite_kept_rows(backup: _Backup, item: dict, new: dict, removable: str) -> None:
    """Writes the rows of a cold file that prune keeps to a new part, verified before use."""
    store: ColdStore = new["store"]
    table = item["table_name"]
    columns = backup.columns(f"history_{table}")
    source = f"read_parquet({_duckdb_string(item['read_path'])})"
    staging = store.staging_dir() / f"{new['file_id']}.parquet"
    keep = f"not ({removable.format(a='cold')})"
    backup.execute(
        f"copy (select * from {source} as cold where {keep} order by cold.backup_valid_to_seq, "
        f"cold.backup_valid_from_seq) to {_duckdb_string(str(staging))} (format parquet, compression zstd)")
    read_columns = _described(backup.query(f"describe select * from {source}"))
    present = [(name, column_type) for name, column_type in columns if name in read_columns]
    expected = backup.query(_checksum_select(source, "cold", present, keep))[0]
    actual = backup.query(_checksum_select(f"read_parquet({_duckdb_string(str(staging))})", "cold", present))[0]
    if tuple(expected) != tuple(actual):
        raise BackupError(f"Rewriting {item['file_uri']} without pruned rows did not read back identical; "
                          "nothing was pruned.")
    stats = backup.query(
        f"select min(backup_closed_date), max(backup_closed_date), min(backup_valid_from_seq), "
        f"max(backup_valid_from_seq), min(backup_valid_to_seq), max(backup_valid_to_seq) "
        f"from read_parquet({_duckdb_string(str(staging))})")[0]
    new["stats"] = {"row_count": int(actual[0]), "high": int(actual[1]), "low": int(actual[2]),
                    "sha256": file_sha256(staging), "bytes": staging.stat().st_size,
                    "min_closed": stats[0], "max_closed": stats[1], "min_from": stats[2], "max_from": stats[3],
                    "min_to": stats[4], "max_to": stats[5]}
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
    return {row[0] for row in warehouse.query(f"select session_id from {warehouse.backup_relation(PRUNED_SESSIONS)}")}


# --------------------------------------------------------------------------------------------
# Benchmark hook


def bench_cold_restore(
    settings: Settings,
    session_id: str,
    tables: list[str] | None = None,
    repeat: int = 3,
    workdir: str | Path | None = None,
) -> dict:
    """Restore time of one session from hot vs with (almost) all its History cold, and stored
    bytes hot vs cold. Works on a copy of the backup in `workdir` (a temp folder by default):
    the backup itself is never touched.

    Steps: copy the backup; rehydrate anything already cold (all hot); time `restore_<t>` for
    every table (best of `repeat`, materialized into a temp table); tier every committed History
    version (so all the History rows that session needs are cold; its unchanged rows stay in
    Head, which is never tiered: `restored_rows_from_cold` says how many came from cold); time
    again (the first cold run is reported separately: it opens the files)."""

    from session_backup.warehouse import DuckDBWarehouse  # noqa: F401 - DuckDB only

    if settings.target != "duckdb":
        raise BackupError("bench_cold_restore runs on the DuckDB backup.")
    own_dir = workdir is None
    root = Path(workdir or tempfile.mkdtemp(prefix="cold-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        copy_db = root / Path(settings.backup_db).name  # same stem: the catalog name stays
        shutil.copyfile(settings.backup_db, copy_db)
        wal = Path(str(settings.backup_db) + ".wal")
        if wal.exists():
            shutil.copyfile(wal, Path(str(copy_db) + ".wal"))
        from dataclasses import replace

        bench_settings = replace(settings, backup_db=copy_db, cold_root=str(root / "cold"))
        saved_cache = os.environ.get("SESSION_BACKUP_COLD_CACHE")
        os.environ["SESSION_BACKUP_COLD_CACHE"] = str(root / "cold-cache")
        try:
            _detach_copy_from_original(settings, bench_settings)
            rehydrate(bench_settings, delete_files=True)  # only the bench's own copies are deleted
            with _open_backup(bench_settings, read_only=True) as warehouse:
                backup = _Backup(warehouse)
                rows = backup.query(f"select started_at from {backup.rel('backup_sessions')} where session_id = $id",
                                    {"id": session_id})
                if not rows:
                    raise BackupError(f"Session {session_id!r} is not in the backup.")
                chosen = tables or [row[0] for row in backup.query(
                    f"select table_name from {backup.rel('backup_manifest')} where session_id = $id order by 1",
                    {"id": session_id})]
                chosen = [t for t in chosen if backup.exists(f"history_{t}")]
                hot_bytes = _hot_totals(backup, chosen, date.min)
            hot_times, restored_rows = _time_restores(bench_settings, session_id, chosen, repeat)
            # Every committed History version goes cold (those the session needs closed after it).
            tier_summary = tier(bench_settings, "0d", now=None, tables=chosen)
            first_cold, _ = _time_restores(bench_settings, session_id, chosen, 1)
            cold_times, cold_rows = _time_restores(bench_settings, session_id, chosen, repeat)
            if cold_rows != restored_rows:
                raise BackupError(f"bench: restore from cold gave {cold_rows} rows, from hot {restored_rows}.")
            with _open_backup(bench_settings, read_only=True) as warehouse:
                backup = _Backup(warehouse)
                cold_bytes = sum(item["bytes"] for item in _cold_totals(backup).values())
                cold_rows_total = int(backup.query(
                    f"select coalesce(sum(row_count), 0) from {backup.rel(COLD_MANIFEST)} where state = 'active'")[0][0])
                history_left = sum(int(backup.query(f"select count(*) from {backup.rel('history_' + t)}")[0][0])
                                   for t in chosen)
                from_cold = 0
                for t in chosen:
                    names = {name for name, _ in backup.columns(f"history_{t}")}
                    weight = "versions.backup_row_count" if "backup_row_count" in names else "1"
                    from_cold += int(backup.query(
                        f"select coalesce(sum({weight}), 0) from {backup.rel('cold_history_' + t)} as versions "
                        f"inner join {backup.rel('backup_sessions')} as sessions on sessions.session_id = $id "
                        f"and versions.backup_scope = sessions.scope "
                        f"and versions.backup_valid_from_seq <= sessions.session_seq "
                        f"and versions.backup_valid_to_seq > sessions.session_seq", {"id": session_id})[0][0])
        finally:
            if saved_cache is None:
                os.environ.pop("SESSION_BACKUP_COLD_CACHE", None)
            else:
                os.environ["SESSION_BACKUP_COLD_CACHE"] = saved_cache
        return {
            "session_id": session_id,
            "tables": chosen,
            "restored_rows": restored_rows,
            "restored_rows_from_cold": from_cold,
            "hot_restore_seconds": round(hot_times, 4),
            "cold_restore_seconds": round(cold_times, 4),
            "cold_restore_first_seconds": round(first_cold, 4),
            "cold_vs_hot": round(cold_times / hot_times, 3) if hot_times else None,
            "history_rows_cold": cold_rows_total,
            "history_rows_still_hot": history_left,
            "history_hot_logical_bytes": tier_summary["moved"]["hot_logical_bytes"],
            "history_cold_bytes": cold_bytes,
            "cold_vs_hot_bytes": round(cold_bytes / tier_summary["moved"]["hot_logical_bytes"], 4)
            if tier_summary["moved"]["hot_logical_bytes"] else None,
            "hot_logical_bytes_before": sum(hot_bytes.values()),
            "cold_files": tier_summary["moved"]["files"],
        }
    finally:
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def _detach_copy_from_original(original: Settings, copy: Settings) -> None:
    """The copied backup's manifest still names the original's cold files: copy every active
    file under the bench's own cold root and point the copy at it, and forget pending
    deletions, so nothing the bench does can touch the original's files."""
    stores = _stores(original)
    with _open_backup(copy) as warehouse:
        backup = _Backup(warehouse)
        if not backup.exists(COLD_MANIFEST):
            return
        local = open_store(copy)
        tables = [row[0] for row in backup.query(
            f"select distinct table_name from {backup.rel(COLD_MANIFEST)} where state = 'active'")]
        with backup.transaction():
            backup.execute(f"delete from {backup.rel(COLD_MANIFEST)} where state <> 'active'")
            for table in tables:
                for item in _active_files(backup, table):
                    item["table_name"] = table
                    source = _ensure_local(original, stores, item, True, [])
                    target = Path(local.read_path(item["relative_path"]))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
                    backup.execute(
                        f"update {backup.rel(COLD_MANIFEST)} set cold_root = $root, file_uri = $uri, read_path = $path, "
                        f"generation = null where file_id = $id",
                        {"root": local.root_uri, "uri": str(target), "path": str(target), "id": item["file_id"]})
                install_cold_view(backup, table)


def _time_restores(settings: Settings, session_id: str, tables: list[str], repeat: int) -> tuple[float, int]:
    prepare_cold_reads(settings, session_id, tables, deep=False)
    best = None
    rows = 0
    with _open_backup(settings) as warehouse:
        backup = _Backup(warehouse)
        for _ in range(max(1, repeat)):
            started = time.perf_counter()
            rows = 0
            for table in tables:
                backup.execute(f"create or replace temp table bench_restored as select * from "
                               f"{warehouse.function_call('restore_' + table, '$id')}", {"id": session_id})
                rows += int(backup.query("select count(*) from bench_restored")[0][0])
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        backup.execute("drop table if exists bench_restored")
    return best or 0.0, rows


def summary_json(summary: dict) -> str:
    return json.dumps(summary, indent=2, default=str)
