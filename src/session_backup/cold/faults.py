"""Fault injection points: tests stop every command after each of its steps."""

from __future__ import annotations

import os
import sys

FAULT_ENV = "SESSION_BACKUP_FAIL_AFTER"
STEPS = {
    "tier": ("plan", "journal", "write", "verify", "upload", "manifest", "delete", "commit"),
    "rehydrate": ("fetch", "insert", "manifest", "commit", "delete"),
    "prune": ("plan", "journal", "rewrite", "commit", "delete"),
}


class InjectedFault(RuntimeError):
    """Raised by a fault injection point (tests only)."""


def fault(command: str, step: str, fail_after: str | None) -> None:
    """Fault injection for tests: `fail_after='write'` (or env SESSION_BACKUP_FAIL_AFTER=tier.write)
    stops right after that step; a `:exit` suffix kills the process (os._exit, no cleanup at all)."""
    wanted = fail_after or os.environ.get(FAULT_ENV)
    if not wanted:
        return
    spec, _, mode = wanted.partition(":")
    if spec in (step, f"{command}.{step}"):
        if mode == "exit":
            sys.stderr.flush()
            os._exit(97)
        raise InjectedFault(f"injected failure after {command}.{step}")
