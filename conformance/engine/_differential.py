"""Differential conformance inside a run: each request the run sends to the reference is
sent again to the reference (a GET at the same time, any other request right after) and to
the candidate, and the three answers compared as the contract means them.

What differs between the reference's own two answers is *noise* for that request (a
timestamp, a request id, anything that moves) and never a divergence. The candidate's answer
is compared with the reference's first: the status, the media type, then every member
(numbers as numbers, instants as instants, key order ignored); an error's text is free, its
shape is not. A divergence is *decided* here when the fragment settles it (an undocumented
status, an answer its schema refuses, metadata that is not what the last write stored);
`decide_by_checks` settles more with what the suite's own runs found on each side.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..checks import CONVERSATION_PATH, LIST_PATH, conversation_path
from ..checks.semantics import volatile
from ..core import (
    BudgetExhausted,
    Client,
    HarnessError,
    Sent,
    TargetUnreachable,
    Throttled,
    differences,
    documented,
    json_body_of,
    same_json,
    short_json,
    validate_response_body,
)
from ..model import CheckResult, Divergence, Exchange, Outcome

__all__ = ["Mirror", "decide_by_checks", "signature"]

_OPERATIONS = {
    ("GET", LIST_PATH): "listConversations",
    ("GET", CONVERSATION_PATH): "getConversation",
    ("PATCH", CONVERSATION_PATH): "updateConversation",
}
_SCHEMAS = {"listConversations": "ConversationList", "getConversation": "Conversation"}
_SCHEMAS["updateConversation"] = "Conversation"
_HOP = {"host", "content-length", "user-agent", "accept-encoding", "connection"}
_CONDITIONAL = {"if-match", "if-none-match"}
_SHORT = 160  # characters of a value a divergence keeps
# Headers an answer of this status carries by RFC 9110 (compared for presence only).
_HEADERS = {401: ("WWW-Authenticate",), 405: ("Allow",), 429: ("Retry-After",)}


def _short(value: Any) -> str:
    return short_json(value, _SHORT, sort_keys=True)


def _media(sent: Sent) -> str:
    label: str = sent.response.headers.get("content-type", "")
    return label.split(";")[0].strip().lower()


def _under(member: str, moving: Iterable[str]) -> bool:
    return any(
        member == m or member.startswith(m + ".") or member.startswith(m + "[") for m in moving
    )


def signature(method: str, url: str, body: str | None) -> tuple[str, str, str]:
    """A request as both sides received it: method, path and query (no origin), body."""
    parts = urlsplit(url)
    return method, parts.path + (f"?{parts.query}" if parts.query else ""), body or ""


class Mirror:
    """What a reference run's client calls for each request it sends (`Client.mirror`).

    `keys`: the reference's API keys -> the candidate's; `ids`: the reference's conversation
    ids -> the candidate's; `unaligned`: per conversation id, the members whose state the
    candidate could not be given (compared nowhere, counted as left out); `absent`: the
    reference's conversations the candidate has no counterpart of (requests to them are
    left out)."""

    def __init__(
        self,
        reference: Client,
        candidate: Client,
        *,
        keys: Mapping[str, str] | None = None,
        ids: Mapping[str, str] | None = None,
        unaligned: Mapping[str, frozenset[str]] | None = None,
        absent: frozenset[str] = frozenset(),
        apart: set[str] | None = None,
        max_kept: int = 300,
    ) -> None:
        self._twin = reference.lane()
        self._twin.observers = []
        self._twin.journal = None
        self._candidate = candidate
        self._prefix = urlsplit(reference.base_url).path.rstrip("/")
        self._keys = {k: v for k, v in (keys or {}).items() if k and k != v}
        self._ids = {k: v for k, v in (ids or {}).items() if k != v}
        self._unaligned = dict(unaligned or {})
        self._absent = absent  # the reference's conversations the candidate was not given
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="agentphone-noise")
        self._lock = threading.Lock()
        self._writes: dict[str, tuple[Exchange, Any]] = {}  # path -> last write, its metadata
        # paths whose states a write one side refused (or an alignment) set apart
        self._apart: set[str] = set(apart or ())
        self.max_kept = max_kept
        self.compared = 0
        self.dropped = 0
        self.divergences: list[Divergence] = []
        self.noise: Counter[str] = Counter()
        self.left_out: Counter[str] = Counter()
        self.trouble: str | None = None  # the candidate stopped answering: why

    # --- the client's hooks -------------------------------------------------------------
    def before(self, request: httpx.Request) -> Future[Sent | None] | None:
        """A GET goes to the reference again at the same time (it changes nothing)."""
        if request.method != "GET":
            return None
        return self._pool.submit(self._again, request)

    def after(self, request: httpx.Request, sent: Sent, token: Future[Sent | None] | None) -> None:
        second = token.result() if token is not None else self._again(request)
        candidate = self._to_candidate(request)
        with self._lock:
            if candidate is not None:
                self._compare(request, sent, second, candidate)
            if request.method == "PATCH":
                self._wrote(request, sent, candidate)

    def _wrote(self, request: httpx.Request, sent: Sent, candidate: Sent | None) -> None:
        """Keep the last write each conversation took; a write one side took and the other
        refused leaves their states apart (what follows is its consequence, not decided)
        until both take one again."""
        path = self._resource(request)
        written = _written(request)
        if written is _NOTHING:
            return  # a PATCH without metadata sets nothing of it
        took = 200 <= sent.status < 300
        if took:
            self._writes[path] = (sent.exchange, written)
        if candidate is None or took != (200 <= candidate.status < 300):
            self._apart.add(path)
        elif took:
            self._apart.discard(path)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._twin.close()

    # --- sending --------------------------------------------------------------------------
    def _path(self, request: httpx.Request) -> str:
        raw = request.url.raw_path.decode("ascii", errors="replace")
        return raw[len(self._prefix) :] if raw.startswith(self._prefix + "/") else raw

    def _resource(self, request: httpx.Request) -> str:
        """The path without its query: what a write sets and a read shows."""
        return self._path(request).split("?", 1)[0]

    def _headers(self, request: httpx.Request, candidate: bool) -> dict[str, str]:
        headers = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower in _HOP or (candidate and lower in _CONDITIONAL):
                continue
            if candidate:
                for key, theirs in self._keys.items():
                    value = value.replace(key, theirs)
            headers[name] = value
        return headers

    def _again(self, request: httpx.Request) -> Sent | None:
        try:
            return self._twin.forward(
                request.method,
                self._path(request),
                self._headers(request, False),
                request.content or None,
            )
        except (TargetUnreachable, BudgetExhausted, Throttled, HarnessError):
            return None  # no second answer: nothing is noise for this request

    def _to_candidate(self, request: httpx.Request) -> Sent | None:
        path, mark, query = self._path(request).partition("?")
        for ours, theirs in self._ids.items():
            path = "/".join(theirs if part == ours else part for part in path.split("/"))
        path += mark + query
        try:
            return self._candidate.forward(
                request.method, path, self._headers(request, True), request.content or None
            )
        except (TargetUnreachable, BudgetExhausted, Throttled, HarnessError) as exc:
            self.trouble = self.trouble or f"the candidate did not answer: {exc}"
            self.left_out["requests the candidate did not answer"] += 1
            return None

    # --- comparing --------------------------------------------------------------------------
    def _compare(
        self, request: httpx.Request, first: Sent, second: Sent | None, candidate: Sent
    ) -> None:
        self.compared += 1
        template = first.path_template or _template(self._path(request))
        operation = _OPERATIONS.get((request.method, template))
        diverge = self._diverging(request, first, candidate, operation, template)
        if _CONDITIONAL & {name.lower() for name in request.headers}:
            self.left_out["conditional requests (each target's validators are its own)"] += 1
            return
        if self._conversation_id(request) in self._absent:
            self.left_out[
                "requests to the reference's conversations the candidate was not given"
            ] += 1
            return
        if first.status != candidate.status:
            if second is not None and second.status != first.status:
                self.noise["(status)"] += 1
            else:
                diverge("status", "", first.status, candidate.status)
            return
        for name in _HEADERS.get(first.status, ()):
            ours, theirs = (name in sent.response.headers for sent in (first, candidate))
            if ours != theirs and (second is None or (name in second.response.headers) == ours):
                diverge("presence", f"(header {name})", ours, theirs)
        both = bool(first.response.content and candidate.response.content)
        if both and _media(first) != _media(candidate):
            if second is not None and _media(second) != _media(first):
                self.noise["(media type)"] += 1
            else:
                diverge("media-type", "", _media(first), _media(candidate))
        a, b = first.json_body, candidate.json_body
        if a is None or b is None:
            if (a is None) != (b is None) and first.complete and candidate.complete:
                diverge("presence", "(a JSON body)", a is not None, b is not None)
            return
        schema = _SCHEMAS.get(operation or "") if first.status < 300 else None
        moving = (
            {d.member for d in differences(a, second.json_body, schema, limit=200)}
            if second is not None and second.json_body is not None
            else set()
        )
        error = first.status >= 400
        unaligned = self._unaligned_members(request)
        # what the answer shows is the stored state: a GET, or a PATCH that sets no metadata
        shows_state = request.method == "GET" or _written(request) is _NOTHING
        left_out = False
        if error and _envelopes(a) != _envelopes(b) and not _invalid(operation, first, candidate):
            diverge("presence", "(error body)", _envelopes(a), _envelopes(b))
            return
        for difference in differences(a, b, schema, limit=50):
            member = difference.member
            if _under(member, moving):
                self.noise[_noise_name(member)] += 1
                continue
            if _under(member, unaligned):
                left_out = True
                continue
            if error and (
                (difference.kind == "value" and isinstance(difference.first, str)) or "[" in member
            ):
                continue  # an error's text, and the problems it lists, are free
            if _moves(member):
                self.left_out[MOVES] += 1
                continue
            kind = {"absent": "presence", "added": "presence"}.get(difference.kind, difference.kind)
            written = self._conversation(request, first, member)
            if shows_state and written is not None and written[0] in self._apart:
                self.left_out[APART] += 1  # the earlier divergence is reported; this follows
                continue
            if request.method == "GET" and written is not None and written[0] in self._writes:
                kind = "state"
            diverge(kind, member, _absent(difference, 0), _absent(difference, 1))
        if left_out:
            self.left_out[UNALIGNED] += 1

    def _conversation_id(self, request: httpx.Request) -> str:
        path = self._resource(request).rstrip("/")
        return path.rsplit("/", 1)[-1] if path.startswith(LIST_PATH + "/") else ""

    def _unaligned_members(self, request: httpx.Request) -> frozenset[str]:
        path = self._resource(request).rstrip("/")
        if path == LIST_PATH:
            return self._unaligned.get(LIST_PATH, frozenset())
        return self._unaligned.get(path.rsplit("/", 1)[-1], frozenset())

    def _diverging(
        self,
        request: httpx.Request,
        first: Sent,
        candidate: Sent,
        operation: str | None,
        template: str,
    ) -> Callable[[str, str, Any, Any], None]:

        def diverge(kind: str, member: str, ours: Any, theirs: Any) -> None:
            if len(self.divergences) >= self.max_kept:
                self.dropped += 1
                return
            decided, breaks = _decide(kind, member, first, candidate, operation)
            if not decided:
                decided, breaks = self._stored(request, first, candidate, member)
            where = self._conversation(request, first, member)
            last = self._writes.get(where[0] if where else self._resource(request))
            steps = tuple(
                e.curl for e in ((last[0],) if last else ()) + (first.exchange,) if e.curl
            )
            self.divergences.append(
                Divergence(
                    kind=kind,
                    request=f"{request.method} {template}",
                    member=member,
                    reference=_short(ours),
                    candidate=_short(theirs),
                    decided=decided,
                    breaks=breaks,
                    exchanges=(first.exchange, candidate.exchange),
                    steps=steps,
                )
            )

        return diverge

    def _conversation(
        self, request: httpx.Request, first: Sent, member: str
    ) -> tuple[str, str] | None:
        """For a member that is a conversation's metadata (the conversation's own answer, or
        an item of the list): (that conversation's path, the member path of its metadata)."""
        if member == "metadata" or member.startswith(("metadata.", "metadata[")):
            return self._resource(request), "metadata"
        match = _ITEM.match(member)
        body = first.json_body
        if match is None or not isinstance(body, dict) or not isinstance(body.get("data"), list):
            return None
        items = body["data"]
        index = int(match.group(1))
        item = items[index] if index < len(items) else None
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return None
        return conversation_path(item["id"]), f"data[{index}].metadata"

    def _stored(
        self, request: httpx.Request, first: Sent, candidate: Sent, member: str
    ) -> tuple[str, str]:
        """Metadata that differs: the side that does not show what the last write stored
        (or, for a PATCH, what it carried) breaks the contract."""
        where = self._conversation(request, first, member)
        if where is None or first.status >= 300:
            return "", ""
        path, member = where
        if path in self._apart:
            return "", ""  # a consequence of an earlier divergence, itself reported
        if request.method == "PATCH":
            written = _written(request)
        else:
            last = self._writes.get(path)
            written = last[1] if last else _NOTHING
        if written is _NOTHING:
            return "", ""
        shown = [_at(s.json_body, member) for s in (first, candidate)]
        right = [s is not _NOTHING and same_json(s, written) for s in shown]
        if right[0] != right[1] and _as_doubles(shown[0], shown[1]):
            return "", ""  # RFC 8259's latitude: numbers kept as a double keeps them
        rule = "what a PATCH stored, a GET shows (META-PERSISTED, ROUNDTRIP-METADATA)"
        if right[0] and not right[1]:
            return rule, "candidate"
        if right[1] and not right[0]:
            return rule, "reference"
        return "", ""


_ITEM = re.compile(r"^data\[(\d+)\]\.metadata(?:$|[.\[])")


def _at(body: Any, member: str) -> Any:
    """The value at `metadata` or `data[N].metadata` of an answer, or _NOTHING."""
    if member != "metadata":
        index = int(member[5 : member.index("]")])
        items = body.get("data") if isinstance(body, dict) else None
        body = items[index] if isinstance(items, list) and index < len(items) else None
    return body.get("metadata", _NOTHING) if isinstance(body, dict) else _NOTHING


_NOTHING = object()


def _as_doubles(a: Any, b: Any) -> bool:
    """Equal once every number is read as an IEEE double (integers beyond 2^53 rounded, -0
    as 0): the difference RFC 8259 section 6 leaves to each implementation."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        try:
            return float(a) == float(b)
        except OverflowError:
            return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_as_doubles(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_as_doubles(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _written(request: httpx.Request) -> Any:
    """The metadata a PATCH carried, or _NOTHING (none, or not JSON)."""
    body = json_body_of(request.content)
    return body["metadata"] if isinstance(body, dict) and "metadata" in body else _NOTHING


def _template(path: str) -> str:
    """A path as the fragment names it: `/v1/conversations/{conversation_id}`."""
    path = path.split("?", 1)[0]
    if path.startswith(LIST_PATH + "/") and path.count("/") == 3:
        return CONVERSATION_PATH
    return path


MOVES = (
    "fields whose name says they move on every write (updatedAt, version, ...): not "
    "compared, as in a run"
)
APART = (
    "differences in the state after a write one side took and the other refused (that "
    "divergence is reported; these follow from it)"
)


def _moves(member: str) -> bool:
    head = re.split(r"[.\[]", member, maxsplit=1)[0]
    if head == "data":  # a list item: its own member
        head = re.split(r"[.\[]", member.split(".", 1)[1], maxsplit=1)[0] if "." in member else head
    return head != "metadata" and volatile(head)


_ABSENT = "(absent)"


def _absent(difference: Any, side: int) -> Any:
    """A side's value, or a mark that the member is not there at all (not null)."""
    if side == 0:
        return _ABSENT if difference.kind == "added" else difference.first
    return _ABSENT if difference.kind == "absent" else difference.second


UNALIGNED = (
    "answers with members whose state the candidate could not be given (compared without "
    "them: messages of conversations seeded from the list, or what differed beforehand)"
)


def _envelopes(body: Any) -> str:
    """Which error body this is: FastAPI's `{"detail": ...}`, the vendor's `{"error": ...}`
    envelope, or the members it has."""
    if isinstance(body, dict) and set(body) == {"detail"}:
        return "FastAPI's {detail}"
    if isinstance(body, dict) and "error" in body and isinstance(body["error"], dict):
        return "the vendor's {error} envelope"
    return "members " + ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__


def _invalid(operation: str | None, first: Sent, candidate: Sent) -> bool:
    """Does either error body break the fragment's schema for its status?"""
    if operation is None:
        return False
    return any(
        sent.json_body is not None
        and documented(operation, sent.status)
        and bool(validate_response_body(operation, sent.status, sent.json_body))
        for sent in (first, candidate)
    )


def _noise_name(member: str) -> str:
    head = member.split("[", 1)[0]
    return head if head else "(body)"


def _decide(
    kind: str, member: str, first: Sent, candidate: Sent, operation: str | None
) -> tuple[str, str]:
    """What the fragment alone says of a divergence: (the rule, the side that breaks it)."""
    if operation is None:
        return "", ""
    if kind == "status":
        if operation == "listConversations" and 404 in (first.status, candidate.status):
            return "", ""  # the list is optional: one side has none
        for side, sent in (("candidate", candidate), ("reference", first)):
            if not documented(operation, sent.status):
                return f"the fragment documents no {sent.status} for {operation}", side
        if (first.status < 300) != (candidate.status < 300) and max(
            first.status, candidate.status
        ) >= 500:
            side = "candidate" if candidate.status >= 500 else "reference"
            return "a 5xx is never an answer the contract allows", side
        return "", ""
    if kind in ("presence", "type"):
        for side, sent in (("candidate", candidate), ("reference", first)):
            if sent.json_body is not None and validate_response_body(
                operation, sent.status, sent.json_body
            ):
                return f"the fragment's schema of a {sent.status} answer ({operation})", side
    return "", ""


# The families whose checks judge an answer's status: a status divergence on the very
# request such a check failed on one side is that side's violation.
STATUS_FAMILIES = frozenset({"auth", "validation", "security", "robust", "http", "shape"})


def decide_by_checks(
    divergences: list[Divergence],
    reference: Iterable[CheckResult],
    candidate: Iterable[CheckResult],
    relative: Callable[[str, str], str],
) -> list[Divergence]:
    """Open status divergences settled by what the suite's own run found on each side: a
    required check of a family that judges statuses, failed on this very request (method,
    path, query and body; a request with a body or a query, so one a check sent of its own),
    decides it against that side. `relative(side, url)` gives a URL of that side's run
    without its origin."""
    found: dict[str, dict[tuple[str, str, str], str]] = {"reference": {}, "candidate": {}}
    for side, results in (("reference", reference), ("candidate", candidate)):
        for result in results:
            if result.outcome is not Outcome.FAILED or result.check.level.value != "required":
                continue
            if result.check.family not in STATUS_FAMILIES:
                continue
            for finding in result.findings:
                exchange = finding.exchange
                if exchange is None:
                    continue
                key = signature(
                    exchange.method, relative(side, exchange.url), exchange.request_body
                )
                if key[2] or "?" in key[1]:
                    found[side].setdefault(key, result.check.id)
    settled = []
    for divergence in divergences:
        if not divergence.decided and divergence.kind == "status":
            ours, theirs = divergence.exchanges
            for side, exchange in (("candidate", theirs), ("reference", ours)):
                key = signature(
                    exchange.method, relative(side, exchange.url), exchange.request_body
                )
                if key in found[side]:
                    divergence = replace(
                        divergence, decided=f"{found[side][key]} fails on the {side}", breaks=side
                    )
                    break
        settled.append(divergence)
    return settled
