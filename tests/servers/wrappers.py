"""ASGI middleware of the kind a deployment puts in front of an API.

Each wrapper takes any ASGI app (one of the servers of this package, or another
wrapper) and keeps a reference to it as ``.app``, so :func:`base_app` can find the
FastAPI app underneath.

Some rewrite whole answers (:func:`_rewrite_answers`: compression, problem details,
date-time spellings), some answer for the app (rate limit, 415, 400 for malformed JSON,
a redirect to where the API lives).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "BrotliMiddleware",
    "DateTimeStyleMiddleware",
    "DeflateMiddleware",
    "JsonOnlyMiddleware",
    "MediaTypeMiddleware",
    "PathPrefixMiddleware",
    "ProblemDetailsMiddleware",
    "RateLimitMiddleware",
    "SlowNetworkMiddleware",
    "StrictJsonMiddleware",
    "base_app",
    "with_api_prefix",
    "with_brotli",
    "with_datetime_styles",
    "with_deflate",
    "with_gzip",
    "with_json_only",
    "with_media_type",
    "with_problem_details",
    "with_rate_limit",
    "with_slow_network",
    "with_strict_json",
]


def base_app(app: Any) -> Any:
    """The innermost app (the FastAPI app) under any stack of wrappers."""
    while not hasattr(app, "state") and hasattr(app, "app"):
        app = app.app
    return app


# ---------------------------------------------------------------------- compression


def with_gzip(app: ASGIApp, *, minimum_size: int = 0) -> ASGIApp:
    """Starlette's GZipMiddleware, compressing every answer the client accepts gzip for."""
    return GZipMiddleware(app, minimum_size=minimum_size)


Rewrite = Callable[[int, MutableHeaders, bytes], bytes | None]
"""(status, headers, whole body) -> the new body (headers changed in place), or None."""


async def _rewrite_answers(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, rewrite: Rewrite
) -> None:
    """Run ``app``, holding each answer back until its body is complete, then send it as
    ``rewrite`` makes it (with its Content-Length). HEAD answers (no body) pass untouched."""
    if scope["type"] != "http" or scope["method"] == "HEAD":
        await app(scope, receive, send)
        return
    start: Message | None = None
    chunks: list[bytes] = []

    async def buffered_send(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        rewritten = rewrite(start["status"], headers, body)
        if rewritten is not None:
            body = rewritten
            headers["Content-Length"] = str(len(body))
        await send({**start, "headers": headers.raw})
        await send({"type": "http.response.body", "body": body})

    await app(scope, receive, buffered_send)


class _CompressionMiddleware:
    """Compress whole answers with ``coding`` when the client accepts it."""

    coding = ""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def compress(self, body: bytes) -> bytes:
        raise NotImplementedError

    def _rewrite(self, status: int, headers: MutableHeaders, body: bytes) -> bytes | None:
        if not body or "content-encoding" in headers:
            return None
        headers["Content-Encoding"] = self.coding
        headers.add_vary_header("Accept-Encoding")
        return self.compress(body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _accepts(Headers(scope=scope), self.coding):
            await self.app(scope, receive, send)
            return
        await _rewrite_answers(self.app, scope, receive, send, self._rewrite)


class BrotliMiddleware(_CompressionMiddleware):
    """Compress answers with brotli when the client sends ``Accept-Encoding: br``."""

    coding = "br"

    def __init__(self, app: ASGIApp, *, quality: int = 5) -> None:
        super().__init__(app)
        self.quality = quality

    def compress(self, body: bytes) -> bytes:
        compressed: bytes = brotli.compress(body, quality=self.quality)
        return compressed


class DeflateMiddleware(_CompressionMiddleware):
    """``Content-Encoding: deflate`` (the zlib format, RFC 9110 8.4.1.2) when accepted."""

    coding = "deflate"

    def __init__(self, app: ASGIApp, *, level: int = 6) -> None:
        super().__init__(app)
        self.level = level

    def compress(self, body: bytes) -> bytes:
        return zlib.compress(body, self.level)


def with_deflate(app: ASGIApp, *, level: int = 6) -> ASGIApp:
    return DeflateMiddleware(app, level=level)


def with_brotli(app: ASGIApp, *, quality: int = 5) -> ASGIApp:
    return BrotliMiddleware(app, quality=quality)


def _accepts(headers: Headers, coding: str) -> bool:
    offered = headers.get("accept-encoding", "")
    for item in offered.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == coding:
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


# ----------------------------------------------------------------------- rate limit

DEFAULT_LIMIT_BODY: Mapping[str, Any] = {"detail": "Rate limit exceeded. Retry after a second."}


class RateLimitMiddleware:
    """A sliding-window limiter: past ``max_requests`` within ``window`` seconds, 429.

    The limit is counted per client address (all tests come from 127.0.0.1, so in
    practice it is global). The 429 carries ``Retry-After`` (whole seconds until the
    oldest counted request leaves the window, at least 1) and a JSON body.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_requests: int = 20,
        window: float = 1.0,
        body: Mapping[str, Any] = DEFAULT_LIMIT_BODY,
    ) -> None:
        if max_requests < 1 or window <= 0:
            raise ValueError("max_requests must be >= 1 and window > 0")
        self.app = app
        self.max_requests = max_requests
        self.window = window
        self.body = json.dumps(body).encode()
        self._hits: dict[str, deque[float]] = {}

    def _retry_after(self, client: str) -> int | None:
        now = time.monotonic()
        hits = self._hits.setdefault(client, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) < self.max_requests:
            hits.append(now)
            return None
        return max(1, math.ceil(self.window - (now - hits[0])))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        retry_after = self._retry_after(client)
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def with_rate_limit(
    app: ASGIApp,
    *,
    max_requests: int = 20,
    window: float = 1.0,
    body: Mapping[str, Any] = DEFAULT_LIMIT_BODY,
) -> ASGIApp:
    return RateLimitMiddleware(app, max_requests=max_requests, window=window, body=body)


# --------------------------------------------------------------------- slow network


class SlowNetworkMiddleware:
    """Delay each answer by ``delay`` seconds, then send its body in small chunks."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        delay: float = 0.01,
        chunk_size: int = 64,
        chunk_delay: float = 0.001,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.app = app
        self.delay = delay
        self.chunk_size = chunk_size
        self.chunk_delay = chunk_delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def trickle(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(self.delay)
                await send(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more_body: bool = message.get("more_body", False)
            # A link has bandwidth, not a delay per few bytes: a large body goes in at most
            # MAX_PIECES pieces.
            size = max(self.chunk_size, -(-len(body) // MAX_PIECES))
            pieces = [body[i : i + size] for i in range(0, len(body), size)]
            if not pieces:
                await send(message)
                return
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                await send(
                    {
                        "type": "http.response.body",
                        "body": piece,
                        "more_body": more_body or not last,
                    }
                )
                if not last:
                    await asyncio.sleep(self.chunk_delay)

        await self.app(scope, receive, trickle)


MAX_PIECES = 32


def with_slow_network(
    app: ASGIApp, *, delay: float = 0.01, chunk_size: int = 64, chunk_delay: float = 0.001
) -> ASGIApp:
    return SlowNetworkMiddleware(app, delay=delay, chunk_size=chunk_size, chunk_delay=chunk_delay)


# ----------------------------------------------------------------------- media type


class MediaTypeMiddleware:
    """Relabel JSON answers with another valid spelling of the JSON media type."""

    def __init__(self, app: ASGIApp, *, content_type: str = "application/json; charset=utf-8"):
        self.app = app
        self.content_type = content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relabel(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                current = headers.get("content-type", "")
                if current.split(";")[0].strip().lower() == "application/json":
                    headers["Content-Type"] = self.content_type
                    message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, relabel)


def with_media_type(
    app: ASGIApp, *, content_type: str = "application/json; charset=utf-8"
) -> ASGIApp:
    return MediaTypeMiddleware(app, content_type=content_type)


# ------------------------------------------------------------------ request bodies

BODY_METHODS = frozenset({"PATCH", "POST", "PUT"})


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters and case aside."""
    essence = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = essence.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _send_json(send: Send, status: int, body: Mapping[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client went away before it ended."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` (already read), then waits as before."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class JsonOnlyMiddleware:
    """A request with a body-bearing method whose ``Content-Type`` is present and is not a
    JSON media type is answered ``415 {"detail": "Unsupported Media Type"}``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in BODY_METHODS:
            content_type = Headers(scope=scope).get("content-type")
            if content_type is not None and not is_json_media_type(content_type):
                await _read_body(receive)  # drained, so the connection can be reused
                await _send_json(send, 415, {"detail": "Unsupported Media Type"})
                return
        await self.app(scope, receive, send)


def with_json_only(app: ASGIApp) -> ASGIApp:
    return JsonOnlyMiddleware(app)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def is_json_text(body: bytes) -> bool | None:
    """Whether ``body`` is one JSON text (RFC 8259: UTF-8, a leading BOM tolerated, no
    NaN or Infinity); None when it is too deeply nested to tell here."""
    try:
        text = body.decode("utf-8-sig")
        json.loads(text, parse_constant=_refuse_constant, parse_int=len, parse_float=len)
    except RecursionError:
        return None
    except ValueError:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        return False
    return True


class StrictJsonMiddleware:
    """A body-bearing request whose body (declared JSON, or undeclared) is not valid JSON is
    answered ``400 {"detail": "Malformed JSON body"}``; well-formed JSON of the wrong shape
    is left to the app (FastAPI's 422)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type")
        if content_type is not None and not is_json_media_type(content_type):
            await self.app(scope, receive, send)
            return
        body, gone = await _read_body(receive)
        if gone:
            return
        if body and is_json_text(body) is False:
            await _send_json(send, 400, {"detail": "Malformed JSON body"})
            return
        await self.app(scope, _replay(body, receive), send)


def with_strict_json(app: ASGIApp) -> ASGIApp:
    return StrictJsonMiddleware(app)


# ------------------------------------------------------------------------- location


class PathPrefixMiddleware:
    """The API served under ``prefix``: ``{prefix}/v1/...`` reaches the app as ``/v1/...``,
    and any request to ``/v1/...`` is answered ``308`` with ``Location: {prefix}/v1/...``
    (same origin, the query kept). Other paths reach the app unchanged."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api", moved: str = "/v1") -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("prefix must start with '/' and not end with one")
        self.app = app
        self.prefix = prefix
        self.moved = moved

    def _under(self, path: str, prefix: str) -> bool:
        return path == prefix or path.startswith(prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        raw_path: bytes = scope.get("raw_path") or path.encode()
        if self._under(path, self.moved):
            location = self.prefix.encode() + raw_path
            if scope.get("query_string"):
                location += b"?" + scope["query_string"]
            await _read_body(receive)
            await send(
                {
                    "type": "http.response.start",
                    "status": 308,
                    "headers": [(b"location", location), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if self._under(path, self.prefix + self.moved):
            strip = len(self.prefix)
            scope = {**scope, "path": path[strip:], "raw_path": raw_path[strip:]}
        await self.app(scope, receive, send)


def with_api_prefix(app: ASGIApp, *, prefix: str = "/api") -> ASGIApp:
    return PathPrefixMiddleware(app, prefix=prefix)


# ------------------------------------------------------------------ 501 for other methods


class NotImplementedMethods:
    """Answers 501 Not Implemented to every method but GET, HEAD and PATCH, before the app
    sees the request: what Python's http.server does for a method it has no handler for
    (RFC 9110 15.6.2: a method the server implements for no resource)."""

    IMPLEMENTED = frozenset({"GET", "HEAD", "PATCH"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in self.IMPLEMENTED:
            await self.app(scope, receive, send)
            return
        body = b'{"detail": "Not Implemented"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 501, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def with_501_for_other_methods(app: ASGIApp) -> ASGIApp:
    return NotImplementedMethods(app)


# ------------------------------------------------------------------ problem details


def _problem_detail(body: bytes, title: str) -> str:
    try:
        decoded = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip() or title
    detail = decoded.get("detail") if isinstance(decoded, dict) else None
    if isinstance(detail, str) and detail:
        return detail
    return title if detail is None else json.dumps(detail)


def _to_problem(status: int, headers: MutableHeaders, body: bytes) -> bytes | None:
    if status < 400 or status == 422:
        return None
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    problem = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": _problem_detail(body, title),
    }
    headers["Content-Type"] = "application/problem+json"
    return json.dumps(problem, ensure_ascii=False).encode()


class ProblemDetailsMiddleware:
    """Every error answer but 422 as RFC 9457 ``application/problem+json``
    (``type: about:blank``, the status's phrase as ``title``, the app's ``detail``);
    422 keeps the app's validation body. Headers (``Allow``, ``WWW-Authenticate``) kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _rewrite_answers(self.app, scope, receive, send, _to_problem)


def with_problem_details(app: ASGIApp) -> ASGIApp:
    return ProblemDetailsMiddleware(app)


# -------------------------------------------------------------------- date-time style

DATE_TIME_FIELDS = frozenset({"lastMessageAt", "createdAt", "receivedAt", "updatedAt"})
"""Members holding a date-time, wherever they are (never inside ``metadata``)."""

Spelling = Callable[[datetime], str]


def utc_microseconds(moment: datetime) -> str:
    """``2025-02-03T16:02:11.000000+00:00``"""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def utc_seconds(moment: datetime) -> str:
    """``2025-02-03T16:02:11Z``: no fraction, unless the instant has one (then its digits,
    trailing zeros dropped: the same instant)."""
    text = moment.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


def utc_milliseconds(moment: datetime) -> str:
    """``2025-02-03T16:02:11.000Z`` (microseconds, if the instant has them)."""
    moment = moment.astimezone(UTC)
    timespec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def _respell(value: Any, spell: Spelling) -> Any:
    if isinstance(value, list):
        return [_respell(item, spell) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "metadata":  # customer data: never rewritten
            out[key] = item
        elif key in DATE_TIME_FIELDS and isinstance(item, str):
            out[key] = _respelled(item, spell)
        else:
            out[key] = _respell(item, spell)
    return out


def _respelled(text: str, spell: Spelling) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return spell(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


CONVERSATION_OPERATIONS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("PATCH", re.compile(r"/v1/conversations/[^/]+"), "update"),
    ("GET", re.compile(r"/v1/conversations/[^/]+"), "get"),
    ("GET", re.compile(r"/v1/conversations/?"), "list"),
)

PER_OPERATION: Mapping[str, Spelling] = {
    "update": utc_microseconds,
    "get": utc_seconds,
    "list": utc_milliseconds,
}


class DateTimeStyleMiddleware:
    """Each conversation operation writes its successful answers' date-times its own way
    (the same instants): by default PATCH with ``+00:00`` and microseconds, GET of a
    conversation with ``Z`` and no fraction, the list with milliseconds and ``Z``.
    Strings inside ``metadata`` are never touched."""

    def __init__(self, app: ASGIApp, *, styles: Mapping[str, Spelling] = PER_OPERATION):
        self.app = app
        self.styles = dict(styles)

    def _operation(self, scope: Scope) -> str | None:
        for method, pattern, name in CONVERSATION_OPERATIONS:
            if scope["method"] == method and pattern.fullmatch(scope["path"]):
                return name
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation = self._operation(scope) if scope["type"] == "http" else None
        spell = self.styles.get(operation) if operation else None
        if spell is None:
            await self.app(scope, receive, send)
            return

        def rewrite(status: int, headers: MutableHeaders, body: bytes) -> bytes | None:
            if not 200 <= status < 300 or not is_json_media_type(headers.get("content-type", "")):
                return None
            try:
                answer = _respell(json.loads(body), spell)
            except (ValueError, RecursionError):  # nothing this wrapper can read: as it is
                return None
            return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()

        await _rewrite_answers(self.app, scope, receive, send, rewrite)


def with_datetime_styles(
    app: ASGIApp, *, styles: Mapping[str, Spelling] = PER_OPERATION
) -> ASGIApp:
    return DateTimeStyleMiddleware(app, styles=styles)
