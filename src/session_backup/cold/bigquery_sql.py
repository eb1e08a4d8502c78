"""BigQuery SQL for cold files: whole-row checksums, logical bytes, literals, and the statements
of the cold relation (`cold_history_<t>`) in its two forms.

`cold_history_<t>` is a view that keeps only the rows of files the cold manifest lists as
`active`, so the manifest stays the one commit point, as on DuckDB:
- `external` (production): over an external table on the table's GCS prefix (`_FILE_NAME`);
- `load` (where external tables are not available, e.g. the emulator): over
  `cold_loaded_<t>`, a native table the CLI loads each verified file into, tagged with its
  file id.
"""

from __future__ import annotations

import datetime

from session_backup.cold.bigquery_engine import FLOAT_TYPES, quote
from session_backup.cold.names import COLD_MANIFEST

FILE_ID_COLUMN = "backup_cold_file_id"


def string_literal(value: str) -> str:
    """A GoogleSQL string literal: backslash escapes (a doubled quote is not an escape there)."""
    escaped = (
        str(value)
        .replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )
    return f"'{escaped}'"


def literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.datetime):
        return f"timestamp {string_literal(value.isoformat(sep=' '))}"
    if isinstance(value, datetime.date):
        return f"date {string_literal(value.isoformat())}"
    return string_literal(str(value))


def inline(sql: str, params: dict) -> str:
    """`$name` parameters as literals, for statements that take no query parameters (EXPORT DATA
    runs as the very first statement of a job, with nothing bound)."""
    for name in sorted(params, key=len, reverse=True):  # $scope before $s
        sql = sql.replace(f"${name}", literal(params[name]))
    return sql


def row_hash(alias: str, columns: list[tuple[str, str]]) -> str:
    """64-bit hash of a whole row: FARM_FINGERPRINT of its JSON, plus the sign of each float
    zero (JSON writes -0.0 as 0 in BigQuery). NaN is one value, as TO_JSON_STRING writes it
    (docs/decisions/0004-floats-through-cold.md)."""
    fields = ", ".join(f"{alias}.{quote(name)} as {quote(name)}" for name, _ in columns)
    signs = [
        f"if({alias}.{quote(name)} = 0 and ieee_divide(1, {alias}.{quote(name)}) < 0, '-', '+')"
        for name, column_type in columns
        if column_type in FLOAT_TYPES
    ]
    payload = f"to_json_string(struct({fields}))"
    if signs:
        payload = f"concat({payload}, {', '.join(signs)})"
    return f"farm_fingerprint({payload})"


def checksum_select(
    relation: str, alias: str, columns: list[tuple[str, str]], where: str = "true"
) -> str:
    """Row count and the sums of the low and high 32 bits of every row hash (a multiset checksum)."""
    return (
        f"select count(*) as row_count, coalesce(sum((h >> 32) & 4294967295), 0) as high, "
        f"coalesce(sum(h & 4294967295), 0) as low "
        f"from (select {row_hash(alias, columns)} as h from {relation} as {alias} where {where}) as hashed"
    )


def logical_bytes_expr(alias: str, columns: list[tuple[str, str]]) -> str:
    """BigQuery's logical size of a row (its storage billing unit)."""
    terms = []
    for name, column_type in columns:
        reference = f"{alias}.{quote(name)}"
        if column_type == "BOOL":
            size = "1"
        elif column_type in ("NUMERIC", "INTERVAL"):
            size = "16"
        elif column_type == "BIGNUMERIC":
            size = "32"
        elif column_type == "STRING" or column_type == "BYTES":
            size = f"2 + byte_length({reference})"
        elif column_type in ("INT64", "FLOAT64", "DATE", "DATETIME", "TIME", "TIMESTAMP"):
            size = "8"
        else:  # nested and exotic types: their JSON length is a fair stand-in
            size = f"2 + byte_length(to_json_string({reference}))"
        terms.append(f"(case when {reference} is null then 0 else {size} end)")
    return " + ".join(terms) or "0"


def active_file_ids_sql(backup, table: str) -> str:
    return (
        f"select file_id from {backup.rel(COLD_MANIFEST)} "
        f"where table_name = {string_literal(table)} and state = 'active'"
    )


def empty_view_sql(backup, table: str) -> str:
    """Before the first file: a view with History's columns and no rows."""
    return (
        f"create or replace view {backup.rel('cold_history_' + table)} as\n"
        f"select * from {backup.rel('history_' + table)} where false"
    )


def loaded_view_sql(
    backup, table: str, columns: list[tuple[str, str]], loaded_columns: set[str]
) -> str:
    """`load` form: History's columns (NULL for one added after the files were loaded) of the
    loaded rows whose file is active."""
    projection = ",\n    ".join(
        f"cold.{quote(name)}"
        if name in loaded_columns
        else f"cast(null as {column_type}) as {quote(name)}"
        for name, column_type in columns
    )
    return (
        f"create or replace view {backup.rel('cold_history_' + table)} as\n"
        f"select\n    {projection}\nfrom {backup.rel('cold_loaded_' + table)} as cold\n"
        f"where cold.{quote(FILE_ID_COLUMN)} in ({active_file_ids_sql(backup, table)})"
    )


def external_table_sql(backup, table: str, table_prefix_uri: str) -> str:
    """`external` form, part 1: every Parquet object under the table's prefix."""
    return (
        f"create or replace external table {backup.rel('cold_files_' + table)}\n"
        f"options (format = 'PARQUET', uris = [{string_literal(table_prefix_uri.rstrip('/') + '/*.parquet')}])"
    )


def external_view_sql(backup, table: str, columns: list[tuple[str, str]]) -> str:
    """`external` form, part 2: only the objects of active files (`_FILE_NAME`), cast to
    History's types."""
    projection = ",\n    ".join(
        f"cast(cold.{quote(name)} as {column_type}) as {quote(name)}"
        for name, column_type in columns
    )
    manifest = backup.rel(COLD_MANIFEST)
    where = f"table_name = {string_literal(table)} and state = 'active'"
    return (
        f"create or replace view {backup.rel('cold_history_' + table)} as\n"
        f"select\n    {projection}\nfrom {backup.rel('cold_files_' + table)} as cold\n"
        f"where cold._FILE_NAME in (\n"
        f"    select file_uri from {manifest} where {where} and objects is null\n"
        f"    union all\n"
        f"    select json_value(object, '$.uri') from {manifest}, unnest(json_query_array(objects)) as object\n"
        f"    where {where}\n)"
    )


def export_sql(backup, table: str, where: str, uri_pattern: str, source: str | None = None) -> str:
    """EXPORT DATA of History rows (alias `hot`) to zstd Parquet, sorted so row-group statistics
    on the validity interval let a restore skip most of a file. At most 1 GB per object, hence
    the wildcard."""
    return (
        f"export data options (uri = {string_literal(uri_pattern)}, format = 'PARQUET', "
        f"compression = 'ZSTD', overwrite = false) as\n"
        f"select * from {source or backup.rel('history_' + table)} as hot where {where}\n"
        f"order by hot.backup_valid_to_seq, hot.backup_valid_from_seq"
    )
