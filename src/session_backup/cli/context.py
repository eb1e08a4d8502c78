"""What every command shares: the settings, the output mode, and the `--json`/`--quiet` options.

Command modules import this module, never one another or the package (cli/__init__.py, which
puts the group together), so adding a command module creates no import cycle.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from session_backup.config import Settings


class Context:
    def __init__(self, settings: Settings, as_json: bool, quiet: bool, debug: bool) -> None:
        self.settings = settings
        self.as_json = as_json
        self.quiet = quiet
        self.debug = debug

    def emit(self, payload: Any, human: str) -> None:
        click.echo(json.dumps(payload, indent=2, default=str) if self.as_json else human)

    def note(self, message: str) -> None:
        """Progress for a person, on stderr; silent with --quiet."""
        if not self.quiet:
            click.echo(message, err=True)

    def progress(self, length: int, label: str):
        hidden = self.quiet or self.as_json and not sys.stderr.isatty()
        return click.progressbar(length=length, label=label, file=sys.stderr, hidden=hidden)


pass_context = click.make_pass_decorator(Context)

Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def _turn_on(attribute: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    """Option callback: a flag given after the command name switches the shared state on
    (the group has already built the Context when a command's options are parsed)."""

    def callback(click_context: click.Context, _parameter: click.Parameter, value: bool) -> bool:
        state = click_context.find_object(Context)
        if value and state is not None:
            setattr(state, attribute, True)
        return value

    return callback


def output_options(command: Decorated) -> Decorated:
    """`--json` and `--quiet/-q` on a command (they work before the command name as well).
    Applying it twice is harmless."""
    existing = {parameter.name for parameter in getattr(command, "params", [])}
    existing |= {parameter.name for parameter in getattr(command, "__click_params__", [])}
    if "as_json" not in existing:
        command = click.option(
            "--json",
            "as_json",
            is_flag=True,
            expose_value=False,
            callback=_turn_on("as_json"),
            help="Print results as JSON.",
        )(command)
    if "quiet" not in existing:
        command = click.option(
            "--quiet",
            "-q",
            is_flag=True,
            expose_value=False,
            callback=_turn_on("quiet"),
            help="No progress on stderr.",
        )(command)
    return command


class CommandGroup(click.Group):
    """A group whose every command, whichever module defines it, takes the output options."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        output_options(cmd)
        super().add_command(cmd, name)
