"""A thin connection to the backup for the CLI: DuckDB by default, BigQuery in production.

Values that come from outside (session ids, table names, schema names) never become SQL text:
values are query parameters and names are checked and quoted here.
"""

from __future__ import annotations

import datetime
import os
import re
from contextlib import contextmanager
from typing import Any, Iterator

from session_backup.config import Settings
from session_backup.errors import BackupError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def checked_identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value or ""):
        raise BackupError(f"{what} {value!r} is not a valid name (letters, digits and _ only).")
    return value


class Warehouse:
    """Runs parameterized queries against the backup. Subclasses know the dialect."""

    kind = "abstract"

    def query(self, sql: str, **params: Any) -> list[tuple]:
        raise NotImplementedError

    def backup_relation(self, name: str) -> str:
        raise NotImplementedError

    def function_call(self, name: str, argument: str) -> str:
        raise NotImplementedError

    def param(self, name: str) -> str:
        raise NotImplementedError

    def landing_relation(self, name: str) -> str | None:
        """The landing table, or None when landing is not reachable from here."""
        raise NotImplementedError

    def relation_exists(self, name: str) -> bool:
        raise NotImplementedError

    def restore_tables(self, session_id: str, tables: list[str], into_schema: str) -> dict[str, int]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class DuckDBWarehouse(Warehouse):
    kind = "duckdb"

    def __init__(self, settings: Settings, read_only: bool = True) -> None:
        import duckdb

        if not settings.backup_db.exists():
            raise BackupError(
                f"No backup database at {settings.backup_db}: run `session-backup backup` "
                "(or `dbt build`) first, or set SESSION_BACKUP_DB."
            )
        try:
            self.connection = duckdb.connect(str(settings.backup_db), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise BackupError(
                    f"The backup database {settings.backup_db} is in use by another process "
                    "(a backup is probably running); try again when it has finished."
                ) from exc
            raise BackupError(f"Cannot open the backup database {settings.backup_db}: {exc}") from exc
        # The DuckDB catalog is named after the file; the schema is the profile's `backup`.
        self.catalog = self.connection.execute("select current_database()").fetchone()[0]
        self.schema = "backup"
        self.landing_attached = False
        self.landing_schema = os.environ.get("SESSION_BACKUP_LANDING_SCHEMA", "main")
        if settings.landing_db.exists():
            try:
                # ATTACH takes no parameters; the path is quoted as a string literal.
                self.connection.execute(
                    f"attach if not exists {_duckdb_string(str(settings.landing_db))} as landing (read_only)"
                )
                self.landing_attached = True
            except duckdb.Error:
                self.landing_attached = False

    def _quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def query(self, sql: str, **params: Any) -> list[tuple]:
        import duckdb

        try:
            return self.connection.execute(sql, params or None).fetchall()
        except duckdb.Error as exc:
            raise _translate_error(exc) from exc

    def backup_relation(self, name: str) -> str:
        return f"{self._quote(self.catalog)}.{self._quote(self.schema)}.{self._quote(name)}"

    def function_call(self, name: str, argument: str) -> str:
        return f"{self._quote(self.catalog)}.{self._quote(self.schema)}.{name}({argument})"

    def param(self, name: str) -> str:
        return f"${name}"

    def landing_relation(self, name: str) -> str | None:
        if not self.landing_attached:
            return None
        return f"landing.{self._quote(self.landing_schema)}.{self._quote(name)}"

    def relation_exists(self, name: str) -> bool:
        rows = self.query(
            "select count(*) from information_schema.tables "
            "where table_catalog = $catalog and table_schema = $schema and table_name = $name",
            catalog=self.catalog,
            schema=self.schema,
            name=name,
        )
        return rows[0][0] > 0

    def restore_tables(self, session_id: str, tables: list[str], into_schema: str) -> dict[str, int]:
        """All tables or none: one transaction."""
        import duckdb

        into = self._quote(checked_identifier(into_schema, "Schema"))
        counts = {}
        try:
            self.connection.execute("begin transaction")
            self.connection.execute(f"create schema if not exists {into}")
            for table in tables:
                target = f"{into}.{self._quote(table)}"
                self.connection.execute(
                    f"create or replace table {target} as "
                    f"select * from {self.function_call('restore_' + table, '$session_id')}",
                    {"session_id": session_id},
                )
                counts[table] = self.connection.execute(f"select count(*) from {target}").fetchone()[0]
            self.connection.execute("commit")
        except duckdb.Error as exc:
            self.connection.execute("rollback")
            raise _translate_error(exc) from exc
        return counts

    def close(self) -> None:
        self.connection.close()


def _duckdb_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _translate_error(exc: Exception) -> BackupError:
    message = str(exc)
    marker = "session_backup: "
    if marker in message:
        return BackupError(message[message.index(marker) + len(marker) :].splitlines()[0])
    return BackupError(f"Query failed: {message.splitlines()[0]}")


class BigQueryWarehouse(Warehouse):
    kind = "bigquery"

    def __init__(self, settings: Settings) -> None:
        from session_backup.bigquery_client import make_bigquery_client

        self.client = make_bigquery_client(settings)
        self.project = settings.bigquery_project or self.client.project
        self.schema = settings.backup_schema
        self.location = settings.bigquery_location
        self.landing_dataset = settings.landing_dataset
        # As the dbt source does: landing may live in another project.
        self.landing_project = os.environ.get("SESSION_BACKUP_LANDING_DATABASE") or self.project

    def _parameters(self, params: dict[str, Any]) -> list:
        from google.cloud import bigquery

        out = []
        for name, value in params.items():
            if isinstance(value, bool):
                kind = "BOOL"
            elif isinstance(value, int):
                kind = "INT64"
            elif isinstance(value, datetime.datetime):
                kind = "TIMESTAMP"
            elif isinstance(value, datetime.date):
                kind = "DATE"
            else:
                kind = "STRING"
            out.append(bigquery.ScalarQueryParameter(name, kind, value))
        return out

    def query(self, sql: str, **params: Any) -> list[tuple]:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=self._parameters(params))
        try:
            return [tuple(row.values()) for row in self.client.query(sql, job_config=config).result()]
        except Exception as exc:  # the client raises many types; all mean the same to a user
            raise _translate_error(exc) from exc

    def backup_relation(self, name: str) -> str:
        return f"`{self.project}`.`{self.schema}`.`{name}`"

    def function_call(self, name: str, argument: str) -> str:
        return f"`{self.project}`.`{self.schema}`.`{name}`({argument})"

    def param(self, name: str) -> str:
        return f"@{name}"

    def landing_relation(self, name: str) -> str | None:
        return f"`{self.landing_project}`.`{self.landing_dataset}`.`{name}`"

    def relation_exists(self, name: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(f"{self.project}.{self.schema}.{name}")
            return True
        except NotFound:
            return False

    def routine_exists(self, name: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_routine(f"{self.project}.{self.schema}.{name}")
            return True
        except NotFound:
            return False

    def session_position(self, session_id: str) -> tuple[str, datetime.date] | None:
        """The session's scope and start date (UTC), or None if it is not in the backup."""
        found = self.query(
            f"select scope, cast(started_at as date) from {self.backup_relation('backup_sessions')} "
            "where session_id = @session_id",
            session_id=session_id,
        )
        return (found[0][0], found[0][1]) if found else None

    def restore_call(self, table: str, session_id: str, position=None) -> tuple[str, dict[str, Any]]:
        """The FROM clause and parameters that restore one table of a session, reading as few
        bytes as BigQuery allows: restore_<t>_pruned with the session's scope and start date
        (`position`) as query parameters (constants, so clustering and partition pruning
        apply), when dbt created it (History tables); otherwise restore_<t>(session_id), which
        reads all of Head and History."""
        params: dict[str, Any] = {"session_id": session_id}
        if position is not None and self.routine_exists(f"restore_{table}_pruned"):
            params.update(scope=position[0], closed_since=position[1])
            return self.function_call(f"restore_{table}_pruned", "@session_id, @scope, @closed_since"), params
        return self.function_call(f"restore_{table}", "@session_id"), params

    def restore_tables(self, session_id: str, tables: list[str], into_schema: str) -> dict[str, int]:
        """BigQuery DDL cannot sit in a transaction: on any failure, drop what this call made."""
        from google.cloud import bigquery

        into = checked_identifier(into_schema, "Dataset")
        dataset = bigquery.Dataset(f"{self.project}.{into}")
        dataset.location = self.location
        self.client.create_dataset(dataset, exists_ok=True)
        made: list[str] = []
        counts = {}
        position = self.session_position(session_id)
        try:
            for table in tables:
                target = f"`{self.project}`.`{into}`.`{table}`"
                source, params = self.restore_call(table, session_id, position)
                self.query(f"create or replace table {target} as select * from {source}", **params)
                made.append(f"{self.project}.{into}.{table}")
                # A bare count(*) reads no column: 0 bytes processed.
                counts[table] = self.query(f"select count(*) from {target}")[0][0]
        except BackupError:
            for table_id in made:
                self.client.delete_table(table_id, not_found_ok=True)
            raise
        return counts


@contextmanager
def open_warehouse(settings: Settings, read_only: bool = True) -> Iterator[Warehouse]:
    if settings.target == "duckdb":
        warehouse: Warehouse = DuckDBWarehouse(settings, read_only=read_only)
    elif settings.target == "bigquery":
        warehouse = BigQueryWarehouse(settings)
    else:
        raise BackupError(f"Unknown SESSION_BACKUP_TARGET {settings.target!r}: use duckdb or bigquery.")
    try:
        yield warehouse
    finally:
        warehouse.close()
