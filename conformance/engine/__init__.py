"""One conformance run: snapshot, generated traffic, every check, restore.

It prints nothing and writes no file: it returns a plain `RunResult` (see `model`)."""

from __future__ import annotations

from ._differential import Mirror, decide_by_checks
from ._runner import Progress, run

__all__ = ["Mirror", "Progress", "decide_by_checks", "run"]
