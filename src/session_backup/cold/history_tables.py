"""The History tables a cold command works on, the same on both engines."""

from __future__ import annotations

from collections.abc import Iterable

from session_backup.errors import BackupError


def history_tables(backup, declared: Iterable, only: Iterable[str] | None = None) -> list[str]:
    """Declared tables of the history strategy that have a History table (`only`: these,
    each of which must be declared so)."""
    names = [table.name for table in declared if table.strategy == "history"]
    if only:
        wanted = list(dict.fromkeys(only))
        unknown = [name for name in wanted if name not in names]
        if unknown:
            raise BackupError(
                f"Table(s) {', '.join(unknown)} are not declared with the history strategy "
                f"(tiered tables: {', '.join(names) or 'none'})."
            )
        names = wanted
    return [name for name in names if backup.exists(f"history_{name}")]
