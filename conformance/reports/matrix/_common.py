"""What the matrix reports agree on: verdicts per target and overall, how a cell is named,
where a target's own reports are, and scrubbing secrets out of a whole matrix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from ...model import (
    CheckResult,
    Column,
    Finding,
    Matrix,
    Outcome,
    Problem,
    Status,
    redact,
    scrub_result,
    secret_list,
)
from .._common import KINDS, Headline, kind, plural, verdict

__all__ = [
    "ABSENT",
    "CELL_KINDS",
    "MATRIX_FILES",
    "cell_kind",
    "column_counts",
    "column_verdict",
    "first_finding",
    "matrix_verdict",
    "scrub_matrix",
]

#: Matrix report kind -> file name inside the report directory.
MATRIX_FILES: Final = {"markdown": "matrix.md", "json": "matrix.json", "html": "matrix.html"}

ABSENT: Final = "absent"

#: Every cell kind: (label, emoji, short label for a grid cell). KINDS, plus "absent": the
#: check did not run for that target (an unusable target, an older suite, --check). The
#: emoji are for matrix.md; matrix.html draws `_marks.mark(key)` instead.
CELL_KINDS: Final[dict[str, tuple[str, str, str]]] = {
    **{
        key: (label, emoji, short)
        for (key, (label, emoji)), short in zip(
            KINDS.items(), ("pass", "FAIL", "warn", "n/a", "n/i", "skip", "error"), strict=True
        )
    },
    ABSENT: ("not run", "➖", "—"),  # noqa: RUF001 - the emoji, not a minus
}


def cell_kind(cell: CheckResult | None) -> str:
    return ABSENT if cell is None else kind(cell)


def column_counts(column: Column) -> dict[str, int]:
    """How many checks ended in each kind (KINDS order), zeros included."""
    counts = dict.fromkeys(KINDS, 0)
    for r in column.result.checks if column.result else []:
        counts[kind(r)] += 1
    return counts


def column_verdict(column: Column) -> Headline:
    """The target's own verdict, as its report.html headline says it; or why it is unusable."""
    if column.result is None:
        assert column.problem is not None
        return Headline("⛔", f"unusable: {column.problem.message}", Status.UNUSABLE.value)
    return verdict(column.result)


def matrix_verdict(matrix: Matrix) -> Headline:
    """One line for the whole matrix; its status agrees with the exit code."""
    total = len(matrix.columns)
    ok = matrix.count(Status.OK)
    failing = matrix.count(Status.FAIL)
    rest = [
        f"{n} {what}"
        for n, what in (
            (matrix.count(Status.UNUSABLE), "unusable"),
            (matrix.count(Status.INCONCLUSIVE), "inconclusive"),
        )
        if n
    ]
    tail = f" ({', '.join(rest)})" if rest else ""
    if matrix.interrupted:
        ran = sum(1 for c in matrix.columns if c.result and not c.result.interrupted)
        return Headline(
            "⏹",
            f"interrupted: {ran} of {plural(total, 'target')} ran to the end",
            "inconclusive",
            "interrupted",
        )
    if failing:
        return Headline(
            "❌", f"{failing} of {plural(total, 'target')} not conformant{tail}", "fail"
        )
    if rest:
        return Headline("💥", f"{ok} of {plural(total, 'target')} conformant{tail}", "inconclusive")
    if total == 1:
        return Headline("✅", "the target is conformant", "ok")
    return Headline("✅", f"all {total} targets conformant", "ok")


def failing_checks(column: Column) -> list[CheckResult]:
    """A usable column's failed and errored checks, the ones that fail its gate first."""
    assert column.result is not None
    strict = column.result.settings.strict
    bad = [r for r in column.result.checks if r.outcome in (Outcome.FAILED, Outcome.ERROR)]
    return sorted(bad, key=lambda r: (not r.gates(strict), r.outcome.value))


def first_finding(cell: CheckResult | None) -> Finding | None:
    """The finding to show for a failed cell: the first that carries an exchange, else the
    first."""
    if cell is None or not cell.findings:
        return None
    return next((f for f in cell.findings if f.exchange is not None), cell.findings[0])


def scrub_matrix(matrix: Matrix, secrets: Iterable[str]) -> Matrix:
    """A copy with every secret replaced in every column's result, name and problem."""
    found = secret_list(secrets)
    if not found:
        return matrix

    def column(c: Column) -> Column:
        problem = c.problem and Problem(
            redact(c.problem.message, found), redact(c.problem.hint, found)
        )
        return replace(
            c,
            name=redact(c.name, found),
            source=redact(c.source, found),
            result=c.result and scrub_result(c.result, found),
            problem=problem,
        )

    return replace(matrix, columns=[column(c) for c in matrix.columns])
