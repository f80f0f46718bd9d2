"""matrix.md: the matrix as GitHub-flavoured markdown, for $GITHUB_STEP_SUMMARY or a PR.

The verdict is the first line; then one row per target (verdict and totals), the grid
(checks down, targets across, an emoji a cell) and, per target, its failures in one line
each. Request bodies and curl commands are left to each target's report.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ...model import Column, Matrix, Outcome
from .._common import KINDS, TOOL_NAME, format_duration, request_line
from .._markdown import md_code, md_text
from .._output import write_text
from ._common import (
    CELL_KINDS,
    cell_kind,
    column_counts,
    column_verdict,
    failing_checks,
    first_finding,
    matrix_verdict,
    scrub_matrix,
)

__all__ = ["render_matrix_markdown", "write_matrix_markdown"]

MAX_LISTED: Final = 40  # failures listed per target


def _head(matrix: Matrix) -> list[str]:
    if matrix.mode == "merge":
        how = f"merged from {len(matrix.columns)} reports"
    else:
        how = (
            f"{len(matrix.columns)} targets run here · seed {md_code(str(matrix.seed))} · "
            f"{format_duration(matrix.duration_s)}"
        )
    strict = " · **strict**" if matrix.strict else ""
    return [f"## {matrix_verdict(matrix)}", "", f"Compatibility matrix: {how}{strict}", ""]


def _targets(matrix: Matrix) -> list[str]:
    kinds = list(KINDS.items())
    reference = bool(matrix.reference)
    lines = [
        "| Target | Verdict | Edition judged | "
        + " | ".join(f"{emoji} {label}" for _, (label, emoji) in kinds)
        + (" | Divergences from the reference (decided / open)" if reference else "")
        + " |",
        "|---|---|---|" + "---:|" * len(kinds) + ("---|" if reference else ""),
    ]
    for column in matrix.columns:
        counts = column_counts(column)
        cells = [str(counts[key]) if column.result else "—" for key, _ in kinds]
        if reference:
            cells.append(divergence_cell(column))
        edition = column.result.edition.edition.value if column.result else "—"
        lines.append(
            f"| **{md_text(column.name, 80)}** | {md_text(str(column_verdict(column)), 200)} | "
            f"{edition} | " + " | ".join(cells) + " |"
        )
    if reference:
        lines += ["", f"Reference: {md_text(matrix.reference, 200)}"]
    return [*lines, ""]


def divergence_cell(column: Column) -> str:
    if column.divergences is None:
        return md_text(column.compared or "—", 120)
    decided, open_ = column.divergences
    return f"{decided} / {open_}"


def _grid(matrix: Matrix) -> list[str]:
    names = " | ".join(md_text(c.name, 40) + ("" if c.result else " ⛔") for c in matrix.columns)
    lines = [f"| Check | Level | {names} |", "|---|---|" + ":-:|" * len(matrix.columns)]
    blank = " |" * len(matrix.columns)
    for family, rows in matrix.families():
        lines.append(f"| **{md_text(family, 60)}** | |{blank}")
        for row in rows:
            cells = " | ".join(CELL_KINDS[cell_kind(cell)][1] for cell in row.cells)
            lines.append(
                f"| {md_code(row.check.id, in_table=True)} | {row.check.level.value} | {cells} |"
            )
    legend = " · ".join(f"{emoji} {label}" for label, emoji, _ in CELL_KINDS.values())
    return [*lines, "", f"<sub>{legend}</sub>", ""]


def _problems(matrix: Matrix) -> list[str]:
    lines: list[str] = []
    for column in matrix.columns:
        if column.problem is not None:
            lines += [
                f"#### ⛔ {md_text(column.name, 80)}: unusable",
                "",
                f"{md_text(column.problem.message, 600)} - {md_text(column.problem.hint, 400)}",
                "",
            ]
            continue
        bad = failing_checks(column)
        if not bad:
            continue
        lines += [f"#### {md_text(column.name, 80)}: {md_text(str(column_verdict(column)))}", ""]
        for r in bad[:MAX_LISTED]:
            emoji = CELL_KINDS[cell_kind(r)][1]
            what = r.check.level.value if r.outcome is Outcome.FAILED else "error: not the target's"
            lines.append(f"- {emoji} {md_code(r.check.id)} ({what}): {md_text(r.reason, 300)}")
            finding = first_finding(r)
            if finding is not None and finding.exchange is not None:
                lines.append(f"  {md_code(request_line(finding.exchange))}")
        if len(bad) > MAX_LISTED:
            lines.append(f"- ... and {len(bad) - MAX_LISTED} more: see its report")
        lines.append("")
    return ["### Failures, errors and unusable targets", "", *lines] if lines else []


def _limits(matrix: Matrix) -> list[str]:
    """Each target's limits: what it refused cleanly where the contract names none."""
    lines = [
        f"- {md_text(column.name, 80)}: {md_text(str(limit), 300)}"
        for column in matrix.columns
        if column.result is not None
        for limit in column.result.limits
    ]
    return ["### Limits of the targets (facts, not failures)", "", *lines, ""] if lines else []


def render_matrix_markdown(matrix: Matrix) -> str:
    tail = [
        f"<sub>{TOOL_NAME} {md_text(matrix.tool_version)} · started "
        f"{md_text(matrix.started_at)} · exit code {matrix.exit_code}</sub>",
        "",
    ]
    lines = [
        *_head(matrix),
        *_targets(matrix),
        *_grid(matrix),
        *_problems(matrix),
        *_limits(matrix),
        *tail,
    ]
    return "\n".join(lines)


def write_matrix_markdown(matrix: Matrix, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    return write_text(path, render_matrix_markdown(scrub_matrix(matrix, secrets)), secrets)
