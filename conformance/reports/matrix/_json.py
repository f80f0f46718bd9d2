"""matrix.json: the matrix as data, and its JSON Schema (schemas/matrix.schema.json)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...model import MATRIX_FORMAT, CheckResult, Column, Matrix, Outcome
from ...schemas import schema
from .._common import TOOL_NAME, relative_path
from .._output import write_text
from ._common import cell_kind, column_verdict, first_finding, matrix_verdict, scrub_matrix

__all__ = ["matrix_schema", "matrix_to_dict", "render_matrix_json", "write_matrix_json"]


def matrix_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of matrix.json: a fresh copy, free to mutate."""
    return schema("matrix")


def _target(column: Column, out_dir: Path | None) -> dict[str, Any]:
    result = column.result
    run: dict[str, Any] | None = None
    if result is not None:
        run = {
            "base_url": result.target.base_url,
            "embedded": result.target.embedded,
            "faults": list(result.target.faults),
            "exit_code": result.exit_code,
            "seed": result.settings.seed,
            "profile": result.settings.profile,
            "strict": result.settings.strict,
            "started_at": result.started_at,
            "duration_s": round(result.duration_s, 3),
            "requests_sent": result.requests_sent,
            "interrupted": result.interrupted,
            "edition": result.edition.to_dict(),
            "summary": {o.value: result.count(o) for o in Outcome},
            "gate_failures": [r.check.id for r in result.gate_failures],
            "limits": [str(limit) for limit in result.limits],
        }
    problem = column.problem
    return {
        "name": column.name,
        "slug": column.slug,
        "source": column.source,
        "status": column.status.value,
        "verdict": column_verdict(column).headline,
        "problem": {"message": problem.message, "hint": problem.hint} if problem else None,
        "run": run,
        "reports": {k: relative_path(p, out_dir) for k, p in column.reports.items()},
        "divergences": (
            {"decided": column.divergences[0], "open": column.divergences[1]}
            if column.divergences is not None
            else None
        ),
        "compared": column.compared,
    }


def _cell(cell: CheckResult | None) -> dict[str, Any] | None:
    if cell is None:
        return None
    finding = first_finding(cell)
    shown: dict[str, Any] | None = None
    if finding is not None:
        exchange = finding.exchange
        shown = {
            "message": finding.message,
            "method": exchange.method if exchange else None,
            "url": exchange.url if exchange else None,
            "status": exchange.status if exchange else None,
            "curl": exchange.curl if exchange else None,
        }
    return {
        "outcome": cell.outcome.value,
        "kind": cell_kind(cell),
        "reason": cell.reason,
        "confirmation": cell.confirmation.value if cell.confirmation else None,
        "findings": len(cell.findings),
        "first_finding": shown,
    }


def matrix_to_dict(matrix: Matrix, out_dir: Path | None = None) -> dict[str, Any]:
    """The matrix as matrix.json holds it; report paths relative to `out_dir` if given."""
    overall = matrix_verdict(matrix)
    return {
        "format": MATRIX_FORMAT,
        "tool": {"name": TOOL_NAME, "version": matrix.tool_version},
        "mode": matrix.mode,
        "started_at": matrix.started_at,
        "duration_s": round(matrix.duration_s, 3),
        "seed": matrix.seed,
        "strict": matrix.strict,
        "interrupted": matrix.interrupted,
        "reference": matrix.reference,
        "exit_code": matrix.exit_code,
        "verdict": {"status": overall.status, "headline": overall.headline},
        "targets": [_target(c, out_dir) for c in matrix.columns],
        "checks": [
            {
                "id": row.check.id,
                "family": row.check.family,
                "level": row.check.level.value,
                "requirement": row.check.requirement,
                "source": row.check.source,
                "cells": [_cell(cell) for cell in row.cells],
            }
            for row in matrix.rows
        ],
    }


def render_matrix_json(matrix: Matrix, out_dir: Path | None = None) -> str:
    return json.dumps(matrix_to_dict(matrix, out_dir), indent=2, ensure_ascii=False) + "\n"


def write_matrix_json(matrix: Matrix, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    text = render_matrix_json(scrub_matrix(matrix, secrets), path.parent)
    return write_text(path, text, secrets)
