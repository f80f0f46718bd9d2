"""The checks. Importing this package registers every check, in the order they run."""

from __future__ import annotations

from . import (  # noqa: F401
    auth,
    consistency,
    edges,
    hygiene,
    responses,
    roundtrip,
    security,
    semantics,
    validation,
    webhooks,
)
from ._context import (
    CONVERSATION_PATH,
    LIST_PAGE,
    LIST_PATH,
    MAX_FINDINGS_KEPT,
    SUCCESS,
    Abort,
    Context,
    Elsewhere,
    Judge,
    NotApplicable,
    OtherWriter,
    RunContext,
    Snapshot,
    Webhooks,
    answer_cause,
    conversation_path,
    same_json,
)
from ._registry import REGISTRY, Check, Verdict
from .generated import EXPLORATION_JUDGES, run_generated

__all__ = [
    "CONVERSATION_PATH",
    "EXPLORATION_JUDGES",
    "FAMILY_ORDER",
    "LIST_PAGE",
    "LIST_PATH",
    "MAX_FINDINGS_KEPT",
    "REGISTRY",
    "SUCCESS",
    "Abort",
    "Check",
    "Context",
    "Elsewhere",
    "Judge",
    "NotApplicable",
    "OtherWriter",
    "RunContext",
    "Snapshot",
    "Verdict",
    "Webhooks",
    "answer_cause",
    "conversation_path",
    "run_generated",
    "same_json",
]

# Reports and runs go family by family, in the order a reader asks the questions.
FAMILY_ORDER = (
    "shape",
    "semantics",
    "validation",
    "auth",
    "security",
    "robustness",
    "http",
    "consistency",
    "webhook",
)
_ordered = sorted(REGISTRY.values(), key=lambda check: FAMILY_ORDER.index(check.info.family))
REGISTRY.clear()
REGISTRY.update((check.id, check) for check in _ordered)
