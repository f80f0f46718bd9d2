"""Requests sent at the same time: one bounded history of concurrent writes and reads of the
writable conversation, which the consistency checks judge.

A document is written first (the *start*), on its own. Then, together, writers each PATCH a
few documents of their own, every member naming the write (`{"write": "B2-...", "b1":
"B2-...", ...}`), and after each answer read the conversation back on a new connection; and
readers GET it over and over, each on its own connection, until the writers are done (a few
reads more, a bounded number in all). Then, quietly: a few GETs each on a new connection
(whatever a balancer or a per-process cache holds, they fill), a PATCH alone (it empties a
cache), one more PATCH (the *last*) with a couple of GETs sent just ahead of it (a cache a
read fills after the write cleared it is stale for good), the same number of GETs on new
connections (each must show the last), and a last GET on the run's own connection reads
what stayed. Every
operation keeps when it was sent and when its answer came, on one clock.

Every request goes through the run's client (its lanes share the budget, the rate limit and
the deadline), and the answers are shown to the response checks like any other. The
conversation is the run's writable one, restored at the end like every write of the run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core import Client, ConditionFailed, Sent
from ._context import (
    CONVERSATION_PATH,
    SUCCESS,
    Context,
    OtherWriter,
    conversation_path,
    same_json,
)

__all__ = ["EARLIER", "TORN", "History", "Op", "Sizes", "record", "sizes_for"]

TORN = "torn"  # what a read shows that is no whole document of the history
RACE_HEAD_START = 0.002  # seconds the racing GETs leave before the last write
EARLIER = "earlier"  # what a read shows that the conversation held before the history


@dataclass(frozen=True)
class Sizes:
    """How many of each: writers and the writes each sends; readers and the reads each
    sends at least (while the writers write) and at most."""

    writers: int
    writes: int
    readers: int
    min_reads: int
    max_reads: int
    quiet_reads: int = 4  # before and after the last write, each on a new connection
    racing_reads: int = 2  # sent with the last write, each on a new connection

    @property
    def most_requests(self) -> int:
        """The requests a history sends at most: the start, each write and the read after it,
        the readers' reads, the quiet reads around the last two writes, those writes and the
        GETs racing the last, the last read."""
        concurrent = 2 * self.writers * self.writes + self.readers * self.max_reads
        return 2 + concurrent + 2 * self.quiet_reads + self.racing_reads + 2


_SIZES = {
    "quick": Sizes(writers=3, writes=2, readers=2, min_reads=4, max_reads=10),
    "ci": Sizes(writers=3, writes=4, readers=3, min_reads=6, max_reads=16),
    "thorough": Sizes(writers=4, writes=8, readers=4, min_reads=8, max_reads=24),
}


def sizes_for(profile: str) -> Sizes:
    return _SIZES.get(profile, _SIZES["quick"])


@dataclass
class Op:
    """One operation of the history. `value`: the write a PATCH sent, or what a GET showed
    (a write's name, `start`, TORN, or another client's document); `shown`: the metadata a
    GET (or a PATCH) answered; `certain`: False for a write whose answer was no 2xx (it may or
    may not have taken effect)."""

    lane: str
    kind: str  # "write" | "read"
    role: str  # "start", "write", "fresh" (after the lane's write, new connection),
    #            "read", "quiet" (one at a time, new connection), "last" (the last write),
    #            "race" (sent with the last write), "final"
    call: float
    ret: float
    sent: Sent
    value: str
    shown: Any = None
    certain: bool = True
    answered: str = ""  # a write: what its answer showed, named as a read's is (or "")
    refused: bool = False  # a write answered 4xx (not 408 or 429): it stored nothing


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)
    start: str = ""  # the name of the document written first: what the register held
    documents: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> document
    lanes: list[str] = field(default_factory=list)
    foreign: list[Op] = field(default_factory=list)  # reads of a document none of ours
    # what the conversation may have held before: the run's earlier values and the originals
    before: list[Any] = field(default_factory=list, repr=False)
    _members: dict[str, set[str]] | None = field(default=None, repr=False)

    def earlier_members(self) -> dict[str, set[str]]:
        """Every member of an earlier value, key -> its values as canonical JSON (built once,
        when a read shows neither a document of the history nor an earlier one whole)."""
        if self._members is None:
            self._members = {}
            for value in self.before:
                if isinstance(value, dict):
                    for key, member in value.items():
                        self._members.setdefault(key, set()).add(_canonical(member))
        return self._members

    @property
    def writes(self) -> list[Op]:
        return [op for op in self.ops if op.kind == "write" and op.role != "start"]

    @property
    def reads(self) -> list[Op]:
        return [op for op in self.ops if op.kind == "read"]

    def precedes(self, first: str, then: str) -> bool:
        """Did write `first` certainly end before write `then` began (the start precedes
        every write)?"""
        if first == then:
            return False
        if first == EARLIER:
            return then in self.documents
        if first == self.start:
            return then in self.documents
        a, b = self._write(first), self._write(then)
        return a is not None and b is not None and a.ret < b.call

    def _write(self, name: str) -> Op | None:
        return next((op for op in self.ops if op.kind == "write" and op.value == name), None)


def _document(name: str, keys: str) -> dict[str, str]:
    """A document of one write: every member names it."""
    return {"conformance": "consistency", "write": name, **{f"{keys}{i}": name for i in (1, 2, 3)}}


def _name(writer: int, n: int, nonce: str) -> str:
    return f"{'ABCDEFGH'[writer]}{n}-{nonce}"


def _named(history: History, metadata: Any, earlier: Callable[[Any], bool]) -> str:
    """The write a read shows: its name when the metadata is one of the history's documents
    whole; TORN when it mixes or cuts them (with each other, or with members the conversation
    held before: a merge); EARLIER for what the conversation held before the history (a value
    the run wrote before, the original, or a mixture of their members); else another
    client's."""
    if isinstance(metadata, dict):
        name = metadata.get("write")
        if isinstance(name, str) and same_json(metadata, history.documents.get(name)):
            return name
        written = [_ours(history, key, value) for key, value in metadata.items()]
        if metadata and all(written):
            return TORN  # made only of the history's members: a part, or a mixture
    if earlier(metadata):
        return EARLIER
    if isinstance(metadata, dict) and metadata:
        before = history.earlier_members()
        if all(
            mine or _canonical(value) in before.get(key, ())
            for mine, (key, value) in zip(written, metadata.items(), strict=True)
        ):
            return TORN if any(written) else EARLIER  # a merge with what it held before
    return "foreign:" + json.dumps(metadata, sort_keys=True, ensure_ascii=False)[:200]


def _ours(history: History, key: str, value: Any) -> bool:
    return any(key in d and d[key] == value for d in history.documents.values())


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def record(ctx: Context, sizes: Sizes) -> History:
    """Send the history (the check's own requests, in the order their answers came) and
    return it. A lane that met the budget, the deadline, an unreachable target or a throttle
    stops; the first such exception is raised here once every lane is done."""
    nonce = f"{ctx.rng.getrandbits(32):08x}"
    history = History(start=f"S-{nonce}")
    history.documents[history.start] = _document(history.start, "s")
    cid = ctx.writable_id
    path = conversation_path(cid)
    authorization = ctx.bearer(ctx.target.primary)
    clock = time.monotonic
    origin = clock()

    def at() -> float:
        return clock() - origin

    def send(client: Client, method: str, body: Any = None, conditional: bool = False) -> Sent:
        if method == "PATCH":  # the writers' race is the point: no If-Match among them
            return client.send(
                "PATCH",
                path,
                authorization=authorization,
                json_body={"metadata": body},
                path_template=CONVERSATION_PATH,
                conditional=conditional,
            )
        return client.send(
            "GET", path, authorization=authorization, path_template=CONVERSATION_PATH
        )

    lock = threading.Lock()
    originals = [body.get("metadata") for body in ctx.run.snapshot.conversations.values()]

    def earlier(metadata: Any) -> bool:
        return ctx.run.client.wrote(metadata) or any(same_json(metadata, o) for o in originals)

    history.before = [*originals, *ctx.run.client.written]  # before the history's own

    def keep(op: Op) -> None:
        with lock:
            history.ops.append(op)

    def read(client: Client, lane: str, role: str) -> None:
        call = at()
        sent = send(client, "GET")
        ret = at()
        shown = sent.json_body.get("metadata") if isinstance(sent.json_body, dict) else None
        if sent.status in SUCCESS and isinstance(sent.json_body, dict):
            op = Op(lane, "read", role, call, ret, sent, _named(history, shown, earlier), shown)
            keep(op)
            if op.value.startswith("foreign:"):
                history.foreign.append(op)

    # the start: on its own, before anything else
    start_call = at()
    try:
        first = send(ctx.run.client, "PATCH", history.documents[history.start], conditional=True)
    except ConditionFailed as exc:  # If-Match refused: someone else wrote it
        ctx.run.others.setdefault(ctx.writable_id, exc.metadata)
        raise OtherWriter(str(exc)) from None
    start = Op("start", "write", "start", start_call, at(), first, history.start)
    keep(start)
    if first.status not in SUCCESS:
        _own(ctx, history)
        return history

    for number in range(sizes.writers):  # every document named before any lane starts
        for n in range(1, sizes.writes + 1):
            name = _name(number, n, nonce)
            history.documents[name] = _document(name, "abcdefgh"[number])
    writers_left = [sizes.writers]
    errors: list[BaseException] = []
    barrier = threading.Barrier(sizes.writers + sizes.readers)

    def writer(number: int) -> None:
        lane = f"writer {number + 1}"
        client = ctx.run.client.lane()
        try:
            barrier.wait(timeout=30)
            for n in range(1, sizes.writes + 1):
                name = _name(number, n, nonce)
                call = at()
                sent = send(client, "PATCH", history.documents[name])
                op = _write(lane, "write", call, at(), sent, name)
                if op.certain and isinstance(sent.json_body, dict) and "metadata" in sent.json_body:
                    op.shown = sent.json_body["metadata"]
                    op.answered = _named(history, op.shown, earlier)
                keep(op)
                fresh = ctx.run.client.lane()  # a new connection: read your write there
                try:
                    read(fresh, lane, "fresh")
                finally:
                    fresh.close()
        finally:
            client.close()
            with lock:
                writers_left[0] -= 1

    def reader(number: int) -> None:
        lane = f"reader {number + 1}"
        client = ctx.run.client.lane()
        try:
            barrier.wait(timeout=30)
            reads = 0
            after = 0  # reads once the writers are done: a few more
            while reads < sizes.max_reads and (reads < sizes.min_reads or after < 3):
                read(client, lane, "read")
                reads += 1
                with lock:
                    after += 0 if writers_left[0] else 1
        finally:
            client.close()

    threads = _spawn("writer", sizes.writers, writer, errors)
    threads += _spawn("reader", sizes.readers, reader, errors)
    history.lanes = ["start"] + [f"writer {i + 1}" for i in range(sizes.writers)]
    history.lanes += [f"reader {i + 1}" for i in range(sizes.readers)]
    history.lanes += [f"race {i + 1}" for i in range(sizes.racing_reads)] + ["after"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        _own(ctx, history)
        raise errors[0]
    try:
        _quietly(ctx, history, sizes, nonce, send, read, keep, at)
    finally:
        _own(ctx, history)
    return history


def _quietly(
    ctx: Context,
    history: History,
    sizes: Sizes,
    nonce: str,
    send: Callable[..., Sent],
    read: Callable[[Client, str, str], None],
    keep: Callable[[Op], None],
    at: Callable[[], float],
) -> None:
    """One request at a time: GETs on new connections, the last write on one, GETs on new
    connections again, and the last GET on the run's own connection."""

    def fresh_reads() -> None:
        for _ in range(sizes.quiet_reads):
            fresh = ctx.run.client.lane()
            try:
                read(fresh, "after", "quiet")
            finally:
                fresh.close()

    fresh_reads()
    # a write alone first: whatever cache it clears is empty when the racing GETs come
    name = f"Y1-{nonce}"
    history.documents[name] = _document(name, "y")
    writer = ctx.run.client.lane()
    try:
        call = at()
        sent = send(writer, "PATCH", history.documents[name])
        keep(_write("after", "last", call, at(), sent, name))
    finally:
        writer.close()
    name = f"Z1-{nonce}"
    history.documents[name] = _document(name, "z")
    errors: list[BaseException] = []
    barrier = threading.Barrier(1 + sizes.racing_reads)

    def race(number: int) -> None:
        """A GET sent with the last write: a cache filled from a read that began before the
        write, after the write cleared it, is stale for good (the quiet reads show it)."""
        racer = ctx.run.client.lane()
        try:
            barrier.wait(timeout=30)
            read(racer, f"race {number + 1}", "race")
        finally:
            racer.close()

    racers = _spawn("race", sizes.racing_reads, race, errors)
    for thread in racers:
        thread.start()
    writer = ctx.run.client.lane()
    try:
        barrier.wait(timeout=30)
        time.sleep(RACE_HEAD_START)  # the GETs a little ahead: they read before the write
        call = at()
        sent = send(writer, "PATCH", history.documents[name])
        keep(_write("after", "last", call, at(), sent, name))
    finally:
        writer.close()
        for thread in racers:
            thread.join()
    if errors:
        raise errors[0]
    fresh_reads()
    read(ctx.run.client, "after", "final")


def _refused(status: int) -> bool:
    return 400 <= status < 500 and status not in (408, 429)


def _write(lane: str, role: str, call: float, ret: float, sent: Sent, name: str) -> Op:
    """A write of the history: certain when answered 2xx, refused when 4xx (not 408, 429)."""
    op = Op(lane, "write", role, call, ret, sent, name, certain=sent.status in SUCCESS)
    op.refused = _refused(sent.status)
    return op


def _spawn(
    kind: str, count: int, work: Callable[[int], None], errors: list[BaseException]
) -> list[threading.Thread]:
    """`count` threads running `work(i)`; what one raises is kept in `errors`."""

    def guarded(number: int) -> None:
        try:
            work(number)
        except BaseException as exc:
            errors.append(exc)

    return [
        threading.Thread(target=guarded, args=(i,), name=f"agentphone-{kind}-{i}", daemon=True)
        for i in range(count)
    ]


def _emptied(history: History) -> None:
    """A read that shows no document at all (`{}` or null, no write of the history) while a
    write was under way saw that write half done: the old document removed, the new one not
    yet in (a delete, then inserts). Such a read is TORN, not someone else's value."""
    writes = [op for op in history.ops if op.kind == "write" and op.role != "start"]
    for op in history.ops:
        if op.kind != "read" or op.shown not in ({}, None) or op.value in history.documents:
            continue
        if any(op.call < w.ret and w.call < op.ret for w in writes):
            if op in history.foreign:
                history.foreign.remove(op)
            op.value = TORN


def _own(ctx: Context, history: History) -> None:
    """The history's exchanges as the check's own, in the order they were sent; a read of
    a write half done named as such."""
    _emptied(history)
    history.ops.sort(key=lambda op: op.call)
    ctx.exchanges.extend(op.sent.exchange for op in history.ops)
