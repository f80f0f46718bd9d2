"""Words for counts, shared by the checks' messages and the reports."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, word: str) -> str:
    """`1 message`, `2 messages`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
