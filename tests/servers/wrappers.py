"""ASGI middleware of the kind a deployment puts in front of an API.

Each wrapper takes any ASGI app (one of the servers of this package, or another
wrapper) and keeps a reference to it as ``.app``, so :func:`base_app` can find the
FastAPI app underneath.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "BrotliMiddleware",
    "MediaTypeMiddleware",
    "RateLimitMiddleware",
    "SlowNetworkMiddleware",
    "base_app",
    "with_brotli",
    "with_gzip",
    "with_media_type",
    "with_rate_limit",
    "with_slow_network",
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


class BrotliMiddleware:
    """Compress answers with brotli when the client sends ``Accept-Encoding: br``."""

    def __init__(self, app: ASGIApp, *, quality: int = 5) -> None:
        self.app = app
        self.quality = quality

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _accepts(Headers(scope=scope), "br"):
            await self.app(scope, receive, send)
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
            if body and "content-encoding" not in headers:
                body = brotli.compress(body, quality=self.quality)
                headers["Content-Encoding"] = "br"
                headers.add_vary_header("Accept-Encoding")
            headers["Content-Length"] = str(len(body))
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered_send)


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
