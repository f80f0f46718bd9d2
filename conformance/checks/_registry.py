"""The check registry: each check registers itself with a decorator, by stable ID.

Two kinds of check:
- a *scenario* `(ctx) -> None` drives its own requests and calls `ctx.fail(...)`;
- a *response* check `(ctx, sent) -> Verdict` looks at every exchange of the run, whoever
  sent it, and says PASS, NOT_APPLICABLE (to this exchange) or returns a failure message.

Applicability rules ("needs writes", "needs a second account") are stacked guard
decorators, evaluated before a scenario runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from ..model import CheckInfo, Edition, Level

if TYPE_CHECKING:
    from ..core._http import Sent
    from ._context import Context, RunContext

__all__ = [
    "REGISTRY",
    "Check",
    "Guard",
    "Verdict",
    "needs_concurrency",
    "needs_list",
    "needs_second_account",
    "needs_webhooks",
    "needs_writes",
    "on_every_response",
    "scenario",
]

Guard = Callable[["RunContext"], str | None]  # a reason the check does not apply, or None
F = TypeVar("F", bound=Callable[..., Any])


class Verdict(Enum):
    PASS = "pass"
    NOT_APPLICABLE = "not-applicable"


ResponseCheck = Callable[["RunContext", "Sent"], "Verdict | str"]
ScenarioCheck = Callable[["Context"], None]


@dataclass(frozen=True)
class Check:
    info: CheckInfo
    scenario: ScenarioCheck | None = None
    response: ResponseCheck | None = None
    guards: tuple[tuple[Guard, bool], ...] = ()  # (guard, skipped-not-n/a)
    at_end: bool = False  # a scenario that judges what the whole run did: runs after the rest

    @property
    def id(self) -> str:
        return self.info.id


REGISTRY: dict[str, Check] = {}


def _register(check: Check) -> None:
    if check.id in REGISTRY:
        raise ValueError(f"check {check.id} registered twice")
    REGISTRY[check.id] = check


def scenario(
    id: str,
    *,
    family: str,
    level: Level = Level.REQUIRED,
    requirement: str,
    source: str,
    edition: Edition = Edition.SEED,
    at_end: bool = False,
) -> Callable[[ScenarioCheck], ScenarioCheck]:
    """Register a scenario check. `edition`: the first edition of the contract that has the
    requirement; a target that implements an earlier one gets *not implemented*. `at_end`:
    it judges what the whole run did, so it runs after every other scenario."""

    def register(fn: ScenarioCheck) -> ScenarioCheck:
        info = CheckInfo(id, family, level, requirement, source, edition)
        guards = tuple(getattr(fn, "__guards__", ()))
        _register(Check(info, scenario=fn, guards=guards, at_end=at_end))
        return fn

    return register


def on_every_response(
    id: str, *, family: str, level: Level = Level.REQUIRED, requirement: str, source: str
) -> Callable[[ResponseCheck], ResponseCheck]:
    def register(fn: ResponseCheck) -> ResponseCheck:
        _register(Check(CheckInfo(id, family, level, requirement, source), response=fn))
        return fn

    return register


def _guard(guard: Guard, skipped: bool) -> Callable[[F], F]:
    def add(fn: F) -> F:
        fn.__guards__ = (*getattr(fn, "__guards__", ()), (guard, skipped))  # type: ignore[attr-defined]
        return fn

    return add


def _writes(run: RunContext) -> str | None:
    if run.read_only:
        return "read-only run: this check writes"
    if run.writable_id in run.others:
        return (
            f"another client is writing conversation {run.writable_id}: the suite stopped "
            "writing to it"
        )
    return None


needs_writes = _guard(_writes, skipped=True)
needs_list = _guard(
    lambda run: (
        None
        if run.target.primary.key_env in run.snapshot.listed
        else "the target has no list of conversations (GET /v1/conversations answered no page)"
    ),
    skipped=False,
)
needs_second_account = _guard(
    lambda ctx: (
        None
        if ctx.target.second is not None
        else "needs a second account: set AGENTPHONE_SECOND_API_KEY and --second-conversation-id"
    ),
    skipped=False,
)


def _webhooks(run: RunContext) -> str | None:
    if run.webhooks is not None:
        return None
    if run.target.webhooks.managed:
        return "the embedded emulator did not register the run's webhook (see the run's notes)"
    return (
        "opt-in against a target the suite did not start (it never registers a webhook on "
        "a real account): point a test account's webhook at --webhook-listen, give "
        '--webhook-secret-env and --webhook-trigger or --webhook-wait (README, "Webhooks")'
    )


def _concurrency(run: RunContext) -> str | None:
    if run.options.no_concurrency:
        return "--no-concurrency: the suite sends one request at a time to this target"
    return None


def needs_concurrency(fn: F) -> F:
    """A check that sends requests at the same time: not with --no-concurrency."""
    return _guard(_concurrency, skipped=False)(fn)


def _managed_read_only(run: RunContext) -> str | None:
    if run.read_only and run.target.webhooks.managed:
        return (
            "read-only run: against the embedded emulator this check registers a webhook and "
            "makes messages arrive (writes)"
        )
    return None


def needs_webhooks(fn: F) -> F:
    """The webhook checks' guard: a receiver with deliveries it can trust (see
    `engine._webhooks`), or the reason there is none and how to get one."""
    return _guard(_webhooks, skipped=False)(_guard(_managed_read_only, skipped=True)(fn))
