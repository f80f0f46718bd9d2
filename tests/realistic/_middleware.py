"""Plain ASGI pieces the faulty servers build their middleware from.

Real middleware (Express's body filters, a response-case converter, a cache in front of
the app) sees the whole JSON body of a request or an answer; these helpers give it that:
read the request body and hand a changed one on, or capture the app's answer and send a
changed one. Nothing here is faulty by itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Json = Any
NO_JSON = object()  # a body that is not JSON (or is empty)


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the server says next."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}


def header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


def parse(body: bytes) -> Json:
    """The JSON of a body, or NO_JSON (what a middleware cannot parse it passes on)."""
    if not body.strip():
        return NO_JSON
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return NO_JSON


def dump(value: Json, *, ascii_only: bool = True) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


@dataclass
class Answer:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return str(value.decode("latin-1"))
        return None

    @property
    def is_json(self) -> bool:
        return "json" in (self.header("content-type") or "")

    def replaced(self, body: bytes, **extra: str) -> Answer:
        drop = {b"content-length", *(name.lower().encode() for name in extra)}
        headers = [(k, v) for k, v in self.headers if k.lower() not in drop]
        headers.append((b"content-length", str(len(body)).encode()))
        headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in extra.items()]
        return Answer(self.status, headers, body)


async def capture(app: ASGIApp, scope: Scope, receive: Receive) -> Answer:
    """Run the app and keep its whole answer instead of sending it."""
    answer = Answer()
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    answer.body = b"".join(chunks)
    return answer


async def respond(send: Send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})


def json_answer(status: int, content: Json, **headers: str) -> Answer:
    body = dump(content, ascii_only=False)
    answer = Answer(status, [(b"content-type", b"application/json")], b"")
    return answer.replaced(body, **headers)


def is_api(scope: Scope) -> bool:
    return scope["type"] == "http" and str(scope["path"]).startswith("/v1/conversations")


class RequestJson:
    """Hand the app a changed JSON request body (what body-filtering middleware does)."""

    def __init__(self, app: ASGIApp, transform: Callable[[Json], Json]) -> None:
        self.app = app
        self.transform = transform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope) or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        value = parse(body)
        if value is not NO_JSON:
            body = dump(self.transform(value))
            scope = with_length(scope, len(body))
        await self.app(scope, replaying(body, receive), send)


class ResponseJson:
    """Send a changed JSON answer (what a serializer or response filter does)."""

    def __init__(self, app: ASGIApp, transform: Callable[[Json], Json]) -> None:
        self.app = app
        self.transform = transform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope):
            await self.app(scope, receive, send)
            return
        answer = await capture(self.app, scope, receive)
        value = parse(answer.body) if answer.is_json else NO_JSON
        if value is not NO_JSON:
            answer = answer.replaced(dump(self.transform(value), ascii_only=False))
        await respond(send, answer)


def map_strings(value: Json, change: Callable[[str], Json], *, keys: bool = False) -> Json:
    """``value`` with every string (and, with ``keys``, every member name) changed."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [map_strings(item, change, keys=keys) for item in value]
    if isinstance(value, dict):
        return {
            (change(k) if keys else k): map_strings(v, change, keys=keys) for k, v in value.items()
        }
    return value


def map_keys(value: Json, change: Callable[[str], str]) -> Json:
    if isinstance(value, list):
        return [map_keys(item, change) for item in value]
    if isinstance(value, dict):
        return {change(k): map_keys(v, change) for k, v in value.items()}
    return value


def map_numbers(value: Json, change: Callable[[int | float], Json]) -> Json:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return change(value)
    if isinstance(value, list):
        return [map_numbers(item, change) for item in value]
    if isinstance(value, dict):
        return {k: map_numbers(v, change) for k, v in value.items()}
    return value
