"""The matrix's reports: matrix.md, matrix.json and matrix.html, over the plain `Matrix`."""

from __future__ import annotations

from ._common import MATRIX_FILES, column_verdict, matrix_verdict
from ._html import render_matrix_html, write_matrix_html
from ._json import matrix_schema, matrix_to_dict, render_matrix_json, write_matrix_json
from ._markdown import render_matrix_markdown, write_matrix_markdown
from ._write import write_matrix

__all__ = [
    "MATRIX_FILES",
    "column_verdict",
    "matrix_schema",
    "matrix_to_dict",
    "matrix_verdict",
    "render_matrix_html",
    "render_matrix_json",
    "render_matrix_markdown",
    "write_matrix",
    "write_matrix_html",
    "write_matrix_json",
    "write_matrix_markdown",
]
