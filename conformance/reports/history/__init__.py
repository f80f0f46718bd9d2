"""The history's reports: history.md, history.json and history.html, over the plain
`History` of many runs of one or more targets."""

from __future__ import annotations

from ._common import HISTORY_FILES, history_verdict, stretch_words, timeline_verdict
from ._html import render_history_html, write_history_html
from ._json import history_schema, history_to_dict, render_history_json, write_history_json
from ._markdown import render_history_markdown, write_history_markdown
from ._write import write_history

__all__ = [
    "HISTORY_FILES",
    "history_schema",
    "history_to_dict",
    "history_verdict",
    "render_history_html",
    "render_history_json",
    "render_history_markdown",
    "stretch_words",
    "timeline_verdict",
    "write_history",
    "write_history_html",
    "write_history_json",
    "write_history_markdown",
]
