"""The jobs built on a run: one run with its reports, the regression gate against a
baseline, the self-test, and the compatibility matrix (`jobs.matrix`)."""

from __future__ import annotations

from ._baseline import load_baseline, load_run_report
from ._run import JobOptions, embedded_target, execute, job_from_options, open_target
from ._selftest import SelftestResult, SelftestRow, run_selftest, write_selftest

__all__ = [
    "JobOptions",
    "SelftestResult",
    "SelftestRow",
    "embedded_target",
    "execute",
    "job_from_options",
    "load_baseline",
    "load_run_report",
    "open_target",
    "run_selftest",
    "write_selftest",
]
