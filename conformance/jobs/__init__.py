"""The jobs built on a run: one run with its reports, the regression gate against a
baseline, a finding's reproduction, the self-test, and the compatibility matrix
(`jobs.matrix`)."""

from __future__ import annotations

from ._baseline import load_baseline, load_run_report
from ._differential import (
    DifferentialJob,
    differential,
    execute_differential,
    plan_differential,
)
from ._history import HistoryPlan, find_reports, history_job, load_history
from ._reproduce import Reproduced, choose_finding, reproduce, steps_of
from ._rerun import DEFAULT_REPORT_DIR
from ._run import (
    Job,
    embedded_target,
    ensure_writable,
    execute,
    open_target,
    plan_run,
    run_options,
)
from ._selftest import SelftestResult, SelftestRow, run_selftest, write_selftest

__all__ = [
    "DEFAULT_REPORT_DIR",
    "DifferentialJob",
    "HistoryPlan",
    "Job",
    "Reproduced",
    "SelftestResult",
    "SelftestRow",
    "choose_finding",
    "differential",
    "embedded_target",
    "ensure_writable",
    "execute",
    "execute_differential",
    "find_reports",
    "history_job",
    "load_baseline",
    "load_history",
    "load_run_report",
    "open_target",
    "plan_differential",
    "plan_run",
    "reproduce",
    "run_options",
    "run_selftest",
    "steps_of",
    "write_selftest",
]
