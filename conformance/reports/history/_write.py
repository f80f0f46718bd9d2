"""Write the history reports of a `History` into one directory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...model import History
from ._common import HISTORY_FILES
from ._html import write_history_html
from ._json import write_history_json
from ._markdown import write_history_markdown

__all__ = ["write_history"]


def write_history(
    history: History, directory: Path, secrets: Iterable[str] = ()
) -> dict[str, Path]:
    """Write history.md, history.json and history.html into `directory` (created if
    missing), every string in `secrets` replaced by [REDACTED]. Returns the path of each,
    by kind."""
    secrets = tuple(secrets)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writers = {
        "markdown": write_history_markdown,
        "json": write_history_json,
        "html": write_history_html,
    }
    return {
        name: writer(history, directory / HISTORY_FILES[name], secrets)
        for name, writer in writers.items()
    }
