"""One conformance run: snapshot, generated traffic, every check, restore.

It prints nothing and writes no file: it returns a plain `RunResult` (see `model`)."""

from __future__ import annotations

from ._runner import Progress, run

__all__ = ["Progress", "run"]
