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


def replay_all(
    context: RunContext, failures: Mapping[str, Evidence]
) -> dict[str, tuple[Confirmation, str]]:
    """Each failure replayed once, in order, within the run's budget: its confirmation, and
    for one that could not be replayed, why (budget spent, target gone, throttled, the
    replay itself failed). An interrupt stops the replays: it goes up, and what was not
    replayed stays *not replayed*."""
    confirmed: dict[str, tuple[Confirmation, str]] = {}
    for check_id, evidence in failures.items():
        try:
            confirmed[check_id] = (_replay(context, evidence), "")
        except BudgetExhausted:
            confirmed[check_id] = (Confirmation.NOT_REPLAYED, "the request budget was spent")
        except TargetUnreachable as exc:
            confirmed[check_id] = (
                Confirmation.NOT_REPLAYED,
                f"the target stopped answering ({exc})",
            )
        except Throttled:
            confirmed[check_id] = (Confirmation.NOT_REPLAYED, "the target kept answering 429")
        except Exception as exc:  # a check's bug while replaying: the failure stands
            why = f"the replay itself failed ({type(exc).__name__}); the failure stands as found"
            confirmed[check_id] = (Confirmation.NOT_REPLAYED, why)
    return confirmed
