"""The edges of what JSON allows, where stacks often break: integers beyond 64 bits, very
long strings, deep nesting, large documents, -0, the largest doubles.

A server may refuse any of them (it has limits the seed does not name), but never with a
5xx, only with a documented 4xx, and a refusal changes nothing. Storing them exactly is
advisory: JSON allows them, not every stack keeps them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

from ..core import Sent, same_number
from ..model import Level, Limit
from ._context import SUCCESS, Context, same_json
from ._registry import needs_writes, scenario
from ._storage import ORDINARY, ordinary
from .roundtrip import difference, within_latitude
from .semantics import _short, metadata_cause
from .sources import DOCS, RFC9110_5XX, SEED

__all__ = ["EDGES", "Edge"]

# How a conformant server may refuse a value it will not keep.
EDGE_REFUSED = frozenset({400, 413, 422})


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        value = {"n": value}
    return value


@dataclass(frozen=True)
class Edge:
    label: str
    metadata: Any  # what the body's metadata is
    raw: bytes | None = None  # the body as sent, when json.dumps cannot spell it (-0)
    quantity: tuple[str, str] = ("", "")  # refused cleanly, the limit it shows: (what, how much)

    def request(self) -> dict[str, Any]:
        if self.raw is not None:
            return {"raw": self.raw}
        return {"body": {"metadata": self.metadata}}

    @property
    def size(self) -> int:
        """The body's bytes, as the client sends it."""
        if self.raw is not None:
            return len(self.raw)
        return len(json.dumps({"metadata": self.metadata}, ensure_ascii=False).encode())


def _members(count: int) -> dict[str, str]:
    """A document of `count` members of 200 characters: about 211 bytes each."""
    return {f"k{i:04d}": "v" * 200 for i in range(count)}


_LARGEST = 5_000
EDGES: tuple[Edge, ...] = (
    # First: what size the target takes tells its other refusals from a size limit.
    Edge(
        "a document of 5,000 members (about 1 MB)",
        _members(_LARGEST),
        quantity=("metadata size", "a body of about 1 MB"),
    ),
    Edge(
        "integers beyond 64 bits",
        {"big": 2**64 + 1, "negative": -(2**63) - 1},
        quantity=("integers beyond 2^53", "2^64 + 1"),
    ),
    Edge(
        "a string of a million characters",
        {"long": "z" * 1_000_000},
        quantity=("string length", "1,000,000 characters"),
    ),
    Edge("nesting 200 levels deep", _nested(200), quantity=("nesting depth", "201 levels")),
    Edge(
        "-0 and -0.0",
        {"zero": 0, "negative_zero": -0.0},
        raw=b'{"metadata": {"zero": -0, "negative_zero": -0.0}}',
        quantity=("negative zero", "-0 and -0.0"),
    ),
    Edge(
        "the largest doubles",
        {"max": 1.7976931348623157e308, "min": -1.7976931348623157e308, "e308": 1e308},
        quantity=("the largest doubles", "1.7976931348623157e308"),
    ),
)
_SIZE_EDGE = EDGES[0].label
_BISECTION_STEPS = 12  # PATCHes spent finding the size a target refuses (to one member),
# after the one that shows an ordinary document is taken


def identical(a: Any, b: Any) -> bool:
    """Stricter than `same_json`: a float's sign (-0.0) counts. Numbers compare as the
    numbers their texts write (`same_number`): 2^64 + 1 is not the double
    1.8446744073709552e19 it rounds to, but the largest double written out in digits is the
    largest double."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return not isinstance(b, bool) and same_number(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        for key, x in a.items():
            y = b[key]
            if type(x) is str:  # most members: compared here, no call
                if type(y) is not str or x != y:
                    return False
            elif not identical(x, y):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    return same_json(a, b)


def _stored(ctx: Context, read: Sent | None = None) -> Any:
    """The stored metadata: as `read` showed it if that GET is usable, else read now."""
    shown = read if _usable(read) else ctx.read(ctx.writable_id)
    return shown.json_body.get("metadata")


def _usable(read: Sent | None) -> TypeGuard[Sent]:
    """Is this GET a whole JSON object that shows the stored metadata?"""
    return (
        read is not None
        and read.complete
        and read.status in SUCCESS
        and isinstance(read.json_body, dict)
    )


@scenario(
    "ROBUST-EDGE-VALUES",
    family="robustness",
    requirement="Metadata at the edges of JSON (integers beyond 64 bits, a million-character "
    "string, nesting 200 deep, a 1 MB document, -0, the largest doubles) is never answered "
    "5xx; if refused, then with a documented 4xx (400, 413 or 422) and nothing stored.",
    source=f"{RFC9110_5XX}; {SEED} (metadata: object); RFC 8259 sections 6 and 9 (limits)",
)
@needs_writes
def edge_values(ctx: Context) -> None:
    read: Sent | None = None  # the latest GET of the conversation, if it is still current
    for edge in EDGES:
        before = _stored(ctx, read)
        ctx.mark()
        sent = ctx.patch(ctx.writable_id, **edge.request(), edge=True)
        read = None
        if sent.status in SUCCESS:  # kept: how exactly is ROUNDTRIP-EDGE-VALUES's question,
            ctx.run.accepted(edge.size)
            read = ctx.get(ctx.writable_id)  # judged there
            ctx.run.accepted_edges[edge.label] = (sent, read)
            continue
        if sent.status >= 500:
            ctx.fail(f"{edge.label} crashed the server ({sent.status})", sent)
        elif sent.status not in EDGE_REFUSED:
            ctx.fail(f"{edge.label} answered {sent.status}, not a documented refusal", sent)
        else:
            after = ctx.read(ctx.writable_id)
            now = after.json_body.get("metadata")
            if not same_json(now, before):
                ctx.fail(
                    f"{edge.label} was refused ({sent.status}) but GET now shows "
                    f"{_short(now)} instead of {_short(before)}",
                    sent,
                )
            elif edge.label == _SIZE_EDGE:
                ctx.run.found_limit(_size_limit(ctx, sent.status), precise=True)
            else:
                ctx.run.found_limit(Limit(*edge.quantity, sent.status), edge.size)


def _size_limit(ctx: Context, status: int) -> Limit:
    """The document size a target refuses, by bisection between an ordinary document (which
    every server must accept: sent first, and below it if refused) and the megabyte one it
    refused: at most `_BISECTION_STEPS` PATCHes, to one member (about 211 bytes). Each step
    is judged like any PATCH (an ordinary one refused is VALIDATION-ACCEPTS-VALID's
    finding)."""
    low, high = ORDINARY.bytes // 230, _LARGEST  # members: accepted, refused
    accepted, refused = 0, len(json.dumps({"metadata": _members(high)}).encode())
    ordinary_sent = ctx.patch(ctx.writable_id, {"metadata": _members(low)})  # judged, not edge
    if ordinary_sent.status in SUCCESS:
        accepted = len(json.dumps({"metadata": _members(low)}).encode())
        ctx.run.accepted(accepted)
    else:  # an ordinary document refused (VALIDATION-ACCEPTS-VALID's): look below it
        low, high = 0, low
        refused = len(json.dumps({"metadata": _members(high)}).encode())
        status = ordinary_sent.status if ordinary_sent.status in EDGE_REFUSED else status
    for _ in range(_BISECTION_STEPS):
        if high - low <= 1:
            break
        middle = (low + high) // 2
        metadata = _members(middle)
        size = len(json.dumps({"metadata": metadata}).encode())
        sent = ctx.patch(
            ctx.writable_id, {"metadata": metadata}, edge=ordinary(metadata, size) is not None
        )
        if sent.status in SUCCESS:
            low, accepted = middle, size
            ctx.run.accepted(size)
        elif sent.status in EDGE_REFUSED:
            high, refused, status = middle, size, sent.status
        else:
            break  # a crash or an odd status: judged where every answer is
    found = f"a body of {accepted:,} bytes" if accepted else ""
    return Limit("metadata size", f"a body of {refused:,} bytes", status, found)


@scenario(
    "ROUNDTRIP-EDGE-VALUES",
    family="robustness",
    level=Level.ADVISORY,
    requirement="Metadata at the edges of JSON that a PATCH accepts comes back exactly, in "
    "the answer and a later GET, beyond what RFC 8259 promises: integers beyond 2^53 stay "
    "exact, -0.0 keeps its sign. (Any other change of what was accepted is "
    "ROUNDTRIP-METADATA's failure, at any size.)",
    source=f"{SEED}; {DOCS}; RFC 8259 section 6 (interoperable numbers are a choice)",
)
@needs_writes
def edge_round_trip(ctx: Context) -> None:
    judged = 0
    for edge in EDGES:
        earlier = ctx.run.accepted_edges.pop(edge.label, None)  # once: a replay sends anew
        sent = earlier[0] if earlier else ctx.patch(ctx.writable_id, **edge.request(), edge=True)
        if sent.status not in SUCCESS or not isinstance(sent.json_body, dict):
            continue  # refused: ROBUST-EDGE-VALUES judges how
        judged += 1
        read = earlier[1] if earlier else None
        later = read if _usable(read) else ctx.read(ctx.writable_id)
        for where, shown in (("the PATCH answer", sent), ("a later GET", later)):
            got = shown.json_body.get("metadata")
            if identical(got, edge.metadata):
                continue
            message = f"{edge.label}: {where} {difference(edge.metadata, got)}"
            if within_latitude(edge.metadata, got):
                ctx.fail(message, shown)
            else:  # accepted, then kept changed: data lost, whatever its size
                cause = metadata_cause(edge.metadata, got)
                ctx.fail(
                    message,
                    shown,
                    check_id="ROUNDTRIP-METADATA",
                    judge=_changes(edge),
                    cause=cause,
                )
            break
    ctx.detail = f"{judged} accepted edge documents judged"


def _changes(edge: Edge) -> Any:
    """The replay's judge: does the same request's answer still change the document?"""

    def judge(again: Sent) -> bool:
        if again.status not in SUCCESS or not isinstance(again.json_body, dict):
            return False
        got = again.json_body.get("metadata")
        return not within_latitude(edge.metadata, got)

    return judge
