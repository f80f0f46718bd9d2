"""Write every report of a run into one directory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from .._results import RunResult
from ._html import write_html
from ._json import write_json
from ._junit import write_junit
from ._markdown import write_markdown

__all__ = ["REPORT_FILES", "write_reports"]

#: Report kind -> file name inside the report directory.
REPORT_FILES: Final = {
    "junit": "junit.xml",
    "json": "report.json",
    "markdown": "summary.md",
    "html": "report.html",
}


def write_reports(
    result: RunResult, directory: Path, secrets: Iterable[str] = ()
) -> dict[str, Path]:
    """Write junit.xml, report.json, summary.md and report.html into `directory` (created
    if missing); every non-empty string in `secrets` is replaced by [REDACTED] in all four.
    Returns the path of each, by kind."""
    secrets = tuple(secrets)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writers = {
        "junit": write_junit,
        "json": write_json,
        "markdown": write_markdown,
        "html": write_html,
    }
    return {
        name: writer(result, directory / REPORT_FILES[name], secrets)
        for name, writer in writers.items()
    }
