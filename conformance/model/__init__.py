"""Plain data: what a run produced, how two runs compare, the matrix of several targets,
the history of many runs.

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
from ._history import (
    EMBEDDED_URL,
    HISTORY_FORMAT,
    CheckLine,
    History,
    HistoryRun,
    Skipped,
    Stretch,
    Timeline,
    build_history,
    lighten,
    target_key,
)
from ._journal import MAX_JOURNAL_BYTES, MAX_JOURNAL_ENTRIES, Journal, JournalEntry
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
    Limit,
    Outcome,
    RestoreRecord,
    RunResult,
    RunSettings,
    TargetInfo,
)
from ._words import plural

__all__ = [
    "COMPARISON_FORMAT",
    "EMBEDDED_URL",
    "HISTORY_FORMAT",
    "MATRIX_FORMAT",
    "MAX_JOURNAL_BYTES",
    "MAX_JOURNAL_ENTRIES",
    "REDACTED",
    "REPORT_FORMAT",
    "AcceptedFailure",
    "Baseline",
    "Change",
    "CheckChange",
    "CheckInfo",
    "CheckLine",
    "CheckResult",
    "Column",
    "Comparison",
    "Confirmation",
    "Edition",
    "EditionJudged",
    "Exchange",
    "Finding",
    "History",
    "HistoryRun",
    "Journal",
    "JournalEntry",
    "Level",
    "Limit",
    "Matrix",
    "Outcome",
    "Problem",
    "RestoreRecord",
    "Row",
    "RunResult",
    "RunSettings",
    "Skipped",
    "Status",
    "Stretch",
    "TargetInfo",
    "Timeline",
    "build_history",
    "compare",
    "lighten",
    "plural",
    "redact",
    "run_date",
    "scrub_result",
    "secret_list",
    "target_key",
]
