"""Consistency under concurrency: a PATCH is atomic, and every read sees a whole document.

The metadata is an agent's session state, written by several hands at once (the webhook
handler, an operator's console, a background job). One history of requests sent at the
same time (`_concurrent`: writers PATCHing documents whose every member names the write,
readers GETting all the while, each writer reading back on a new connection) is sent once
and judged four ways. Each judgement compares as the contract means: a read shows a write
whole or it is a mixture; "older" is real time (a write that ended before another began).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..core import BudgetExhausted, short_json
from ..model import HistoryOp, Level
from ._concurrent import EARLIER, TORN, History, Op, record, sizes_for
from ._context import SUCCESS, Context, NotApplicable, OtherWriter
from ._linearizable import Operation, check
from ._registry import needs_concurrency, needs_writes, scenario
from .semantics import MERGE
from .sources import DOCS, SEED

__all__: list[str] = []

RFC5789 = "RFC 5789 section 2 (a PATCH is applied atomically: no partial representation)"


def _history(ctx: Context) -> History:
    """The run's history, sent by the first consistency check that needs it."""
    run = ctx.run
    if run.concurrent is None:
        sizes = sizes_for(ctx.profile.name)
        left = run.client.max_requests - run.client.sent
        if left < sizes.most_requests:
            raise BudgetExhausted(f"the history needs {sizes.most_requests} requests, {left} left")
        run.concurrent = record(ctx, sizes)
    else:
        ctx.exchanges.extend(op.sent.exchange for op in run.concurrent.ops)
    history: History = run.concurrent
    start = history.ops[0] if history.ops else None
    if start is not None and start.role == "start" and start.sent.status not in SUCCESS:
        raise NotApplicable(
            f"the history's first PATCH, an ordinary document, was answered "
            f"{start.sent.status}: nothing to judge"
        )
    if history.foreign:
        op = history.foreign[0]
        run.others.setdefault(ctx.writable_id, op.shown)  # the run is inconclusive
        raise OtherWriter(f"another client wrote conversation {ctx.writable_id} ({op.value[8:80]})")
    return history


def _judged(ctx: Context, history: History, faults: Iterable[tuple[Op, str]]) -> None:
    """A finding per faulty operation (its answer shown), the history drawn with them."""
    bad: set[int] = set()
    ctx.mark()  # a finding is its answer alone: only requests at the same time show it
    for op, why in faults:
        bad.add(id(op))
        ctx.fail(why, op.sent, cause=_merged(history, op))
    ctx.history = _drawn(history, bad)
    ctx.detail = (
        f"{len(history.writes)} writes and {len(history.reads)} reads at the same time "
        f"from {len(history.lanes) - 2} clients"
    )


def _merged(history: History, op: Op) -> str:
    """MERGE when what the operation showed holds a document of the history whole and more
    besides (members the PATCH did not send survived: a merge, as other checks see it)."""
    shown = op.shown if TORN in (op.value, op.answered) else None
    if not isinstance(shown, dict):
        return ""
    for document in history.documents.values():
        if len(shown) > len(document) and all(
            key in shown and shown[key] == value for key, value in document.items()
        ):
            return MERGE
    return ""


def _drawn(history: History, bad: set[int]) -> tuple[HistoryOp, ...]:
    return tuple(
        HistoryOp(
            op.lane,
            op.kind,
            _short(history, op.value),
            op.call * 1000,
            op.ret * 1000,
            op.sent.status,
            id(op) in bad,
        )
        for op in history.ops
    )


def _short(history: History, name: str) -> str:
    """A write's name as the picture shows it: `B2` (the run's nonce left out), `start`."""
    if name == history.start:
        return "start"
    if name == EARLIER:
        return "earlier"
    if name.startswith("foreign:"):
        return "foreign"
    return name.split("-", 1)[0]


def _shown(history: History, op: Op) -> str:
    if op.value == EARLIER:
        return f"what it held before the writes began ({_json(op.shown, 80)})"
    return "a mixture of documents" if op.value == TORN else _short(history, op.value)


@scenario(
    "CONSISTENCY-ATOMIC-REPLACE",
    family="consistency",
    requirement="While several PATCHes replace the metadata at once, every GET (and every "
    "PATCH's answer) shows one whole document - the one before, or one of the writes - never a "
    "mixture or a part of one, nor a write that was refused; and what stays is one whole "
    "document.",
    source=f"{RFC5789}; {SEED} (an object replaces the metadata)",
)
@needs_writes
@needs_concurrency
def atomic_replace(ctx: Context) -> None:
    history = _history(ctx)
    faults = [
        (op, f"a GET at the same time as the writes showed {_mixture(op)}")
        for op in history.reads
        if op.value == TORN and op.role != "final"
    ]
    faults += [
        (op, f"the answer to {_short(history, op.value)}'s PATCH showed {_mixture(op)}")
        for op in history.writes
        if op.answered == TORN
    ]
    final = next((op for op in history.reads if op.role == "final"), None)
    if final is not None and final.value == TORN:
        faults.append((final, f"after the writes, the conversation holds {_mixture(final)}"))
    refused = {op.value: op for op in history.writes if op.refused}
    faults += [
        (
            op,
            f"a GET showed {_short(history, op.value)}, whose PATCH was refused "
            f"({refused[op.value].sent.status}): a refused write stores nothing",
        )
        for op in history.reads
        if op.value in refused
    ]
    _judged(ctx, history, faults)


def _mixture(op: Op) -> str:
    if op.shown in ({}, None):
        return (
            f"no document ({json.dumps(op.shown)}): the old one removed, the new one not yet "
            "written"
        )
    members = op.shown if isinstance(op.shown, dict) else {}
    writes = sorted(
        {v.split("-", 1)[0] for v in members.values() if isinstance(v, str) and "-" in v}
    )
    return (
        f"a mixture of documents ({', '.join(writes) or 'none whole'}: {len(members)} members: "
        f"{_json(op.shown)})"
    )


def _json(value: object, limit: int = 160) -> str:
    return short_json(value, limit, sort_keys=True)


@scenario(
    "CONSISTENCY-READ-YOUR-WRITES",
    family="consistency",
    requirement="Once a PATCH has answered, a GET sent after that on any connection (the "
    "writer's new one, another client's) shows that document or a later one, never one "
    "written before it.",
    source=f"{DOCS} (what a PATCH stored, a GET shows)",
)
@needs_writes
@needs_concurrency
def read_your_writes(ctx: Context) -> None:
    history = _history(ctx)
    answered = [op for op in history.ops if op.kind == "write" and op.certain]
    faults = []
    for read in history.reads:
        if read.value == TORN:
            continue
        missed = [
            write
            for write in answered
            if write.ret < read.call and history.precedes(read.value, write.value)
        ]
        if missed:
            write = max(missed, key=lambda op: op.ret)
            faults.append(
                (
                    read,
                    f"{_short(history, write.value)} was answered {write.sent.status}, but "
                    f"{_reader(read)} sent after that showed {_shown(history, read)}, "
                    "written before it",
                )
            )
    _judged(ctx, history, faults)


def _reader(op: Op) -> str:
    if op.role == "fresh":
        return f"a GET of {op.lane} on a new connection"
    if op.role == "quiet":
        return "a GET on a new connection, nothing else under way"
    if op.role == "final":
        return "the last GET"
    return f"a GET of {op.lane}"


@scenario(
    "CONSISTENCY-MONOTONIC-READS",
    family="consistency",
    requirement="A client's successive GETs never go back: after showing a document, none "
    "shows one whose write had ended before that document's began.",
    source=f"{DOCS} (what a PATCH stored, a GET shows)",
)
@needs_writes
@needs_concurrency
def monotonic_reads(ctx: Context) -> None:
    history = _history(ctx)
    faults = []
    for lane in history.lanes:
        reads = [op for op in history.ops if op.lane == lane and op.role == "read"]
        reads.sort(key=lambda op: op.call)
        newest: Op | None = None
        for read in reads:
            if read.value == TORN:
                continue
            if newest is not None and history.precedes(read.value, newest.value):
                faults.append(
                    (
                        read,
                        f"{lane} read {_shown(history, newest)}, then "
                        f"{_shown(history, read)}, which was written before it",
                    )
                )
            elif newest is None or history.precedes(newest.value, read.value):
                newest = read
    _judged(ctx, history, faults)


@scenario(
    "CONSISTENCY-LINEARIZABLE",
    family="consistency",
    level=Level.ADVISORY,
    requirement="The whole history is that of one register: some order of the writes and "
    "reads, each taking effect between its request and its answer, explains what every GET "
    "showed.",
    source="ours: linearizability (Herlihy and Wing), checked as Knossos and porcupine do",
)
@needs_writes
@needs_concurrency
def linearizable(ctx: Context) -> None:
    history = _history(ctx)
    ops = [op for op in history.ops if op.role != "start" and not op.refused]  # never happened
    operations = [
        Operation(
            index,
            op.kind,
            op.value if op.value != TORN else f"{TORN}#{index}",
            op.call,
            op.ret if op.certain else float("inf"),
            certain=op.certain,
        )
        for index, op in enumerate(ops)
    ]
    verdict = check(operations, history.start)
    if verdict.linearizable is None:
        _judged(ctx, history, [])
        ctx.detail += f"; too many orders to decide within {verdict.steps} steps: not judged"
        return
    faults = []
    if verdict.linearizable is False:
        stuck = [ops[i] for i in verdict.stuck if ops[i].kind == "read"] or [
            ops[i] for i in verdict.stuck
        ]
        explained = len(verdict.order)
        for op in stuck[:3]:
            faults.append(
                (
                    op,
                    f"no order of the {len(ops)} operations explains what {op.lane} "
                    f"{'read' if op.kind == 'read' else 'wrote'} ({_shown(history, op)}): "
                    f"at most {explained} of them take effect in an order consistent with "
                    "real time",
                )
            )
    _judged(ctx, history, faults)
