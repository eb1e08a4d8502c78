"""Test helpers: a private copy of the dbt project with its own declarations and databases."""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import struct
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import yaml
from click.testing import CliRunner

from session_backup.config import environment_set

REPO = Path(__file__).resolve().parents[2]
INTEGRATION = REPO / "integration_tests"
# Installed once per test process with a real `dbt deps`; each project copies the result.
_INSTALLED: dict[str, Path] = {}


def _installed_package(scratch: Path) -> Path:
    """A consumer project skeleton with the package installed from the repository root
    (packages.yml `local:`, then `dbt deps`), made once per test process."""
    if "skeleton" in _INSTALLED:
        return _INSTALLED["skeleton"]
    from dbt.cli.main import dbtRunner

    skeleton = scratch / "skeleton"
    skeleton.mkdir(parents=True, exist_ok=True)
    (skeleton / "dbt_project.yml").write_text(CONSUMER_PROJECT)
    (skeleton / "packages.yml").write_text(
        yaml.safe_dump({"packages": [{"local": str(REPO)}]}, sort_keys=False)
    )
    shutil.copy(REPO / "profiles.example.yml", skeleton / "profiles.yml")
    result = dbtRunner().invoke(
        ["deps", "--project-dir", str(skeleton), "--profiles-dir", str(skeleton), "--quiet"]
    )
    assert result.success, f"dbt deps failed: {result.exception}"
    _INSTALLED["skeleton"] = skeleton
    return skeleton


# A project like an analytics engineer's: its own name and folders, the package installed.
CONSUMER_PROJECT = """name: consumer_project
version: "1.0.0"
config-version: 2
profile: session_backup
model-paths: ["models"]
snapshot-paths: ["snapshots"]
"""


def copy_project(destination: Path, declarations: dict[str, dict]) -> Path:
    """A consumer project that installs the package, with `declarations` as its landing source."""
    skeleton = _installed_package(_scratch())
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(skeleton, destination, symlinks=True, dirs_exist_ok=True)
    write_declarations(destination, declarations)
    return destination


def write_declarations(project: Path, declarations: dict[str, dict]) -> None:
    source = yaml.safe_load((INTEGRATION / "models/landing/_landing__sources.yml").read_text())[
        "sources"
    ][0]
    tables = [{"name": "sessions"}]
    for name, backup in declarations.items():
        tables.append({"name": name, "meta": {"backup": backup}})
    source["tables"] = tables
    path = project / "models/landing/_landing__sources.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"version": 2, "sources": [source]}, sort_keys=False))


# Generated projects per (target, declarations), made once per test process (generate_project).
_GENERATED: dict[str, Path] = {}


def generate_project(project: Path, env: dict[str, str], declarations: dict[str, dict]) -> None:
    """`session-backup generate` in `project` (a copy_project), run once per test process for
    the same target and declarations. The first project is generated and parsed by dbt; later
    ones get a copy of its files and of dbt's manifest with their timestamps, so that neither
    generate nor the next command parses the project again: the CLI still parses as soon as a
    test changes a file (it is then newer than the manifest)."""
    from session_backup.cli import main
    from session_backup.dbt_project import parsed_project

    target_dir = Path(env["DBT_TARGET_PATH"])
    key = json.dumps([env["SESSION_BACKUP_TARGET"], declarations], sort_keys=True)
    saved = _GENERATED.get(key)
    if saved is not None:
        shutil.rmtree(project)
        shutil.copytree(saved / "project", project, symlinks=True)
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(saved / "manifest.json", target_dir / "manifest.json")
        return
    with environment_set(env):
        generated = CliRunner().invoke(main, ["generate"], catch_exceptions=False)
        assert generated.exit_code == 0, generated.output
        parsed_project(project)  # the manifest now knows the generated models
    saved = _scratch() / "generated" / str(len(_GENERATED))
    shutil.rmtree(saved, ignore_errors=True)
    shutil.copytree(project, saved / "project", symlinks=True)
    shutil.copy2(target_dir / "manifest.json", saved / "manifest.json")
    _GENERATED[key] = saved


def _scratch() -> Path:
    return Path(tempfile.gettempdir()) / f"session-backup-{os.getpid()}"


class Deployment:
    """A project copy plus its landing, backup and cold locations, driven like a user would."""

    def __init__(self, root: Path, declarations: dict[str, dict], generate: bool = True) -> None:
        self.root = root
        self.project = copy_project(root / "project", declarations)
        self.landing_db = root / "landing.duckdb"
        self.backup_db = root / "backup.duckdb"
        self.env = {
            "SESSION_BACKUP_PROJECT_DIR": str(self.project),
            "SESSION_BACKUP_DB": str(self.backup_db),
            "SESSION_BACKUP_LANDING_DB": str(self.landing_db),
            "SESSION_BACKUP_COLD_ROOT": str(root / "cold"),
            "SESSION_BACKUP_TARGET": "duckdb",
            "DBT_PROFILES_DIR": str(self.project),
            "DBT_TARGET_PATH": str(root / "target"),
            "DBT_LOG_PATH": str(root / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        if generate:
            generate_project(self.project, self.env, declarations)

    @contextmanager
    def environment(self) -> Iterator[None]:
        with environment_set(self.env):
            yield

    def cli(self, args: list[str]):
        from session_backup.cli import main

        with self.environment():
            return CliRunner().invoke(main, args, catch_exceptions=False)

    def backup(self, *extra: str):
        return self.cli(["backup", *extra])

    def landing(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.landing_db))

    def backup_connection(self) -> duckdb.DuckDBPyConnection:
        connection = duckdb.connect(str(self.backup_db), read_only=True)
        connection.execute(f"attach if not exists '{self.landing_db}' as landing (read_only)")
        return connection

    def sessions(self) -> list[str]:
        with self.backup_connection() as connection:
            return [
                row[0]
                for row in connection.execute(
                    "select session_id from backup.backup.backup_sessions order by scope, session_seq"
                ).fetchall()
            ]


class DeploymentTemplate:
    """A deployment built once per test process and copied whole for every test that asks.

    The copy always lives at the same path (a process runs its tests one at a time), so what
    the build left is valid as it stands: dbt's parsed project, the generated models and their
    timestamps, the backup's files. A test gets the built state without parsing or backing up
    again, and whatever it changes is gone when the next test takes its copy."""

    def __init__(self, base: Path, name: str, build: Callable[[Path], Deployment]) -> None:
        self.work = base / "deployments" / name
        self.saved = base / "deployment-templates" / name
        self.build = build
        self.built: Deployment | None = None

    def fresh(self) -> Deployment:
        shutil.rmtree(self.work, ignore_errors=True)
        if self.built is None:
            self.work.mkdir(parents=True)
            self.built = self.build(self.work)
            shutil.rmtree(self.saved, ignore_errors=True)
            shutil.copytree(self.work, self.saved, symlinks=True)
        else:
            shutil.copytree(self.saved, self.work, symlinks=True)
        deployment = copy.copy(self.built)
        deployment.env = dict(self.built.env)  # a test may set variables of its own
        return deployment


def canonical(value: Any) -> Any:
    """A comparable stand-in that keeps what '==' would blur: -0.0 vs 0.0, NaN, types."""
    if isinstance(value, float):
        if math.isnan(value):
            return ("float", "nan")
        return ("float", struct.pack(">d", value))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, canonical(item)) for key, item in value.items()))
    return (type(value).__name__, value)


def multiset(rows: list[tuple]) -> Counter:
    return Counter(tuple(canonical(value) for value in row) for row in rows)


def assert_restores_exactly(
    deployment: Deployment, tables: list[str], sessions: list[str] | None = None
) -> int:
    """Every table of every session equals landing as a multiset, value by value. Returns
    the number of (session, table) pairs compared."""
    compared = 0
    with deployment.backup_connection() as connection:
        for table in tables:
            landing = connection.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = 'landing' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            for session_id in sessions or deployment.sessions():
                assert_session_restores(connection, table, session_id, landing)
                compared += 1
    return compared


NESTED_TYPES = ("[]", "STRUCT", "MAP", "UNION", "[")


def assert_session_restores(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    session_id: str,
    landing: list[tuple[str, str]],
) -> None:
    """One (session, table): the restore's columns and types are landing's, and its rows are
    landing's as a multiset. Flat columns are compared inside DuckDB (EXCEPT ALL both ways on
    a text form that keeps -0.0 apart from 0.0 and every NaN as one value); a table with
    nested columns, or a difference, goes through Python's exact comparison (`multiset`)."""
    landing_columns = [name for name, _ in landing]
    restore = f"select * from backup.backup.restore_{table}($1)"
    expected_sql = f'select * from landing.main."{table}" where session_id = $1'
    restored = connection.execute(f"{restore} limit 0", [session_id])
    restored_columns = [description[0] for description in restored.description]
    restored_types = [str(description[1]) for description in restored.description]
    expected = connection.execute(f"{expected_sql} limit 0", [session_id])
    expected_types = [str(description[1]) for description in expected.description]
    assert restored_columns == landing_columns, (table, restored_columns, landing_columns)
    assert restored_types == expected_types, (table, restored_types, expected_types)
    if not any(marker in data_type for _, data_type in landing for marker in NESTED_TYPES):
        text = ", ".join(_text_form(name, data_type) for name, data_type in landing)
        differing = connection.execute(
            f"""
            with restored as (select {text} from ({restore}) as restored),
            expected as (select {text} from ({expected_sql}) as expected)
            select
                (select count(*) from (select * from restored except all select * from expected)),
                (select count(*) from (select * from expected except all select * from restored))
            """,
            [session_id],
        ).fetchone()
        if differing == (0, 0):
            return
    restored_rows = connection.execute(restore, [session_id]).fetchall()
    expected_rows = connection.execute(expected_sql, [session_id]).fetchall()
    assert multiset(restored_rows) == multiset(expected_rows), (
        f"{table} of {session_id}: restored {len(restored_rows)} rows, landed {len(expected_rows)}; "
        f"missing {list((multiset(expected_rows) - multiset(restored_rows)).items())[:3]}, "
        f"extra {list((multiset(restored_rows) - multiset(expected_rows)).items())[:3]}"
    )


def _text_form(name: str, data_type: str) -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    if data_type in ("DOUBLE", "FLOAT", "REAL"):
        # The text of a float is exact (shortest round trip) and signs its zero; NaN is one
        # value whatever its sign bit (decision 0004).
        return f"case when isnan({quoted}) then 'nan' else cast({quoted} as varchar) end"
    return f"cast({quoted} as varchar)"
