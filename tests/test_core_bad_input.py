"""Bad input: one clear error, a non-zero exit, and nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.core_landing import DECLARATIONS, TABLES, create_landing, land
from support.project import Deployment, DeploymentTemplate, assert_restores_exactly

ITEMS = [(1, "a", 1.0, "1.0", None, True), (2, "b", 2.0, "2.0", None, False)]


def backed_up_once(root: Path) -> Deployment:
    deployment = Deployment(root, DECLARATIONS)
    create_landing(deployment)
    land(
        deployment,
        "vn-1",
        "VN",
        "2024-01-01",
        {"items": ITEMS, "pairs": [("n", "A", 1)], "events": [("x", 1.0, "y")]},
    )
    assert deployment.backup().exit_code == 0
    return deployment


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return DeploymentTemplate(tmp_path_factory.getbasetemp(), "core_bad_input", backed_up_once)


@pytest.fixture()
def deployment(template):
    return template.fresh()


def stored_counts(deployment: Deployment) -> dict[str, int]:
    with deployment.backup_connection() as connection:
        counts = {}
        for relation in ["backup_sessions", "backup_manifest"] + [
            f"{kind}_{table}" for kind in ("head", "history") for table in TABLES
        ]:
            counts[relation] = connection.execute(
                f"select count(*) from backup.backup.{relation}"
            ).fetchone()[0]
        return counts


def assert_refused(deployment: Deployment, *expected: str) -> None:
    before = stored_counts(deployment)
    result = deployment.backup()
    assert result.exit_code == 1, result.output
    message = result.output
    for text in expected:
        assert text in message, message
    assert message.count("\n") <= 3, message  # one clear error, not a stack
    after = stored_counts(deployment)
    # The batch may stay claimed (it is the plan a fixed re-run resumes); nothing else moves.
    after.pop("backup_sessions"), before.pop("backup_sessions")
    assert after == before


def test_claimed_session_that_vanishes_from_landing_is_not_stored_as_empty(deployment):
    land(deployment, "vn-2", "VN", "2024-01-02", {"items": ITEMS + [ITEMS[0]]})
    assert deployment.backup().exit_code == 1  # duplicate key: refused, but claimed
    with deployment.landing() as landing:
        landing.execute("delete from items where session_id = 'vn-2'")
        landing.execute("delete from sessions where session_id = 'vn-2'")
    assert_refused(deployment, "no longer a succeeded session in landing", "vn-2")


def test_duplicate_key_names_table_session_and_key(deployment):
    land(
        deployment,
        "vn-2",
        "VN",
        "2024-01-02",
        {"items": ITEMS + [ITEMS[0]], "pairs": [("n", "A", 1)]},
    )
    assert_refused(deployment, "items", "duplicate key", "item_id=1", "vn-2")


def test_null_key_in_a_composite_key(deployment):
    land(deployment, "vn-2", "VN", "2024-01-02", {"items": ITEMS, "pairs": [("n", None, 1)]})
    assert_refused(deployment, "pairs", "NULL key", "code=None", "vn-2")


def test_late_session_is_refused(deployment):
    land(deployment, "vn-0", "VN", "2023-12-31", {"items": ITEMS})
    assert_refused(deployment, "late session", "vn-0")


def test_changed_content_of_a_backed_up_session_is_refused(deployment):
    with deployment.landing() as landing:
        landing.execute(
            "update items set name = 'changed' where session_id = 'vn-1' and item_id = 2"
        )
    land(deployment, "vn-2", "VN", "2024-01-02", {"items": ITEMS})
    assert_refused(deployment, "items", "vn-1", "changed for already backed-up")
    with deployment.landing() as landing:
        landing.execute("update items set name = 'b' where session_id = 'vn-1' and item_id = 2")
    assert deployment.backup().exit_code == 0
    assert_restores_exactly(deployment, TABLES)


def test_changed_scope_of_a_backed_up_session_is_refused(deployment):
    with deployment.landing() as landing:
        landing.execute("update sessions set scope = 'DE' where session_id = 'vn-1'")
    assert_refused(deployment, "different scope or started_at", "vn-1")


def test_duplicate_session_id_in_landing(deployment):
    with deployment.landing() as landing:
        landing.execute("insert into sessions values ('vn-1', 'VN', '2024-01-05', 'succeeded')")
    assert_refused(deployment, "more than once", "vn-1")


def test_declared_table_missing_from_landing(deployment):
    with deployment.landing() as landing:
        landing.execute("drop table events")
    land(deployment, "vn-2", "VN", "2024-01-02", {"items": ITEMS})
    assert_refused(deployment, "events", "does not exist")


def test_restore_unknown_session_or_table(deployment):
    unknown = deployment.cli(["restore", "--session", "nope", "--into", "restored"])
    assert unknown.exit_code == 2 and "'nope' is not in the backup" in unknown.output
    undeclared = deployment.cli(
        ["restore", "--session", "vn-1", "--table", "customers", "--into", "restored"]
    )
    assert undeclared.exit_code == 2 and "'customers' is not declared" in undeclared.output
    bad_schema = deployment.cli(["restore", "--session", "vn-1", "--into", 'x"; drop table y; --'])
    assert bad_schema.exit_code == 2 and "not a valid name" in bad_schema.output
    with (
        deployment.backup_connection() as connection,
        pytest.raises(Exception, match="no backup of table items for session nope"),
    ):
        connection.execute("select * from backup.backup.restore_items('nope')").fetchall()


def test_restore_and_verify_cli(deployment):
    result = deployment.cli(["--json", "restore", "--session", "vn-1", "--into", "restored"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tables"] == {"events": 1, "items": 2, "pairs": 1}
    verify = deployment.cli(["--json", "verify", "--session", "vn-1"])
    assert verify.exit_code == 0 and json.loads(verify.output)["ok"] is True
    status = deployment.cli(["--json", "status"])
    assert [row["state"] for row in json.loads(status.output)] == ["backed_up"]


def test_verify_detects_a_tampered_backup(deployment):
    import duckdb

    with duckdb.connect(str(deployment.backup_db)) as connection:
        connection.execute(
            "update backup.backup.head_items set name = 'tampered' where item_id = 1"
        )
    verify = deployment.cli(["verify", "--all"])
    assert verify.exit_code == 1
    assert "MISMATCH vn-1 items" in verify.output


def test_session_ids_are_data_not_sql(deployment):
    weird = "vn-2'; drop table backup.head_items; --"
    land(deployment, weird, "VN", "2024-01-02", {"items": ITEMS})
    assert deployment.backup().exit_code == 0
    assert_restores_exactly(deployment, TABLES)
    assert deployment.cli(["verify", "--session", weird]).exit_code == 0


def test_second_backup_while_one_runs_stops_clearly(deployment):
    land(deployment, "vn-2", "VN", "2024-01-02", {"items": ITEMS})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
                "f.write('pid test'); f.flush(); print('locked', flush=True); time.sleep(30)"
            ),
            str(deployment.backup_db.with_suffix(".lock")),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = stored_counts(deployment)
        result = deployment.backup()
        assert result.exit_code == 2
        assert "Another backup is running" in result.output
        assert stored_counts(deployment) == before
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert deployment.backup().exit_code == 0
    assert_restores_exactly(deployment, TABLES)


def test_invariant_tests_catch_a_tampered_history(deployment):
    import duckdb

    from session_backup.config import load_settings
    from session_backup.dbt_runner import run_dbt

    land(
        deployment,
        "vn-2",
        "VN",
        "2024-01-02",
        {"items": ITEMS[:1], "pairs": [("n", "A", 2)], "events": []},
    )
    assert deployment.backup("--check-invariants").exit_code == 0
    with deployment.environment():
        settings = load_settings(deployment.project)
        assert run_dbt(settings, ["test", "--select", "tag:backup_invariant"]).succeeded
        with duckdb.connect(str(deployment.backup_db)) as connection:
            connection.execute("delete from backup.backup.history_items where item_id = 2")
            connection.execute(
                "insert into backup.backup.head_pairs select * from backup.backup.head_pairs"
            )
        result = run_dbt(settings, ["test", "--select", "tag:backup_invariant"])
    assert not result.succeeded
    # The invariant tests hang off backup_commit, one per (test, table).
    failed = {error.split(":", 1)[0] for error in result.errors}
    assert "session_backup_history_matches_manifest_backup_commit_items" in failed, failed
    assert "session_backup_head_identity_is_unique_backup_commit_pairs" in failed, failed
