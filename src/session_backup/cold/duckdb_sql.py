"""DuckDB SQL for cold files: whole-row checksums, BigQuery logical bytes, Parquet type round trips."""

from __future__ import annotations

import uuid
from pathlib import Path

from session_backup.cold.duckdb_engine import FLOAT_TYPES, DuckDBBackup, duckdb_string, quote
from session_backup.errors import BackupError


def row_hash_sql(
    alias: str, columns: list[tuple[str, str]], casts: dict[str, str] | None = None
) -> str:
    """64-bit hash of a whole row; floats add their sign bit (hash(-0.0) = hash(0.0)), except
    for NaN, which is one value whatever its sign (docs/decisions/0004-floats-through-cold.md:
    Parquet's dictionary encoding keeps only one of -NaN and +NaN)."""
    casts = casts or {}
    parts = []
    for name, column_type in columns:
        reference = f"{alias}.{quote(name)}"
        parts.append(f"cast({reference} as {casts[name]})" if name in casts else reference)
    for name, column_type in columns:
        if column_type.upper() in FLOAT_TYPES:
            reference = f"{alias}.{quote(name)}"
            parts.append(f"(signbit({reference}) and not isnan({reference}))")
    return f"hash(row({', '.join(parts)}))"


def checksum_select(source: str, alias: str, columns, where: str = "true", casts=None) -> str:
    return (
        f"select count(*) as row_count, coalesce(sum(h >> 32), 0) as high, "
        f"coalesce(sum(h & 4294967295), 0) as low "
        f"from (select {row_hash_sql(alias, columns, casts)} as h from {source} as {alias} where {where}) as hashed"
    )


def logical_bytes_expr(alias: str, columns: list[tuple[str, str]]) -> str:
    """BigQuery's logical size of a row (its storage billing unit): 8 bytes for numbers, dates
    and timestamps, 16 for NUMERIC, 2 + length for strings and bytes, NULL = 0."""
    terms = []
    for name, column_type in columns:
        reference = f"{alias}.{quote(name)}"
        upper = column_type.upper()
        if upper == "BOOLEAN":
            size = "1"
        elif upper.startswith("DECIMAL") or upper in ("HUGEINT", "UHUGEINT", "INTERVAL", "UUID"):
            size = "16"
        elif upper.startswith("VARCHAR") or upper == "JSON":
            size = f"2 + strlen({reference})"
        elif upper == "BLOB":
            size = f"2 + octet_length({reference})"
        elif upper in (
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
            "DOUBLE",
            "FLOAT",
            "REAL",
            "DATE",
            "TIME",
        ) or upper.startswith("TIMESTAMP"):
            size = "8"
        else:  # nested and exotic types: their text length is a fair stand-in
            size = f"2 + strlen(cast({reference} as varchar))"
        terms.append(f"(case when {reference} is null then 0 else {size} end)")
    return " + ".join(terms) or "0"


def parquet_text_columns(
    backup: DuckDBBackup, hot: str, columns: list[tuple[str, str]], staging: Path
) -> set[str]:
    """Columns whose DuckDB type does not survive Parquet (HUGEINT -> DOUBLE, ENUM -> VARCHAR,
    TIMESTAMP_S -> TIMESTAMP, BIT...): stored as text and cast back on read. Found by writing an
    empty probe file, so any type the Parquet writer changes is caught, not a hand-kept list."""
    probe = staging / f"probe-{uuid.uuid4().hex}.parquet"
    try:
        backup.execute(
            f"copy (select * from {backup.rel(hot)} limit 0) to {duckdb_string(str(probe))} "
            "(format parquet, compression zstd)"
        )
        read = described(
            backup.query(f"describe select * from read_parquet({duckdb_string(str(probe))})")
        )
    finally:
        probe.unlink(missing_ok=True)
    return {name for name, column_type in columns if read.get(name) != column_type}


def described(rows: list[tuple]) -> dict[str, str]:
    """`describe` output as {column: type}."""
    return {row[0]: row[1] for row in rows}


def write_projection(columns: list[tuple[str, str]], text_columns: set[str]) -> str:
    return ", ".join(
        f"cast(hot.{quote(name)} as varchar) as {quote(name)}"
        if name in text_columns
        else f"hot.{quote(name)}"
        for name, _ in columns
    )


def read_casts(
    backup: DuckDBBackup, paths: list[str], columns: list[tuple[str, str]]
) -> dict[str, str]:
    """For the columns of these Parquet files whose read type differs from History's: the type
    to cast them back to."""
    if not paths:
        return {}
    read = described(backup.query(f"describe select * from {read_parquet_sql(paths)}"))
    return {
        name: column_type
        for name, column_type in columns
        if name in read and read[name] != column_type
    }


def read_parquet_sql(paths: list[str]) -> str:
    listed = ", ".join(duckdb_string(path) for path in paths)
    return f"read_parquet([{listed}], union_by_name = true, hive_partitioning = false)"


GLOB_CHARACTERS = set("*?[]{}")


def check_path_literal(path: str) -> str:
    if GLOB_CHARACTERS & set(path):
        raise BackupError(
            f"Cold path {path!r} contains a wildcard character (* ? [ ] {{ }}), which DuckDB "
            "would expand: choose a cold root / cache folder without them."
        )
    return path
