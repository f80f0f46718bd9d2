"""The checks. Importing this package registers every check, in the order they run."""

from __future__ import annotations

from . import auth, hygiene, responses, roundtrip, semantics, validation  # noqa: F401
from ._context import PROFILES, Abort, Context, Profile, same_json
from ._registry import REGISTRY, Check, Verdict
from .generated import run_generated

__all__ = [
    "PROFILES",
    "REGISTRY",
    "Abort",
    "Check",
    "Context",
    "Profile",
    "Verdict",
    "run_generated",
    "same_json",
]
