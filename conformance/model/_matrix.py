"""The compatibility matrix as plain data: targets across, checks down, one outcome a cell.

Built by `_matrix` (from runs or from merged report.json files) and read by the matrix
report writers; like `_results`, it knows nothing of HTTP, checks' code or the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ._results import CheckInfo, CheckResult, RunResult

__all__ = ["MATRIX_FORMAT", "Column", "Matrix", "Problem", "Row", "Status"]

MATRIX_FORMAT = 1  # bump when matrix.json changes incompatibly


class Status(StrEnum):
    """A target's standing, in the matrix exit code's terms."""

    OK = "ok"  # conformant: its run would exit 0
    FAIL = "fail"  # a gating check failed: exit 1
    INCONCLUSIVE = "inconclusive"  # checks errored, a restore failed, interrupted
    UNUSABLE = "unusable"  # no run: unreachable, key missing or refused, ...


@dataclass(frozen=True)
class Problem:
    """Why a target could not be tested: what went wrong and what to do about it."""

    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.message} - {self.hint}"


@dataclass(frozen=True)
class Column:
    """One target: a finished run, or the problem that kept it from running."""

    name: str  # unique within the matrix
    slug: str  # unique, safe in a path and an HTML id
    source: str  # where it came from: a target file, a report.json, the embedded emulator
    result: RunResult | None = None
    problem: Problem | None = None
    reports: Mapping[str, Path] = field(default_factory=dict)  # report kind -> file
    # with a reference (`matrix --reference`): divergences from it, decided and open; None:
    # not compared (no reference, or the comparison could not be made: `compared` says why)
    divergences: tuple[int, int] | None = None
    compared: str = ""

    def __post_init__(self) -> None:
        assert (self.result is None) != (self.problem is None), "a result or a problem"

    @property
    def status(self) -> Status:
        if self.result is None:
            return Status.UNUSABLE
        code = self.result.exit_code
        if code == 0:
            return Status.OK
        if code == 1:
            return Status.FAIL
        return Status.INCONCLUSIVE


@dataclass(frozen=True)
class Row:
    check: CheckInfo
    cells: tuple[CheckResult | None, ...]  # one per column; None: not run there


@dataclass
class Matrix:
    columns: list[Column]
    mode: str  # "run": the suite ran here; "merge": report.json files made elsewhere
    tool_version: str
    started_at: str  # RFC 3339, UTC
    duration_s: float = 0.0
    seed: int | None = None  # the seed every run got (unless its target file set one)
    strict: bool = False
    interrupted: bool = False
    reference: str = ""  # the reference every column was compared with, if one was given

    @property
    def rows(self) -> list[Row]:
        """Every check any column has, in the order they first appear (the suite's order)."""
        infos: dict[str, CheckInfo] = {}
        by_column: list[dict[str, CheckResult]] = []
        for column in self.columns:
            checks = column.result.checks if column.result else []
            for r in checks:
                infos.setdefault(r.check.id, r.check)
            by_column.append({r.check.id: r for r in checks})
        return [
            Row(info, tuple(cells.get(check_id) for cells in by_column))
            for check_id, info in infos.items()
        ]

    def families(self) -> list[tuple[str, list[Row]]]:
        grouped: dict[str, list[Row]] = {}
        for row in self.rows:
            grouped.setdefault(row.check.family, []).append(row)
        return list(grouped.items())

    def count(self, status: Status) -> int:
        return sum(1 for column in self.columns if column.status is status)

    @property
    def exit_code(self) -> int:
        """130 interrupted; 1 a target has gating failures; 3 a target was unusable or its
        run inconclusive and none failed; 0 every target conformant."""
        if self.interrupted:
            return 130
        if self.count(Status.FAIL):
            return 1
        if self.count(Status.UNUSABLE) or self.count(Status.INCONCLUSIVE):
            return 3
        return 0
