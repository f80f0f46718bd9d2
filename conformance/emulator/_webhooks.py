"""Webhooks: one registration per account, the `agent.message` event a message's arrival
sends, its signature, and the delivery thread that POSTs it (retrying) and logs each attempt.

What a receiver sees matches the vendor's SDK (`agentphone.verify_webhook`,
`construct_event`): a compact JSON body, `X-Webhook-Signature: sha256=<hex>` = HMAC-SHA256
with the secret over `"{X-Webhook-Timestamp}.{raw body}"`, and `X-Webhook-ID`, the same on
every retry of one delivery. Faults are consulted in place through the App's `on`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import queue
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from . import _faults as F
from ._state import Conversation, Message

__all__ = [
    "Delivery",
    "HttpTransport",
    "Outgoing",
    "WebhookConfig",
    "Webhooks",
    "sign",
]

EVENT = "agent.message"
USER_AGENT = "agentphone-emulator"
LOG_SIZE = 200  # the deliveries log keeps the latest this many
QUEUE_SIZE = 1000
RETRY_DELAYS = (0.2, 0.5, 1.0)  # seconds before each retry: at most three retries
MAX_ATTEMPT_SECONDS = 10.0  # the registered timeout, capped: the emulator never waits longer
CONTEXT_LIMIT = (0, 50, 10)  # low, high, default
TIMEOUT = (1, 60, 30)
MAX_URL_LENGTH = 2083
_POLL_SECONDS = 0.05  # how soon the idle delivery thread notices a stop
_WRONG_SECRET = "whsec_" + "0" * 48  # what a fault signs with when there is no older secret


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def rfc3339(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Webhook-Signature value: HMAC-SHA256 over `{timestamp}.{body}`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def compact(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- registration -------------------------------------------------------------------------
@dataclass
class WebhookConfig:
    id: str
    account: str
    url: str
    secret: str
    context_limit: int
    timeout: int
    created_at: str
    status: str = "active"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "secret": self.secret,
            "status": self.status,
            "contextLimit": self.context_limit,
            "timeout": self.timeout,
            "createdAt": self.created_at,
        }


def _error(loc: list[str | int], type_: str, msg: str, input_: Any, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": type_, "loc": loc, "msg": msg, "input": input_}
    if ctx:
        item["ctx"] = ctx
    return item


def _url_errors(value: Any) -> list[dict[str, Any]]:
    """Pydantic's HttpUrl, in short."""
    loc: list[str | int] = ["body", "url"]
    if not isinstance(value, str):
        return [_error(loc, "url_type", "URL input should be a string or URL", value)]
    if len(value) > MAX_URL_LENGTH:
        return [
            _error(
                loc,
                "url_too_long",
                f"URL should have at most {MAX_URL_LENGTH} characters",
                value,
                max_length=MAX_URL_LENGTH,
            )
        ]
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        parts = None
    if parts is None or not parts.scheme:
        return [
            _error(
                loc,
                "url_parsing",
                "Input should be a valid URL, relative URL without a base",
                value,
            )
        ]
    if parts.scheme.lower() not in ("http", "https"):
        return [
            _error(
                loc,
                "url_scheme",
                "URL scheme should be 'http' or 'https'",
                value,
                expected_schemes="'http' or 'https'",
            )
        ]
    if not parts.hostname:
        return [_error(loc, "url_parsing", "Input should be a valid URL, empty host", value)]
    return []


def _int_member(
    body: Mapping[str, Any], name: str, bounds: tuple[int, int, int], errors: list[dict[str, Any]]
) -> int:
    """Pydantic's lax int for a JSON member (null or absent: the default), within bounds."""
    low, high, default = bounds
    value = body.get(name)
    loc: list[str | int] = ["body", name]
    if value is None:
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, float):
        msg = "Input should be a valid integer, got a number with a fractional part"
        errors.append(_error(loc, "int_from_float", msg, value))
    elif (
        isinstance(value, str)
        and value.strip().lstrip("+-").isascii()
        and value.strip().lstrip("+-").isdigit()
    ):
        number = int(value.strip())
    elif isinstance(value, str):
        msg = "Input should be a valid integer, unable to parse string as an integer"
        errors.append(_error(loc, "int_parsing", msg, value))
    else:
        errors.append(_error(loc, "int_type", "Input should be a valid integer", value))
    if number is None:
        return default
    if number < low:
        msg = f"Input should be greater than or equal to {low}"
        errors.append(_error(loc, "greater_than_equal", msg, value, ge=low))
    elif number > high:
        msg = f"Input should be less than or equal to {high}"
        errors.append(_error(loc, "less_than_equal", msg, value, le=high))
    return number


def registration_errors(body: Any) -> tuple[tuple[str, int, int], list[dict[str, Any]]]:
    """(url, contextLimit, timeout) from a POST /v1/webhooks body, and pydantic's errors."""
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return ("", 0, 0), [_error(["body"], "model_attributes_type", msg, body)]
    errors: list[dict[str, Any]] = []
    if "url" not in body:
        errors.append(_error(["body", "url"], "missing", "Field required", body))
    else:
        errors.extend(_url_errors(body["url"]))
    context_limit = _int_member(body, "contextLimit", CONTEXT_LIMIT, errors)
    timeout = _int_member(body, "timeout", TIMEOUT, errors)
    url = body.get("url") if isinstance(body.get("url"), str) else ""
    return (str(url).strip(), context_limit, timeout), errors


def string_members_errors(body: Any, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Errors of an optional body whose members, when present, are strings (or null)."""
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return [_error(["body"], "model_attributes_type", msg, body)]
    return [
        _error(["body", name], "string_type", "Input should be a valid string", body[name])
        for name in names
        if body.get(name) is not None and not isinstance(body[name], str)
    ]


# --- deliveries ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Outgoing:
    """One HTTP attempt, as handed to the transport."""

    url: str
    body: bytes
    headers: dict[str, str]
    timeout: float


Transport = Callable[[Outgoing], int]  # answers the HTTP status; raises on a failed connection


@dataclass
class Attempt:
    at: str
    http_status: int | None
    error_message: str | None

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "httpStatus": self.http_status, "errorMessage": self.error_message}


@dataclass
class Delivery:
    """One event for one webhook, and every attempt made to deliver it."""

    id: str  # X-Webhook-ID: the same on every attempt, the receiver's idempotency key
    account: str
    url: str
    body: bytes
    signed: bytes  # what the signature covers after "{timestamp}." (the body, unless a fault)
    secret: str
    timeout: float
    message_id: str | None
    channel: str
    created: float = field(default_factory=time.time)
    event_type: str = EVENT
    status: str = "pending"  # then "success" or "failed"
    attempts: list[Attempt] = field(default_factory=list)
    next_retry_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        last = self.attempts[-1] if self.attempts else None
        return {
            "id": self.id,
            "messageId": self.message_id,
            "status": self.status,
            "httpStatus": last.http_status if last else None,
            "errorMessage": last.error_message if last else None,
            "attemptCount": len(self.attempts),
            "createdAt": rfc3339(self.created),
            "lastAttemptAt": last.at if last else None,
            "nextRetryAt": self.next_retry_at,
            "eventType": self.event_type,
            "channel": self.channel,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


class HttpTransport:
    """POSTs with http.client: no proxy, no redirect followed (a 3xx is a failed attempt).
    `abort()` cuts the attempts in flight short, so a stop never waits for a slow receiver."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[HTTPConnection] = set()

    def __call__(self, outgoing: Outgoing) -> int:
        parts = urlsplit(outgoing.url)
        kind = HTTPSConnection if parts.scheme.lower() == "https" else HTTPConnection
        connection = kind(parts.hostname or "", parts.port, timeout=outgoing.timeout)
        with self._lock:
            self._open.add(connection)
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", target, body=outgoing.body, headers=outgoing.headers)
            response = connection.getresponse()
            response.read(64 * 1024)
            return response.status
        finally:
            with self._lock:
                self._open.discard(connection)
            connection.close()

    def abort(self) -> None:
        with self._lock:
            sockets = [c.sock for c in self._open if c.sock is not None]
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed: nothing to cut
                sock.shutdown(socket.SHUT_RDWR)


class Webhooks:
    """The webhook registrations of every account, the delivery thread and its log.

    Registrations change under the App's lock; the log under this object's own condition
    (the delivery thread updates it while requests read it). The thread starts with the
    first queued delivery and stops with `close()`.
    """

    def __init__(self, on: Callable[[str], bool]) -> None:
        self.on = on
        self.transport: Transport = HttpTransport()
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self._configs: dict[str, WebhookConfig] = {}
        self._retired: dict[str, str] = {}  # account -> the secret before its last registration
        self._log: deque[Delivery] = deque(maxlen=LOG_SIZE)
        self._created = 0  # deliveries made so far (queued or sent at once)
        self._finished = 0  # of which succeeded or failed for good
        self._changed = threading.Condition()
        self._queue: queue.Queue[Delivery] = queue.Queue(maxsize=QUEUE_SIZE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reused_id = new_id("whd")  # what every delivery carries under webhook-id-reused

    # --- registration -------------------------------------------------------------------
    def config(self, account: str) -> WebhookConfig | None:
        return self._configs.get(account)

    def register(self, account: str, url: str, context_limit: int, timeout: int) -> WebhookConfig:
        """Replace the account's webhook; a new secret every time."""
        old = self._configs.get(account)
        if old is not None:
            self._retired[account] = old.secret
        config = WebhookConfig(
            id=new_id("wh"),
            account=account,
            url=url,
            secret="whsec_" + secrets.token_hex(24),
            context_limit=context_limit,
            timeout=timeout,
            created_at=rfc3339(),
        )
        self._configs[account] = config
        return config

    def remove(self, account: str) -> bool:
        old = self._configs.pop(account, None)
        if old is not None:
            self._retired[account] = old.secret
        return old is not None

    # --- events -------------------------------------------------------------------------
    def message_arrived(
        self,
        account: str,
        conversation: Conversation,
        message: Message,
        conversation_state: Any,
        with_state: bool = True,
    ) -> bool:
        """Queue the `agent.message` event of `message` for `account`'s webhook, if any.
        `conversation_state` is what the payload carries (the App picks it, faults included)."""
        config = self._configs.get(account)
        if config is None:
            return False
        history = sorted(conversation.messages, key=lambda m: m.received_at)
        recent = history[-config.context_limit :] if config.context_limit else []
        payload: dict[str, Any] = {
            "event": EVENT,
            "channel": message.channel or "sms",
            "timestamp": (
                int(time.time()) if self.on(F.WEBHOOK_TIMESTAMP_NOT_DATETIME) else rfc3339()
            ),
            "agentId": conversation.agent_id,
            "data": {
                "conversationId": conversation.id,
                "messageId": message.id,
                "from": message.from_number,
                "to": message.to_number,
                "message": message.body,
                "direction": message.direction,
                "receivedAt": message.received_at,
                "numberId": conversation.phone_number_id,
            },
            "conversationState": conversation_state,
            "recentHistory": [
                {
                    "content": m.body,
                    "direction": m.direction,
                    "channel": m.channel or "sms",
                    "at": m.received_at,
                }
                for m in recent
            ],
        }
        if not with_state:
            del payload["conversationState"]
        return self._enqueue(self._delivery(config, payload, message.id))

    def test_delivery(self, account: str, overrides: Mapping[str, Any]) -> Delivery | None:
        """A synthetic `agent.message` (`"test": true`) for the account's webhook, unsent."""
        config = self._configs.get(account)
        if config is None:
            return None
        message_id = new_id("msg_test")
        payload: dict[str, Any] = {
            "event": EVENT,
            "channel": overrides.get("channel") or "sms",
            "timestamp": rfc3339(),
            "agentId": None,
            "test": True,
            "data": {
                "conversationId": "conv_test",
                "messageId": message_id,
                "from": overrides.get("from") or "+15555550100",
                "to": overrides.get("to") or "+15555550199",
                "message": overrides.get("message") or "This is a test message from AgentPhone",
                "direction": "inbound",
                "receivedAt": rfc3339(),
                "numberId": None,
            },
            "conversationState": None,
            "recentHistory": [],
        }
        delivery = self._delivery(config, payload, message_id)
        self._record(delivery)
        return delivery

    def _delivery(
        self, config: WebhookConfig, payload: dict[str, Any], message_id: str
    ) -> Delivery:
        body = compact(payload)
        signed = json.dumps(payload).encode() if self.on(F.WEBHOOK_SIGNATURE_WRONG_BYTES) else body
        secret = config.secret
        if self.on(F.WEBHOOK_SIGNATURE_WRONG_SECRET):
            secret = self._retired.get(config.account, _WRONG_SECRET)
        return Delivery(
            id=self._reused_id if self.on(F.WEBHOOK_ID_REUSED) else new_id("whd"),
            account=config.account,
            url=config.url,
            body=body,
            signed=signed,
            secret=secret,
            timeout=min(float(config.timeout), MAX_ATTEMPT_SECONDS),
            message_id=message_id,
            channel=str(payload["channel"]),
        )

    # --- the log ------------------------------------------------------------------------
    def deliveries(
        self, account: str, limit: int, offset: int = 0, hours: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the account's deliveries, newest first, and how many there are."""
        since = time.time() - hours * 3600 if hours is not None else float("-inf")
        with self._changed:
            mine = [d for d in reversed(self._log) if d.account == account and d.created >= since]
            return [d.to_json() for d in mine[offset : offset + limit]], len(mine)

    def wait(self, count: int | None = None, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` deliveries (since the start; by default every one made so
        far) have finished, succeeded or failed for good (TimeoutError after `timeout`
        seconds). Returns the finished ones still in the log, oldest first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            wanted = self._created if count is None else count
            while self._finished < wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self._finished} of {wanted} webhook deliveries finished in {timeout} s"
                    )
                self._changed.wait(remaining)
            return [d.to_json() for d in self._log if d.status != "pending"]

    # --- sending ------------------------------------------------------------------------
    def send_once(self, delivery: Delivery) -> bool:
        """One attempt, in the caller's thread (the test event); no retry."""
        delivered = self._attempt(delivery)
        self._finish(delivery, "success" if delivered else "failed")
        return delivered

    def _record(self, delivery: Delivery) -> None:
        with self._changed:
            self._log.append(delivery)
            self._created += 1

    def _enqueue(self, delivery: Delivery) -> bool:
        self._record(delivery)
        self._start()
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            delivery.attempts.append(Attempt(rfc3339(), None, "delivery queue full"))
            self._finish(delivery, "failed")
            return False
        return True

    def _start(self) -> None:
        with self._changed:
            if self._thread is not None:
                return
            self._stop = threading.Event()  # each thread its own: a restart never races a stop
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="agentphone-emulator-webhooks"
            )
            self._thread.daemon = True
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delivery = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            self._deliver(delivery, stop)

    def _deliver(self, delivery: Delivery, stop: threading.Event) -> None:
        for delay in (*self.retry_delays, None):
            if self._attempt(delivery):
                self._finish(delivery, "success")
                return
            if delay is None:
                self._finish(delivery, "failed")
                return
            with self._changed:
                delivery.next_retry_at = rfc3339(time.time() + delay)
            if stop.wait(delay):
                return  # stopped: it stays pending, with its next retry named

    def _attempt(self, delivery: Delivery) -> bool:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Webhook-ID": delivery.id,
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": sign(delivery.secret, timestamp, delivery.signed),
        }
        outgoing = Outgoing(delivery.url, delivery.body, headers, delivery.timeout)
        status: int | None = None
        error: str | None = None
        try:
            status = self.transport(outgoing)
        except Exception as exc:  # the thread outlives any receiver, and any transport
            error = f"{type(exc).__name__}: {exc}"[:500]
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        with self._changed:
            delivery.attempts.append(Attempt(rfc3339(), status, error))
        return error is None

    def _finish(self, delivery: Delivery, status: str) -> None:
        with self._changed:
            delivery.status = status
            delivery.next_retry_at = None
            self._finished += 1
            self._changed.notify_all()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the delivery thread and wait for it (bounded). What is still queued stays
        pending in the log (and goes out if deliveries start again)."""
        with self._changed:
            thread, stop, self._thread = self._thread, self._stop, None
        if thread is None:
            return
        stop.set()
        abort = getattr(self.transport, "abort", None)
        if callable(abort):
            abort()
        thread.join(timeout)
