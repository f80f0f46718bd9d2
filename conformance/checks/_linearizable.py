"""Is a history of reads and writes of one register linearizable?

The standard search (Wing and Gong, 1993) with the state caching of Lowe's refinement
(2017), as Knossos and porcupine use it: an operation may take effect next if it was
invoked before every operation still pending returned; a (set of operations taken, state)
pair already explored is not explored again. Writes carry unique values, so the states are
few and the search is quick for the histories a run makes (tens of operations); a step
bound keeps it bounded whatever the history, and a search that reaches it says *unknown*,
never a verdict.

Nothing here knows HTTP: an operation is a client, a kind, a value and two instants.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["MAX_STEPS", "Operation", "Verdict", "check", "impossible_reads"]

MAX_STEPS = 200_000  # search steps at most: past it the verdict is unknown


@dataclass(frozen=True)
class Operation:
    """One completed operation on the register: `write` sets `value`; `read` returned it.
    `call` and `ret`: when it was invoked and when its answer came (one clock)."""

    client: int
    kind: str  # "read" | "write"
    value: Hashable
    call: float
    ret: float  # inf for a write whose answer never said it took effect
    certain: bool = True  # False: a write that may or may not have taken effect

    def __post_init__(self) -> None:
        assert self.kind in ("read", "write"), self.kind
        assert self.call <= self.ret, (self.call, self.ret)
        assert self.certain or self.kind == "write", "only a write may be uncertain"


@dataclass(frozen=True)
class Verdict:
    """`linearizable`: True, False, or None when the search hit MAX_STEPS. `order`: the
    operations (indices) in an order that explains the history when there is one, else the
    longest prefix any order reached; `stuck`: the operations none of which could take
    effect after that prefix (what the history cannot explain)."""

    linearizable: bool | None
    order: tuple[int, ...]
    stuck: tuple[int, ...] = ()
    steps: int = 0


def check(history: Sequence[Operation], initial: Hashable, max_steps: int = MAX_STEPS) -> Verdict:
    """Is there a total order of `history` (every certain operation, and any of the
    uncertain writes), consistent with real time (an operation that returned before another
    was invoked comes first), in which every read returns the value of the latest write
    before it (or `initial`)?"""
    everything = sum(1 << i for i, op in enumerate(history) if op.certain)
    if everything == 0:
        return Verdict(True, ())
    seen: set[tuple[int, Hashable]] = set()
    # depth-first: a stack of (operations taken, state, the order so far, candidates left)
    stack: list[tuple[int, Hashable, tuple[int, ...], list[int]]] = []
    start = _candidates(history, 0, initial)
    stack.append((0, initial, (), start))
    longest: tuple[int, ...] = ()
    stuck: tuple[int, ...] = tuple(_ready(history, 0))
    steps = 0
    while stack:
        taken, state, order, left = stack[-1]
        if not left:
            stack.pop()
            continue
        index = left.pop()
        steps += 1
        if steps > max_steps:
            return Verdict(None, longest, stuck, steps)
        operation = history[index]
        after = operation.value if operation.kind == "write" else state
        now = taken | (1 << index)
        if (now, after) in seen:
            continue
        seen.add((now, after))
        path = (*order, index)
        if now & everything == everything:  # the uncertain writes: taken or not
            return Verdict(True, path, (), steps)
        if len(path) > len(longest):
            longest, stuck = path, tuple(_ready(history, now))
        stack.append((now, after, path, _candidates(history, now, after)))
    return Verdict(False, longest, stuck, steps)


def _ready(history: Sequence[Operation], taken: int) -> list[int]:
    """The operations not taken that may take effect next: those no other pending operation
    precedes (returned before they were invoked; a tie precedes nothing)."""
    pending = [i for i in range(len(history)) if not taken >> i & 1]
    returns = sorted((history[i].ret, i) for i in pending)
    first_ret, first = returns[0]
    second_ret = returns[1][0] if len(returns) > 1 else float("inf")
    return [i for i in pending if history[i].call <= (second_ret if i == first else first_ret)]


def _candidates(history: Sequence[Operation], taken: int, state: Hashable) -> list[int]:
    """The ready operations that are legal in `state` (a read must return it)."""
    return [
        i for i in _ready(history, taken) if history[i].kind == "write" or history[i].value == state
    ]


def impossible_reads(history: Sequence[Operation], initial: Hashable) -> list[int]:
    """Reads that no order can explain on their own: a value never written (nor `initial`),
    written only after the read returned, or overwritten for certain before it was invoked
    (by a write that began after the one it shows ended, and ended before the read began)."""
    writes = [op for op in history if op.kind == "write"]
    found = []
    for index, read in enumerate(history):
        if read.kind != "read":
            continue
        sources: list[Operation | None] = [None]
        if read.value != initial:
            sources = [w for w in writes if w.value == read.value and w.call <= read.ret]
        if not sources or all(_overwritten(source, read, writes) for source in sources):
            found.append(index)
    return found


def _overwritten(source: Operation | None, read: Operation, writes: list[Operation]) -> bool:
    """Did another write certainly replace `source` (None: the initial value) before
    `read` began?"""
    for other in writes:
        if other is source or other.ret >= read.call:
            continue
        if source is None or other.call > source.ret:
            return True
    return False
