"""A thin connection to the backup for the CLI: DuckDB by default, BigQuery in production.

Values that come from outside (session ids, table names, schema names) never become SQL text:
values are query parameters and names are checked and quoted here.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from session_backup.config import Settings
from session_backup.errors import BackupError
from session_backup.layouts import session_layouts

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

    def restore_tables(
        self, session_id: str, tables: list[str], into_schema: str
    ) -> dict[str, int]:
        raise NotImplementedError

    def session_projection(self, table: str, layouts: dict[str, list[str]]) -> str:
        """The select list that returns the columns the session landed with (`layouts`, from
        session_layouts): the restore function returns the table's newest stored layout, a
        superset."""
        columns = layouts.get(table)
        return "*" if not columns else ", ".join(self._quote(name) for name in columns)

    def checksum_call(self, table: str, session_id: str) -> tuple[str, dict[str, Any]]:
        """The FROM clause and parameters of the checksum `verify` compares with the manifest."""
        return self.function_call(f"checksum_{table}", self.param("session_id")), {
            "session_id": session_id
        }

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
        self.schema = settings.backup_schema  # the profile's schema
        self.connection = connect_backup_file(settings.backup_db, self.schema, read_only)
        self.catalog = self.connection.execute("select current_database()").fetchone()[0]
        self.landing_attached = False
        self.landing_schema = settings.landing_dataset
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

    def restore_tables(
        self, session_id: str, tables: list[str], into_schema: str
    ) -> dict[str, int]:
        """All tables or none: one transaction."""
        import duckdb

        into = self._quote(checked_identifier(into_schema, "Schema"))
        counts = {}
        layouts = session_layouts(self, session_id)
        try:
            self.connection.execute("begin transaction")
            self.connection.execute(f"create schema if not exists {into}")
            for table in tables:
                target = f"{into}.{self._quote(table)}"
                self.connection.execute(
                    f"create or replace table {target} as "
                    f"select {self.session_projection(table, layouts)} "
                    f"from {self.function_call('restore_' + table, '$session_id')}",
                    {"session_id": session_id},
                )
                counts[table] = self.connection.execute(
                    f"select count(*) from {target}"
                ).fetchone()[0]
            self.connection.execute("commit")
        except duckdb.Error as exc:
            self.connection.execute("rollback")
            raise _translate_error(exc) from exc
        return counts

    def close(self) -> None:
        self.connection.close()


def _duckdb_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duckdb_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# DuckDB's lock error names the process that holds the file.
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def lock_holder(message: str) -> str | None:
    """'PID 123 (/usr/bin/python3)' out of DuckDB's lock error, or None for any other error."""
    found = _LOCK_HOLDER.search(message)
    if found:
        return f"PID {found['pid']} ({found['program']})"
    if "could not set lock" in message.lower():
        return "another process"
    return None


def _open_duckdb(path: Path, read_only: bool):
    """A connection to a DuckDB file, or one line saying who holds it or why it cannot open."""
    import duckdb

    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        holder = lock_holder(str(exc))
        if holder:
            raise DatabaseBusy(path, holder) from exc
        raise BackupError(f"Cannot open {path}: {str(exc).splitlines()[0]}") from exc


class DatabaseBusy(BackupError):
    """Another process holds the DuckDB file (DuckDB allows one writer, or readers only)."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(
            f"{path} is held by {holder}; nothing was done. Close that connection and try again"
            " (`session-backup backup --wait` waits for it)."
        )
        self.path = path
        self.holder = holder


# A restore function's body names its tables catalog.schema.table, the catalog being the name
# the file had when dbt last wrote the functions (dbt-duckdb names it after the file's stem).
_CATALOG_REFERENCE = (
    r'(?P<catalog>"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\.(?:"{schema}"|{schema})\.'
)


def _catalog_named_by_functions(connection, schema: str) -> str | None:
    rows = connection.execute(
        "select macro_definition from duckdb_functions() "
        "where database_name = current_database() and schema_name = $schema "
        "and function_type = 'table_macro' and starts_with(function_name, 'restore_') limit 1",
        {"schema": schema},
    ).fetchall()
    if not rows or not rows[0][0]:
        return None
    pattern = _CATALOG_REFERENCE.format(schema=re.escape(schema))
    found = re.search(pattern, rows[0][0])
    if not found:
        return None
    catalog = found["catalog"]
    return catalog[1:-1].replace('""', '"') if catalog.startswith('"') else catalog


def connect_backup_file(path: Path, schema: str, read_only: bool):
    """Open the backup file under the catalog name its restore functions and views refer to.

    A copied or renamed file (prod.duckdb -> copy.duckdb) gets a catalog named after its new
    stem, while the functions dbt stored in it still name the old one; attaching the file under
    the old name makes them resolve again, without rewriting anything in the file."""
    connection = _open_duckdb(path, read_only)
    current = connection.execute("select current_database()").fetchone()[0]
    named = _catalog_named_by_functions(connection, schema)
    if named is None or named == current or named in {"landing", "memory", "system", "temp"}:
        return connection
    connection.close()
    import duckdb

    connection = duckdb.connect(":memory:")
    mode = " (read_only)" if read_only else ""
    try:
        connection.execute(
            f"attach {_duckdb_string(str(path))} as {_duckdb_identifier(named)}{mode}"
        )
    except duckdb.Error as exc:
        connection.close()
        holder = lock_holder(str(exc))
        if holder:
            raise DatabaseBusy(path, holder) from exc
        raise BackupError(f"Cannot open {path}: {str(exc).splitlines()[0]}") from exc
    connection.execute(f"use {_duckdb_identifier(named)}")
    return connection


def wait_until_free(
    path: Path,
    wait: bool,
    on_wait: Callable[[str], None] = lambda message: None,
    read_only: bool = False,
    poll_seconds: float = 0.5,
) -> None:
    """Return once `path` can be opened (for writing, unless read_only); without `wait`, say at
    once who holds it. A file that does not exist yet is free."""
    if not path.exists():
        return
    announced = None
    while True:
        try:
            _open_duckdb(path, read_only).close()
            return
        except DatabaseBusy as busy:
            if not wait:
                raise
            if busy.holder != announced:
                on_wait(f"waiting for {busy.holder} to release {path} ...")
                announced = busy.holder
            time.sleep(poll_seconds)


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
        self.landing_project = settings.landing_database or self.project

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
            return [
                tuple(row.values()) for row in self.client.query(sql, job_config=config).result()
            ]
        except Exception as exc:  # the client raises many types; all mean the same to a user
            raise _translate_error(exc) from exc

    def backup_relation(self, name: str) -> str:
        return f"`{self.project}`.`{self.schema}`.`{name}`"

    def function_call(self, name: str, argument: str) -> str:
        return f"`{self.project}`.`{self.schema}`.`{name}`({argument})"

    def param(self, name: str) -> str:
        return f"@{name}"

    def _quote(self, name: str) -> str:
        return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"

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

    def restore_call(
        self, table: str, session_id: str, position=None
    ) -> tuple[str, dict[str, Any]]:
        """The FROM clause and parameters that restore one table of a session, reading as few
        bytes as BigQuery allows: restore_<t>_pruned with the session's scope and start date
        (`position`) as query parameters (constants, so clustering and partition pruning
        apply), when dbt created it (History tables); otherwise restore_<t>(session_id), which
        reads all of Head and History."""
        params: dict[str, Any] = {"session_id": session_id}
        if position is not None and self.routine_exists(f"restore_{table}_pruned"):
            params.update(scope=position[0], closed_since=position[1])
            return self.function_call(
                f"restore_{table}_pruned", "@session_id, @scope, @closed_since"
            ), params
        return self.function_call(f"restore_{table}", "@session_id"), params

    def checksum_call(self, table: str, session_id: str) -> tuple[str, dict[str, Any]]:
        """checksum_<t>_pruned with the session's scope and start date as constants: verify
        reads what a restore of the same session reads, not all of Head and History."""
        if not hasattr(self, "_looked_up"):
            self._looked_up: dict[
                tuple[str, str], Any
            ] = {}  # verify --all asks per table and session
        if ("session", session_id) not in self._looked_up:
            self._looked_up[("session", session_id)] = self.session_position(session_id)
        if ("routine", table) not in self._looked_up:
            self._looked_up[("routine", table)] = self.routine_exists(f"checksum_{table}_pruned")
        position = self._looked_up[("session", session_id)]
        if position is not None and self._looked_up[("routine", table)]:
            params = {"session_id": session_id, "scope": position[0], "closed_since": position[1]}
            return self.function_call(
                f"checksum_{table}_pruned", "@session_id, @scope, @closed_since"
            ), params
        return super().checksum_call(table, session_id)

    def restore_tables(
        self, session_id: str, tables: list[str], into_schema: str
    ) -> dict[str, int]:
        """BigQuery DDL cannot sit in a transaction: on any failure, drop what this call made."""
        from google.cloud import bigquery

        into = checked_identifier(into_schema, "Dataset")
        dataset = bigquery.Dataset(f"{self.project}.{into}")
        dataset.location = self.location
        self.client.create_dataset(dataset, exists_ok=True)
        made: list[str] = []
        counts = {}
        position = self.session_position(session_id)
        layouts = session_layouts(self, session_id)
        try:
            for table in tables:
                target = f"`{self.project}`.`{into}`.`{table}`"
                source, params = self.restore_call(table, session_id, position)
                projection = self.session_projection(table, layouts)
                self.query(
                    f"create or replace table {target} as select {projection} from {source}",
                    **params,
                )
                made.append(f"{self.project}.{into}.{table}")
                # The table's metadata: exact for a table a finished job wrote, and no query job.
                counts[table] = int(self.client.get_table(made[-1]).num_rows or 0)
        except Exception:  # whatever failed, nothing half-restored stays behind
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
        raise BackupError(
            f"Unknown SESSION_BACKUP_TARGET {settings.target!r}: use duckdb or bigquery."
        )
    try:
        yield warehouse
    finally:
        warehouse.close()
