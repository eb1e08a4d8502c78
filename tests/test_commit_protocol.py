"""The commit protocol (docs/decisions/0003): one transaction per run, so nothing a later run
does (fails, is refused, is killed, runs alone) changes what a backed-up session restores to;
and column names are data on every path of the write."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.project import Deployment, DeploymentTemplate, assert_restores_exactly, multiset

# Names both engines accept and that break anything pasting them raw into SQL.
KEY = "Key Col"
HOSTILE = ["Mixed Case", "select", "a.b", 'quo"te', "it's", "Größe", "giá trị", "名前"]
DECLARATIONS = {"wide": {"key": [KEY]}, "bag": {}}
TABLES = list(DECLARATIONS)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_landing(deployment: Deployment) -> None:
    wide = ", ".join(f"{quoted(name)} varchar" for name in HOSTILE)
    with deployment.landing() as landing:
        landing.execute(
            "create table sessions (session_id varchar, scope varchar, started_at timestamp, status varchar)"
        )
        landing.execute(
            f'create table wide (session_id varchar, {quoted(KEY)} integer, {wide}, "Amount" double)'
        )
        landing.execute(
            f'create table bag (session_id varchar, {quoted("Mixed Case")} varchar, "NULL" double)'
        )


def land(
    deployment: Deployment, session_id: str, scope: str, started_at: str, version: int
) -> None:
    """Session content that drifts with `version`: a few keys change, one goes, one comes."""
    with deployment.landing() as landing:
        landing.execute(
            "insert into sessions values (?, ?, ?, 'succeeded')", [session_id, scope, started_at]
        )
        columns = [
            row[0]
            for row in landing.execute(
                "select column_name from information_schema.columns where table_name = 'wide' order by ordinal_position"
            ).fetchall()
        ]
        for key in range(version % 3, 12):
            values = [session_id, key]
            for index, name in enumerate(columns[2:]):
                if name == "Amount":
                    values.append(-0.0 if key == 2 else float(key))
                else:
                    values.append(
                        None
                        if (key + index) % 5 == 0
                        else f"{name}-{key}-{version if key == 4 else 0}"
                    )
            placeholders = ", ".join("?" for _ in values)
            landing.execute(f"insert into wide values ({placeholders})", values)
        bag_columns = len(
            [
                row
                for row in landing.execute(
                    "select 1 from information_schema.columns where table_name = 'bag'"
                ).fetchall()
            ]
        )
        for copy in range(1 + version % 2):
            row = [session_id, "dup", float("nan")] + [f"extra-{version}"] * (bag_columns - 3)
            landing.execute(f"insert into bag values ({', '.join('?' for _ in row)})", row)
        landing.execute(
            f"insert into bag values ({', '.join('?' for _ in range(bag_columns))})",
            [session_id, None, None] + [None] * (bag_columns - 3),
        )


def backed_up_in_two_scopes(root: Path) -> Deployment:
    deployment = Deployment(root, DECLARATIONS)
    create_landing(deployment)
    land(deployment, "vn-1", "VN", "2024-01-01", 1)
    land(deployment, "de 'one'", "DE", "2024-01-01", 1)
    assert deployment.backup().exit_code == 0
    return deployment


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return DeploymentTemplate(
        tmp_path_factory.getbasetemp(), "commit_protocol", backed_up_in_two_scopes
    )


@pytest.fixture()
def deployment(template):
    return template.fresh()


def restored_state(deployment: Deployment) -> dict[tuple[str, str], tuple]:
    """What every backed-up (session, table) restores to now, through the SQL functions."""
    state = {}
    with deployment.backup_connection() as connection:
        for session_id, table in connection.execute(
            "select session_id, table_name from backup.backup.backup_manifest"
        ).fetchall():
            result = connection.execute(
                f"select * from backup.backup.restore_{table}(?)", [session_id]
            )
            columns = tuple(description[0] for description in result.description)
            state[(session_id, table)] = (columns, multiset(result.fetchall()))
    return state


def assert_unchanged(deployment: Deployment, before: dict) -> None:
    after = restored_state(deployment)
    for key, value in before.items():
        assert after.get(key) == value, f"{key} restores differently after a later run"


def test_hostile_column_names_work_on_every_run(deployment):
    land(deployment, "vn-2", "VN", "2024-01-02", 2)  # steady state: one session per scope
    assert deployment.backup().exit_code == 0
    for day in range(3, 6):  # catch-up: several sessions of a scope in one run
        land(deployment, f"vn-{day}", "VN", f"2024-01-0{day}", day)
    assert deployment.backup().exit_code == 0
    with deployment.landing() as landing:  # a column added mid-stream, with a hostile name
        landing.execute('alter table wide add column "New ""Col"" é" varchar')
        landing.execute('alter table bag add column "Later One" varchar')
    land(deployment, "vn-6", "VN", "2024-01-06", 6)
    land(deployment, "de 'two'", "DE", "2024-01-02", 2)
    result = deployment.backup("--check-invariants")
    assert result.exit_code == 0, result.output
    assert assert_restores_exactly(deployment, TABLES) == 2 * 8
    assert deployment.cli(["verify", "--all"]).exit_code == 0


def test_cli_restore_returns_the_columns_the_session_landed_with(deployment):
    with deployment.landing() as landing:
        landing.execute('alter table wide add column "Later" varchar')
    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    assert deployment.backup().exit_code == 0
    for session_id, has_later in (("vn-1", False), ("vn-2", True)):
        schema = "restored_" + session_id.replace("-", "_")
        result = deployment.cli(["restore", "--session", session_id, "--into", schema])
        assert result.exit_code == 0, result.output
        import duckdb

        with duckdb.connect(str(deployment.backup_db), read_only=True) as connection:
            columns = [
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = 'wide' order by ordinal_position",
                    [schema],
                ).fetchall()
            ]
        assert columns[:2] == ["session_id", KEY] and ("Later" in columns) == has_later, columns
        assert HOSTILE == [name for name in columns if name in HOSTILE]


@pytest.mark.parametrize(
    "change, named",
    [
        ('alter table wide drop column "Größe"', "Größe"),
        ('alter table wide alter column "Amount" type varchar', "Amount"),
    ],
)
def test_dropped_or_retyped_column_is_refused_by_name_and_changes_no_restore(
    deployment, change, named
):
    before = restored_state(deployment)
    with deployment.landing() as landing:
        landing.execute(change)
    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    result = deployment.backup()
    assert result.exit_code == 1, result.output
    assert (
        named in result.output
        and "wide" in result.output
        and "Nothing was written" in result.output
    )
    assert_unchanged(deployment, before)
    assert deployment.cli(["verify", "--all"]).exit_code == 0


def fault_run(
    deployment: Deployment, fault: str | None, trace: str | None = None, **env_overrides: str
) -> subprocess.CompletedProcess:
    """`session-backup backup` in its own process, with a fault injected (a kill ends it)."""
    env = {**os.environ, **deployment.env, **env_overrides}
    if fault:
        env["SESSION_BACKUP_FAULT"] = fault
    if trace:
        env["SESSION_BACKUP_FAULT_TRACE"] = trace
    return subprocess.run(
        [sys.executable, "-c", "from session_backup.cli import run; run()", "backup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def commit_statements(deployment: Deployment, tmp_path) -> list[int]:
    """The statement numbers the commit node runs: a traced run on a copy of the backup (the
    same state runs the same statements), so the deployment itself stays uncommitted."""
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(deployment.backup_db, copy / "backup.duckdb")
    trace = tmp_path / "trace.tsv"
    result = fault_run(deployment, None, str(trace), SESSION_BACKUP_DB=str(copy / "backup.duckdb"))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split("\t") for line in trace.read_text().splitlines()]
    return [int(row[0]) for row in rows if row[1] == "backup_commit"]


def test_a_run_killed_inside_the_commit_changes_nothing(deployment, tmp_path):
    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    land(deployment, "vn-3", "VN", "2024-01-03", 3)
    before = restored_state(deployment)
    statements = commit_statements(deployment, tmp_path)
    assert restored_state(deployment) == before
    # Between every pair of the commit's statements would be ~30 runs; the first, a middle one
    # and the last two (the manifest rows, the COMMIT itself) are where a half-commit would show.
    picks = sorted(
        {statements[0], statements[len(statements) // 2], statements[-2], statements[-1]}
    )
    for statement in picks:
        result = fault_run(deployment, f"kill:before-statement:{statement}")
        assert result.returncode == -9, result.stdout + result.stderr
        assert restored_state(deployment) == before, f"killed at statement {statement}"
    assert deployment.backup("--check-invariants").exit_code == 0
    assert_unchanged(deployment, before)
    assert assert_restores_exactly(deployment, TABLES) == 2 * 4


@pytest.mark.parametrize(
    "fault", ["raise:after-node:backup_history_wide", "raise:before-node:backup_commit"]
)
def test_a_failed_run_changes_nothing_and_the_rerun_completes(deployment, fault):
    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    before = restored_state(deployment)
    result = fault_run(deployment, fault)
    assert result.returncode == 2, result.stdout + result.stderr
    assert restored_state(deployment) == before
    assert deployment.backup("--check-invariants").exit_code == 0
    assert_unchanged(deployment, before)
    assert assert_restores_exactly(deployment, TABLES) == 2 * 3


def test_first_run_killed_between_tables_loses_no_session(tmp_path):
    deployment = Deployment(tmp_path, DECLARATIONS)
    create_landing(deployment)
    land(deployment, "vn-1", "VN", "2024-01-01", 1)
    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    result = fault_run(deployment, "kill:after-node:backup_head_wide")
    assert result.returncode != 0
    land(deployment, "vn-3", "VN", "2024-01-03", 3)
    assert deployment.backup("--check-invariants").exit_code == 0
    with deployment.backup_connection() as connection:
        stored = connection.execute(
            "select table_name, count(*) from backup.backup.backup_manifest group by all order by 1"
        ).fetchall()
    assert stored == [("bag", 3), ("wide", 3)]
    assert assert_restores_exactly(deployment, TABLES) == 3 * 2


def test_the_commit_node_alone_does_not_commit_an_earlier_runs_work(deployment):
    from session_backup.config import load_settings
    from session_backup.dbt_runner import run_dbt

    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    before = restored_state(deployment)
    with deployment.environment():
        settings = load_settings(deployment.project)
        # Working tables from a run that stops before the commit, then the commit node alone.
        built = run_dbt(settings, ["build", "--exclude", "backup_commit+"])
        assert built.succeeded, built.errors
        result = run_dbt(settings, ["run", "--select", "backup_commit"])
    assert not result.succeeded
    assert "earlier dbt invocation" in " ".join(result.errors)
    assert_unchanged(deployment, before)
    with deployment.backup_connection() as connection:
        assert (
            connection.execute(
                "select count(*) from backup.backup.backup_manifest where session_id = 'vn-2'"
            ).fetchone()[0]
            == 0
        )
    assert deployment.backup().exit_code == 0
    assert assert_restores_exactly(deployment, TABLES) == 3 * 2


def test_a_commit_racing_another_rolls_back_whole(deployment):
    """Another run commits the same sessions between this run's change detection and its
    commit (simulated: the manifest row of one table is written through dbt's own connection
    when the commit node starts). The guard inside the transaction fails this run, and the
    tables it had already written in the same transaction roll back with it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    from session_backup.dbt_runner import release_duckdb

    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    before = restored_state(deployment)

    def commit_elsewhere(event) -> None:
        node = getattr(getattr(event.data, "node_info", None), "node_name", "")
        if event.info.name == "NodeStart" and node == "backup_commit":
            cursor = DuckDBConnectionManager._ENV.handle().cursor()  # its own transaction
            cursor.execute(
                "insert into backup.backup.backup_manifest (session_id, table_name) values ('vn-2', 'wide')"
            )

    with deployment.environment():
        try:
            result = dbtRunner(callbacks=[commit_elsewhere]).invoke(
                [
                    "build",
                    "--exclude",
                    "tag:backup_invariant",
                    "--project-dir",
                    str(deployment.project),
                ]
            )
        finally:
            release_duckdb()
    assert not result.success
    with deployment.backup_connection() as connection:
        # 'bag' was written before 'wide' in the same transaction: rolled back with it.
        assert (
            connection.execute(
                "select count(*) from backup.backup.backup_manifest where session_id = 'vn-2' and table_name = 'bag'"
            ).fetchone()[0]
            == 0
        )
    log = (deployment.root / "logs" / "dbt.log").read_text()
    assert "already committed by another run" in log and "vn-2" in log
    assert_unchanged(deployment, before)


def test_full_refresh_rebuilds_nothing_of_the_backup(deployment):
    """Every table that is the backup refuses --full-refresh through its own model config or
    materialization (not a folder config of this project): `dbt build --full-refresh` keeps
    every backed-up session exactly as it was, and still backs up the new one."""
    from session_backup.config import load_settings
    from session_backup.dbt_runner import run_dbt

    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    assert deployment.backup().exit_code == 0
    before = restored_state(deployment)
    land(deployment, "vn-3", "VN", "2024-01-03", 3)
    with deployment.environment():
        result = run_dbt(load_settings(deployment.project), ["build", "--full-refresh"])
    assert result.succeeded, result.errors
    assert_unchanged(deployment, before)
    assert assert_restores_exactly(deployment, TABLES) == 4 * 2


def test_a_backup_table_dropped_outside_the_backup_stops_the_run(deployment):
    """Head or History gone while the manifest holds sessions of it: creating it empty would make
    those sessions restore without its rows, so the run stops and names it."""
    import duckdb

    with duckdb.connect(str(deployment.backup_db)) as connection:
        connection.execute("alter table backup.backup.history_wide rename to history_wide_moved")
    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    result = deployment.backup()
    assert result.exit_code != 0, result.output
    assert "history_wide is missing" in result.output and "dropped or renamed" in result.output
    with deployment.backup_connection() as connection:
        assert (
            connection.execute(
                "select count(*) from information_schema.tables where table_name = 'history_wide'"
            ).fetchone()[0]
            == 0
        )


def test_restore_functions_are_rendered_again_exactly_when_their_inputs_change(deployment):
    """The on-run-end hook keeps the functions when the digest of what they are rendered from
    is the one stored with them (a steady run), and renders them again on any change: a
    function dropped outside the backup, a column added to landing."""
    import duckdb

    def functions() -> tuple[dict[str, str], list[tuple]]:
        with deployment.backup_connection() as connection:
            definitions = dict(
                connection.execute(
                    "select function_name, macro_definition from duckdb_functions() "
                    "where database_name = 'backup' and schema_name = 'backup' "
                    "and function_type = 'table_macro'"
                ).fetchall()
            )
            state = connection.execute(
                "select fingerprint, created_at from backup.backup.backup_functions_state"
            ).fetchall()
        return definitions, state

    land(deployment, "vn-2", "VN", "2024-01-02", 2)
    assert deployment.backup().exit_code == 0
    definitions, state = functions()
    assert "restore_wide" in definitions and len(state) == 1
    land(deployment, "vn-3", "VN", "2024-01-03", 3)
    assert deployment.backup().exit_code == 0
    assert functions() == (definitions, state)  # not rendered again: same digest, same time

    with duckdb.connect(str(deployment.backup_db)) as connection:
        connection.execute("drop macro table backup.backup.restore_wide")
    assert deployment.backup().exit_code == 0
    again, again_state = functions()
    assert again == definitions and again_state[0][1] > state[0][1]

    with deployment.landing() as landing:
        landing.execute('alter table wide add column "Later ""One""" varchar')
    land(deployment, "vn-4", "VN", "2024-01-04", 4)
    assert deployment.backup().exit_code == 0
    widened, _ = functions()
    assert (
        quoted('Later "One"') in widened["restore_wide"]
        and quoted('Later "One"') not in definitions["restore_wide"]
    )
    assert assert_restores_exactly(deployment, TABLES) == 2 * 5
