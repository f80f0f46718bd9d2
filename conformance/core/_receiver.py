"""The suite's webhook receiver: an HTTP server of its own, for the duration of a run, that
records every delivery a target POSTs to it, bounded in count and size like every answer.

It listens on loopback by default (`--webhook-listen HOST:PORT` for another address, and
`--webhook-public-url` for the URL a tunnel gives it). It answers every delivery 200 at once
and judges nothing: the checks read what it recorded.

A body keeps its first `max_bytes` (--max-answer-bytes; past MAX_KEPT_BYTES kept in all,
only its first 64 KiB); the rest (up to MAX_DELIVERY_READ) is read and dropped, but the
HMAC of the whole body with each secret the receiver was told (`Receiver.secrets`) is
computed on the way, so a large delivery's signature is still judged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from ..model import Exchange, redact
from ._http import curl_command

__all__ = ["Delivery", "Receiver", "signature_of"]

MAX_DELIVERIES = 200
MAX_DELIVERY_BYTES = 8 * 1024 * 1024  # kept of each body, unless the receiver is told
MAX_KEPT_BYTES = 64 * 1024 * 1024  # kept of all bodies; past it, each keeps _SMALL
MAX_DELIVERY_READ = 64 * 1024 * 1024  # read of each body (for its signature), then dropped
_SMALL = 64 * 1024
_BLOCK = 64 * 1024
_POLL_SECONDS = 0.05  # how soon the serving thread notices stop() (the stdlib's: 0.5)
_ANSWER = b'{"received": true}'
_TRANSPORT = frozenset({"host", "content-length", "connection", "accept-encoding"})


def _signer(secret: str, timestamp: str) -> hmac.HMAC:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + b".", hashlib.sha256)


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """The vendor's signature: HMAC-SHA256 with the secret over "{timestamp}.{raw body}",
    written sha256=<hex> (vendor docs; the `agentphone` SDK's verify_webhook)."""
    signer = _signer(secret, timestamp)
    signer.update(body)
    return "sha256=" + signer.hexdigest()


class _Body:
    """A body as it is read: the first `keep` bytes kept, the whole of it signed with each
    secret known."""

    def __init__(self, secrets: tuple[str, ...], timestamp: str, keep: int) -> None:
        self.keep = keep
        self.kept = bytearray()
        self.size = 0
        self.signers = {secret: _signer(secret, timestamp) for secret in secrets}

    def add(self, block: bytes) -> None:
        room = self.keep - len(self.kept)
        if room > 0:
            self.kept += block[:room]
        self.size += len(block)
        for signer in self.signers.values():
            signer.update(block)

    def read(self, stream: Any, count: int) -> bool:
        """Read `count` bytes of the stream into the body; False if it ended early."""
        while count > 0:
            block = stream.read(min(count, _BLOCK))
            if not block:
                return False
            self.add(block)
            count -= len(block)
        return True


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got, as it got it."""

    seq: int  # 1, 2, ... in order of arrival
    received: float  # time.time() when it arrived
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # at most the receiver's max_bytes
    complete: bool  # False: the body was larger and was cut
    payload: Any = field(default=None)  # the JSON body, or None
    whole: bool = True  # the whole body was read (so `signatures` are of all of it)
    size: int = -1  # the whole body's length in bytes, as read (-1: that of `body`)
    signatures: dict[str, str] = field(default_factory=dict, repr=False)  # secret: signature

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def conversation_id(self) -> str | None:
        data = self.payload.get("data") if isinstance(self.payload, dict) else None
        value = data.get("conversationId") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None

    @property
    def message_id(self) -> str | None:
        data = self.payload.get("data") if isinstance(self.payload, dict) else None
        value = data.get("messageId") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None

    def exchange(self, url: str, secrets: dict[str, str]) -> Exchange:
        """The delivery as a finding shows it: the target's POST and the receiver's answer,
        redacted, with a curl command that sends the same delivery again."""
        text = self.body.decode("utf-8", errors="replace")
        if not self.complete:
            text += f"\n[... cut at {len(self.body)} bytes of {self.size}]"
        shown = {k: v for k, v in self.headers.items() if k not in _TRANSPORT}
        return Exchange(
            method="POST",
            url=redact(url, secrets),
            request_headers={k: redact(v, secrets) for k, v in shown.items()},
            request_body=redact(text, secrets),
            status=200,
            response_headers={"content-type": "application/json"},
            response_body=_ANSWER.decode(),
            elapsed_ms=0.0,
            curl=redact(curl_command("POST", url, shown, self.body, secrets), secrets),
        )

    def signed_by(self, secret: str) -> bool | None:
        """Is the whole body signed with `secret`? None when that cannot be told: a body cut
        here whose signature with that secret was not computed while it was read."""
        given = self.header("X-Webhook-Signature") or ""
        if self.complete:
            expected = signature_of(secret, self.header("X-Webhook-Timestamp") or "", self.body)
        elif self.whole and secret in self.signatures:
            expected = self.signatures[secret]
        else:
            return None
        return hmac.compare_digest(given, expected)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10.0  # seconds a sender may stall mid-delivery before it is dropped

    def do_POST(self) -> None:
        receiver = self.server.receiver
        timestamp = self.headers.get("X-Webhook-Timestamp") or ""
        body = _Body(receiver.secrets, timestamp, receiver.keep())
        limit = receiver.max_read
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            whole = self._chunked(body, limit)
        else:
            try:
                length = max(int(self.headers.get("Content-Length") or 0), 0)
            except ValueError:
                length = 0
            whole = length <= limit and body.read(self.rfile, length)
            if length > limit:
                body.read(self.rfile, limit)
        if not whole:
            self.close_connection = True  # the rest is not read
        receiver._record(self.path, dict(self.headers.items()), body, whole)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_ANSWER)))
        self.end_headers()
        self.wfile.write(_ANSWER)

    def _chunked(self, body: _Body, limit: int) -> bool:
        """A chunked body, read up to `limit` bytes: whether all of it was read."""
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                return False
            if size == 0:
                self.rfile.readline(1024)  # the empty line after the last chunk
                return True
            if body.size + size > limit:
                body.read(self.rfile, limit - body.size)
                return False
            if not body.read(self.rfile, size):
                return False
            self.rfile.readline(1024)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the run's output is the reports


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a sender that hangs up mid-delivery is recorded as what arrived, or not at all


class Receiver:
    """Listens from `start()` until `stop()` (or as a context manager)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        max_bytes: int = MAX_DELIVERY_BYTES,
    ):
        self.max_bytes = max_bytes  # kept of each body (while MAX_KEPT_BYTES allow)
        self.max_read = max(MAX_DELIVERY_READ, max_bytes)
        self.kept_bytes = 0
        self._address = (host, port)
        self._public_url = public_url
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self.deliveries: list[Delivery] = []
        self.dropped = 0  # deliveries past MAX_DELIVERIES: counted, not kept
        self.secrets: tuple[str, ...] = ()  # to sign bodies larger than are kept, as they arrive

    @property
    def url(self) -> str:
        """Where a target should POST its deliveries."""
        if self._public_url:
            return self._public_url
        assert self._server is not None, "the receiver is not listening"
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/webhook"

    def start(self) -> Receiver:
        self._server = _Server(self._address, _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(_POLL_SECONDS,),
            name="agentphone-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _record(self, path: str, headers: dict[str, str], read: _Body, whole: bool) -> None:
        body, complete = bytes(read.kept), whole and read.size == len(read.kept)
        signatures = (
            {} if complete else {k: "sha256=" + s.hexdigest() for k, s in read.signers.items()}
        )
        try:
            payload = json.loads(body) if complete else None
        except (ValueError, RecursionError):
            payload = None
        with self._changed:
            if len(self.deliveries) >= MAX_DELIVERIES:
                self.dropped += 1
                return
            self.kept_bytes += len(body)
            lowered = {k.lower(): v for k, v in headers.items()}
            seq = len(self.deliveries) + 1
            self.deliveries.append(
                Delivery(
                    seq,
                    time.time(),
                    path,
                    lowered,
                    body,
                    complete,
                    payload,
                    whole,
                    read.size,
                    signatures,
                )
            )
            self._changed.notify_all()

    def keep(self) -> int:
        """How much of the next body to keep."""
        with self._changed:
            return (
                self.max_bytes if self.kept_bytes < MAX_KEPT_BYTES else min(_SMALL, self.max_bytes)
            )

    @property
    def count(self) -> int:
        with self._changed:
            return len(self.deliveries)

    def wait_for(
        self, wanted: Callable[[Delivery], bool], after: int, seconds: float
    ) -> Delivery | None:
        """The first delivery after the first `after` that `wanted` accepts, waiting at most
        `seconds` for it; None if none came."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while True:
                found = next((d for d in self.deliveries[after:] if wanted(d)), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._changed.wait(timeout=left)

    def since(self, after: int) -> list[Delivery]:
        with self._changed:
            return list(self.deliveries[after:])
