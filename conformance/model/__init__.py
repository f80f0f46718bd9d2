"""Plain data: what a run produced, how two runs compare, the matrix of several targets.

Imports nothing of the suite outside this folder: every other layer reads these objects.
"""

from __future__ import annotations

from ._comparison import (
    COMPARISON_FORMAT,
    AcceptedFailure,
    Baseline,
    Change,
    CheckChange,
    Comparison,
    compare,
    run_date,
)
from ._matrix import MATRIX_FORMAT, Column, Matrix, Problem, Row, Status
from ._redaction import REDACTED, redact, scrub_result, secret_list
from ._results import (
    REPORT_FORMAT,
    CheckInfo,
    CheckResult,
    Confirmation,
    Edition,
    EditionJudged,
    Exchange,
    Finding,
    Level,
    Outcome,
    RestoreRecord,
    RunResult,
    RunSettings,
    TargetInfo,
)

__all__ = [
    "COMPARISON_FORMAT",
    "MATRIX_FORMAT",
    "REDACTED",
    "REPORT_FORMAT",
    "AcceptedFailure",
    "Baseline",
    "Change",
    "CheckChange",
    "CheckInfo",
    "CheckResult",
    "Column",
    "Comparison",
    "Confirmation",
    "Edition",
    "EditionJudged",
    "Exchange",
    "Finding",
    "Level",
    "Matrix",
    "Outcome",
    "Problem",
    "RestoreRecord",
    "Row",
    "RunResult",
    "RunSettings",
    "Status",
    "TargetInfo",
    "compare",
    "redact",
    "run_date",
    "scrub_result",
    "secret_list",
]
