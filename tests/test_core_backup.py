"""Head/History backup on the embedded DuckDB default: exact restores through every edge case."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.core_landing import (
    BASE_ITEMS,
    DECLARATIONS,
    TABLES,
    create_landing,
    land,
)
from support.project import Deployment, DeploymentTemplate, assert_restores_exactly


def stream(deployment: Deployment) -> None:
    """Eight VN sessions and three DE sessions that walk through every edge case."""
    items = list(BASE_ITEMS)
    pairs = [("north", "A", 1), ("north", "B", 2), ("south", "A", 3)]
    events = [("click", 1.0, "x"), ("click", 1.0, "x"), ("view", 2.0, None)]
    land(
        deployment,
        "vn-1",
        "VN",
        "2024-01-01 00:00",
        {"items": items, "pairs": pairs, "events": events},
    )
    # A -> B: item 1 changes; pairs: one deleted; events: a duplicate more.
    items2 = [(1, "apple", 1.75, "10.0000", "2024-01-01 10:00:00", True)] + items[1:]
    land(
        deployment,
        "vn-2",
        "VN",
        "2024-01-02 00:00",
        {"items": items2, "pairs": pairs[:2], "events": events + [("click", 1.0, "x")]},
    )
    # B -> A: item 1 back to its first value; pairs: the deleted one is back; -0.0 becomes 0.0.
    items3 = (
        [items[0]]
        + items[1:3]
        + [(4, "NULL", 0.0, "-12345678901234.5678", "2099-12-31 23:59:59.999999", True)]
        + items[4:]
    )
    land(
        deployment,
        "vn-3",
        "VN",
        "2024-01-03 00:00",
        {"items": items3, "pairs": pairs, "events": events},
    )
    # An empty session: no rows in any table.
    land(deployment, "vn-4", "VN", "2024-01-04 00:00", {})
    # Everything back again after the empty session; separators that would collide in a naive concat.
    land(
        deployment,
        "vn-5",
        "VN",
        "2024-01-05 00:00",
        {
            "items": items3 + [(8, "a", 1.0, "1.0000", None, None)],
            "pairs": pairs + [("north|A", "", 0)],
            "events": [("click", 1.0, "x")] * 5,
        },
    )
    # A failed and a running session are never backed up.
    land(deployment, "vn-6-failed", "VN", "2024-01-06 00:00", {"items": items}, status="failed")
    land(
        deployment,
        "vn-7",
        "VN",
        "2024-01-07 00:00",
        {
            "items": items3
            + [(8, "a|", 1.0, "1.0000", None, None)],  # was "a": only the separator moved
            "pairs": pairs + [("north", "A|", 0)],
            "events": [("click", 1.0, "x")] * 2 + [("click", 1.0, None)],
        },
    )
    land(deployment, "vn-8-running", "VN", "2024-01-08 00:00", {"items": items}, status="running")
    land(
        deployment,
        "de-1",
        "DE",
        "2024-01-01 06:00",
        {"items": items[:2], "pairs": pairs, "events": events},
    )
    land(
        deployment,
        "de-2",
        "DE",
        "2024-01-02 06:00",
        {"items": items[:1], "pairs": [], "events": events},
    )
    land(
        deployment,
        "de-3",
        "DE",
        "2024-01-03 06:00",
        {"items": items[:2], "pairs": pairs, "events": []},
    )


def with_landing(root: Path) -> Deployment:
    deployment = Deployment(root, DECLARATIONS)
    create_landing(deployment)
    return deployment


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return DeploymentTemplate(tmp_path_factory.getbasetemp(), "core_backup", with_landing)


@pytest.fixture()
def deployment(template):
    return template.fresh()


def test_every_session_restores_exactly_through_edge_cases(deployment):
    stream(deployment)
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    assert len(deployment.sessions()) == 9  # failed and running sessions are not claimed
    assert assert_restores_exactly(deployment, TABLES) == 27
    verify = deployment.cli(["verify", "--all"])
    assert verify.exit_code == 0, verify.output
    assert "27 table backups of 9 session(s): 0 mismatch" in verify.output


def test_history_is_deduplicated(deployment):
    stream(deployment)
    assert deployment.backup().exit_code == 0
    with deployment.backup_connection() as connection:
        head = connection.execute(
            "select count(*) from backup.backup.head_items where backup_scope = 'VN'"
        ).fetchone()[0]
        history = connection.execute(
            "select count(*) from backup.backup.history_items where backup_scope = 'VN'"
        ).fetchone()[0]
        landed = connection.execute(
            "select count(*) from landing.main.items join backup.backup.backup_sessions using (session_id) "
            "where scope = 'VN'"
        ).fetchone()[0]
        # Unchanged rows are stored once: far fewer versions than landed rows.
        assert head + history <= landed * 0.6
        # A -> B -> A: item 1 has three versions (apple 1.5, 1.75, 1.5 again).
        versions = connection.execute(
            "select count(*) from (select item_id from backup.backup.history_items where item_id = 1 and backup_scope = 'VN' "
            "union all select item_id from backup.backup.head_items where item_id = 1 and backup_scope = 'VN')"
        ).fetchone()[0]
        assert versions == 4  # 1.5 | 1.75 | 1.5 until the empty session | 1.5 again after it


def test_incremental_runs_equal_one_catch_up_run(deployment, tmp_path):
    """Backing up session by session or all at once stores the same versions."""
    stream(deployment)
    assert deployment.backup().exit_code == 0
    one_run = Deployment(tmp_path / "again", DECLARATIONS)
    create_landing(one_run)
    # Replay the same landing one session at a time.
    with deployment.landing() as source:
        sessions = source.execute("select * from sessions order by started_at").fetchall()
    for session in sessions:
        with deployment.landing() as source:
            rows = {
                table: [
                    row[1:]
                    for row in source.execute(
                        f"select * from {table} where session_id = ?", [session[0]]
                    ).fetchall()
                ]
                for table in TABLES
            }
        land(one_run, session[0], session[1], str(session[2]), rows, status=session[3])
        assert one_run.backup().exit_code == 0
    assert_restores_exactly(one_run, TABLES)

    def stored(target: Deployment) -> list:
        with target.backup_connection() as connection:
            return [
                connection.execute(
                    f"select count(*) from backup.backup.history_{table}"
                ).fetchone()[0]
                for table in TABLES
            ]

    assert stored(one_run) == stored(deployment)


def test_second_build_backs_nothing_up_twice(deployment):
    stream(deployment)
    assert deployment.backup().exit_code == 0
    with deployment.backup_connection() as connection:
        before = connection.execute(
            "select count(*) from backup.backup.backup_manifest"
        ).fetchone()[0]
        history_before = connection.execute(
            "select count(*) from backup.backup.history_items"
        ).fetchone()[0]
    assert deployment.backup().exit_code == 0
    assert deployment.backup("--full-refresh").exit_code == 0
    with deployment.backup_connection() as connection:
        assert (
            connection.execute("select count(*) from backup.backup.backup_manifest").fetchone()[0]
            == before
        )
        assert (
            connection.execute("select count(*) from backup.backup.history_items").fetchone()[0]
            == history_before
        )
    assert_restores_exactly(deployment, TABLES)


def test_column_added_mid_stream(deployment):
    land(deployment, "vn-1", "VN", "2024-01-01", {"items": BASE_ITEMS[:3]})
    assert deployment.backup().exit_code == 0
    with deployment.backup_connection() as connection:
        head_before = connection.execute(
            "select item_id, backup_valid_from_seq from backup.backup.head_items order by 1"
        ).fetchall()
    with deployment.landing() as landing:
        landing.execute("alter table items add column colour varchar")
    # Same rows, new all-NULL column: nothing is a new version.
    land(
        deployment, "vn-2", "VN", "2024-01-02", {"items": [row + (None,) for row in BASE_ITEMS[:3]]}
    )
    assert deployment.backup().exit_code == 0
    with deployment.backup_connection() as connection:
        assert (
            connection.execute("select count(*) from backup.backup.history_items").fetchone()[0]
            == 0
        )
        assert (
            connection.execute(
                "select item_id, backup_valid_from_seq from backup.backup.head_items order by 1"
            ).fetchall()
            == head_before
        )
    land(
        deployment,
        "vn-3",
        "VN",
        "2024-01-03",
        {"items": [row + ("red",) for row in BASE_ITEMS[:3]]},
    )
    assert deployment.backup().exit_code == 0
    assert_restores_exactly(deployment, ["items"])
