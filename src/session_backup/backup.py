"""Runs the backup: one `dbt build` over every pending session, guarded by a lock."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from session_backup.config import Settings
from session_backup.dbt_runner import BuildResult, run_dbt
from session_backup.errors import REFUSAL_MARKER, BackupError, ProblemFound
from session_backup.run_log import RUNS_TABLE, BackupRun, record_run, utc_now
from session_backup.warehouse import DatabaseBusy, lock_holder, wait_until_free


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


def run_backup(
    settings: Settings,
    wait: bool = False,
    full_refresh: bool = False,
    show_dbt: bool = False,
    check_invariants: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> BuildResult:
    """One `dbt build` over every pending session, then one row in the run log (backup_runs).

    Before dbt starts, everything it must write is checked (the backup database's folder, dbt's
    log and target folders) and the DuckDB files must be free: a reader holding the backup
    file is waited for with `wait`, otherwise named. Each of these is one line naming the file."""
    on_wait = on_wait or (lambda message: print(message, file=sys.stderr, flush=True))
    # dbt's own console log repeats our error inside its stack; logs/dbt.log keeps everything.
    args = ["build"] if show_dbt else ["--log-level", "none", "--log-level-file", "debug", "build"]
    # manifest.json and run_results.json (every node's SQL) cost seconds to write per run and
    # nothing reads them; --show-dbt keeps them for debugging, and --check-invariants as the
    # record of which invariant tests ran and passed.
    if not show_dbt and not check_invariants:
        args.insert(0, "--no-write-json")
    # The backup builds the backup, nothing else of the project it is installed in: the
    # package's models and the generated ones carry the tag; unit tests never run here.
    args += ["--select", "tag:session_backup", "--exclude-resource-type", "unit_test"]
    if not check_invariants:
        # The invariant tests read all of History: their cost grows with the years kept, the
        # backup's must not. `dbt build`/`dbt test` still run them; so does --check-invariants.
        args += ["--exclude", "tag:backup_invariant"]
    if full_refresh:
        args.append("--full-refresh")
    check_writable(settings)
    with backup_lock(settings, wait):
        if settings.target == "duckdb":
            wait_until_free(settings.backup_db, wait, on_wait)
            wait_until_free(settings.landing_db, wait, on_wait, read_only=True)
        started_at = utc_now()
        with _logging_errors_silenced():
            result = run_dbt(settings, args)
        if result.succeeded:
            _record(settings, BackupRun(started_at, utc_now(), "succeeded"))
            return result
        # Data the backup refuses is a problem found (1); anything else is the environment (2).
        refusals = [
            error[error.index(REFUSAL_MARKER) + len(REFUSAL_MARKER) :].strip()
            for error in result.errors
            if REFUSAL_MARKER in error
        ]
        errors = list(dict.fromkeys(refusals or result.errors)) or ["dbt build failed"]
        failed_tables = _tables_named(settings, result.errors)
        _record(
            settings,
            BackupRun(
                started_at,
                utc_now(),
                "refused" if refusals else "failed",
                _one_line(errors[0]),
                failed_tables,
            ),
        )
        busy = _held_file(result.errors)
        if busy is not None:  # opened by someone between the check above and dbt's own open
            raise busy
    detail = "; ".join(errors)
    if refusals:
        raise ProblemFound(
            f"Backup refused: {detail} Nothing was committed for any table; fix landing (or the "
            "declaration) and run `session-backup backup` again."
        )
    waiting = _pending_sessions(settings, failed_tables)
    raise BackupError(
        f"Backup failed{waiting}: {detail}. Nothing was committed for any table; fix the cause and run "
        f"`session-backup backup` again (full log: {settings.dbt_log_dir / 'dbt.log'})."
    )


def check_writable(settings: Settings) -> None:
    """Everything the run writes, probed with a real write before dbt starts: a full disk or a
    read-only folder is one line naming the file, not a wall of logging tracebacks mid-run."""
    folders = [settings.dbt_log_dir, settings.dbt_target_dir]
    files = [settings.dbt_log_dir / "dbt.log"]
    if settings.target == "duckdb":
        folders.insert(0, settings.backup_db.parent)  # the file, its write-ahead log, the lock
        if settings.backup_db.exists():
            files.append(settings.backup_db)
    path = None
    try:
        for path in folders:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".session-backup-probe-") as probe:
                probe.write(b"probe")
                probe.flush()
        for path in files:
            if path.suffix == ".log":
                with open(path, "a") as log:
                    log.write("\n")
            else:
                open(path, "r+b").close()
    except OSError as exc:
        raise BackupError(
            f"Cannot write {path}: {exc.strerror or exc}. Nothing was done; free disk "
            "space or fix its permissions (dbt's folders follow DBT_LOG_PATH and DBT_TARGET_PATH)."
        ) from exc


@contextmanager
def _logging_errors_silenced() -> Iterator[None]:
    """A log handler that cannot write (disk full) must not print a traceback per log line."""
    saved = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        yield
    finally:
        logging.raiseExceptions = saved


def _held_file(errors: list[str]) -> DatabaseBusy | None:
    for error in errors:
        holder = lock_holder(error)
        locked = re.search(r'Could not set lock on file "(?P<path>[^"]+)"', error)
        if holder and locked:
            return DatabaseBusy(Path(locked["path"]), holder)
    return None


def _one_line(message: str) -> str:
    return " ".join(message.split())[:2000]


def _tables_named(settings: Settings, errors: list[str]) -> list[str]:
    """Declared tables a failure is about: its node (`changes_orders: ...`), or else the
    tables its message names (`... "backup"."head_orders" ...`, `table 'orders'`)."""
    from session_backup.declarations import load_declarations

    try:
        names = sorted(
            (table.name for table in load_declarations(settings.project_dir)), key=len, reverse=True
        )
    except Exception:  # noqa: BLE001 - naming the table is a courtesy; the error stands without it
        return []
    found = []
    for error in errors:
        node, _, message = error.partition(":")
        by_node = [
            name for name in names if node.strip() == name or node.strip().endswith("_" + name)
        ]
        if by_node:
            found.append(by_node[0])
            continue
        for name in names:
            quoted = re.escape(name)
            if re.search(rf"\b(?:head|history|changes|checksums)_{quoted}\b|'{quoted}'", message):
                found.append(name)
    return list(dict.fromkeys(found))


def _pending_sessions(settings: Settings, tables: list[str]) -> str:
    """' for table orders (session 'VN-2' not backed up)', or as much of it as can be told."""
    from session_backup.declarations import load_declarations
    from session_backup.status import session_states
    from session_backup.warehouse import open_warehouse

    try:
        with open_warehouse(settings) as warehouse:
            states = session_states(warehouse, load_declarations(settings.project_dir))
    except Exception:  # noqa: BLE001 - as above
        return f" for table {', '.join(tables)}" if tables else ""
    waiting = [
        state["session_id"]
        for state in states
        if any(
            table in state.get("missing_tables", {})
            for table in tables or state.get("missing_tables", {})
        )
    ]
    shown = ", ".join(repr(session_id) for session_id in waiting[:3])
    more = f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
    noun = "session" if len(waiting) == 1 else "sessions"
    sessions = f" ({noun} {shown}{more} not backed up)" if waiting else ""
    return (f" for table {', '.join(tables)}" if tables else "") + sessions


def _record(settings: Settings, run: BackupRun) -> None:
    """The run log is a courtesy to `status`: failing to write it never hides the run's outcome."""
    from session_backup.warehouse import open_warehouse

    if settings.target == "duckdb" and not settings.backup_db.exists():
        return
    try:
        with open_warehouse(settings, read_only=False) as warehouse:
            record_run(warehouse, run)
    except Exception as exc:  # noqa: BLE001 - reported in one line, the run's own result stands
        print(
            f"warning: the run was not recorded in {RUNS_TABLE}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
            flush=True,
        )


def project_is_generated(settings: Settings) -> None:
    from session_backup.generate import plan

    to_write, stale = plan(settings.project_dir)
    if to_write or stale:
        names = ", ".join(str(path) for path in list(to_write) + list(stale))
        raise BackupError(
            f"Generated models are out of date ({names}); run `session-backup generate`."
        )


def default_landing_exists(settings: Settings) -> bool:
    return settings.target != "duckdb" or Path(settings.landing_db).exists()
