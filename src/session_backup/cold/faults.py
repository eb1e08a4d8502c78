"""Fault injection points: tests stop every command after each of its steps."""

from __future__ import annotations

import os
import sys

from session_backup.config import COLD_FAULT_ENV
from session_backup.errors import BackupError

FAULT_ENV = COLD_FAULT_ENV  # read by config.py into Settings.cold_fail_after
STEPS = {
    "tier": ("plan", "journal", "write", "verify", "upload", "manifest", "delete", "commit"),
    "rehydrate": ("fetch", "insert", "manifest", "commit", "delete"),
    "prune": ("plan", "journal", "rewrite", "commit", "delete"),
}


class InjectedFault(RuntimeError):
    """Raised by a fault injection point (tests only): a crash, which nothing catches."""


class InjectedRefusal(BackupError):
    """Raised by a `:refuse` fault injection point (tests only): a table that cannot be tiered."""


def fault(command: str, step: str, fail_after: str | None, table: str | None = None) -> None:
    """Fault injection for tests: `fail_after='write'` (the commands pass
    Settings.cold_fail_after, env SESSION_BACKUP_FAIL_AFTER=tier.write, when given none) stops
    right after that step; `tier.verify@events` only for that table; a `:exit` suffix
    kills the process (os._exit, no cleanup at all), `:refuse` raises a refusal (a BackupError,
    as a table that cannot be tiered would)."""
    wanted = fail_after
    if not wanted:
        return
    spec, _, mode = wanted.partition(":")
    spec, _, only_table = spec.partition("@")
    if only_table and only_table != table:
        return
    if spec in (step, f"{command}.{step}"):
        if mode == "exit":
            sys.stderr.flush()
            os._exit(97)
        if mode == "refuse":
            raise InjectedRefusal(f"injected refusal after {command}.{step} of {table}")
        raise InjectedFault(f"injected failure after {command}.{step}")
