"""The `session-backup` command: backup, restore, verify, status and the rest.

Results go to stdout (`--json` for machines), progress and logs to stderr.
Exit codes: 0 ok, 1 a problem was found (mismatch, refused data), 2 usage or environment error.

One module per group of commands, each depending only on `context` (the shared options and
output); the group is put together here.
"""

from __future__ import annotations

from session_backup.cli.backtest import diff, export, log
from session_backup.cli.commands import main, run
from session_backup.cli.context import Context, pass_context
from session_backup.cli.tiering import prune, rehydrate, tier
from session_backup.estimate import estimate_command

__all__ = ["Context", "main", "pass_context", "run"]

for _command in (tier, rehydrate, prune, export, diff, log):
    main.add_command(_command)
main.add_command(estimate_command, name="estimate")
