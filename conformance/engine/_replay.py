"""A failure is replayed before it is reported: *confirmed* if it fails again, *flaky* if
not (compare schemathesis's `st replay`). A flaky failure still fails the gate: a server
that answers the same request two ways is not conformant; the label tells a regression
from noise.

A scenario check that failed on its own runs again, whole, in a fresh context. A failure
seen in an answer (a response check's, or one a check found for another) is replayed by
sending that request again and judging the new answer the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from ..checks import Abort, Check, Context, Judge, RunContext
from ..core import BudgetExhausted, Sent, TargetUnreachable, Throttled
from ..model import Confirmation

__all__ = ["Evidence", "replay_all"]


@dataclass(frozen=True)
class Evidence:
    """What it takes to see one check's failure again."""

    scenario: Check | None = None  # a scenario check that failed on its own: run it again
    sent: Sent | None = None  # else the first answer that showed the failure,
    judge: Judge | None = None  # and whether an answer to the same request shows it too


def _replay(context: RunContext, evidence: Evidence) -> Confirmation:
    if evidence.scenario is not None and evidence.scenario.scenario is not None:
        ctx = Context(context)
        with contextlib.suppress(Abort):  # its findings say why it stopped
            evidence.scenario.scenario(ctx)
        return Confirmation.CONFIRMED if ctx.failure_count else Confirmation.FLAKY
    if evidence.sent is not None and evidence.judge is not None:
        again = context.client.resend(evidence.sent)
        return Confirmation.CONFIRMED if evidence.judge(again) else Confirmation.FLAKY
    return Confirmation.NOT_REPLAYED


def replay_all(context: RunContext, failures: Mapping[str, Evidence]) -> dict[str, Confirmation]:
    """Each failure replayed once, in order, within the run's budget; a failure that cannot
    be replayed (budget spent, target gone, throttled) is *not replayed*. An interrupt stops
    the replays: it goes up, and what was not replayed stays *not replayed*."""
    confirmed: dict[str, Confirmation] = {}
    for check_id, evidence in failures.items():
        try:
            confirmed[check_id] = _replay(context, evidence)
        except (BudgetExhausted, TargetUnreachable, Throttled):
            confirmed[check_id] = Confirmation.NOT_REPLAYED
        except Exception:  # a check's bug while replaying: the failure stands, unconfirmed
            confirmed[check_id] = Confirmation.NOT_REPLAYED
    return confirmed
