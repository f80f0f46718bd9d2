"""Write the differential reports of a `DifferentialResult` into one directory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...model import DifferentialResult
from .._output import write_text
from ._common import headline
from ._html import render_differential_html
from ._json import render_differential_json
from ._markdown import render_differential_markdown

__all__ = ["DIFFERENTIAL_FILES", "differential_headline", "write_differential"]

DIFFERENTIAL_FILES = {
    "markdown": "differential.md",
    "json": "differential.json",
    "html": "differential.html",
}

differential_headline = headline


def write_differential(
    result: DifferentialResult, directory: Path, secrets: Iterable[str] = ()
) -> dict[str, Path]:
    """Write differential.md, .json and .html into `directory`, every secret replaced by
    [REDACTED]. Returns the path of each, by kind."""
    secrets = tuple(secrets)
    renderers = {
        "markdown": render_differential_markdown,
        "json": render_differential_json,
        "html": render_differential_html,
    }
    return {
        kind: write_text(Path(directory) / DIFFERENTIAL_FILES[kind], render(result), secrets)
        for kind, render in renderers.items()
    }
