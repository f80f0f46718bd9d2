"""What a person sees of `matrix` in the terminal: a line per target as it starts and
ends, then the targets' verdicts and the checks on which not every target passed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model import Column, Matrix, Outcome, Status
from ..reports import column_verdict, matrix_verdict
from ..reports.matrix._common import CELL_KINDS, cell_kind
from ._text import line, styled

__all__ = ["MatrixReporter", "print_matrix"]

_STYLE = {
    "passed": "green",
    "failed-required": "bold red",
    "failed-advisory": "yellow",
    "not-applicable": "dim",
    "not-implemented": "dim italic",
    "skipped": "blue",
    "error": "magenta",
    "absent": "dim",
}
_STATUS_STYLE = {
    Status.OK: "bold green",
    Status.FAIL: "bold red",
    Status.INCONCLUSIVE: "magenta",
    Status.UNUSABLE: "bold magenta",
}


class MatrixReporter:
    """`run_matrix`'s progress as lines: one per target started and finished (several run
    at once, so no progress bar)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def started(self, name: str) -> None:
        self.console.print(line(("started", "dim"), f"  {name}"), soft_wrap=True)

    def finished(self, column: Column) -> None:
        took = f" in {column.result.duration_s:.1f} s" if column.result else ""
        style = _STATUS_STYLE[column.status]
        self.console.print(
            line(("finished", style), f" {column.name}: {column_verdict(column)}{took}"),
            soft_wrap=True,
        )

    def note(self, text: str) -> None:
        self.console.print(styled(text, "magenta"), soft_wrap=True)


def print_matrix(console: Console, matrix: Matrix, written: Mapping[str, Path]) -> None:
    targets = Table(title="targets", title_justify="left")
    targets.add_column("target", overflow="fold")
    targets.add_column("status", no_wrap=True)
    targets.add_column("verdict", overflow="fold", ratio=1)
    if matrix.reference:
        targets.add_column("from the reference (decided / open)", overflow="fold")
    for column in matrix.columns:
        style = _STATUS_STYLE[column.status]
        verdict = column_verdict(column).headline
        if column.problem is not None:
            verdict = str(column.problem)
        cells: list[str | Text] = [column.name, styled(column.status.value, style), verdict]
        if matrix.reference:
            counts = column.divergences
            cells.append(f"{counts[0]} / {counts[1]}" if counts else column.compared or "-")
        targets.add_row(*cells)
    console.print(targets)
    ran = [index for index, column in enumerate(matrix.columns) if column.result is not None]
    differing = [
        row
        for row in matrix.rows
        if any(cell_kind(row.cells[i]) != Outcome.PASSED.value for i in ran)
    ]
    if differing:
        grid = Table(title="checks not passed by every target that ran", title_justify="left")
        grid.add_column("check", no_wrap=True)
        for index in ran:
            grid.add_column(matrix.columns[index].name, overflow="fold")
        for row in differing:
            marks: list[str | Text] = []
            for index in ran:
                key = cell_kind(row.cells[index])
                marks.append(styled(CELL_KINDS[key][0], _STYLE[key]))
            grid.add_row(row.check.id, *marks)
        console.print(grid)
    if written:
        console.print("matrix: " + ", ".join(str(p) for p in written.values()))
    overall = matrix_verdict(matrix)
    style = {"ok": "bold green", "fail": "bold red"}.get(overall.status, "magenta")
    console.print(line((overall.headline, style), f" (exit code {matrix.exit_code})"))
