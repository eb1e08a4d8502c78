"""The cold-tier tests' landing: monthly sessions through 2024 in two scopes (one of them all
path syntax), with the float, decimal and timestamp values Parquet must carry, and a count of
hot and cold History versions for the "nothing lost, nothing counted twice" checks."""

from __future__ import annotations

from support.project import Deployment

DECLARATIONS = {"items": {"key": ["item_id"]}, "events": {}}
TABLES = list(DECLARATIONS)
NASTY = "../x/%2F *?[é]"  # a scope that is all path syntax
NOW = "2024-12-31"


def create_landing(deployment: Deployment) -> None:
    with deployment.landing() as landing:
        landing.execute("""
            create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar);
            create table items (
                session_id varchar, item_id integer, name varchar, price double, amount decimal(18, 4),
                seen_at timestamp, big hugeint, stamp timestamp_s
            );
            create table events (session_id varchar, kind varchar, weight double, label varchar);
        """)


def land_session(
    deployment: Deployment, session_id: str, scope: str, started_at: str, index: int
) -> None:
    """Session `index` of a scope: a few items change, arrive and leave each time."""
    items = []
    for item_id in range(1, 9):
        price = float(item_id) + (0.25 * index if item_id == index % 8 + 1 else 0.0)
        items.append(
            (
                item_id,
                f"item {item_id} ✓",
                price,
                f"{item_id}.{index % 3}000",
                f"2024-01-0{item_id % 9 + 1} 10:00:00",
                170141183460469231731687303715884105727 - item_id,
                f"2023-05-0{item_id % 9 + 1} 01:02:03",
            )
        )
    items.append(
        (100 + index, None, -0.0, None, None, None, None)
    )  # arrives, leaves 2 sessions later
    items.append(
        (100 + index - 1, "'quoted' | piped", float("nan"), "-1.5000", None, -(2**100), None)
    )
    items.append((50, "inf", float("inf") if index % 2 else float("-inf"), "0.0001", None, 1, None))
    # A NaN with its sign bit set beside the positive ones: Parquet keeps one of them (NaN is one
    # value, docs/decisions/0004-floats-through-cold.md), and tier must not refuse the table.
    items.append((200 + index, "negative nan", -float("nan"), None, None, None, None))
    events = (
        [("click", 1.0, "x")] * (1 + index % 3)
        + [("view", -0.0, None)]
        + [("buy", 2.5, f"{index // 2}")]
    )
    with deployment.landing() as landing:
        landing.execute(
            "insert into sessions values (?, ?, ?, 'succeeded')", [session_id, scope, started_at]
        )
        landing.executemany(
            "insert into items (session_id, item_id, name, price, amount, seen_at, big, stamp) "
            "values (?, ?, ?, ?, ?, ?, ?, ?)",
            [[session_id, *row] for row in items],
        )
        landing.executemany(
            "insert into events (session_id, kind, weight, label) values (?, ?, ?, ?)",
            [[session_id, *row] for row in events],
        )


def land_stream(deployment: Deployment) -> None:
    for month in range(1, 10):
        land_session(deployment, f"vn-{month:02d}", "VN", f"2024-{month:02d}-05 00:00:00", month)
    for number, month in enumerate((1, 3, 5, 7), start=1):
        land_session(deployment, f"nasty-{number}", NASTY, f"2024-{month:02d}-20 12:00:00", number)


def versions(deployment: Deployment) -> dict[str, dict[str, int]]:
    """Per table: hot History rows and rows in active cold files (by the manifest and by reading
    the files themselves), for the 'nothing lost, nothing counted twice' checks."""
    out = {}
    with deployment.backup_connection() as connection:
        has_manifest = connection.execute(
            "select count(*) from duckdb_tables() where table_name = 'cold_manifest'"
        ).fetchone()[0]
        for table in TABLES:
            hot = connection.execute(
                f"select count(*) from backup.backup.history_{table}"
            ).fetchone()[0]
            cold = read = 0
            if has_manifest:
                cold = connection.execute(
                    "select coalesce(sum(row_count), 0) from backup.backup.cold_manifest "
                    "where table_name = ? and state = 'active'",
                    [table],
                ).fetchone()[0]
                has_view = connection.execute(
                    "select count(*) from duckdb_views() where view_name = ?",
                    [f"cold_history_{table}"],
                ).fetchone()[0]
                if has_view:
                    read = connection.execute(
                        f"select count(*) from backup.backup.cold_history_{table}"
                    ).fetchone()[0]
            out[table] = {
                "hot": hot,
                "cold": int(cold),
                "cold_read": read,
                "total": hot + int(cold),
            }
    return out
