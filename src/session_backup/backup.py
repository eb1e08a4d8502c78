"""Runs the backup: one `dbt build` over every pending session, guarded by a lock."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from session_backup.config import Settings
from session_backup.errors import BackupError, ProblemFound


@contextmanager
def backup_lock(settings: Settings, wait: bool) -> Iterator[None]:
    """One backup at a time per backup database. DuckDB's own file lock would also stop a
    second writer, but mid-run and with a cryptic error; this says what is going on up front.
    On BigQuery the lock is a row in the backup dataset (session_backup.bigquery_lock): runs on
    different machines see it too."""
    if settings.target == "bigquery":
        from session_backup.bigquery_lock import bigquery_backup_lock

        with bigquery_backup_lock(settings, wait):
            yield
        return
    lock_path = settings.backup_db.with_suffix(".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BackupError(
                f"Another backup is running ({holder}); nothing was done. "
                "Use --wait to queue behind it."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class BuildResult:
    succeeded: bool
    errors: list[str]
    seconds: float
    node_timings: dict[str, float]


def run_dbt(settings: Settings, args: list[str]) -> BuildResult:
    """dbt in-process: ~0.2 s per call after the first, against ~2 s for a new process."""
    from dbt.cli.main import dbtRunner

    from session_backup.faults import fault_callbacks  # test-only; inert unless its env var is set

    env_target = settings.target
    full_args = args + [
        "--project-dir", str(settings.project_dir),
        "--profiles-dir", str(settings.profiles_dir),
        "--target", env_target,
    ]
    started = time.perf_counter()
    cwd = os.getcwd()
    os.chdir(settings.project_dir)  # relative paths in profiles resolve against the project
    try:
        result = dbtRunner(callbacks=fault_callbacks()).invoke(full_args)
    finally:
        os.chdir(cwd)
        _release_duckdb()
    seconds = time.perf_counter() - started
    errors: list[str] = []
    timings: dict[str, float] = {}
    if result.exception is not None:
        errors.append(_clean_message("dbt", str(result.exception)))
    for node_result in getattr(result.result, "results", None) or []:
        name = getattr(getattr(node_result, "node", None), "name", "dbt")  # run-operation has no node
        timings[name] = float(getattr(node_result, "execution_time", 0.0) or 0.0)
        status = str(getattr(node_result, "status", "")).lower()
        if status in {"error", "fail", "runtime error"}:
            errors.append(_clean_message(name, node_result.message or ""))
    return BuildResult(
        succeeded=bool(result.success) and not errors,
        errors=errors,
        seconds=seconds,
        node_timings=timings,
    )


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the life of the process; close it so the CLI (or
    a test) can open the file again, read-only or not, in the same process."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def _clean_message(node: str, message: str) -> str:
    """The one line a user needs out of a dbt error: our raise messages, not the stack."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    meaningful = [
        line
        for line in lines
        if not line.startswith(">") and "Compilation Error" not in line and "Runtime Error" not in line
    ]
    return f"{node}: " + (meaningful[0] if meaningful else message.strip())


def run_backup(
    settings: Settings,
    wait: bool = False,
    full_refresh: bool = False,
    show_dbt: bool = False,
    check_invariants: bool = False,
) -> BuildResult:
    # dbt's own console log repeats our error inside its stack; logs/dbt.log keeps everything.
    args = ["build"] if show_dbt else ["--log-level", "none", "--log-level-file", "debug", "build"]
    if not check_invariants:
        # The invariant tests read all of History: their cost grows with the years kept, the
        # backup's must not. `dbt build`/`dbt test` still run them; so does --check-invariants.
        args += ["--exclude", "tag:backup_invariant"]
    if full_refresh:
        args.append("--full-refresh")
    with backup_lock(settings, wait):
        result = run_dbt(settings, args)
    if not result.succeeded:
        # Data the backup refuses is a problem found (1); anything else is the environment (2).
        refused = any(
            marker in error
            for error in result.errors
            for marker in ("Landing table", "Landing sessions table", "breaks its declared key", "late session")
        )
        detail = "; ".join(dict.fromkeys(result.errors)) or "dbt build failed (see logs/dbt.log)"
        if refused:
            raise ProblemFound(f"Backup refused: {detail}")
        raise BackupError(f"Backup failed: {detail}")
    return result


def project_is_generated(settings: Settings) -> None:
    from session_backup.generate import plan

    to_write, stale = plan(settings.project_dir)
    if to_write or stale:
        names = ", ".join(str(path) for path in list(to_write) + list(stale))
        raise BackupError(f"Generated models are out of date ({names}); run `session-backup generate`.")


def default_landing_exists(settings: Settings) -> bool:
    return settings.target != "duckdb" or Path(settings.landing_db).exists()
