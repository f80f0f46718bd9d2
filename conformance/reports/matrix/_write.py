"""Write the matrix reports of a `Matrix` into one directory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...model import Matrix
from ._common import MATRIX_FILES
from ._html import write_matrix_html
from ._json import write_matrix_json
from ._markdown import write_matrix_markdown

__all__ = ["write_matrix"]


def write_matrix(matrix: Matrix, directory: Path, secrets: Iterable[str] = ()) -> dict[str, Path]:
    """Write matrix.md, matrix.json and matrix.html into `directory` (created if missing),
    every string in `secrets` replaced by [REDACTED]. Returns the path of each, by kind."""
    secrets = tuple(secrets)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writers = {
        "markdown": write_matrix_markdown,
        "json": write_matrix_json,
        "html": write_matrix_html,
    }
    return {
        name: writer(matrix, directory / MATRIX_FILES[name], secrets)
        for name, writer in writers.items()
    }
