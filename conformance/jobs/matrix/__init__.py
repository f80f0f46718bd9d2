"""The compatibility matrix: several targets side by side, run in a bounded pool of worker
processes (`_pool`), or report.json files from elsewhere merged (`_merge`)."""

from __future__ import annotations

from ._job import (
    DEFAULT_JOBS,
    MatrixPlan,
    MatrixProgress,
    MatrixTarget,
    conflict_groups,
    matrix_job,
    plan_targets,
    run_matrix,
)
from ._merge import merge_reports

__all__ = [
    "DEFAULT_JOBS",
    "MatrixPlan",
    "MatrixProgress",
    "MatrixTarget",
    "conflict_groups",
    "matrix_job",
    "merge_reports",
    "plan_targets",
    "run_matrix",
]
