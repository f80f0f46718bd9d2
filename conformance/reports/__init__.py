"""Report writers: junit.xml, report.json (with its JSON Schema), summary.md, report.html.

Each writer reads a finished `RunResult` and nothing else: no CLI, no HTTP client. Each
takes `secrets` and replaces them with [REDACTED] in its output, as a second line of
defence behind the redaction done when exchanges are recorded.
"""

from __future__ import annotations

from ._common import Verdict, verdict
from ._html import render_html, write_html
from ._json import load_report, parse_report, render_json, report_schema, write_json
from ._junit import render_junit, write_junit
from ._markdown import render_summary_markdown, write_markdown
from ._redact import REDACTED
from ._write import REPORT_FILES, write_reports

__all__ = [
    "REDACTED",
    "REPORT_FILES",
    "Verdict",
    "load_report",
    "parse_report",
    "render_html",
    "render_json",
    "render_junit",
    "render_summary_markdown",
    "report_schema",
    "verdict",
    "write_html",
    "write_json",
    "write_junit",
    "write_markdown",
    "write_reports",
]
