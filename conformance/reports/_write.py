"""Write every report of a run into one directory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..model import Comparison, RunResult
from ._changes import write_comparison_json
from ._html import write_html
from ._json import write_json
from ._junit import write_junit
from ._markdown import write_markdown

__all__ = ["COMPARISON_FILE", "REPORT_FILES", "write_reports"]

#: Report kind -> file name inside the report directory.
REPORT_FILES: Final = {
    "junit": "junit.xml",
    "json": "report.json",
    "markdown": "summary.md",
    "html": "report.html",
}

#: The comparison with a baseline, beside the reports (kind "comparison"), when there is one.
COMPARISON_FILE: Final = "comparison.json"


def write_reports(
    result: RunResult,
    directory: Path,
    secrets: Iterable[str] = (),
    comparison: Comparison | None = None,
) -> dict[str, Path]:
    """Write junit.xml, report.json, summary.md and report.html into `directory` (created
    if missing); every non-empty string in `secrets` is replaced by [REDACTED] in all four.
    Returns the path of each, by kind.

    With `comparison` (the run against a baseline) summary.md leads with the changes,
    junit.xml follows the comparison's gate, and comparison.json is written too; without
    one, a comparison.json left by an earlier run is removed. report.json and report.html
    are the run's alone either way."""
    secrets = tuple(secrets)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {
        "junit": write_junit(result, directory / REPORT_FILES["junit"], secrets, comparison),
        "json": write_json(result, directory / REPORT_FILES["json"], secrets),
        "markdown": write_markdown(
            result, directory / REPORT_FILES["markdown"], secrets, comparison
        ),
        "html": write_html(result, directory / REPORT_FILES["html"], secrets),
    }
    if comparison is not None:
        written["comparison"] = write_comparison_json(
            comparison, directory / COMPARISON_FILE, secrets
        )
    else:
        (directory / COMPARISON_FILE).unlink(missing_ok=True)
    return written
