"""The BigQuery backup as the cold commands need it: names, columns, queries with parameters,
one multi-statement transaction, and the cold bookkeeping tables.

SQL shared with DuckDB writes parameters as `$name`; they become BigQuery's `@name` here.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from session_backup.cold.history_tables import history_tables
from session_backup.cold.names import COLD_MANIFEST, COLD_VIEW_STATE
from session_backup.config import Settings

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

# BigQuery's legacy names in table schemas, as standard SQL types.
_STANDARD_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}
FLOAT_TYPES = {"FLOAT64"}


def quote(name: str) -> str:
    """A BigQuery quoted identifier (backticks; a backslash escapes backticks and backslashes)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class BigQueryBackup:
    """The backup dataset on BigQuery (the warehouse's client, project and dataset)."""

    kind = "bigquery"

    def __init__(self, warehouse, settings: Settings) -> None:
        self.warehouse = warehouse
        self.settings = settings
        self.client = warehouse.client
        self.project = warehouse.project
        self.schema = warehouse.schema

    def rel(self, name: str) -> str:
        return f"{quote(self.project)}.{quote(self.schema)}.{quote(name)}"

    def table_id(self, name: str) -> str:
        return f"{self.project}.{self.schema}.{name}"

    def exists(self, name: str) -> bool:
        return self.warehouse.relation_exists(name)

    def _config(self, params: dict | None):
        from google.cloud import bigquery

        # The same typed parameters the CLI's queries use (warehouse.py).
        return bigquery.QueryJobConfig(query_parameters=self.warehouse._parameters(params or {}))

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        text = _PARAMETER.sub(r"@\1", sql)
        try:
            job = self.client.query(text, job_config=self._config(params))
            return [tuple(row.values()) for row in job.result()]
        except Exception as exc:  # the client raises many types; all mean the same to a user
            from session_backup.warehouse import _translate_error

            raise _translate_error(exc) from exc

    def execute(self, sql: str, params: dict | None = None) -> None:
        self.query(sql, params)

    def run_transaction(self, statements: list[str], params: dict | None = None) -> None:
        """Statements in one BigQuery transaction (one script job): all or nothing."""
        if statements:
            body = ";\n".join(statements)
            self.execute(f"begin transaction;\n{body};\ncommit transaction", params)

    def columns(self, name: str) -> list[tuple[str, str]]:
        table = self.client.get_table(self.table_id(name))
        return [
            (field.name, _STANDARD_TYPES.get(field.field_type, field.field_type))
            for field in table.schema
        ]

    def schema_fields(self, name: str) -> list:
        return list(self.client.get_table(self.table_id(name)).schema)

    def drop(self, name: str) -> None:
        self.client.delete_table(self.table_id(name), not_found_ok=True)

    def ensure_tables(self) -> None:
        """The cold bookkeeping, created on first use (dbt never drops them). `objects` lists the
        GCS objects of one cold file when EXPORT DATA split it (JSON; NULL for one object)."""
        self.execute(f"""
            create table if not exists {self.rel(COLD_MANIFEST)} (
                file_id string not null,
                state string not null,
                table_name string not null,
                scope string not null,
                closed_month string not null,
                part int64 not null,
                cold_root string not null,
                relative_path string not null,
                file_uri string not null,
                read_path string,
                storage_class string,
                row_count int64,
                bytes int64,
                logical_bytes int64,
                content_sha256 string,
                content_md5 string,
                generation int64,
                row_checksum_low int64,
                row_checksum_high int64,
                checksum_engine string,
                min_closed_date date,
                max_closed_date date,
                min_valid_from_seq int64,
                max_valid_from_seq int64,
                min_valid_to_seq int64,
                max_valid_to_seq int64,
                cutoff_date date,
                created_at timestamp,
                committed_at timestamp,
                retired_at timestamp,
                retired_reason string,
                delete_after timestamp,
                objects string
            )""")
        self.execute(f"""
            create table if not exists {self.rel(COLD_VIEW_STATE)} (
                table_name string not null,
                kind string not null,
                fingerprint string,
                installed_at timestamp
            )""")

    history_tables = history_tables  # the same on both engines (history_tables.py)


@contextmanager
def open_bigquery_backup(settings: Settings):
    from session_backup.warehouse import open_warehouse

    with open_warehouse(settings) as warehouse:
        yield BigQueryBackup(warehouse, settings)
