"""Test-only fault injection: make a backup fail or die at a chosen point of its dbt run.

The tests prove that a run which fails or is killed between any two write steps never changes
what already backed-up sessions restore to. Nothing here is active unless the environment asks
for it, and it never changes what a run writes when it does not fire.

    SESSION_BACKUP_FAULT="<action>:<point>:<target>"

    action   raise   raise FaultInjected there (dbt turns it into a failed node and rolls back)
             kill    SIGKILL the process there (no rollback, no cleanup, no atexit)
    point    before-statement:N   just before the N-th SQL statement of the run is sent (1-based;
                                  BEGIN and COMMIT count, so N can land inside a commit)
             after-statement:N    just after the N-th statement returned
             before-node:NAME     just before the first SQL statement of node NAME (e.g.
                                  head_orders); raising from dbt's NodeStart event instead
                                  would kill its worker thread and hang the run
             after-node:NAME      when dbt has finished the node NAME

    SESSION_BACKUP_FAULT_TRACE=/path/file   append "N<TAB>node<TAB>statement" per SQL statement,
                                  flushed line by line so it survives a kill: where a fault can
                                  land, and where it did.

Examples: SESSION_BACKUP_FAULT="kill:after-statement:7", "raise:before-node:backup_head_orders".
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from session_backup.config import Settings
from session_backup.errors import BackupError

FAULT_ENV = "SESSION_BACKUP_FAULT"
TRACE_ENV = "SESSION_BACKUP_FAULT_TRACE"
ACTIONS = ("raise", "kill")
POINTS = ("before-statement", "after-statement", "before-node", "after-node")
# The dbt events each point listens to.
EVENTS = {
    "before-statement": "SQLQuery",
    "after-statement": "SQLQueryStatus",
    "before-node": "SQLQuery",
    "after-node": "NodeFinished",
}
# dbt prefixes every statement with a /* {"app": "dbt", ...} */ comment: not worth tracing.
_DBT_COMMENT = re.compile(r"^/\*.*?\*/\s*")


class FaultInjected(RuntimeError):
    """The failure a `raise` fault throws; its message names the point."""


@dataclass(frozen=True)
class Fault:
    action: str
    point: str
    target: str

    @classmethod
    def parse(cls, spec: str) -> Fault:
        parts = spec.split(":", 2)
        if len(parts) != 3 or parts[0] not in ACTIONS or parts[1] not in POINTS or not parts[2]:
            raise BackupError(
                f"{FAULT_ENV}={spec!r} is not <{'|'.join(ACTIONS)}>:<{'|'.join(POINTS)}>:<N or node name>."
            )
        if parts[1].endswith("statement") and not (parts[2].isdigit() and int(parts[2]) > 0):
            raise BackupError(f"{FAULT_ENV}={spec!r}: a statement point needs a number from 1.")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.action}:{self.point}:{self.target}"


class FaultCallback:
    """A dbtRunner callback: counts statements, traces them, fires the fault once."""

    def __init__(self, fault: Fault | None, trace_path: str | None) -> None:
        self.fault = fault
        self.trace_path = trace_path
        self.statements = 0
        self.fired = False

    def __call__(self, message: Any) -> None:
        name = message.info.name
        if name not in ("SQLQuery", "SQLQueryStatus", "NodeFinished"):
            return
        node = _node_name(message)
        if name == "SQLQuery":
            self.statements += 1
            if self.trace_path:
                self._trace(node, str(getattr(message.data, "sql", "")))
        fault = self.fault
        if fault is None or self.fired or EVENTS[fault.point] != name:
            return
        if fault.point.endswith("statement"):
            if self.statements != int(fault.target):
                return
        elif node != fault.target:
            return
        self.fired = True
        if fault.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise FaultInjected(f"fault injected ({fault}) at statement {self.statements} in {node}")

    def _trace(self, node: str, sql: str) -> None:
        statement = _DBT_COMMENT.sub("", " ".join(sql.split()))[:160]
        # Opened and closed per line, so what was written survives a SIGKILL.
        with open(self.trace_path, "a", encoding="utf-8") as trace:
            trace.write(f"{self.statements}\t{node}\t{statement}\n")


def _node_name(message: Any) -> str:
    node_info = getattr(message.data, "node_info", None)
    return getattr(node_info, "node_name", "") or "-"


def fault_callbacks(settings: Settings) -> list[Callable[[Any], None]]:
    """The callbacks for dbtRunner: none unless SESSION_BACKUP_FAULT or _TRACE is set
    (read by config.py, like every variable)."""
    spec = settings.fault_spec
    trace_path = settings.fault_trace
    if not spec and not trace_path:
        return []
    return [FaultCallback(Fault.parse(spec) if spec else None, trace_path)]
