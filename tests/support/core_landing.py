"""The core tests' landing: three declared tables (keyed, two-column key, keyless) and
sessions landed row by row, with the edge-case values every engine path must keep."""

from __future__ import annotations

from support.project import Deployment

DECLARATIONS = {
    "items": {"key": ["item_id"]},
    "pairs": {"key": ["region", "code"]},
    "events": {},  # keyless: duplicates are real data
}
TABLES = list(DECLARATIONS)

LONG = "x" * 100_000
UNICODE = "Tiếng Việt — 日本語 — emoji 🚀 — \u0000-free, 'quotes' and \"doubles\" | pipes"


def create_landing(deployment: Deployment) -> None:
    with deployment.landing() as landing:
        landing.execute("""
            create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar);
            create table items (
                session_id varchar, item_id integer, name varchar, price double,
                amount decimal(18, 4), seen_at timestamp, flag boolean
            );
            create table pairs (session_id varchar, region varchar, code varchar, value bigint);
            create table events (session_id varchar, kind varchar, weight double, label varchar);
        """)


def land(
    deployment: Deployment,
    session_id: str,
    scope: str,
    started_at: str,
    tables: dict[str, list[tuple]],
    status: str = "succeeded",
) -> None:
    with deployment.landing() as landing:
        landing.execute(
            "insert into sessions values (?, ?, ?, ?)", [session_id, scope, started_at, status]
        )
        for table, rows in tables.items():
            for row in rows:
                placeholders = ", ".join("?" for _ in range(len(row) + 1))
                landing.execute(f"insert into {table} values ({placeholders})", [session_id, *row])


BASE_ITEMS = [
    (1, "apple", 1.5, "10.0000", "2024-01-01 10:00:00", True),
    (2, None, None, None, None, None),
    (3, "", 0.0, "0.0001", "1970-01-01 00:00:00", False),
    (4, "NULL", -0.0, "-12345678901234.5678", "2099-12-31 23:59:59.999999", True),
    (5, UNICODE, float("nan"), "1.0000", "2024-02-29 00:00:00", False),
    (6, LONG, float("inf"), "2.5000", "2024-01-01 00:00:00", None),
    (7, "a|b", float("-inf"), "3.0000", "2024-01-01 00:00:00", True),
]
