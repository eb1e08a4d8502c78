"""What to tier: per table, scope and closed month, the committed History rows older than the
cutoff; and the hot and cold totals `tier` prices. Portable SQL, both engines (each gives its
own logical-bytes expression and month format)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from session_backup.cold.dates import month_bounds
from session_backup.cold.names import COLD_MANIFEST

# (alias, [(column, type)]) -> the SQL of a row's BigQuery logical size, in the engine's dialect.
LogicalBytes = Callable[[str, list[tuple[str, str]]], str]


@dataclass
class Unit:
    """One cold file to be: the committed History rows of a table, scope and closed month
    (whole days, up to the cutoff)."""

    table: str
    scope: str
    closed_month: str
    committed: str  # SQL condition on alias `hot`: the row's closing session is committed
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
            (
                "hot.backup_scope = $scope and hot.backup_closed_date >= $month_start "
                f"and hot.backup_closed_date < $month_end and {self.committed}"
            ),
            {
                "scope": self.scope,
                "month_start": self.month_start,
                "month_end": self.month_end,
                "table": self.table,
            },
        )

    def describe(self) -> dict:
        return {
            "table": self.table,
            "scope": self.scope,
            "closed_month": self.closed_month,
            "rows": self.row_count,
            "hot_logical_bytes": self.logical_bytes,
            "cold_bytes": self.stats.get("bytes"),
            "file": self.file_uri or None,
        }


def committed_closing_sql(backup, alias: str = "hot") -> str:
    """The History row's closing session has a backup_manifest row for this table (`$table`).
    Only such rows are committed: a row an interrupted backup left behind never reaches cold,
    and a retried backup never appends it twice. Portable SQL (DuckDB and BigQuery)."""
    return (
        f"exists (select 1 from {backup.rel('backup_manifest')} as committed_manifest "
        f"inner join {backup.rel('backup_sessions')} as committed_sessions "
        f"on committed_manifest.session_id = committed_sessions.session_id "
        f"where committed_manifest.table_name = $table and committed_sessions.scope = {alias}.backup_scope "
        f"and committed_sessions.session_seq = {alias}.backup_valid_to_seq)"
    )


def plan_units(
    backup,
    table: str,
    cutoff: date,
    long_term_before: date,
    logical_bytes_expr: LogicalBytes,
    closed_month_sql: str,
) -> list[Unit]:
    """Per scope and closed month (`closed_month_sql`: yyyy-mm of hot.backup_closed_date in the
    engine's SQL), the committed rows older than the cutoff, with their logical bytes."""
    hot = f"history_{table}"
    logical = logical_bytes_expr("hot", backup.columns(hot))
    committed = committed_closing_sql(backup)
    rows = backup.query(
        f"""
        select
            hot.backup_scope,
            {closed_month_sql} as closed_month,
            count(*),
            sum({logical}),
            sum(case when hot.backup_closed_date < $long_term_before then {logical} else 0 end)
        from {backup.rel(hot)} as hot
        where hot.backup_closed_date < $cutoff
            and {committed}
        group by 1, 2
        order by 1, 2
        """,
        {"table": table, "cutoff": cutoff, "long_term_before": long_term_before},
    )
    return units_from_rows(table, committed, rows, cutoff)


def units_from_rows(table: str, committed: str, rows: list[tuple], cutoff: date) -> list[Unit]:
    units = []
    for scope, closed_month, count, logical_bytes, long_term in rows:
        start, end = month_bounds(closed_month)
        units.append(
            Unit(
                table,
                scope,
                closed_month,
                committed,
                start,
                min(end, cutoff),
                int(count),
                int(logical_bytes or 0),
                int(long_term or 0),
            )
        )
    return units


def hot_totals(
    backup, tables: list[str], long_term_before: date, logical_bytes_expr: LogicalBytes
) -> dict:
    """BigQuery logical bytes of the hot backup, split by price tier: Head is rewritten by every
    backup (active); a History partition untouched for 90 days bills as long-term."""
    totals = {"head_active": 0, "history_active": 0, "history_long_term": 0}
    for table in tables:
        head = f"head_{table}"
        if backup.exists(head):
            expression = logical_bytes_expr("hot", backup.columns(head))
            totals["head_active"] += int(
                backup.query(
                    f"select coalesce(sum({expression}), 0) from {backup.rel(head)} as hot"
                )[0][0]
            )
        expression = logical_bytes_expr("hot", backup.columns(f"history_{table}"))
        active, long_term = backup.query(
            f"select coalesce(sum(case when hot.backup_closed_date >= $before then {expression} end), 0), "
            f"coalesce(sum(case when hot.backup_closed_date < $before then {expression} end), 0) "
            f"from {backup.rel('history_' + table)} as hot",
            {"before": long_term_before},
        )[0]
        totals["history_active"] += int(active)
        totals["history_long_term"] += int(long_term)
    return totals


def cold_totals(backup) -> dict:
    """Bytes of active cold files per storage class (a local folder counts as the class it is
    priced as, see docs/cold-storage.md)."""
    if not backup.exists(COLD_MANIFEST):
        return {}
    rows = backup.query(
        f"select coalesce(storage_class, ''), coalesce(sum(bytes), 0), coalesce(sum(logical_bytes), 0) "
        f"from {backup.rel(COLD_MANIFEST)} where state = 'active' group by 1"
    )
    return {cls: {"bytes": int(size), "logical_bytes": int(logical)} for cls, size, logical in rows}


def validity_ranges(backup, relation: str) -> dict:
    """The ranges a cold file's manifest row records (closed dates, validity sequences) of the
    rows in `relation`: a table, or a Parquet reader on DuckDB."""
    row = backup.query(
        f"select min(backup_closed_date), max(backup_closed_date), min(backup_valid_from_seq), "
        f"max(backup_valid_from_seq), min(backup_valid_to_seq), max(backup_valid_to_seq) from {relation}"
    )[0]
    return dict(zip(("min_closed", "max_closed", "min_from", "max_from", "min_to", "max_to"), row))
