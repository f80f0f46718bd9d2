"""Report writers: junit.xml, report.json (with its JSON Schema), summary.md, report.html,
and, for a run compared with a baseline, comparison.json (with its JSON Schema); for the
compatibility matrix of several targets, matrix.md, matrix.json (with its JSON Schema)
and matrix.html.

Each writer reads a finished `RunResult` and nothing else: no CLI, no HTTP client. Each
takes `secrets` and replaces them with [REDACTED] in its output, as a second line of
defence behind the redaction done when exchanges are recorded.
"""

from __future__ import annotations

from ..model import REDACTED
from ._changes import (
    comparison_schema,
    comparison_verdict,
    render_comparison_json,
    render_comparison_text,
    write_comparison_json,
)
from ._common import Headline, verdict
from ._html import render_html, write_html
from ._json import load_report, parse_report, render_json, report_schema, write_json
from ._junit import render_junit, write_junit
from ._markdown import render_changes_markdown, render_summary_markdown, write_markdown
from ._write import COMPARISON_FILE, REPORT_FILES, write_reports
from .differential import (
    DIFFERENTIAL_FILES,
    differential_headline,
    differential_schema,
    write_differential,
)
from .history import (
    HISTORY_FILES,
    history_schema,
    history_to_dict,
    history_verdict,
    render_history_html,
    render_history_json,
    render_history_markdown,
    write_history,
)
from .matrix import (
    MATRIX_FILES,
    column_verdict,
    matrix_schema,
    matrix_to_dict,
    matrix_verdict,
    render_matrix_html,
    render_matrix_json,
    render_matrix_markdown,
    write_matrix,
    write_matrix_html,
    write_matrix_json,
    write_matrix_markdown,
)

__all__ = [
    "COMPARISON_FILE",
    "DIFFERENTIAL_FILES",
    "HISTORY_FILES",
    "MATRIX_FILES",
    "REDACTED",
    "REPORT_FILES",
    "Headline",
    "column_verdict",
    "comparison_schema",
    "comparison_verdict",
    "differential_headline",
    "differential_schema",
    "history_schema",
    "history_to_dict",
    "history_verdict",
    "load_report",
    "matrix_schema",
    "matrix_to_dict",
    "matrix_verdict",
    "parse_report",
    "render_changes_markdown",
    "render_comparison_json",
    "render_comparison_text",
    "render_history_html",
    "render_history_json",
    "render_history_markdown",
    "render_html",
    "render_json",
    "render_junit",
    "render_matrix_html",
    "render_matrix_json",
    "render_matrix_markdown",
    "render_summary_markdown",
    "report_schema",
    "verdict",
    "write_comparison_json",
    "write_differential",
    "write_history",
    "write_html",
    "write_json",
    "write_junit",
    "write_markdown",
    "write_matrix",
    "write_matrix_html",
    "write_matrix_json",
    "write_matrix_markdown",
    "write_reports",
]
