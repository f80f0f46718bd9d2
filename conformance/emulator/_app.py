"""The emulator's handler: a plain request -> response function over the state dataclass.

It answers the way the live FastAPI backend does (vendor docs): the same routes, the
same order of checks (JSON decoding, then the bearer key, then parameter validation, then
the lookup), the same error bodies. Where the live service would crash (NaN, lone
surrogates, absurd nesting) the emulator answers 422 instead: it never answers 5xx unless
a fault asks it to.

Faults are consulted in place, one `if` at the spot where the behaviour lives.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import html
import json
import math
import re
import struct
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message as _MimeHeader
from typing import Any
from urllib.parse import parse_qsl, unquote

from . import _faults as F
from ._state import (
    LATER_CONVERSATION_FIELDS,
    LATER_MESSAGE_FIELDS,
    Account,
    Conversation,
    Message,
    State,
    copy_json,
    seeded_state,
)
from ._webhooks import (
    Webhooks,
    compact,
    new_id,
    registration_errors,
    string_members_errors,
)

__all__ = ["App", "Request", "Response"]

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_NESTING = 256
_CONVERSATION_PATH = re.compile(r"^/v1/conversations/(?P<id>[^/]+)$")
_LIST_PATH = "/v1/conversations"
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_TIMESTAMP_KEYS = frozenset({"lastMessageAt", "createdAt", "receivedAt"})
_WEBHOOK_ROUTES = {
    "/v1/webhooks": ("GET", "HEAD", "POST", "DELETE"),
    "/v1/webhooks/deliveries": ("GET", "HEAD"),
    "/v1/webhooks/test": ("POST",),
}
# The emulator's own controls, plainly not the vendor's API: never throttled, never faulty.
CONTROL_PREFIX = "/_emulator/"
_ARRIVAL_PATH = re.compile(r"^/_emulator/conversations/(?P<id>[^/]+)/messages$")
DEFAULT_ARRIVAL = "Hello from the emulator"
_DUMP_BYTES = 9 * 1024 * 1024  # robust-huge-not-found: past the suite's 8 MiB default


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    connection: str = ""  # which connection it came on ("": unknown)

    @classmethod
    def sent(
        cls,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        connection: str = "",
    ) -> Request:
        """A request as it came: its target (path and query, as sent: undecoded) split."""
        path, _, query = target.partition("?")
        return cls(
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            connection=connection,
        )

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


REPLICA_LAG = 0.15  # seconds a consistency fault's replica is behind the primary
TORN_PAUSE = 0.002  # seconds between two members of a torn write
TORN_MEMBERS = 16  # a torn write tears documents of at most this many members
_PRIMARY: Any = object()  # a GET served by the primary (no replica)
_OWN_TAG = "X-Emulator-Own-Tag"  # internal: this answer's ETag is of its own body


class _Reply(Exception):
    """Raised inside the handler to answer early with a finished response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class _Later(Exception):
    """Raised inside the handler to finish the answer outside the state lock (it waits on
    the network: the webhook test event)."""

    def __init__(self, finish: Callable[[], Response]) -> None:
        super().__init__("later")
        self.finish = finish


def _error(loc: list[str | int], type_: str, msg: str, input_: Any, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": type_, "loc": loc, "msg": msg, "input": input_}
    if ctx:
        item["ctx"] = ctx
    return item


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth_and_strings(value: Any) -> tuple[int, list[str]]:
    """Nesting depth of a JSON value and every string in it (keys included). Iterative and
    linear: a document of a million members is walked as fast as a small one."""
    deepest, strings = 0, list[str]()
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            strings.extend(item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            strings.append(item)
    return deepest, strings


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value: `_depth_and_strings` without collecting the strings."""
    if not isinstance(value, dict | list):
        return 1
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth + 1 if item else depth)  # its members one level down
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


# A surrogate escape (\ud800 to \udfff) in JSON text: the only way decoded text can hold a
# lone surrogate, since the body itself decoded as UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _walk(value: Any) -> list[Any]:
    """Every value inside a JSON value (itself included), iteratively."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        found.append(item)
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _numbers(value: Any) -> list[int | float]:
    return [n for n in _walk(value) if isinstance(n, int | float) and not isinstance(n, bool)]


def _keys(value: Any) -> list[str]:
    return [k for item in _walk(value) if isinstance(item, dict) for k in item]


# The faults `_stored` and `_crash_on_awkward_metadata` look for: without them, neither walks
# the metadata (a megabyte document costs nothing more than its parsing).
_STORING = frozenset(
    {
        F.STORAGE_NULL_MEMBERS_DROPPED,
        F.STORAGE_EMPTY_KEYS_DROPPED,
        F.STORAGE_KEYS_CASE_INSENSITIVE,
        F.STORAGE_BOOLEANS_AS_NUMBERS,
        F.STORAGE_NUMERIC_STRINGS,
        F.STORAGE_LONG_STRINGS_TRUNCATED,
        F.STORAGE_SINGLE_PRECISION,
        F.STORAGE_UNICODE_NORMALIZED,
        F.STORAGE_STRINGS_TRIMMED,
        F.STORAGE_MARKUP_ESCAPED,
        F.STORAGE_DATES_REFORMATTED,
        F.STORAGE_KEYS_CAMELIZED,
        F.STORAGE_JSON_STRINGS_PARSED,
        F.STORAGE_CONTROLS_STRIPPED,
        F.STORAGE_MEMBERS_CAPPED,
        F.STORAGE_ARRAYS_DEDUPLICATED,
        F.STORAGE_EMPTY_STRINGS_NULL,
        F.STORAGE_ASTRAL_REPLACED,
        F.STORAGE_TOP_LEVEL_CAPPED,
        F.ROBUST_EDGE_VALUES_MANGLED,
    }
)
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SNAKE = re.compile(r"(?<=[^_])_([a-z0-9])")
_MEMBERS_KEPT = 40  # storage-members-capped
_LEAKED_DEBUG = {
    "query": "SELECT * FROM conversations WHERE id = %s AND account_id = %s",
    "at": 'File "/srv/agentphone/api/conversations.py", line 214, in get_conversation',
}
_CRASHING = frozenset(
    {
        F.ROBUST_DEEP_NESTING,
        F.ROBUST_UNICODE,
        F.ROBUST_LARGE_VALUES,
        F.ROBUST_UNUSUAL_KEYS,
        F.ROBUST_500_HUGE_INTEGERS,
    }
)


class App:
    """The emulated API. `handle` is thread-safe; state changes happen under one lock."""

    def __init__(
        self,
        faults: frozenset[str] = frozenset(),
        state: State | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttle_every: int = 0,
        edition: str = "current",
        etags: bool = False,
    ) -> None:
        """`throttle_every=N`: every Nth request is answered 429 with Retry-After, as a
        rate-limited service does (not a fault: a 429 is never a violation).
        `etags=True`: GET and PATCH answers carry an ETag (a hash of the conversation as a
        plain GET answers it; a GET with its own message_limit: of that answer), a GET with
        a matching If-None-Match is answered 304, and a PATCH whose If-Match names another
        ETag is answered 412 and changes nothing.
        `edition="seed"`: the API as the seed page describes it, without the vendor's later
        additions (no group fields in answers; `group_name` ignored like any unknown member)."""
        unknown = faults - F.FAULTS.keys()
        if unknown:
            raise F.UnknownFaultError(sorted(unknown)[0])
        if edition not in F.EDITIONS:
            raise ValueError(f"unknown edition {edition!r}: one of {', '.join(F.EDITIONS)}")
        self.edition = edition
        self.faults = faults
        self.etags = etags or F.HTTP_ETAG_STALE in faults
        self.state = state if state is not None else seeded_state()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._patches = 0
        self._throttle_every = throttle_every
        self._requests = 0
        self._patched: set[str] = set()  # conversations PATCHed at least once
        # the consistency faults' replicas: each conversation's metadata, as of when it was
        # written (oldest first), the connections that wrote, and reads per connection
        self._clock: Callable[[], float] = time.monotonic
        self._versions: dict[str, list[tuple[float, Any]]] = {}
        self._writing_connections: set[str] = set()
        self._reads: dict[str, int] = {}
        # consistency-worker-caches: each connection's worker (round robin), and each
        # worker's cache of metadata read (conversation id -> metadata)
        self._workers: dict[str, int] = {}
        self._worker_caches: tuple[dict[str, Any], ...] = ({}, {})
        self._before_last: dict[str, Any] = {}  # id -> metadata before its last PATCH
        self.webhooks = Webhooks(self.on)  # registrations, the delivery thread and its log

    def on(self, fault: str) -> bool:
        return fault in self.faults

    def close(self) -> None:
        """Stop the webhook delivery thread, if one started (bounded wait)."""
        self.webhooks.close()

    def arrive(
        self, conversation_id: str, body: str = DEFAULT_ARRIVAL, channel: str = "sms"
    ) -> str:
        """An inbound message from the participant arrives (KeyError for an unknown id): it is
        appended and its webhook delivery queued. Returns the new message's id."""
        with self._lock:
            message, _queued = self._arrive(
                self.state.conversations[conversation_id], body, channel
            )
        return message.id

    # --- entry point --------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self._lock:
            self._requests += 1
            throttled = self._throttle_every and self._requests % self._throttle_every == 0
        throttled = throttled and not request.path.startswith(CONTROL_PREFIX)
        if throttled:
            return self._json(429, {"detail": "Too Many Requests"}, {"Retry-After": "0"})
        if request.method == "PATCH" and self.on(F.ROBUST_SLOW):
            self._patches += 1
            if self._patches % 25 == 1:
                self._sleep(1.2)
        try:
            with self._lock:
                response = self._route(request)
        except _Reply as reply:
            response = reply.response
        except _Later as later:
            response = later.finish()
        if request.method == "HEAD":
            response.body = b""
        return response

    def _route(self, request: Request) -> Response:
        path = request.path
        if unquote(path) == _LIST_PATH:
            allowed = ("GET", "HEAD")
            if request.method in allowed:
                return self._list(request)
            return self._not_allowed(allowed)
        if path.startswith(CONTROL_PREFIX):
            return self._control(request)
        if unquote(path) in _WEBHOOK_ROUTES:
            return self._webhook_route(request, unquote(path))
        match = _CONVERSATION_PATH.match(path)
        if match is None:
            return self._json(404, {"detail": "Not Found"})
        conversation_id = unquote(match["id"])  # one segment: an encoded "/" stays in the id
        if request.method in ("GET", "HEAD"):
            return self._get(request, conversation_id)
        if request.method == "PATCH":
            return self._patch(request, conversation_id)
        if self.on(F.HTTP_UNSUPPORTED_METHOD_500) and request.method in ("PUT", "POST", "DELETE"):
            return self._crash()
        return self._not_allowed(("GET", "HEAD", "PATCH"))

    # --- operations ---------------------------------------------------------------------
    def _list(self, request: Request) -> Response:
        account = self._authenticate(request)
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        errors: list[dict[str, Any]] = []
        limit = self._int_param(query, "limit", 20, 1, 100, errors)
        offset = self._int_param(query, "offset", 0, 0, None, errors)
        if errors:
            return self._validation_failed(errors)
        mine = (
            list(self.state.conversations.values())
            if self.on(F.AUTH_LIST_CROSS_TENANT)
            else self.state.conversations_of(account)
        )
        ordered = sorted(mine, key=lambda c: c.last_message_at, reverse=True)
        start = 0 if self.on(F.SEMANTICS_LIST_OFFSET_IGNORED) else offset
        page = ordered[start : start + limit]
        summaries = [self._render(c.summary_json()) for c in page]
        for summary in summaries:
            if self.on(F.SEMANTICS_LIST_NULL_AS_EMPTY) and summary["metadata"] is None:
                summary["metadata"] = {}
        if self.on(F.SEMANTICS_LIST_STALE):
            for summary in summaries:
                if summary["id"] in self._before_last:
                    summary["metadata"] = copy_json(self._before_last[summary["id"]])
        return self._json(
            200,
            {
                "data": summaries,
                "hasMore": offset + len(page) < len(ordered),
                "total": len(ordered),
            },
        )

    def _get(self, request: Request, conversation_id: str) -> Response:
        self._lookup_before_auth(conversation_id)
        account = self._authenticate(request)
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        errors: list[dict[str, Any]] = []
        message_limit = self._int_param(query, "message_limit", 50, 1, 100, errors)
        if errors:
            return self._validation_failed(errors)
        conversation = self._lookup(account, conversation_id, self.on(F.AUTH_CROSS_TENANT_READ))
        if conversation is None:
            if self.on(F.ROBUST_HUGE_NOT_FOUND) and conversation_id not in self.state.conversations:
                return self._json(
                    404, {"detail": "Conversation not found", "debug": "x" * _DUMP_BYTES}
                )
            return self._not_found(conversation_id)
        rendered = conversation.to_json(message_limit)
        own_tag = message_limit != 50  # another representation: its own entity tag
        replica = self._replica(request, conversation)
        if replica is not _PRIMARY:
            rendered["metadata"] = copy_json(replica)
        if self.on(F.SEMANTICS_OLDEST_MESSAGES):
            everything = conversation.to_json(max(len(conversation.messages), 1))["messages"]
            rendered["messages"] = everything[:message_limit]
        if self.on(F.SEMANTICS_COUNT_LIMITED):
            rendered["messageCount"] = len(rendered["messages"])
        answer = self._json(200, self._render(rendered))
        if own_tag or replica is not _PRIMARY:
            answer.headers[_OWN_TAG] = "1"
        tag = self._etag(conversation, answer)
        if tag is not None and request.header("if-none-match") in (tag, f"W/{tag}"):
            return Response(304, {"ETag": tag})
        return answer

    def _replica(self, request: Request, conversation: Conversation) -> Any:
        """The metadata a replica serves this GET, or _PRIMARY (the stored one): for the
        consistency faults, a connection that never wrote reads a replica REPLICA_LAG behind
        (always, or every second read), or its worker's cache."""
        if self.on(F.CONSISTENCY_WORKER_CACHES):
            cache = self._worker_cache(request)
            cached = cache.setdefault(conversation.id, copy_json(conversation.metadata))
            return _PRIMARY if cached == conversation.metadata else copy_json(cached)
        stale = self.on(F.CONSISTENCY_STALE_REPLICA)
        flapping = self.on(F.CONSISTENCY_FLAPPING_REPLICAS)
        if not (stale or flapping) or request.connection in self._writing_connections:
            return _PRIMARY
        reads = self._reads[request.connection] = self._reads.get(request.connection, 0) + 1
        if flapping and not stale and reads % 2:
            return _PRIMARY
        as_of = self._clock() - REPLICA_LAG
        versions = self._versions.get(conversation.id, [])
        seen = [metadata for when, metadata in versions if when <= as_of]
        return seen[-1] if seen else _PRIMARY

    def _written(self, request: Request, conversation: Conversation, before: Any) -> None:
        """A PATCH stored metadata: the replicas' log, and its connection now reads the
        primary (a session that wrote is sticky); or its worker forgets what it cached."""
        if self.on(F.CONSISTENCY_WORKER_CACHES):
            self._worker_cache(request).pop(conversation.id, None)
        if not (self.on(F.CONSISTENCY_STALE_REPLICA) or self.on(F.CONSISTENCY_FLAPPING_REPLICAS)):
            return
        log = self._versions.setdefault(conversation.id, [(float("-inf"), before)])
        log.append((self._clock(), conversation.metadata))
        del log[1:-64]  # the first (what it held before) and the latest 64
        if request.connection:
            self._writing_connections.add(request.connection)

    def _worker_cache(self, request: Request) -> dict[str, Any]:
        """consistency-worker-caches: the cache of the worker that serves the connection."""
        worker = self._workers.setdefault(request.connection, len(self._workers) % 2)
        return self._worker_caches[worker]

    def _etag(self, conversation: Conversation, answer: Response) -> str | None:
        """The answer's ETag, set on it (None: the emulator serves none): the conversation's
        current one, or - a GET with a message_limit of its own - that answer's."""
        own = answer.headers.pop(_OWN_TAG, None)
        if not self.etags:
            return None
        tag = self._tag(conversation, answer.body if own else None)
        answer.headers["ETag"] = tag
        return tag

    def _tag(self, conversation: Conversation, body: bytes | None = None) -> str:
        """An entity tag: of `body`, else of the conversation as a plain GET answers it."""
        if self.on(F.HTTP_ETAG_STALE):
            body = conversation.last_message_at.encode()
        elif body is None:
            body = self._json(200, self._render(conversation.to_json(50))).body
        return f'"{hashlib.sha256(body).hexdigest()[:20]}"'

    def _precondition(self, request: Request, conversation: Conversation) -> Response | None:
        """If-Match on a PATCH (served ETags only): 412 unless it names the conversation's
        current ETag (or is `*`). Weak tags never match (RFC 9110 13.1.1)."""
        wanted = request.header("if-match")
        if not self.etags or wanted is None:
            return None
        tags = [tag.strip() for tag in wanted.split(",")]
        if "*" in tags or self._tag(conversation) in tags:
            return None
        return self._json(412, {"detail": "Precondition Failed"})

    def _not_found(self, conversation_id: str) -> Response:
        """404 for an unknown id, and for another account's conversation: the same answer."""
        if (
            self.on(F.SECURITY_FOREIGN_DISTINGUISHABLE)
            and conversation_id in self.state.conversations
        ):
            return self._json(403, {"detail": "This conversation belongs to another account"})
        body: dict[str, Any] = {"detail": "Conversation not found"}
        if self.on(F.SECURITY_INTERNALS_LEAKED):
            body["debug"] = dict(_LEAKED_DEBUG)
        return self._json(404, body)

    def _lookup_before_auth(self, conversation_id: str) -> None:
        """security-lookup-before-auth: the id is looked up before the key is."""
        if (
            self.on(F.SECURITY_LOOKUP_BEFORE_AUTH)
            and conversation_id not in self.state.conversations
        ):
            raise _Reply(self._not_found(conversation_id))

    def _patch(self, request: Request, conversation_id: str) -> Response:
        body = self._decode_body(request)
        self._lookup_before_auth(conversation_id)
        if self.on(F.SECURITY_VALIDATES_BEFORE_AUTH) and self._body_errors(body):
            return self._validation_failed(self._body_errors(body))
        try:
            account = self._authenticate(request)
        except _Reply:
            if self.on(F.AUTH_REFUSED_STILL_WRITES):
                target = self.state.conversations.get(conversation_id)
                if target is not None and not self._body_errors(body):
                    self._apply(target, body)
            raise
        decodes_twice = self.on(F.VALIDATION_JSON_STRING_METADATA) and isinstance(body, dict)
        if decodes_twice and isinstance(body.get("metadata"), str):
            with contextlib.suppress(ValueError):
                body["metadata"] = json.loads(body["metadata"])
        errors = self._body_errors(body)
        if errors:
            if self.on(F.VALIDATION_INVALID_STILL_WRITES):
                target = self._lookup(account, conversation_id, cross_tenant=False)
                if target is not None:
                    target.metadata = None
            return self._validation_failed(errors)
        if "metadata" in body:
            self._crash_on_awkward_metadata(body["metadata"])
        conversation = self._lookup(account, conversation_id, self.on(F.AUTH_CROSS_TENANT_WRITE))
        if conversation is None:
            unknown = conversation_id not in self.state.conversations  # not just foreign
            if not unknown and self.on(F.AUTH_CROSS_TENANT_WRITE_ELSEWHERE) and "metadata" in body:
                self._write_owners_others(conversation_id, body["metadata"])
            if not (self.on(F.SEMANTICS_UNKNOWN_ID_UPSERTED) and unknown):
                return self._not_found(conversation_id)
            conversation = self._upsert(account, conversation_id)
        failed = self._precondition(request, conversation)
        if failed is not None:
            return failed
        if self.on(F.SEMANTICS_NOT_PERSISTED):
            conversation = copy.deepcopy(conversation)
        before = conversation.metadata
        torn = self._torn(conversation, body)
        self._apply(conversation, body)
        self._written(request, conversation, before)
        if torn is not None:
            raise _Later(torn)
        if self.on(F.ROBUST_REFUSED_STILL_WRITES) and len(request.body) > 64 * 1024:
            return self._json(413, {"detail": "Request body too large"})
        answered = conversation
        if self.on(F.SEMANTICS_WRONG_CONVERSATION):
            answered = next(c for c in self.state.conversations.values() if c.id != conversation.id)
        status = 202 if self.on(F.SHAPE_UNDOCUMENTED_STATUS) else 200
        answer = self._json(status, self._render(self._answer(answered.to_json())))
        self._etag(answered, answer)
        return answer

    def _torn(
        self, conversation: Conversation, body: dict[str, Any]
    ) -> Callable[[], Response] | None:
        """consistency-torn-write: the new metadata is stored member by member, the lock
        let go between them; the answer is made once the last member is in. The body is
        changed so that `_apply` stores only the first member (None: not torn)."""
        new = body.get("metadata")
        if not self.on(F.CONSISTENCY_TORN_WRITE) or not isinstance(new, dict):
            return None
        if not 2 <= len(new) <= TORN_MEMBERS:  # a huge document: stored whole
            return None
        members = list(new.items())
        body["metadata"] = dict(members[:1])

        def finish() -> Response:
            for key, value in members[1:]:
                self._sleep(TORN_PAUSE)
                with self._lock:
                    conversation.metadata = {**(conversation.metadata or {}), key: value}
            with self._lock:
                answer = self._json(200, self._render(self._answer(conversation.to_json())))
                self._etag(conversation, answer)
                return answer

        return finish

    def _answer(self, rendered: dict[str, Any]) -> dict[str, Any]:
        """The PATCH answer's messages, as the answer faults leave them."""
        if self.on(F.SEMANTICS_ANSWER_WITHOUT_MESSAGES):
            rendered["messages"] = []
        elif self.on(F.SEMANTICS_ANSWER_TRUNCATED):
            rendered["messages"] = rendered["messages"][-1:]
        return rendered

    def _write_owners_others(self, conversation_id: str, metadata: Any) -> None:
        owner = self.state.conversations[conversation_id].account
        for other in self.state.conversations.values():
            if other.account == owner and other.id != conversation_id:
                other.metadata = copy_json(metadata)

    # --- webhooks -----------------------------------------------------------------------
    def _webhook_route(self, request: Request, path: str) -> Response:
        allowed = _WEBHOOK_ROUTES[path]
        if request.method not in allowed:
            return self._not_allowed(allowed)
        if path == "/v1/webhooks/deliveries":
            return self._deliveries(request)
        if path == "/v1/webhooks/test":
            return self._test_webhook(request)
        if request.method == "POST":
            return self._register_webhook(request)
        account = self._authenticate(request)
        if request.method == "DELETE":
            return self._json(200, {"deleted": self.webhooks.remove(account.name)})
        config = self.webhooks.config(account.name)
        return self._json(200, config.to_json() if config else None)

    def _register_webhook(self, request: Request) -> Response:
        body = self._decode_body(request)
        account = self._authenticate(request)
        if not request.body:
            return self._validation_failed([_error(["body"], "missing", "Field required", None)])
        (url, context_limit, timeout), errors = registration_errors(body)
        if errors:
            return self._validation_failed(errors)
        config = self.webhooks.register(account.name, url, context_limit, timeout)
        return self._json(200, config.to_json())

    def _deliveries(self, request: Request) -> Response:
        account = self._authenticate(request)
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        errors: list[dict[str, Any]] = []
        limit = self._int_param(query, "limit", 50, 1, 200, errors)
        offset = self._int_param(query, "offset", 0, 0, None, errors)
        hours = self._int_param(query, "hours", 0, 1, None, errors) if "hours" in query else None
        if errors:
            return self._validation_failed(errors)
        page, total = self.webhooks.deliveries(account.name, limit, offset, hours)
        # `data` as the other lists; `items` is where the vendor's SDK reads them.
        body = {"data": page, "items": page, "total": total, "hasMore": offset + len(page) < total}
        return self._json(200, body)

    def _test_webhook(self, request: Request) -> Response:
        body = self._decode_body(request)
        account = self._authenticate(request)
        errors = string_members_errors(body, ("from", "to", "message", "channel"))
        if errors:
            return self._validation_failed(errors)
        delivery = self.webhooks.test_delivery(account.name, body)
        if delivery is None:
            return self._json(404, {"detail": "No webhook configured"})

        def send() -> Response:
            delivered = self.webhooks.send_once(delivery)
            answer = delivery.to_json()
            return self._json(
                200,
                {
                    "delivered": delivered,
                    "deliveryId": delivery.id,
                    "httpStatus": answer["httpStatus"],
                    "errorMessage": answer["errorMessage"],
                },
            )

        raise _Later(send)

    def _control(self, request: Request) -> Response:
        """POST /_emulator/conversations/{id}/messages: a message arrives. Not the vendor's
        API: its own strict bearer check and plain answers, whatever the faults."""
        match = _ARRIVAL_PATH.match(request.path)
        if match is None:
            return _plain(404, {"detail": "Not Found"})
        if request.method != "POST":
            return _plain(405, {"detail": "Method Not Allowed"}, {"Allow": "POST"})
        scheme, _, key = (request.header("authorization") or "").partition(" ")
        account = self.state.account_for_key(key.strip()) if scheme.lower() == "bearer" else None
        if account is None:
            return _plain(401, {"detail": "Not authenticated"}, {"WWW-Authenticate": "Bearer"})
        try:
            body = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            return _plain(
                422, {"detail": [_error(["body"], "json_invalid", "JSON decode error", {})]}
            )
        errors = string_members_errors(body, ("body", "channel"))
        if errors:
            return _plain(422, {"detail": errors})
        conversation = self._lookup(account, unquote(match["id"]), cross_tenant=False)
        if conversation is None:
            return _plain(404, {"detail": "Conversation not found"})
        text, channel = body.get("body"), body.get("channel")
        message, queued = self._arrive(conversation, text or DEFAULT_ARRIVAL, channel or "sms")
        answer = {
            "messageId": message.id,
            "conversationId": conversation.id,
            "deliveryQueued": queued,
        }
        return _plain(201, answer)

    def _arrive(self, conversation: Conversation, body: str, channel: str) -> tuple[Message, bool]:
        """Append an inbound message and queue its deliveries (under the lock)."""
        message = Message(
            id=new_id("msg"),
            body=body,
            from_number=conversation.participant,
            to_number=conversation.phone_number,
            direction="inbound",
            received_at=_now(),
            channel=channel,
        )
        conversation.messages.append(message)
        state = conversation.metadata
        if self.on(F.WEBHOOK_STATE_STALE):
            state = self._before_last.get(conversation.id, state)
        if self.on(F.WEBHOOK_STATE_OTHER_CONVERSATION):
            owners = self.state.conversations_of(self._owner(conversation))
            other = next((c for c in owners if c.id != conversation.id), None)
            state = other.metadata if other is not None else None
        owner = self._owner(conversation)
        receivers = [owner]
        if self.on(F.WEBHOOK_DELIVERS_OTHER_ACCOUNT):
            receivers += [a for a in self.state.accounts if a is not owner]
        with_state = not self.on(F.WEBHOOK_STATE_ABSENT)
        queued = [
            self.webhooks.message_arrived(
                account.name, conversation, message, copy_json(state), with_state
            )
            for account in receivers
        ]
        return message, queued[0]  # the owner's

    # --- steps --------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> Account:
        """FastAPI's HTTPBearer, then the key lookup. Every refusal is 401 + WWW-Authenticate."""
        header = request.header("authorization")
        first = self.state.accounts[0]
        if not header:
            if self.on(F.AUTH_MISSING_KEY_ACCEPTED):
                return first
            self._refuse("Not authenticated", presented=None)
        assert header is not None
        scheme, _, credentials = header.partition(" ")
        if not scheme or not credentials:
            bare = self.state.account_for_key(header.strip())
            if self.on(F.AUTH_SCHEME_IGNORED) and bare is not None:
                return bare
            self._refuse("Not authenticated", presented=header)
        if scheme.lower() != "bearer" or (
            self.on(F.AUTH_SCHEME_CASE_SENSITIVE) and scheme != "Bearer"
        ):
            keyed = self.state.account_for_key(credentials)
            if self.on(F.AUTH_SCHEME_IGNORED) and keyed is not None:
                return keyed
            self._refuse("Invalid authentication credentials", presented=header)
        account = self.state.account_for_key(credentials)
        if account is None and self.on(F.AUTH_KEY_LOOSELY_MATCHED) and len(credentials) >= 8:
            presented = credentials.lower()
            account = next(
                (
                    a
                    for a in self.state.accounts
                    if a.api_key.lower().startswith(presented)
                    or presented.startswith(a.api_key.lower())
                ),
                None,
            )
        if account is None:
            if self.on(F.AUTH_ANY_KEY_ACCEPTED) and credentials.strip():
                return first
            self._refuse("Invalid API key", presented=credentials)
        assert account is not None
        return account

    def _refuse(self, detail: str, presented: str | None) -> None:
        if self.on(F.AUTH_ECHOES_CREDENTIAL) and presented:
            detail = f"{detail}: {presented}"
        headers = {} if self.on(F.AUTH_NO_WWW_AUTHENTICATE) else {"WWW-Authenticate": "Bearer"}
        raise _Reply(self._json(401, {"detail": detail}, headers))

    def _decode_body(self, request: Request) -> Any:
        """FastAPI's body handling: JSON when the content type says so (or says nothing).

        Returns the decoded body, a dict for an empty body (the body is optional), or the
        raw text when the content type is not JSON (which validation then rejects).
        """
        if not request.body:
            return {}
        if len(request.body) > MAX_BODY_BYTES:
            raise _Reply(self._json(413, {"detail": "Request body too large"}))
        content_type = request.header("content-type")
        if content_type:
            mime = _MimeHeader()
            mime["content-type"] = content_type
            subtype = mime.get_content_subtype()
            is_json = mime.get_content_maintype() == "application" and (
                subtype == "json" or subtype.endswith("+json")
            )
            if not is_json:
                return request.body.decode("utf-8", errors="replace")
            if self.on(F.VALIDATION_CHARSET_REFUSED) and mime.get_params(failobj=[])[1:]:
                raise _Reply(self._json(415, {"detail": "Unsupported Media Type"}))
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            # FastAPI: a body it cannot even decode is a 400, before any validation.
            raise _Reply(
                self._json(400, {"detail": "There was an error parsing the body"})
            ) from None
        try:
            value = json.loads(text, parse_constant=_reject_constant)
            if _depth(value) > MAX_NESTING:
                raise ValueError(f"nesting deeper than {MAX_NESTING} levels")
            if _SURROGATE_ESCAPE.search(text):
                for string in _depth_and_strings(value)[1]:
                    string.encode("utf-8")  # a lone surrogate cannot be stored or answered
        except (ValueError, RecursionError) as exc:
            if self.on(F.VALIDATION_500_ON_MALFORMED_JSON):
                raise _Reply(self._crash()) from exc
            position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:200]
            raise _Reply(
                self._validation_failed(
                    [
                        _error(
                            ["body", position],
                            "json_invalid",
                            "JSON decode error",
                            {},
                            error=reason,
                        )
                    ]
                )
            ) from exc
        return value

    def _body_errors(self, body: Any) -> list[dict[str, Any]]:
        """Pydantic's verdict on `{metadata: dict | None, group_name: str | None}`."""
        if not isinstance(body, dict):
            return [
                _error(
                    ["body"],
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                    body,
                )
            ]
        errors = []
        metadata = body.get("metadata")
        wrong_type = not (metadata is None or isinstance(metadata, dict))
        if wrong_type and not self.on(F.VALIDATION_WRONG_TYPE_ACCEPTED):
            errors.append(
                _error(
                    ["body", "metadata"],
                    "dict_type",
                    "Input should be a valid dictionary",
                    metadata,
                )
            )
        if (
            self.on(F.VALIDATION_REJECTS_VALID)
            and isinstance(metadata, dict)
            and any("." in key or "$" in key for key in _keys(metadata))
        ):
            errors.append(
                _error(
                    ["body", "metadata"],
                    "value_error",
                    "Value error, keys may not contain '.' or '$'",
                    metadata,
                )
            )
        group_name = body.get("group_name")
        checked = self.edition == "current" and not self.on(F.VALIDATION_GROUP_NAME_UNCHECKED)
        if checked and not (group_name is None or isinstance(group_name, str)):
            errors.append(
                _error(
                    ["body", "group_name"],
                    "string_type",
                    "Input should be a valid string",
                    group_name,
                )
            )
        return errors

    def _int_param(
        self,
        query: Mapping[str, str],
        name: str,
        default: int,
        low: int,
        high: int | None,
        errors: list[dict[str, Any]],
    ) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        loc: list[str | int] = ["query", name]
        if not _INTEGER.match(raw):
            if self.on(F.VALIDATION_QUERY_UNCHECKED):
                return default
            errors.append(
                _error(
                    loc,
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                    raw,
                )
            )
            return default
        value = int(raw)
        if self.on(F.VALIDATION_QUERY_UNCHECKED):
            return max(value, 0)
        if value < low:
            errors.append(
                _error(
                    loc,
                    "greater_than_equal",
                    f"Input should be greater than or equal to {low}",
                    raw,
                    ge=low,
                )
            )
        elif high is not None and value > high:
            errors.append(
                _error(
                    loc,
                    "less_than_equal",
                    f"Input should be less than or equal to {high}",
                    raw,
                    le=high,
                )
            )
        return value

    def _lookup(
        self, account: Account, conversation_id: str, cross_tenant: bool
    ) -> Conversation | None:
        """Another account's conversation is as unknown as one that does not exist."""
        if self.on(F.ROBUST_ID_INJECTION) and "'" in conversation_id:
            query = f"SELECT * FROM conversations WHERE id = '{conversation_id}'"
            raise _Reply(self._json(500, {"detail": f"syntax error at or near: {query}"}))
        if self.on(F.SEMANTICS_IDS_CASE_INSENSITIVE):
            folded = conversation_id.rstrip(" ").lower()
            conversation_id = next(
                (c for c in self.state.conversations if c.lower() == folded), conversation_id
            )
        conversation = self.state.conversations.get(conversation_id)
        if conversation is None or (conversation.account != account.name and not cross_tenant):
            return None
        return conversation

    def _upsert(self, account: Account, conversation_id: str) -> Conversation:
        template = self.state.conversations_of(account)[0]
        created = Conversation(
            id=conversation_id,
            account=account.name,
            phone_number_id=template.phone_number_id,
            phone_number=template.phone_number,
            participant="+10000000000",
            created_at=_now(),
        )
        self.state.conversations[conversation_id] = created
        return created

    def _apply(self, conversation: Conversation, body: dict[str, Any]) -> None:
        """Replace, clear with null, leave untouched when omitted."""
        self._first_patch(conversation)
        # Stored metadata is only ever replaced, never changed in place: keeping the value
        # itself is keeping a copy. The body is the request's own, decoded for it alone.
        self._before_last[conversation.id] = conversation.metadata
        if "metadata" in body:
            new = self._stored(body["metadata"])
            if self.on(F.SEMANTICS_WRITES_NEIGHBOURS) and isinstance(new, dict):
                for other in self.state.conversations_of(self._owner(conversation)):
                    if other.id != conversation.id:
                        other.metadata = copy_json(new)
            if new is None:
                if not self.on(F.SEMANTICS_NULL_IGNORED):
                    conversation.metadata = None
            elif (
                self.on(F.SEMANTICS_MERGE)
                and isinstance(conversation.metadata, dict)
                and isinstance(new, dict)
            ):
                conversation.metadata = {**conversation.metadata, **new}
            elif (
                self.on(F.SEMANTICS_NESTED_MERGE)
                and isinstance(conversation.metadata, dict)
                and isinstance(new, dict)
            ):
                conversation.metadata = _nested_merge(conversation.metadata, new)
            elif self.on(F.SEMANTICS_EMPTY_BECOMES_NULL) and new == {}:
                conversation.metadata = None
            else:
                conversation.metadata = new
        elif self.on(F.SEMANTICS_OMITTED_CLEARS):
            conversation.metadata = None
        if self.on(F.SECURITY_MASS_ASSIGNMENT):
            for name in ("agentId", "agent_id"):
                if name in body:
                    conversation.agent_id = body[name]
            for name in ("participant",):
                if isinstance(body.get(name), str):
                    conversation.participant = body[name]
        group_name = body.get("group_name")
        named = conversation.is_group or self.on(F.SEMANTICS_GROUP_NAME_ANYWHERE)
        if self.edition == "current" and "group_name" in body and named:  # null clears it
            if group_name is None or isinstance(group_name, str):
                conversation.group_name = group_name
            else:  # validation-group-name-unchecked: stored as its text
                conversation.group_name = str(group_name)
        if self.on(F.SEMANTICS_UNRELATED_FIELD_CHANGED):
            conversation.touched_at = _now()

    def _owner(self, conversation: Conversation) -> Account:
        return next(a for a in self.state.accounts if a.name == conversation.account)

    def _first_patch(self, conversation: Conversation) -> None:
        """What the first-PATCH faults do to a conversation the first time it is written."""
        if conversation.id in self._patched:
            return
        self._patched.add(conversation.id)
        if self.on(F.SEMANTICS_FIRST_PATCH_RESETS_AGENT):
            conversation.agent_id = None
        if self.on(F.SEMANTICS_FIRST_PATCH_MOVES_CREATED):
            conversation.created_at = _now()
        if self.on(F.SEMANTICS_FIRST_PATCH_EMPTIES_MESSAGES):
            conversation.messages = []

    def _stored(self, value: Any, top: bool = True) -> Any:
        """`value` as the storage faults keep it (unchanged without them); `top`: the
        metadata object itself, not a value inside it."""
        if not self.faults & _STORING:
            return value
        if isinstance(value, dict):
            kept: dict[str, Any] = {}
            folded: dict[str, str] = {}  # lower-cased key -> the key kept for it
            members = list(value.items())
            if self.on(F.STORAGE_MEMBERS_CAPPED):
                members = members[:_MEMBERS_KEPT]
            if self.on(F.STORAGE_TOP_LEVEL_CAPPED) and top:
                members = members[:64]
            for key, item in members:
                if self.on(F.STORAGE_NULL_MEMBERS_DROPPED) and item is None:
                    continue
                if self.on(F.STORAGE_EMPTY_KEYS_DROPPED) and key == "":
                    continue
                key = self._stored_text(key)
                if self.on(F.STORAGE_KEYS_CAMELIZED):
                    key = _SNAKE.sub(lambda m: m.group(1).upper(), key)
                if self.on(F.STORAGE_KEYS_CASE_INSENSITIVE):
                    kept.pop(folded.get(key.lower(), key), None)
                    folded[key.lower()] = key
                kept[key] = self._stored(item, top=False)
            return kept
        if isinstance(value, list):
            items = [self._stored(item, top=False) for item in value]
            if self.on(F.STORAGE_ARRAYS_DEDUPLICATED):
                unique: dict[str, Any] = {}
                for item in items:
                    unique.setdefault(json.dumps(item, sort_keys=True), item)
                items = list(unique.values())
            return items
        if isinstance(value, bool):
            return int(value) if self.on(F.STORAGE_BOOLEANS_AS_NUMBERS) else value
        if isinstance(value, str):
            parsed = self._reinterpreted(value)
            if parsed is not value:
                return parsed
            text = self._stored_text(value)
            if self.on(F.STORAGE_MARKUP_ESCAPED):
                text = html.escape(text, quote=False)
            if self.on(F.STORAGE_NUMERIC_STRINGS) and _NUMERIC.match(text):
                return json.loads(text) if text.lstrip("-")[:1] != "0" or "." in text else int(text)
            if self.on(F.STORAGE_LONG_STRINGS_TRUNCATED):
                text = text[:4096]
            return text
        if isinstance(value, float):
            if self.on(F.STORAGE_SINGLE_PRECISION) and math.isfinite(value):
                return struct.unpack("f", struct.pack("f", value))[0]
            if self.on(F.ROBUST_EDGE_VALUES_MANGLED) and value == 0:
                return 0.0
        if isinstance(value, int) and self.on(F.ROBUST_EDGE_VALUES_MANGLED) and abs(value) > 2**53:
            return int(float(value))
        return value

    def _reinterpreted(self, text: str) -> Any:
        """What the reinterpreting storage faults make of a string (itself if nothing)."""
        if self.on(F.STORAGE_EMPTY_STRINGS_NULL) and text == "":
            return None
        if self.on(F.STORAGE_JSON_STRINGS_PARSED) and text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                pass
        if self.on(F.STORAGE_DATES_REFORMATTED) and _ISO_TIMESTAMP.match(text):
            moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return text

    def _stored_text(self, text: str) -> str:
        if self.on(F.STORAGE_CONTROLS_STRIPPED):
            text = _CONTROLS.sub("", text)
        if self.on(F.STORAGE_ASTRAL_REPLACED):
            text = "".join("?" if ord(c) > 0xFFFF else c for c in text)
        if self.on(F.STORAGE_UNICODE_NORMALIZED):
            text = unicodedata.normalize("NFC", text)
        if self.on(F.STORAGE_STRINGS_TRIMMED):
            text = text.strip()
        return text

    def _crash_on_awkward_metadata(self, metadata: Any) -> None:
        if not self.faults & _CRASHING:
            return
        depth, strings = _depth_and_strings(metadata)
        keys = _keys(metadata)
        crashes = (
            (self.on(F.ROBUST_DEEP_NESTING) and depth > 4)
            or (self.on(F.ROBUST_UNICODE) and any(not s.isascii() for s in strings))
            or (
                self.on(F.ROBUST_LARGE_VALUES)
                and (
                    any(len(s) > 200 for s in strings)
                    or any(isinstance(n, int) and abs(n) >= 2**31 for n in _numbers(metadata))
                )
            )
            or (
                self.on(F.ROBUST_UNUSUAL_KEYS)
                and any(k == "" or any(c in k for c in ".$ ") for k in keys)
            )
            or (
                self.on(F.ROBUST_500_HUGE_INTEGERS)
                and any(isinstance(n, int) and abs(n) >= 2**64 for n in _numbers(metadata))
            )
        )
        if crashes:
            raise _Reply(self._crash())

    # --- rendering ----------------------------------------------------------------------
    def _render(self, conversation: dict[str, Any]) -> dict[str, Any]:
        """The edition's fields, then the response-shape faults, of a rendered conversation."""
        if self.on(F.SEMANTICS_LAST_MESSAGE_AT_STALE):
            conversation["lastMessageAt"] = conversation["createdAt"]
        if self.edition == "seed":
            for key in LATER_CONVERSATION_FIELDS:
                conversation.pop(key, None)
            for message in conversation.get("messages", []):
                for key in LATER_MESSAGE_FIELDS:
                    message.pop(key, None)
        if self.on(F.SHAPE_MISSING_REQUIRED_FIELD):
            conversation.pop("messageCount", None)
        if self.on(F.SHAPE_WRONG_TYPE) and "messageCount" in conversation:
            conversation["messageCount"] = str(conversation["messageCount"])
        if self.on(F.SHAPE_NULLABLE_MISHANDLED) and conversation.get("metadata") is None:
            conversation["metadata"] = "None"
        for message in conversation.get("messages", []):
            if self.on(F.SHAPE_REACTIONS_NULL) and not message["reactions"]:
                message["reactions"] = None
        if self.on(F.SHAPE_NAIVE_TIMESTAMPS):
            _strip_offsets(conversation)
        return conversation

    def _json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
        if status == 422 and self.on(F.VALIDATION_400_NOT_422):
            status, body = 400, {"detail": "Invalid request body"}
        if status == 422 and self.on(F.VALIDATION_ERROR_SHAPE):
            body = {"error": "validation failed", "fields": [e["loc"][-1] for e in body["detail"]]}
        content_type = "application/json"
        if self.on(F.SHAPE_WRONG_CONTENT_TYPE):
            content_type = "text/plain; charset=utf-8"
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Response(status, {"Content-Type": content_type, **(headers or {})}, payload)

    def _validation_failed(self, errors: list[dict[str, Any]]) -> Response:
        return self._json(422, {"detail": errors})

    def _not_allowed(self, allowed: tuple[str, ...]) -> Response:
        headers = {} if self.on(F.HTTP_405_WITHOUT_ALLOW) else {"Allow": ", ".join(allowed)}
        return self._json(405, {"detail": "Method Not Allowed"}, headers)

    @staticmethod
    def _crash() -> Response:
        return Response(
            500, {"Content-Type": "text/plain; charset=utf-8"}, b"Internal Server Error"
        )


def _plain(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer untouched by faults: the emulator's own control routes."""
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, compact(body))


def _nested_merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """semantics-nested-merge: the new keys, each merged with the old value under it."""
    merged: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            merged[key] = {**before, **value}
        elif isinstance(before, list) and isinstance(value, list):
            merged[key] = before + value
        else:
            merged[key] = value
    return merged


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _strip_offsets(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "metadata":
                continue  # the customer's own data, whatever keys it uses
            if key in _TIMESTAMP_KEYS and isinstance(item, str):
                value[key] = re.sub(r"(Z|[+-]\d\d:\d\d)$", "", item)
            else:
                _strip_offsets(item)
    elif isinstance(value, list):
        for item in value:
            _strip_offsets(item)
