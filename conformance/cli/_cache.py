"""Where hypothesis keeps its caches during a command.

Hypothesis writes caches (the constants it mines from loaded code, its Unicode tables) under
`.hypothesis/` in the working directory. A command of the suite must leave nothing in the
checkout it runs in, so they go to the user's cache directory instead, where they also spare
the next run the work (the mining alone takes about a tenth of a second). The run never uses
hypothesis's example database (`database=None`), so nothing there bears on a verdict.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

__all__ = ["cache_directory", "use_cache_directory"]


def cache_directory() -> Path:
    """`$XDG_CACHE_HOME/agentphone-conformance/hypothesis`, by default under ~/.cache."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentphone-conformance" / "hypothesis"


def use_cache_directory() -> None:
    """Point hypothesis at our cache directory (or, if that cannot be written, a temporary
    one), unless HYPOTHESIS_STORAGE_DIRECTORY says where."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    for directory in (cache_directory(), Path(tempfile.gettempdir()) / "agentphone-conformance"):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if os.access(directory, os.W_OK):
                set_hypothesis_home_dir(directory)
                return
        except OSError:
            continue
    set_hypothesis_home_dir(tempfile.mkdtemp(prefix="agentphone-conformance-"))
