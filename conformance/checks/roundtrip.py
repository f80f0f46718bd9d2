"""The property at the heart of the endpoint: any JSON object written comes back exactly.

On every profile the round trip sends each document of the storage model (`_storage`):
every dimension along which a real store or middleware changes JSON, each as one member, so
that a member that came back different names the dimension that broke. A refused document
is narrowed down the same way, by halves, to the dimensions refused: an ordinary one refused
is a failure, one past the ordinary is the target's limit (reported, not failed). Then
hypothesis draws documents for breadth (`profile.roundtrip_examples`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ..core import Sent
from ..model import Limit
from ._context import SIZE, SUCCESS, Context, same_json
from ._drive import drive
from ._registry import needs_writes, scenario
from ._storage import DOCUMENTS, Dimension, Document, Latitude, ordinary
from .semantics import MERGE, _short, difference, drifted_since, metadata_cause
from .sources import DOCS, SEED

__all__ = ["REFUSED", "difference", "metadata_objects", "within_latitude"]

# How a server refuses what it will not keep (RFC 9110; FastAPI's 422).
REFUSED = frozenset({400, 413, 422})
NARROWING = 24  # PATCHes the round trip may spend naming the dimensions a target refused
_ABSENT: Any = object()

# Text a JSON document can carry and any reasonable store keeps: no NUL (PostgreSQL's jsonb
# refuses it), no lone surrogates (not Unicode scalar values).
_text_chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_keys = st.text(_text_chars, max_size=24) | st.sampled_from(
    ["a.b", "$set", "with space", "", "emoji 🎉", "ключ", "키", "a/b"]
)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)  # exact in every JSON parser
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_text_chars, max_size=60)
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A named function, not a lambda: hypothesis describes a lambda by parsing its source.
    return st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4)


_values = st.recursive(_leaves, _containers, max_leaves=16)
metadata_objects = st.dictionaries(_keys, _values, max_size=8)

# The seed page's own use case: customer information, business context, session state.
USE_CASE = {"customerName": "Ada Lovelace", "orderId": "ORD-1042", "tier": 2, "vip": True}


@scenario(
    "ROUNDTRIP-METADATA",
    family="semantics",
    requirement="PATCH with any JSON object as metadata answers 200 with exactly that "
    "metadata, the path's id and every other field unchanged, and a later GET shows it: "
    "whatever characters its strings hold, whatever they look like (numbers, booleans, "
    "dates, JSON), numbers to the last bit, arrays in order with every item, every member "
    "and key as sent. An ordinary document (a few KiB) is never refused; past that, a "
    "clean refusal is the target's limit.",
    source=f"{SEED} (metadata: object); {DOCS}; RFC 8259",
)
@needs_writes
def round_trip(ctx: Context) -> None:
    trip = _Trip(ctx)
    trip.whole(USE_CASE, content_type="application/json; charset=utf-8")  # a parameter too
    for document in DOCUMENTS:
        trip.document(document)
    trip.report_limits()
    drive(ctx, metadata_objects, ctx.profile.roundtrip_examples, trip.whole)


class _Trip:
    """One round trip check's walk: what is stored now, what other fields were, what was
    refused and accepted of each limited quantity."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cid = ctx.writable_id
        read = ctx.read(self.cid).json_body
        self.baseline: dict[str, Any] = read
        self.stored: Any = read.get("metadata")
        self.narrowing = NARROWING
        # quantity -> the smallest refused (rank in the model, dimension, status), and the
        # largest accepted (rank, dimension): reported together as the target's limit
        self.refused: dict[str, tuple[int, Dimension, int]] = {}
        self.accepted: dict[str, tuple[int, Dimension]] = {}
        self.sizes: dict[str, int] = {}  # a refused dimension's key -> its body's bytes

    # --- whole documents (the use case, and hypothesis's) --------------------------------
    def whole(self, metadata: dict[str, Any], content_type: str | None = None) -> None:
        """PATCH one document and read it back (labelled `content_type` if given)."""
        ctx = self.ctx
        ctx.mark()  # a replace: each document stands alone
        if content_type is None:
            sent = ctx.patch(self.cid, {"metadata": metadata})
        else:
            body = json.dumps({"metadata": metadata}, ensure_ascii=False).encode()
            sent = ctx.patch(self.cid, raw=body, content_type=content_type)
        what = f"PATCH with metadata {_short(metadata, 80)}"
        if sent.status in REFUSED and ordinary(metadata) is not None:
            self._nothing_stored(sent, what)
            return  # past the ordinary: the target's limit
        if not ctx.expect_status(sent, SUCCESS, what) or not self._answer_ok(sent):
            return
        got = sent.json_body.get("metadata", _ABSENT)
        if not same_json(got, metadata):
            cause = metadata_cause(metadata, got)
            ctx.fail(f"the PATCH answer's metadata {_changed(metadata, got)}", sent, cause=cause)
        read = self._read_back()
        stored = read.json_body.get("metadata", _ABSENT) if read is not None else metadata
        if read is not None and not same_json(stored, metadata):
            cause = metadata_cause(metadata, stored)
            ctx.fail(f"a later GET's metadata {_changed(metadata, stored)}", read, cause=cause)

    # --- the storage model's documents ---------------------------------------------------
    def document(self, document: Document, keys: frozenset[str] | None = None) -> None:
        ctx = self.ctx
        keys = keys if keys is not None else frozenset(d.key for d in document.dimensions)
        ctx.mark()
        sent = ctx.patch(self.cid, raw=document.body(keys), edge=_past_ordinary(document, keys))
        if sent.status in SUCCESS:
            self._accepted(document, keys, sent)
        elif sent.status in REFUSED or sent.status >= 500:
            if sent.status in REFUSED:
                self._nothing_stored(sent, f"the {document.group} document")
            self._refused(document, keys, sent)
        else:
            ctx.expect_status(sent, SUCCESS, f"PATCH with the {document.group} document")

    def _accepted(self, document: Document, keys: frozenset[str], sent: Sent) -> None:
        if not self._answer_ok(sent):
            return
        self.ctx.run.accepted(len(document.body(keys)))
        for dimension in document.dimensions:
            if dimension.key in keys and dimension.quantity:
                self._count(dimension, accepted=True)
        self._compare(document, keys, sent, "the PATCH answer")
        read = self._read_back()
        if read is not None:
            self._compare(document, keys, read, "a later GET")

    def _compare(self, document: Document, keys: frozenset[str], shown: Sent, where: str) -> None:
        """Each member sent, as `shown` holds it: a difference names its dimension."""
        ctx = self.ctx
        got = shown.json_body.get("metadata")
        if not isinstance(got, dict):
            ctx.fail(f"{where} holds metadata {_shown(got)}, not the {document.group} sent", shown)
            return
        exact = _decimals(shown)
        for dimension in document.dimensions:
            if dimension.key not in keys:
                continue
            if dimension.spread:  # its members are the document's own
                value: Any = {k: got[k] for k in dimension.value if k in got}
                verdict = _judge(dimension, value, value)
            else:
                value = got.get(dimension.key, _ABSENT)
                verdict = _judge(dimension, value, exact.get(dimension.key, _ABSENT))
            if verdict is None:
                continue
            advisory, change = verdict
            message = f"{dimension.name}: {where} {change} ({dimension.layers})"
            if advisory:
                ctx.fail(message, shown, check_id="ROUNDTRIP-EDGE-VALUES", judge=_still(dimension))
            else:
                ctx.fail(message, shown)
        spread = {k for d in document.dimensions if d.spread and d.key in keys for k in d.value}
        unsent = sorted(set(got) - keys - spread)
        if unsent:
            members = ", ".join(map(repr, unsent[:8]))
            ctx.fail(f"{where} holds members never sent: {members}", shown, cause=MERGE)

    def _refused(self, document: Document, keys: frozenset[str], sent: Sent) -> None:
        """Name what was refused (or crashed on): the dimensions, by halves."""
        culprits = self._narrow(document, keys, sent)
        for dimension, answer in culprits:
            if answer.status >= 500:
                self.ctx.fail(_crashed(document, frozenset({dimension.key}), answer), answer)
            elif dimension.latitude is Latitude.EXACT:
                self.ctx.fail(
                    f"{dimension.name}: an ordinary value, refused ({answer.status}) "
                    f"({dimension.layers})",
                    answer,
                )
            else:
                self._count(dimension, accepted=False, status=answer.status)
                self.sizes[dimension.key] = len(document.body(frozenset({dimension.key})))
        if culprits:
            return
        if sent.status >= 500:
            self.ctx.fail(_crashed(document, keys, sent), sent)
            return
        size = len(document.body(keys))
        if ordinary(document.metadata, size) is None:
            self.ctx.fail(
                f"the {document.group} document ({size:,} bytes) was refused "
                f"({sent.status}), though each of its members alone was accepted",
                sent,
            )
        else:
            self.ctx.run.found_limit(Limit(SIZE, f"a body of {size:,} bytes", sent.status))

    def _narrow(
        self, document: Document, keys: frozenset[str], sent: Sent
    ) -> list[tuple[Dimension, Sent]]:
        """The members of a refused (or crashing) document that are refused on their own."""
        if len(keys) == 1:
            return [(document.named(next(iter(keys))), sent)]
        ordered = [d.key for d in document.dimensions if d.key in keys]
        culprits: list[tuple[Dimension, Sent]] = []
        for half in (ordered[: len(ordered) // 2], ordered[len(ordered) // 2 :]):
            if self.narrowing <= 0:
                break
            self.narrowing -= 1
            self.ctx.mark()
            part = frozenset(half)
            again = self.ctx.patch(
                self.cid, raw=document.body(part), edge=_past_ordinary(document, part)
            )
            if again.status in REFUSED or again.status >= 500:
                culprits += self._narrow(document, part, again)
            elif again.status in SUCCESS:
                self._accepted(document, part, again)
            else:
                self.ctx.expect_status(again, SUCCESS, f"PATCH with part of the {document.group}")
        return culprits

    # --- limits --------------------------------------------------------------------------
    def _count(self, dimension: Dimension, *, accepted: bool, status: int = 0) -> None:
        what, _ = dimension.quantity or (dimension.name, "")
        rank = next(i for i, d in enumerate(_ALL) if d is dimension)
        if accepted:
            best = self.accepted.get(what)
            if best is None or best[0] < rank:
                self.accepted[what] = (rank, dimension)
        else:
            worst = self.refused.get(what)
            if worst is None or rank < worst[0]:
                self.refused[what] = (rank, dimension, status)

    def report_limits(self) -> None:
        for what, (rank, dimension, status) in self.refused.items():
            below = self.accepted.get(what)
            accepted = ""
            if below is not None and below[0] < rank:
                accepted = _amount(below[1])
            limit = Limit(what, _amount(dimension), status, accepted)
            self.ctx.run.found_limit(limit, self.sizes.get(dimension.key, 0))

    # --- helpers -------------------------------------------------------------------------
    def _answer_ok(self, sent: Sent) -> bool:
        ctx = self.ctx
        answer = sent.json_body
        if not isinstance(answer, dict):
            ctx.fail(f"the {sent.status} answer is not a JSON object", sent)
            return False
        if answer.get("id") != self.cid:
            ctx.fail(f"answered for id {answer.get('id')!r}, not {self.cid!r}", sent)
        changed = drifted_since(self.baseline, answer)  # a live line gains messages
        if changed:
            ctx.fail(f"the PATCH also changed {', '.join(changed)}", sent)
            self.baseline = answer  # report each drift once, not on every document
        return True

    def _read_back(self) -> Sent | None:
        read = self.ctx.get(self.cid)
        if read.status in SUCCESS and isinstance(read.json_body, dict):
            self.stored = read.json_body.get("metadata")
            return read
        self.ctx.expect_status(read, SUCCESS, "reading the metadata back")
        return None

    def _nothing_stored(self, refused: Sent, what: str) -> None:
        read = self.ctx.get(self.cid)
        if read.status not in SUCCESS or not isinstance(read.json_body, dict):
            return
        now = read.json_body.get("metadata")
        if not same_json(now, self.stored):
            self.ctx.fail(
                f"{what} was refused ({refused.status}) but a later GET shows {_shown(now)} "
                f"instead of {_shown(self.stored)}",
                refused,
            )
            self.stored = now


_ALL = tuple(d for document in DOCUMENTS for d in document.dimensions)


def _amount(dimension: Dimension) -> str:
    return dimension.quantity[1] if dimension.quantity else dimension.name


def _past_ordinary(document: Document, keys: frozenset[str]) -> bool:
    """Is this body past what every server must accept (so a refusal may be a limit)?"""
    part = {d.key: d.sent for d in document.dimensions if d.key in keys}
    return ordinary(part, len(document.body(keys))) is not None


def _crashed(document: Document, keys: frozenset[str], sent: Sent) -> str:
    names = ", ".join(d.name for d in document.dimensions if d.key in keys)
    return f"{names}: the server crashed ({sent.status})"


def _decimals(shown: Sent) -> dict[str, Any]:
    """The answer's metadata with every number exact (decimals, and the sign of -0)."""
    try:
        body = json.loads(shown.response.content, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError):
        return {}
    metadata = body.get("metadata") if isinstance(body, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _judge(dimension: Dimension, got: Any, exact: Any) -> tuple[bool, str] | None:
    """None if `got` is what was sent; else (advisory?, what changed). A change within RFC
    8259's interoperability latitude (a number as a double holds it, a lone surrogate
    replaced) is advisory for an INTEROP dimension; every other change is required."""
    sent = dimension.sent
    if got is _ABSENT:
        return False, "has no such member: it was dropped"
    if dimension.latitude in (Latitude.INTEROP, Latitude.DOUBLE):
        if _exactly(dimension, exact):
            return None
        change = f"holds {_shown(got)}, sent {dimension.raw or _short(sent)}"
        if not within_latitude(sent, got):
            return False, change
        return None if dimension.latitude is Latitude.DOUBLE else (True, change)
    if same_json(got, sent):
        return None
    return False, difference(sent, got)


def _exactly(dimension: Dimension, exact: Any) -> bool:
    """The member as sent, digit for digit and sign for sign."""
    wanted = json.loads(
        dimension.raw or json.dumps(dimension.sent), parse_float=Decimal, parse_int=Decimal
    )
    return _same_decimal(wanted, exact)


def _same_decimal(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b and a.is_signed() == b.is_signed()
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_decimal(x, y) for x, y in zip(a, b, strict=True))
    return same_json(a, b)


def within_latitude(sent: Any, got: Any) -> bool:
    """What a conformant parser on another stack may make of it (RFC 8259 sections 6 and
    8.2): a number as the nearest double (and -0 as 0), a lone surrogate as U+FFFD or
    nothing; everything else exactly."""
    if isinstance(sent, dict) and isinstance(got, dict):
        return sent.keys() == got.keys() and all(
            within_latitude(v, got[k]) for k, v in sent.items()
        )
    if isinstance(sent, list) and isinstance(got, list):
        return len(sent) == len(got) and all(
            within_latitude(x, y) for x, y in zip(sent, got, strict=True)
        )
    numbers = (int, float)
    if isinstance(sent, bool) or isinstance(got, bool):
        return sent is got
    if isinstance(sent, numbers) and isinstance(got, numbers):
        try:
            return float(sent) == float(got)
        except OverflowError:
            return False
    if isinstance(sent, str) and isinstance(got, str):
        lone = "".join(c for c in sent if 0xD800 <= ord(c) <= 0xDFFF)
        replaced = "".join("\ufffd" if c in lone else c for c in sent)
        dropped = "".join(c for c in sent if c not in lone)
        return sent == got or (bool(lone) and got in (replaced, dropped))
    return same_json(sent, got)


def _still(dimension: Dimension) -> Any:
    """The replay's judge of an advisory finding: does the same request's answer still
    change this member?"""

    def judge(again: Sent) -> bool:
        if again.status not in SUCCESS or not isinstance(again.json_body, dict):
            return False
        got = again.json_body.get("metadata")
        value = got.get(dimension.key, _ABSENT) if isinstance(got, dict) else _ABSENT
        return _judge(dimension, value, _decimals(again).get(dimension.key, _ABSENT)) is not None

    return judge


def _shown(value: Any) -> str:
    return "nothing" if value is _ABSENT else _short(value)


def _changed(sent: Any, got: Any) -> str:
    if got is _ABSENT:
        return "is missing"
    if isinstance(sent, dict) and isinstance(got, dict):
        return difference(sent, got)
    return f"is {_short(got, 120)}, sent {_short(sent, 120)}"
