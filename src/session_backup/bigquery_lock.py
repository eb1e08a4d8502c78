"""One backup at a time on BigQuery, with a lock kept in BigQuery itself.

A file lock only guards one machine; a scheduler retry that starts on another worker while a
slow run is still going would claim the same sessions twice. So the lock is a row of the table
`<backup dataset>.backup_lock`, changed only by single DML statements, which BigQuery applies
atomically against each other (concurrent UPDATEs of one table are serialized; the loser is
re-run on the new snapshot or fails, never both succeed):

- acquire:  UPDATE ... SET owner = me, expires_at = now + ttl WHERE the row is free or expired;
            then read the rows of the lock back: held iff every one names me and has not
            expired (a duplicate row, from two first runs racing to add a new lock name, can
            therefore never give the lock to two owners).
- heartbeat: while held, a background thread pushes expires_at forward (every ttl / 6), so
            only a crashed holder's lock expires.
- release:  UPDATE ... SET owner = NULL WHERE owner = me.

Times are BigQuery's CURRENT_TIMESTAMP(), never a client clock. The table is created with its
row by one `CREATE TABLE IF NOT EXISTS ... AS SELECT` (atomic), in the backup dataset, beside
Head and History: whoever may write the backup may take the lock, and no one else.

Used by session_backup.backup.backup_lock when SESSION_BACKUP_TARGET=bigquery.
Settings (environment): SESSION_BACKUP_BQ_LOCK_TTL_SECONDS (default 1800),
SESSION_BACKUP_BQ_LOCK_POLL_SECONDS (default 10; how often `--wait` retries).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from session_backup.config import Settings
from session_backup.errors import BackupError

LOCK_TABLE = "backup_lock"
BACKUP_LOCK = "backup"
DEFAULT_TTL_SECONDS = 1800
DEFAULT_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class Holder:
    owner: str
    acquired_at: Any
    expires_at: Any

    def describe(self) -> str:
        return f"{self.owner}, since {str(self.acquired_at)[:19]} UTC, lock expires {str(self.expires_at)[:19]} UTC"


def new_owner_id() -> str:
    """Unique per attempt, readable by a human who finds it in the table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BigQueryLock:
    """A named lock row in `<project>.<dataset>.backup_lock`."""

    def __init__(
        self,
        client,
        project: str,
        dataset: str,
        name: str = BACKUP_LOCK,
        owner: str | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        location: str | None = None,
    ) -> None:
        from session_backup.warehouse import checked_identifier

        self.client = client
        self.project = project
        self.dataset = checked_identifier(dataset, "Dataset")
        self.name = checked_identifier(name, "Lock name")
        self.owner = owner or new_owner_id()
        self.ttl_seconds = int(ttl_seconds)
        self.location = location
        self.table = f"`{project}`.`{self.dataset}`.`{LOCK_TABLE}`"
        self.lost = False  # set by the heartbeat if the lock expired and someone else took it

    # -- SQL --------------------------------------------------------------------------------

    def _query(self, sql: str, **params: Any):
        from google.cloud import bigquery

        parameters = []
        for key, value in params.items():
            kind = "INT64" if isinstance(value, int) else "STRING"
            parameters.append(bigquery.ScalarQueryParameter(key, kind, value))
        job = self.client.query(
            sql,
            job_config=bigquery.QueryJobConfig(query_parameters=parameters),
            location=self.location,
        )
        rows = [tuple(row.values()) for row in job.result()]
        return job, rows

    def ensure_table(self) -> None:
        """The dataset (if missing) and the lock table with this lock's row: each step is one
        atomic, repeatable statement, so concurrent first runs cannot make two rows."""
        from google.cloud import bigquery

        dataset = bigquery.Dataset(f"{self.project}.{self.dataset}")
        if self.location:
            dataset.location = self.location
        self.client.create_dataset(dataset, exists_ok=True)
        # The name is an identifier (checked in __init__): a literal here, since DDL takes no
        # query parameters.
        self._query(
            f"create table if not exists {self.table} as "
            f"select '{self.name}' as lock_name, cast(null as string) as owner, "
            "cast(null as timestamp) as acquired_at, cast(null as timestamp) as expires_at"
        )
        if not self.rows():
            # Another lock name in an existing table: a duplicate row from a race is harmless,
            # since holding requires owning every row of the name.
            self._query(
                f"insert into {self.table} (lock_name, owner, acquired_at, expires_at) "
                "select @name, cast(null as string), cast(null as timestamp), cast(null as timestamp) "
                f"from (select 1 as one) as single_row "
                f"where not exists (select 1 from {self.table} where lock_name = @name)",
                name=self.name,
            )

    def try_acquire(self) -> bool:
        """One attempt; True if this owner now holds the lock."""
        try:
            self._query(
                f"update {self.table} set owner = @owner, acquired_at = current_timestamp(), "
                "expires_at = timestamp_add(current_timestamp(), interval @ttl second) "
                "where lock_name = @name "
                "and (owner is null or owner = @owner or expires_at <= current_timestamp())",
                owner=self.owner,
                ttl=self.ttl_seconds,
                name=self.name,
            )
        except Exception as exc:
            if _is_concurrent_update(exc):
                return False  # another run changed the row at the same moment: it won
            raise
        return self.holds()

    def rows(self) -> list[tuple]:
        _, rows = self._query(
            f"select owner, acquired_at, expires_at, expires_at > current_timestamp() as live "
            f"from {self.table} where lock_name = @name",
            name=self.name,
        )
        return rows

    def holds(self) -> bool:
        rows = self.rows()
        return bool(rows) and all(owner == self.owner and live for owner, _, _, live in rows)

    def holder(self) -> Holder | None:
        """Who holds the lock now (None when free or expired)."""
        for owner, acquired_at, expires_at, live in self.rows():
            if owner is not None and live and owner != self.owner:
                return Holder(owner, acquired_at, expires_at)
        return None

    def heartbeat(self) -> bool:
        """Push the expiry forward; False if the lock is no longer ours."""
        job, _ = self._query(
            f"update {self.table} set expires_at = timestamp_add(current_timestamp(), interval @ttl second) "
            "where lock_name = @name and owner = @owner and expires_at > current_timestamp()",
            owner=self.owner,
            ttl=self.ttl_seconds,
            name=self.name,
        )
        return (job.num_dml_affected_rows or 0) > 0

    def release(self) -> None:
        self._query(
            f"update {self.table} set owner = null, acquired_at = null, expires_at = null "
            "where lock_name = @name and owner = @owner",
            owner=self.owner,
            name=self.name,
        )

    # -- holding it -------------------------------------------------------------------------

    def acquire(
        self, wait: bool, poll_seconds: float = DEFAULT_POLL_SECONDS, on_wait=lambda holder: None
    ) -> None:
        """Take the lock, or raise BackupError naming the holder (without `wait`)."""
        self.ensure_table()
        announced = False
        while not self.try_acquire():
            holder = self.holder()
            if not wait:
                raise BackupError(
                    f"Another backup is running ({holder.describe() if holder else 'it just took the lock'}); "
                    "nothing was done. Use --wait to queue behind it."
                )
            if not announced:
                on_wait(holder)
                announced = True
            time.sleep(poll_seconds)

    @contextmanager
    def held(
        self,
        wait: bool,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        on_wait=lambda holder: None,
        heartbeat_seconds: float | None = None,
    ) -> Iterator[BigQueryLock]:
        self.acquire(wait, poll_seconds, on_wait)
        stop = threading.Event()
        interval = heartbeat_seconds or max(1.0, self.ttl_seconds / 6)

        def beat() -> None:
            while not stop.wait(interval):
                try:
                    if not self.heartbeat():
                        self.lost = True
                        print(
                            "session-backup: the BigQuery backup lock expired during this run and was "
                            "not renewed; another run may have started.",
                            file=sys.stderr,
                            flush=True,
                        )
                        return
                except Exception as exc:  # noqa: BLE001 - retried at the next beat
                    print(
                        f"session-backup: lock heartbeat failed ({exc}); retrying.",
                        file=sys.stderr,
                        flush=True,
                    )

        thread = threading.Thread(target=beat, name="bigquery-lock-heartbeat", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=30)
            self.release()


def _is_concurrent_update(exc: Exception) -> bool:
    message = str(exc).lower()
    return (
        "concurrent update" in message
        or "could not serialize" in message
        or "transaction conflict" in message
    )


def _seconds(name: str, value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise BackupError(f"{name}={value!r} is not a number of seconds.") from exc
    if number <= 0:
        raise BackupError(f"{name} must be positive.")
    return number


@contextmanager
def bigquery_backup_lock(settings: Settings, wait: bool) -> Iterator[BigQueryLock]:
    """The backup's lock on BigQuery, for `session-backup backup` (`--wait` queues)."""
    from session_backup.bigquery_client import make_bigquery_client

    client = make_bigquery_client(settings)
    lock = BigQueryLock(
        client,
        settings.bigquery_project or client.project,
        settings.backup_schema,
        ttl_seconds=int(
            _seconds(
                "SESSION_BACKUP_BQ_LOCK_TTL_SECONDS",
                settings.bigquery_lock_ttl,
                DEFAULT_TTL_SECONDS,
            )
        ),
        location=settings.bigquery_location,
    )

    def announce(holder: Holder | None) -> None:
        who = holder.describe() if holder else "another run"
        print(
            f"session-backup: waiting for the backup lock ({who}) ...", file=sys.stderr, flush=True
        )

    with lock.held(
        wait,
        _seconds(
            "SESSION_BACKUP_BQ_LOCK_POLL_SECONDS", settings.bigquery_lock_poll, DEFAULT_POLL_SECONDS
        ),
        announce,
    ):
        yield lock
    if lock.lost:
        raise BackupError(
            "The BigQuery backup lock expired during this run (heartbeats failed for longer than "
            "SESSION_BACKUP_BQ_LOCK_TTL_SECONDS) and another run may have overlapped with it: check "
            "`session-backup status`, `dbt test` (the backup's invariant tests) and `session-backup verify --all`."
        )
