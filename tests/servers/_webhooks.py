"""The vendor's webhook surface, shared by :mod:`.current_app` and :mod:`.envelope_app`.

One registration per account (``POST``/``GET``/``DELETE /v1/webhooks``; a new secret on every
registration), the vendor's signature, and a :class:`Dispatcher`: one background thread that
POSTs queued deliveries in order, with bounded retries, until the app's ``close()``. How it
sends (chunked or not, header-name case, a random delay, each delivery sent more than once)
is a :class:`DeliveryStyle`, so the two apps make different choices where the contract says
nothing. The thread starts with the first delivery: an app without a webhook sends nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import queue
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DeliveryStyle",
    "Dispatcher",
    "Registration",
    "Registrations",
    "WebhookRequest",
    "now_rfc3339",
    "signature",
]

MAX_QUEUED = 256  # deliveries waiting to be sent; more are dropped (and counted)
MAX_SEND_SECONDS = 5.0  # one POST's bound, whatever the registration's timeout says


def now_rfc3339() -> str:
    """The current time as an RFC 3339 date-time, UTC, with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256, keyed with the secret, of ``{timestamp}.{body}``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


# ------------------------------------------------------------------------- registrations


class WebhookRequest(BaseModel):
    """The registration body."""

    model_config = ConfigDict(extra="ignore")

    url: str
    contextLimit: int = Field(default=10, ge=0, le=50)
    timeout: int = Field(default=30, ge=1, le=120)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or len(value) > 2048:
            raise ValueError("must be an http:// or https:// URL of at most 2048 characters")
        return value


@dataclass(frozen=True)
class Registration:
    id: str
    url: str
    secret: str
    context_limit: int
    timeout: int
    created_at: str
    status: str = "active"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "secret": self.secret,
            "status": self.status,
            "contextLimit": self.context_limit,
            "timeout": self.timeout,
            "createdAt": self.created_at,
        }


class Registrations:
    """Each account's webhook, if it has one. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_account: dict[str, Registration] = {}

    def register(self, account_id: str, request: WebhookRequest) -> Registration:
        """Register (or replace) the account's webhook, always with a new secret."""
        registration = Registration(
            id=f"wh_{uuid.uuid4().hex[:16]}",
            url=request.url,
            secret=f"whsec_{secrets.token_urlsafe(24)}",
            context_limit=request.contextLimit,
            timeout=request.timeout,
            created_at=now_rfc3339(),
        )
        with self._lock:
            self._by_account[account_id] = registration
        return registration

    def get(self, account_id: str) -> Registration | None:
        with self._lock:
            return self._by_account.get(account_id)

    def remove(self, account_id: str) -> Registration | None:
        with self._lock:
            return self._by_account.pop(account_id, None)


# ---------------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class DeliveryStyle:
    """How a server sends its deliveries, where the contract leaves it free."""

    chunked: bool = False  # the body in chunks (Transfer-Encoding: chunked), no Content-Length
    lower_case_headers: bool = False  # x-webhook-signature rather than X-Webhook-Signature
    max_delay: float = 0.0  # seconds: a random delay up to this before each delivery
    attempts: int = 3  # tries per delivery until a 2xx, then it is given up
    backoff: float = 0.1  # seconds before the second try, doubling after each
    chunk_size: int = 512


@dataclass(frozen=True)
class _Job:
    url: str
    secret: str
    body: bytes  # fixed when the event happens: a redelivery sends the same bytes
    delivery_id: str
    timeout: float  # seconds one POST may take (the registration's, at most MAX_SEND_SECONDS)
    copies: int  # >1: sent again after it was acknowledged (at-least-once delivery)
    redeliver_after: float  # seconds between one copy's acknowledgement and the next


Dumps = Callable[[Any, tuple[str, str]], str]
"""(payload, separators) -> JSON text: how a server writes its payloads."""


def _dumps(payload: Any, separators: tuple[str, str]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=separators)


class Dispatcher:
    """Sends queued deliveries from one background thread, in order, until `close()`."""

    def __init__(self, style: DeliveryStyle | None = None, dumps: Dumps = _dumps) -> None:
        self.style = style or DeliveryStyle()
        self.dumps = dumps
        self.sent = 0  # POSTs answered 2xx
        self.dropped = 0  # deliveries not queued (the queue full, or the dispatcher closed)
        self._jobs: queue.Queue[_Job | None] = queue.Queue(MAX_QUEUED)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._rng = random.Random()

    def enqueue(
        self,
        registration: Registration,
        payload: dict[str, Any],
        *,
        copies: int = 1,
        redeliver_after: float = 0.0,
        compact: bool = True,
    ) -> str:
        """Queue `payload` for the registration's URL; its delivery id."""
        separators = (",", ":") if compact else (", ", ": ")
        body = self.dumps(payload, separators).encode()
        job = _Job(
            registration.url,
            registration.secret,
            body,
            f"whd_{uuid.uuid4().hex}",
            min(float(registration.timeout), MAX_SEND_SECONDS),
            copies,
            redeliver_after,
        )
        with self._lock:
            if self._closed:
                self.dropped += 1
                return job.delivery_id
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="webhook-dispatcher", daemon=True
                )
                self._thread.start()
            try:
                self._jobs.put_nowait(job)
            except queue.Full:
                self.dropped += 1
        return job.delivery_id

    def close(self, timeout: float = 2 * MAX_SEND_SECONDS) -> None:
        """Stop sending: what is still queued is dropped; waits for the thread to end."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        if thread is None:
            return
        with contextlib.suppress(queue.Full):  # (full: the thread is busy and sees the stop)
            self._jobs.put_nowait(None)
        thread.join(timeout)
        if thread.is_alive():  # pragma: no cover - a POST outlived its own timeout
            raise RuntimeError("the webhook dispatcher did not stop in time")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread

    def _work(self) -> None:
        with httpx.Client(trust_env=False, follow_redirects=False) as client:
            while not self._stop.is_set():
                job = self._jobs.get()
                if job is None:
                    return
                for copy in range(job.copies):
                    if copy and self._stop.wait(job.redeliver_after):
                        return
                    if not self._send(client, job):
                        break  # given up (or stopping): no further copies

    def _send(self, client: httpx.Client, job: _Job) -> bool:
        """POST one copy, retrying a bounded number of times; whether it was acknowledged.
        Each try is signed afresh (a new timestamp)."""
        for attempt in range(self.style.attempts):
            if self.style.max_delay and self._stop.wait(self._rng.uniform(0, self.style.max_delay)):
                return False
            if self._stop.is_set():
                return False
            try:
                answer = client.post(
                    job.url,
                    content=self._content(job.body),
                    headers=self._headers(job),
                    timeout=job.timeout,
                )
                if 200 <= answer.status_code < 300:
                    self.sent += 1
                    return True
            except httpx.HTTPError:
                pass  # not acknowledged: tried again
            if self._stop.wait(self.style.backoff * 2**attempt):
                return False
        return False

    def _headers(self, job: _Job) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "agentphone-webhooks/1.0",
            "X-Webhook-ID": job.delivery_id,
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": signature(job.secret, timestamp, job.body),
        }
        if self.style.lower_case_headers:
            return {name.lower(): value for name, value in headers.items()}
        return headers

    def _content(self, body: bytes) -> bytes | Iterator[bytes]:
        if not self.style.chunked:
            return body
        size = self.style.chunk_size
        return iter([body[i : i + size] for i in range(0, len(body), size)])
