"""What a command reports while it works; the CLI turns it into a bar on stderr."""

from __future__ import annotations


class Progress:
    """What a command reports while it works; the CLI turns it into a bar on stderr."""

    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass
