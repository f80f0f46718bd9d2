"""The suite's webhook receiver: an HTTP server of its own, for the duration of a run, that
records every delivery a target POSTs to it, bounded in count and size like every answer.

It listens on loopback by default (`--webhook-listen HOST:PORT` for another address, and
`--webhook-public-url` for the URL a tunnel gives it). It answers every delivery 200 at once
and judges nothing: the checks read what it recorded.
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
MAX_DELIVERY_BYTES = 1024 * 1024
_ANSWER = b'{"received": true}'
_TRANSPORT = frozenset({"host", "content-length", "connection", "accept-encoding"})


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """The vendor's signature: HMAC-SHA256 with the secret over "{timestamp}.{raw body}",
    written sha256=<hex> (vendor docs; the `agentphone` SDK's verify_webhook)."""
    signed = timestamp.encode("utf-8") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got, as it got it."""

    seq: int  # 1, 2, ... in order of arrival
    received: float  # time.time() when it arrived
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # at most MAX_DELIVERY_BYTES
    complete: bool  # False: the body was larger and was cut
    payload: Any = field(default=None)  # the JSON body, or None

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
            text += f"\n[... cut at {MAX_DELIVERY_BYTES} bytes]"
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

    def signed_by(self, secret: str) -> bool:
        timestamp = self.header("X-Webhook-Timestamp") or ""
        given = self.header("X-Webhook-Signature") or ""
        return hmac.compare_digest(given, signature_of(secret, timestamp, self.body))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10.0  # seconds a sender may stall mid-delivery before it is dropped

    def do_POST(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body, complete = self._chunked()
        else:
            try:
                length = max(int(self.headers.get("Content-Length") or 0), 0)
            except ValueError:
                length = 0
            body = self.rfile.read(min(length, MAX_DELIVERY_BYTES))
            complete = length <= MAX_DELIVERY_BYTES
        if not complete:
            self.close_connection = True  # the rest is not read
        self.server.receiver._record(self.path, dict(self.headers.items()), body, complete)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_ANSWER)))
        self.end_headers()
        self.wfile.write(_ANSWER)

    def _chunked(self) -> tuple[bytes, bool]:
        """A chunked body, read up to MAX_DELIVERY_BYTES: (body, whether it was whole)."""
        parts: list[bytes] = []
        size_read = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip() or b"x", 16)
            except ValueError:
                return b"".join(parts), False
            if size == 0:
                self.rfile.readline(1024)  # the empty line after the last chunk
                return b"".join(parts), True
            if size_read + size > MAX_DELIVERY_BYTES:
                parts.append(self.rfile.read(MAX_DELIVERY_BYTES - size_read))
                return b"".join(parts), False
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)
            size_read += size

    def log_message(self, format: str, *args: Any) -> None:
        return  # the run's output is the reports


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a sender that hangs up mid-delivery is recorded as what arrived, or not at all


class Receiver:
    """Listens from `start()` until `stop()` (or as a context manager)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None):
        self._address = (host, port)
        self._public_url = public_url
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self.deliveries: list[Delivery] = []
        self.dropped = 0  # deliveries past MAX_DELIVERIES: counted, not kept

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
            target=self._server.serve_forever, name="agentphone-receiver", daemon=True
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

    def _record(self, path: str, headers: dict[str, str], body: bytes, complete: bool) -> None:
        try:
            payload = json.loads(body) if complete else None
        except (ValueError, RecursionError):
            payload = None
        with self._changed:
            if len(self.deliveries) >= MAX_DELIVERIES:
                self.dropped += 1
                return
            lowered = {k.lower(): v for k, v in headers.items()}
            seq = len(self.deliveries) + 1
            self.deliveries.append(
                Delivery(seq, time.time(), path, lowered, body, complete, payload)
            )
            self._changed.notify_all()

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
