"""Text out, as it is: consoles that never read a value as markup or emoji codes.

A value the suite prints (a target's answer, a finding's message, a target's name) may
hold `[null, null]`, `[bold]`, `[/]` or `:smile:`. Every console here is made with markup,
emoji codes and highlighting off, so a string is always printed verbatim; style comes
only from `Text` objects built by `styled` and `line`, whose pieces are never parsed.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.text import Text

__all__ = ["line", "plain_console", "styled"]

Piece = str | tuple[str, str] | Text


def plain_console(
    *, stderr: bool = False, width: int | None = None, file: IO[str] | None = None
) -> Console:
    """A console that prints every string verbatim (no markup, emoji codes or colours
    guessed from the text)."""
    return Console(
        stderr=stderr, width=width, file=file, markup=False, emoji=False, highlight=False
    )


def styled(text: str, style: str) -> Text:
    """`text` in `style`, its brackets and colons left alone."""
    return Text(text, style=style)


def line(*pieces: Piece) -> Text:
    """One line from pieces: a plain string, or `(string, style)`; none is parsed."""
    return Text.assemble(*pieces)
