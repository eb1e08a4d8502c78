"""The DuckDB backup as the cold commands need it: names, columns, transactions, bookkeeping tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from session_backup.cold.history_tables import history_tables
from session_backup.cold.names import (
    COLD_MANIFEST,
    COLD_VIEW_STATE,
    HOLDS,
    PRUNE_WINDOWS,
    PRUNED_MANIFEST,
    PRUNED_SESSIONS,
)
from session_backup.config import Settings
from session_backup.errors import BackupError


def duckdb_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8"}


class DuckDBBackup:
    """The backup database as tiering needs it: names, columns, transactions."""

    def __init__(self, warehouse) -> None:
        if warehouse.kind != "duckdb":  # the BigQuery engine is bigquery_engine.BigQueryBackup
            raise BackupError(f"DuckDBBackup needs the DuckDB backup, not {warehouse.kind}.")
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
            select *, cast(null as timestamp) as pruned_at from {self.rel("backup_manifest")} where 1 = 0""")
        # backup_manifest may gain columns later: the copy follows before each move.
        present = {name for name, _ in self.columns(PRUNED_MANIFEST)}
        for name, column_type in self.columns("backup_manifest"):
            if name not in present:
                self.execute(
                    f"alter table {self.rel(PRUNED_MANIFEST)} add column {quote(name)} {column_type}"
                )
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

    history_tables = history_tables  # the same on both engines (history_tables.py)


def open_backup(settings: Settings, read_only: bool = False):
    from session_backup.warehouse import open_warehouse

    return open_warehouse(settings, read_only=read_only)


def engine_label() -> str:
    import duckdb

    return f"duckdb-{duckdb.__version__}"
