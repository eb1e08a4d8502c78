"""Helpers shared by scripts/bench.py and tests/test_strategies.py: a private copy of the dbt
project whose landing declarations use another backup strategy, and dbt driven in-process.

The repo's own declarations stay `history`; other strategies are declared on the same landing
tables only inside such a copy (its own backup database, its own target/ and logs/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
INTEGRATION = REPO / "integration_tests"
SOURCES = Path("models/landing/_landing__sources.yml")


def make_project(
    destination: Path,
    strategy: str,
    checkpoint_every: int | None = None,
    tables: dict[str, dict] | None = None,
    duckdb_settings: dict[str, str] | None = None,
) -> Path:
    """A project at `destination` that installs the package (packages.yml `local:` the
    repository, then `dbt deps`), declaring every landing table with `strategy`. `tables`
    replaces the declared tables (name -> backup block without strategy); by default the demo's
    declarations are kept, strategy rewritten."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(INTEGRATION / "dbt_project.yml", destination / "dbt_project.yml")
    (destination / "packages.yml").write_text(
        yaml.safe_dump({"packages": [{"local": str(REPO)}]}, sort_keys=False)
    )
    profiles = yaml.safe_load((REPO / "profiles.example.yml").read_text())
    if duckdb_settings:
        # e.g. {"memory_limit": "1GB"}: DuckDB otherwise takes up to 80 % of the machine's RAM.
        profiles["session_backup"]["outputs"]["duckdb"]["settings"] = dict(duckdb_settings)
    (destination / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    (destination / "snapshots").mkdir(exist_ok=True)
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "deps", "--quiet"],
        cwd=destination,
        env={**os.environ, "DBT_PROFILES_DIR": str(destination)},
        check=True,
    )
    document = yaml.safe_load((INTEGRATION / SOURCES).read_text())
    landing = next(source for source in document["sources"] if source["name"] == "landing")
    declared = []
    for table in landing["tables"]:
        backup = (table.get("meta") or {}).get("backup")
        if backup is None:
            declared.append(table)  # the sessions registry
            continue
        if tables is not None:
            continue
        declared.append(_with_strategy(table, dict(backup), strategy, checkpoint_every))
    for name, backup in (tables or {}).items():
        declared.append(_with_strategy({"name": name}, dict(backup), strategy, checkpoint_every))
    landing["tables"] = declared
    (destination / SOURCES).parent.mkdir(parents=True, exist_ok=True)
    (destination / SOURCES).write_text(yaml.safe_dump(document, sort_keys=False))
    generate(destination)
    return destination


def _with_strategy(table: dict, backup: dict, strategy: str, checkpoint_every: int | None) -> dict:
    backup["strategy"] = strategy
    if checkpoint_every is not None and strategy in ("incremental", "differential"):
        backup["checkpoint_every"] = checkpoint_every
    table = dict(table)
    table["meta"] = {**(table.get("meta") or {}), "backup": backup}
    return table


def generate(project: Path) -> None:
    """`session-backup generate` for the copy (in-process)."""
    sys.path.insert(0, str(REPO / "src"))
    from session_backup.generate import apply

    apply(project)


@dataclass
class Deployment:
    """One project copy with its backup database, reading one landing database."""

    project: Path
    backup_db: Path
    landing_db: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {
            "SESSION_BACKUP_PROJECT_DIR": str(self.project),
            "SESSION_BACKUP_DB": str(self.backup_db),
            "SESSION_BACKUP_LANDING_DB": str(self.landing_db),
            "SESSION_BACKUP_TARGET": "duckdb",
            "DBT_PROFILES_DIR": str(self.project),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_PARTIAL_PARSE": "true",
        }

    @contextmanager
    def environment(self) -> Iterator[None]:
        saved = {key: os.environ.get(key) for key in self.env}
        saved_cwd = os.getcwd()
        os.environ.update(self.env)
        os.chdir(self.project)
        try:
            yield
        finally:
            os.chdir(saved_cwd)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def dbt(self, *args: str) -> DbtRun:
        """dbt in this process (dbtRunner): ~0.2 s per call after the first."""
        from dbt.cli.main import dbtRunner

        with self.environment():
            started = time.perf_counter()
            result = dbtRunner().invoke(
                [*args, "--project-dir", str(self.project), "--profiles-dir", str(self.project)]
            )
            seconds = time.perf_counter() - started
            release_duckdb()
        nodes: dict[str, float] = {}
        errors: list[str] = []
        for node_result in getattr(result.result, "results", None) or []:
            name = getattr(node_result.node, "name", "?")
            nodes[name] = float(getattr(node_result, "execution_time", 0.0) or 0.0)
            if str(getattr(node_result, "status", "")).lower() in {
                "error",
                "fail",
                "runtime error",
            }:
                errors.append(f"{name}: {node_result.message}")
        if result.exception is not None:
            errors.append(str(result.exception))
        return DbtRun(
            ok=bool(result.success) and not errors, seconds=seconds, nodes=nodes, errors=errors
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """The `session-backup` command in a subprocess, as a user runs it."""
        command = [sys.executable, "-c", "from session_backup.cli import run; run()", *args]
        environment = {**os.environ, **self.env}
        environment["PYTHONPATH"] = (
            str(REPO / "src") + os.pathsep + environment.get("PYTHONPATH", "")
        )
        return subprocess.run(
            command, cwd=self.project, env=environment, capture_output=True, text=True, check=False
        )


def release_duckdb() -> None:
    """dbt-duckdb keeps its database open in the process after a run; close it so the CLI, a
    restore timing or the next project can open the file."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            try:
                DuckDBConnectionManager._ENV.close()
            finally:
                DuckDBConnectionManager._ENV = None


@dataclass
class DbtRun:
    ok: bool
    seconds: float
    nodes: dict[str, float]
    errors: list[str]

    def check(self) -> DbtRun:
        if not self.ok:
            raise RuntimeError("dbt failed: " + "; ".join(self.errors))
        return self
