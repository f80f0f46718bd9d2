"""Writing a rendered report: scrubbed of every secret once more, then UTF-8."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..model import redact

__all__ = ["write_text"]


def write_text(path: Path, text: str, secrets: Iterable[str]) -> Path:
    """Scrub the rendered text, then write it as UTF-8 (creating the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # backslashreplace: a lone surrogate from a mangled body becomes `\udcxx`, never a crash
    # (in report.json that is the JSON escape of the same character).
    path.write_text(
        redact(text, secrets), encoding="utf-8", errors="backslashreplace", newline="\n"
    )
    return path
