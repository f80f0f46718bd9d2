"""The differential reports: differential.md, differential.json (with its JSON Schema) and
differential.html, over the plain `DifferentialResult`."""

from __future__ import annotations

from ._html import render_differential_html
from ._json import differential_schema, render_differential_json
from ._markdown import render_differential_markdown
from ._write import DIFFERENTIAL_FILES, differential_headline, write_differential

__all__ = [
    "DIFFERENTIAL_FILES",
    "differential_headline",
    "differential_schema",
    "render_differential_html",
    "render_differential_json",
    "render_differential_markdown",
    "write_differential",
]
