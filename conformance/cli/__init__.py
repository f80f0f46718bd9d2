"""What a person touches: the command line, the terminal output, the pytest plugin."""

from __future__ import annotations

from ._commands import cli, main
from ._history import history_command

cli.add_command(history_command)

__all__ = ["cli", "main"]
