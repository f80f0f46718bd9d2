"""Drive a hypothesis property inside the run's request budget.

Each value is tried once: no database, no shrinking, no replay (a target is not a pure
function, and every request costs budget). The first time the budget runs out or the target
stops answering, the remaining values are skipped and that exception is raised once the
property is done, outside hypothesis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from ..core import BudgetExhausted, TargetUnreachable, Throttled
from ._context import Context, OtherWriter

__all__ = ["drive"]

T = TypeVar("T")


def drive(
    ctx: Context,
    strategy: st.SearchStrategy[T],
    max_examples: int,
    each: Callable[[T], Any],
    *,
    explicit: Sequence[T] = (),
) -> None:
    """Call `each` on the `explicit` values, then on up to `max_examples` values drawn from
    `strategy` with the run's seed."""
    stop: Exception | None = None

    @hypothesis_seed(ctx.seed)
    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def property_(value: T) -> None:
        nonlocal stop
        if stop is not None:
            return
        try:
            each(value)
        except (BudgetExhausted, TargetUnreachable, Throttled, OtherWriter) as exc:
            stop = exc

    for value in explicit:
        property_ = example(value)(property_)
    with contextlib.suppress(Unsatisfiable):  # nothing left to vary: every case was made
        property_()
    if stop is not None:
        raise stop
