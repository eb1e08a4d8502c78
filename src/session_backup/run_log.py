"""The run log: one row per `session-backup backup` in `backup_runs`, beside the backup itself.

dbt cannot record its own failure (a failed run commits nothing), so the CLI writes the row
after dbt has finished: when it started and ended, the outcome (succeeded | refused | failed),
the one-line error and the tables it names. `status` and `restore` read it to say why a
session's table has no backup. Same SQL on DuckDB and BigQuery, through the Warehouse layer.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field

from session_backup.warehouse import Warehouse

RUNS_TABLE = "backup_runs"

_COLUMNS = [
    ("run_id", "string"),
    ("started_at", "timestamp"),
    ("finished_at", "timestamp"),
    ("outcome", "string"),
    ("error", "string"),
    ("failed_tables", "string"),  # JSON list: portable, and a run names few tables
]
_TYPES = {
    "duckdb": {"string": "varchar", "timestamp": "timestamp"},
    "bigquery": {"string": "STRING", "timestamp": "TIMESTAMP"},
}


def utc_now() -> datetime.datetime:
    """Naive UTC, the way the backup stores every timestamp."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@dataclass
class BackupRun:
    started_at: datetime.datetime
    finished_at: datetime.datetime
    outcome: str  # succeeded | refused | failed
    error: str | None = None
    failed_tables: list[str] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(sep=" "),
            "finished_at": self.finished_at.isoformat(sep=" "),
            "outcome": self.outcome,
            "error": self.error,
            "failed_tables": self.failed_tables,
        }


def record_run(warehouse: Warehouse, run: BackupRun) -> None:
    types = _TYPES[warehouse.kind]
    relation = warehouse.backup_relation(RUNS_TABLE)
    columns = ", ".join(f"{name} {types[kind]}" for name, kind in _COLUMNS)
    warehouse.query(f"create table if not exists {relation} ({columns})")
    names = [name for name, _ in _COLUMNS]
    values = ", ".join(warehouse.param(name) for name in names)
    warehouse.query(
        f"insert into {relation} ({', '.join(names)}) values ({values})",
        run_id=run.run_id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        outcome=run.outcome,
        error=run.error,
        failed_tables=json.dumps(run.failed_tables),
    )


def last_runs(warehouse: Warehouse) -> tuple[BackupRun | None, BackupRun | None]:
    """(the last run, the last run that did not succeed); None where there is none."""
    if not warehouse.relation_exists(RUNS_TABLE):
        return None, None
    relation = warehouse.backup_relation(RUNS_TABLE)
    select = (
        "select run_id, started_at, finished_at, outcome, error, failed_tables from " + relation
    )
    last = warehouse.query(f"{select} order by finished_at desc, started_at desc limit 1")
    failing = warehouse.query(
        f"{select} where outcome <> 'succeeded' order by finished_at desc, started_at desc limit 1"
    )
    return (_run(last[0]) if last else None), (_run(failing[0]) if failing else None)


def _run(row: tuple) -> BackupRun:
    run_id, started_at, finished_at, outcome, error, failed_tables = row
    return BackupRun(
        started_at=_naive(started_at),
        finished_at=_naive(finished_at),
        outcome=outcome,
        error=error,
        failed_tables=json.loads(failed_tables or "[]"),
        run_id=run_id,
    )


def _naive(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value
