"""Exit codes and the errors the CLI turns into them."""

from __future__ import annotations

import click

EXIT_OK = 0
EXIT_PROBLEM = 1  # ran, and found something wrong (a mismatch, a refused session)
EXIT_USAGE = 2  # bad arguments or a broken environment


class BackupError(click.ClickException):
    """An expected failure: one clear line, exit code 2 unless stated otherwise."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ProblemFound(BackupError):
    """The command ran and found a problem in the data (exit code 1)."""

    exit_code = EXIT_PROBLEM


# Every refusal the dbt macros raise starts with this marker (macros/validation/, the model
# macros): the CLI tells refused data (exit 1) from a broken run (exit 2) by it, not by wording.
REFUSAL_MARKER = "session_backup refused:"
