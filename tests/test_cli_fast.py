"""The CLI without dbt: a small backup database laid out by hand (real DuckDB files, real
processes), driven through CliRunner. Milliseconds per test instead of a dbt build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from support.manifest import write_manifest

from session_backup.backup import _held_file, check_writable
from session_backup.cli import main
from session_backup.config import load_settings
from session_backup.errors import BackupError
from session_backup.run_log import BackupRun, record_run, utc_now
from session_backup.warehouse import DatabaseBusy, open_warehouse, wait_until_free

REPO = Path(__file__).resolve().parents[1]

# Session '' (an empty id is an id) was backed up before `events` was declared; vn-2 has both.
BACKUP_SQL = """
create schema backup;
create table backup.backup.backup_sessions (session_id varchar, scope varchar, started_at timestamp, session_seq integer);
create table backup.backup.backup_manifest (
    session_id varchar, table_name varchar, row_count bigint, checksum_low bigint, checksum_high bigint,
    hash_version varchar
);
create table backup.backup.stored_items (session_id varchar, item_id integer, name varchar);
create table backup.backup.stored_events (session_id varchar, kind varchar);
insert into backup.backup.backup_sessions values ('', 'VN', '2024-01-01', 1), ('vn-2', 'VN', '2024-01-02', 2);
insert into backup.backup.stored_items values ('', 1, 'a'), ('', 2, 'b'), ('vn-2', 1, 'a');
insert into backup.backup.stored_events values ('vn-2', 'click'), ('vn-2', 'click');
insert into backup.backup.backup_manifest values
    ('', 'items', 2, 0, 0, 'v2'), ('vn-2', 'items', 1, 0, 0, 'v2'), ('vn-2', 'events', 2, 0, 0, 'v2');
"""
# As dbt writes them: the bodies name the catalog (the file's stem when dbt wrote them).
FUNCTIONS = ["items", "events"]


def functions_sql(catalog: str) -> str:
    statements = []
    for table in FUNCTIONS:
        columns = "item_id, name" if table == "items" else "kind"
        statements.append(
            f"create macro backup.backup.restore_{table}(requested_session_id) as table "
            f"select {columns} from {catalog}.backup.stored_{table} where session_id = requested_session_id"
        )
        statements.append(
            f"create macro backup.backup.checksum_{table}(requested_session_id) as table "
            f"select count(*) as row_count, 0::bigint as low, 0::bigint as high "
            f"from {catalog}.backup.stored_{table} where session_id = requested_session_id"
        )
    return ";\n".join(statements)


@pytest.fixture()
def site(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    # What `dbt parse` would have written for a landing source with these two declarations.
    write_manifest(
        tmp_path / "target",
        {"sessions": None, "items": {"key": ["item_id"]}, "events": {}},
    )
    backup_db = tmp_path / "backup.duckdb"
    with duckdb.connect(str(backup_db)) as connection:
        connection.execute(BACKUP_SQL)
        connection.execute(functions_sql("backup"))
    for key, value in {
        "SESSION_BACKUP_PROJECT_DIR": str(project),
        "SESSION_BACKUP_DB": str(backup_db),
        "SESSION_BACKUP_LANDING_DB": str(tmp_path / "no-landing.duckdb"),
        "SESSION_BACKUP_COLD_ROOT": str(tmp_path / "cold"),
        "SESSION_BACKUP_TARGET": "duckdb",
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
    }.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def schemas(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {
            row[0]
            for row in connection.execute(
                "select schema_name from information_schema.schemata"
            ).fetchall()
        }


@pytest.mark.parametrize("order", ["after", "before"])
def test_json_and_quiet_after_the_command_name(site, order):
    args = (
        ["verify", "--all", "--json", "--quiet"]
        if order == "after"
        else ["--json", "-q", "verify", "--all"]
    )
    result = cli(*args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {"checked": 3, "sessions": 2, "failed": [], "ok": True}
    assert "verifying" not in result.output  # --quiet: no progress either


def test_every_command_takes_the_output_options():
    for name, command in main.commands.items():
        options = {option for parameter in command.params for option in parameter.opts}
        assert {"--json", "--quiet", "-q"} <= options, name


def test_an_empty_session_id_is_a_session_id(site):
    only_empty = cli("verify", "--session", "", "--json")
    assert only_empty.exit_code == 0, only_empty.output
    assert json.loads(only_empty.stdout)["checked"] == 1  # '' alone, not --all
    neither = cli("verify")
    assert neither.exit_code == 2 and "exactly one of --session ID or --all" in neither.output
    both = cli("verify", "--session", "", "--all")
    assert both.exit_code == 2


def test_a_partly_backed_up_session_is_refused_whole(site):
    result = cli("restore", "--session", "", "--into", "restored")
    assert result.exit_code == 1, result.output
    assert "only partly backed up: no backup of events" in result.output
    assert "declared after this session" in result.output and "'vn-2'" in result.output
    assert "--allow-partial" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "restored" not in schemas(site / "backup.duckdb")  # nothing created


def test_restoring_the_tables_that_exist_is_an_explicit_choice(site):
    result = cli("restore", "--session", "", "--into", "restored", "--allow-partial", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"] == {"items": 2}
    named = cli(
        "restore", "--session", "", "--into", "restored_named", "--table", "items", "--json"
    )
    assert named.exit_code == 0 and json.loads(named.stdout)["tables"] == {"items": 2}
    missing = cli("restore", "--session", "", "--into", "restored_events", "--table", "events")
    assert (
        missing.exit_code == 1
        and "has no backup of events (events: declared after" in missing.output
    )
    with duckdb.connect(str(site / "backup.duckdb"), read_only=True) as connection:
        assert sorted(connection.execute("select * from restored.items").fetchall()) == [
            (1, "a"),
            (2, "b"),
        ]
    assert "restored_events" not in schemas(site / "backup.duckdb")


def test_a_complete_session_restores_every_table(site):
    result = cli("restore", "--session", "vn-2", "--into", "restored", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"] == {"events": 2, "items": 1}


@pytest.mark.parametrize("into", ["backup", "BACKUP", "backup_staging", "Backup_Testing"])
def test_restore_never_writes_into_the_backup_schemas(site, into):
    before = schemas(site / "backup.duckdb")
    result = cli("restore", "--session", "vn-2", "--into", into)
    assert result.exit_code == 2, result.output
    assert "one of the backup's own schemas" in result.output and into in result.output
    assert schemas(site / "backup.duckdb") == before


def test_a_renamed_copy_of_the_backup_restores(site, monkeypatch):
    copy = site / "elsewhere" / "copy of backup.duckdb"
    copy.parent.mkdir()
    shutil.copy(site / "backup.duckdb", copy)
    monkeypatch.setenv("SESSION_BACKUP_DB", str(copy))
    # What breaks without the fix: the functions name the catalog the file had before.
    with duckdb.connect(str(copy), read_only=True) as plain, pytest.raises(duckdb.CatalogException):
        plain.execute("select * from backup.restore_items('vn-2')").fetchall()
    restored = cli("restore", "--session", "vn-2", "--into", "restored", "--json")
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["tables"] == {"events": 2, "items": 1}
    verify = cli("verify", "--all", "--json")
    assert verify.exit_code == 0 and json.loads(verify.stdout)["ok"] is True, verify.output
    with duckdb.connect(str(copy), read_only=True) as connection:  # the restore went into the copy
        assert connection.execute("select count(*) from restored.items").fetchone()[0] == 1


def test_status_names_missing_tables_and_the_last_failing_run(site):
    with duckdb.connect(str(site / "backup.duckdb")) as connection:
        connection.execute(
            "insert into backup.backup.backup_sessions values ('vn-3', 'VN', '2024-01-03', 3)"
        )
    settings = load_settings()
    with open_warehouse(settings, read_only=False) as warehouse:
        record_run(
            warehouse,
            BackupRun(utc_now(), utc_now(), "failed", "head_items: Catalog Error: boom", ["items"]),
        )
    result = cli("status", "--json")
    assert result.exit_code == 0, result.output
    states = {state["session_id"]: state for state in json.loads(result.stdout)}
    assert states[""]["state"] == "partial"
    assert list(states[""]["missing_tables"]) == ["events"]
    assert "declared after this session" in states[""]["missing_tables"]["events"]
    assert states["vn-2"]["state"] == "backed_up" and "missing_tables" not in states["vn-2"]
    assert states["vn-3"]["state"] == "pending"
    assert set(states["vn-3"]["missing_tables"]) == {"items", "events"}
    assert "failed: head_items: Catalog Error: boom" in states["vn-3"]["missing_tables"]["items"]
    human = cli("status")
    assert "    no backup of events: declared after this session" in human.output
    assert "failed: head_items: Catalog Error: boom" in human.output.splitlines()[-1]
    with open_warehouse(settings, read_only=False) as warehouse:
        record_run(warehouse, BackupRun(utc_now(), utc_now(), "succeeded"))
    assert "boom" not in cli("status").output


def hold(path: Path, seconds: float, read_only: bool = True) -> subprocess.Popen:
    """Another process with the DuckDB file open, until it exits."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[3] == 'ro'); "
                "print('open', flush=True); time.sleep(float(sys.argv[2]))"
            ),
            str(path),
            str(seconds),
            "ro" if read_only else "rw",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "open"
    return holder


def test_a_held_database_names_the_process_that_holds_it(site):
    holder = hold(site / "backup.duckdb", 30)
    try:
        result = cli("restore", "--session", "vn-2", "--into", "restored")
        assert result.exit_code == 2
        assert f"is held by PID {holder.pid} (" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
        with pytest.raises(DatabaseBusy, match=f"PID {holder.pid}"):
            wait_until_free(site / "backup.duckdb", wait=False)
        # The same error met by dbt itself (a reader that came after the check) reads the same.
        with pytest.raises(duckdb.IOException) as raised:
            duckdb.connect(str(site / "backup.duckdb"))
        busy = _held_file([f"backup_sessions: {raised.value}"])
        assert busy is not None and busy.holder.startswith(f"PID {holder.pid} (")
        assert busy.path == site / "backup.duckdb"
    finally:
        holder.kill()
        holder.wait()


def test_wait_polls_until_the_holder_is_gone(site):
    holder = hold(site / "backup.duckdb", 1.5)
    messages = []
    started = time.monotonic()
    try:
        wait_until_free(
            site / "backup.duckdb", wait=True, on_wait=messages.append, poll_seconds=0.1
        )
    finally:
        holder.wait()
    assert time.monotonic() - started >= 0.5
    program = messages[0].split("(", 1)[1].split(")")[0]
    assert messages == [
        f"waiting for PID {holder.pid} ({program}) to release {site / 'backup.duckdb'} ..."
    ]


def test_a_full_disk_under_the_log_is_one_line_naming_the_file(site):
    logs = site / "logs"
    logs.mkdir()
    (logs / "dbt.log").symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    with pytest.raises(BackupError, match=r"Cannot write .*dbt\.log: No space left on device"):
        check_writable(load_settings())


def test_a_log_folder_that_cannot_be_made_is_one_line(site):
    (site / "logs").write_text("a file where the log folder should be")
    with pytest.raises(BackupError, match=r"Cannot write .*logs.*Nothing was done"):
        check_writable(load_settings())


def _chmod_stops_writes(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("x")
    except PermissionError:
        return True
    (folder / ".probe").unlink()
    return False


@pytest.mark.parametrize("which", ["backup", "logs"])
def test_a_read_only_folder_is_one_line_naming_it(site, which):
    folder = site / which
    folder.mkdir(exist_ok=True)
    if which == "backup":
        os.environ["SESSION_BACKUP_DB"] = str(folder / "backup.duckdb")
        shutil.copy(site / "backup.duckdb", folder / "backup.duckdb")
    folder.chmod(0o555)
    try:
        if not _chmod_stops_writes(folder):
            pytest.skip("running as a user that chmod does not stop (root)")
        with pytest.raises(BackupError, match=f"Cannot write {folder}.*Permission denied"):
            check_writable(load_settings())
    finally:
        folder.chmod(0o755)


def test_the_package_itself_is_not_a_project_to_back_up():
    """Pointed at the repository root (the package), the command says where to point it."""
    result = CliRunner().invoke(main, ["--project-dir", str(REPO), "generate", "--check"])
    assert result.exit_code == 2, result.output
    assert "is the session_backup package itself" in result.output
    assert "integration_tests/" in result.output


def test_command_modules_import_only_the_shared_context():
    """No import cycle can form in the CLI: at module level, a command module of
    session_backup.cli imports no other module of the package but `context`; only
    cli/__init__.py, which puts the group together, imports them all (decision 0006)."""
    import ast

    package = REPO / "src/session_backup/cli"
    modules = sorted(path for path in package.glob("*.py") if path.name != "__init__.py")
    assert {path.stem for path in modules} >= {"commands", "context", "tiering", "backtest"}
    for path in modules:
        tree = ast.parse(path.read_text())
        imported = {
            node.module
            for node in tree.body  # module level only: imports inside a command are allowed
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names
        }
        assert {name for name in imported if name.startswith("session_backup.cli")} <= {
            "session_backup.cli.context"
        }, (path.name, sorted(imported))
