"""What a person touches: the command line, the terminal output, the pytest plugin."""

from __future__ import annotations

from ._commands import cli, main

__all__ = ["cli", "main"]
