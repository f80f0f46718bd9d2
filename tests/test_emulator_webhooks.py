"""The emulator's webhooks over real loopback sockets: registration, the agent.message a
message's arrival POSTs (signed, retried, logged), the control route, the faults, and the
vendor's own SDK as a client and as the receiver's verifier."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import agentphone
import httpx
import pytest

from conformance.emulator import Emulator

from .conftest import BARE, BUSY, KEY_1, KEY_2, OTHER

DELIVERY_THREAD = "agentphone-emulator-webhooks"


# --- a tiny receiver --------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A stdlib HTTP server on 127.0.0.1 that records each POST and answers the next status
    of `script` (200 once it runs out)."""

    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running
    assert not _delivery_threads(), "the delivery thread outlived the emulator"


def _delivery_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == DELIVERY_THREAD]


def _client(emulator: Emulator, key: str | None = KEY_1) -> httpx.Client:
    """One client per emulator (making one costs ~50 ms); `key` is the default bearer key."""
    headers = _auth(key) if key else {}
    return httpx.Client(base_url=emulator.base_url, headers=headers, timeout=10)


@pytest.fixture
def api(emulator: Emulator) -> Iterator[httpx.Client]:
    with _client(emulator) as client:
        yield client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _register(api: httpx.Client, url: str, key: str = KEY_1, **options: Any) -> dict[str, Any]:
    answer = api.post("/v1/webhooks", json={"url": url, **options}, headers=_auth(key))
    assert answer.status_code == 200, answer.text
    registered: dict[str, Any] = answer.json()
    return registered


def _arrive(
    api: httpx.Client, conversation_id: str = BUSY, key: str = KEY_1, **body: Any
) -> httpx.Response:
    path = f"/_emulator/conversations/{conversation_id}/messages"
    return api.post(path, json=body, headers=_auth(key))


def _patch(api: httpx.Client, metadata: Any, conversation_id: str = BUSY) -> None:
    answer = api.patch(f"/v1/conversations/{conversation_id}", json={"metadata": metadata})
    assert answer.status_code == 200, answer.text


def _expected_signature(secret: str, received: Received) -> str:
    timestamp = received.headers["X-Webhook-Timestamp"]
    signed = timestamp.encode() + b"." + received.body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _one_delivery(
    emulator: Emulator, api: httpx.Client, receiver: Receiver
) -> tuple[dict[str, Any], Received]:
    """Register, PATCH, make a message arrive: the registration and what was received."""
    registered = _register(api, receiver.url())
    _patch(api, {"stage": "after-patch"})
    assert _arrive(api, body="where is it?").status_code == 201
    emulator.wait_for_deliveries(timeout=5)
    assert len(receiver.received) == 1
    return registered, receiver.received[0]


# --- registration -------------------------------------------------------------------------
def test_registration_answers_the_configuration_and_replaces_with_a_new_secret(
    api: httpx.Client, receiver: Receiver
) -> None:
    first = _register(api, receiver.url(), contextLimit=5, timeout=12)
    assert set(first) == {"id", "url", "secret", "status", "contextLimit", "timeout", "createdAt"}
    assert first["url"] == receiver.url() and first["status"] == "active"
    assert (first["contextLimit"], first["timeout"]) == (5, 12)
    assert first["secret"].startswith("whsec_") and len(first["secret"]) > 20
    assert api.get("/v1/webhooks").json() == first
    second = _register(api, receiver.url("/other"))
    assert (second["contextLimit"], second["timeout"]) == (10, 30)  # the defaults
    assert second["secret"] != first["secret"] and second["id"] != first["id"]
    assert api.get("/v1/webhooks").json() == second
    assert api.get("/v1/webhooks", headers=_auth(KEY_2)).json() is None  # per account
    assert api.delete("/v1/webhooks").json() == {"deleted": True}
    got = api.get("/v1/webhooks")
    assert (got.status_code, got.text) == (200, "null")
    assert api.delete("/v1/webhooks").json() == {"deleted": False}


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({}, ["body", "url"], "missing"),
        ({"url": "ftp://example.com/hook"}, ["body", "url"], "url_scheme"),
        ({"url": "not a url"}, ["body", "url"], "url_parsing"),
        ({"url": 5}, ["body", "url"], "url_type"),
        ({"url": "http://127.0.0.1/h", "contextLimit": 51}, ["body", "contextLimit"], None),
        ({"url": "http://127.0.0.1/h", "contextLimit": -1}, ["body", "contextLimit"], None),
        ({"url": "http://127.0.0.1/h", "contextLimit": "ten"}, ["body", "contextLimit"], None),
        ({"url": "http://127.0.0.1/h", "timeout": 0}, ["body", "timeout"], None),
        ({"url": "http://127.0.0.1/h", "timeout": 61}, ["body", "timeout"], None),
        ([1], ["body"], "model_attributes_type"),
    ],
)
def test_registration_validates_like_fastapi(
    api: httpx.Client, body: Any, loc: list[str], type_: str | None
) -> None:
    answer = api.post("/v1/webhooks", json=body)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["detail"]
    assert [e["loc"] for e in errors] == [loc]
    assert all({"loc", "msg", "type"} <= set(e) for e in errors)
    if type_ is not None:
        assert errors[0]["type"] == type_
    assert api.get("/v1/webhooks").json() is None  # nothing registered


def test_the_webhook_routes_authenticate_like_the_others(
    emulator: Emulator, api: httpx.Client
) -> None:
    with _client(emulator, key=None) as anonymous:
        for method, path in [
            ("GET", "/v1/webhooks"),
            ("POST", "/v1/webhooks"),
            ("DELETE", "/v1/webhooks"),
            ("GET", "/v1/webhooks/deliveries"),
            ("POST", "/v1/webhooks/test"),
        ]:
            answer = anonymous.request(method, path, json={"url": "http://127.0.0.1:9/h"})
            assert answer.status_code == 401, (method, path)
            assert answer.json() == {"detail": "Not authenticated"}
            assert answer.headers["WWW-Authenticate"] == "Bearer"
    refused = api.put("/v1/webhooks")
    assert refused.status_code == 405 and "POST" in refused.headers["Allow"]


# --- deliveries ---------------------------------------------------------------------------
def test_an_arrival_is_delivered_signed_and_verifiable_with_the_sdk(
    emulator: Emulator, api: httpx.Client, receiver: Receiver
) -> None:
    registered, received = _one_delivery(emulator, api, receiver)
    headers = received.headers
    assert received.path == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "agentphone-emulator"
    assert headers["X-Webhook-ID"]
    assert abs(time.time() - int(headers["X-Webhook-Timestamp"])) < 60
    # Independently, with the standard library...
    assert headers["X-Webhook-Signature"] == _expected_signature(registered["secret"], received)
    # ...and with the vendor's SDK, as a customer's receiver would.
    signature, timestamp = headers["X-Webhook-Signature"], headers["X-Webhook-Timestamp"]
    agentphone.verify_webhook(received.body, signature, registered["secret"], timestamp)
    event = agentphone.construct_event(received.body, signature, registered["secret"], timestamp)
    assert event.event == "agent.message" and event.channel == "sms"
    assert event.conversation_state == {"stage": "after-patch"}
    assert event.data.conversation_id == BUSY and event.data.message == "where is it?"
    with pytest.raises(agentphone.WebhookVerificationError):
        agentphone.verify_webhook(received.body + b" ", signature, registered["secret"], timestamp)

    payload = received.json()
    assert received.body == json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    assert list(payload) == [
        "event",
        "channel",
        "timestamp",
        "agentId",
        "data",
        "conversationState",
        "recentHistory",
    ]
    conversation = api.get(f"/v1/conversations/{BUSY}").json()
    data = payload["data"]
    assert set(data) == {
        "conversationId",
        "messageId",
        "from",
        "to",
        "message",
        "direction",
        "receivedAt",
        "numberId",
    }
    assert payload["agentId"] == conversation["agentId"]
    assert data["from"] == conversation["participant"] and data["to"] == conversation["phoneNumber"]
    assert data["numberId"] == conversation["phoneNumberId"] and data["direction"] == "inbound"
    assert payload["timestamp"].endswith("Z")
    # The arrival is a real message of the conversation now.
    assert conversation["messageCount"] == 4
    assert conversation["messages"][-1]["id"] == data["messageId"]
    assert conversation["lastMessageAt"] == data["receivedAt"]
    assert payload["recentHistory"][-1] == {
        "content": "where is it?",
        "direction": "inbound",
        "channel": "sms",
        "at": data["receivedAt"],
    }


def test_conversation_state_follows_the_metadata_null_included(
    emulator: Emulator, api: httpx.Client, receiver: Receiver
) -> None:
    _register(api, receiver.url())
    for metadata in ({"step": 1}, {"step": 2, "nested": {"a": [1, None]}}, None, {}):
        _patch(api, metadata)
        _arrive(api)
    emulator.wait_for_deliveries(4, timeout=5)
    states = [r.json()["conversationState"] for r in receiver.received]
    assert states == [{"step": 1}, {"step": 2, "nested": {"a": [1, None]}}, None, {}]


@pytest.mark.parametrize("limit", [0, 2, 50])
def test_recent_history_respects_the_context_limit(
    emulator: Emulator, api: httpx.Client, receiver: Receiver, limit: int
) -> None:
    _register(api, receiver.url(), contextLimit=limit)
    _arrive(api, body="newest", channel="sms")
    emulator.wait_for_deliveries(1, timeout=5)
    history = receiver.received[0].json()["recentHistory"]
    messages = api.get(f"/v1/conversations/{BUSY}").json()["messages"]
    expected = messages[-limit:] if limit else []
    assert [h["content"] for h in history] == [m["body"] for m in expected]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)  # oldest first
    assert len(history) == min(limit, 4)


def test_a_receiver_that_fails_twice_gets_three_attempts_with_one_id(
    emulator: Emulator, api: httpx.Client, receiver: Receiver
) -> None:
    registered = _register(api, receiver.url())
    receiver.script[:] = [500, 503]
    message_id = _arrive(api).json()["messageId"]
    [logged] = emulator.wait_for_deliveries(1, timeout=10)
    assert len(receiver.received) == 3
    ids = {r.headers["X-Webhook-ID"] for r in receiver.received}
    assert ids == {logged["id"]}  # the idempotency key survives the retries
    assert {r.body for r in receiver.received} == {receiver.received[0].body}
    for received in receiver.received:  # each attempt signed afresh, and correctly
        assert received.headers["X-Webhook-Signature"] == _expected_signature(
            registered["secret"], received
        )
    [delivery] = api.get("/v1/webhooks/deliveries").json()["data"]
    assert delivery["id"] == logged["id"] and delivery["messageId"] == message_id
    assert (delivery["status"], delivery["httpStatus"], delivery["attemptCount"]) == (
        "success",
        200,
        3,
    )
    assert [a["httpStatus"] for a in delivery["attempts"]] == [500, 503, 200]
    assert delivery["eventType"] == "agent.message" and delivery["channel"] == "sms"
    assert delivery["nextRetryAt"] is None and delivery["lastAttemptAt"]


def test_an_unreachable_receiver_fails_after_three_retries(
    emulator: Emulator, api: httpx.Client
) -> None:
    emulator.app.webhooks.retry_delays = (0.01, 0.01, 0.01)
    dead = Receiver()
    url = dead.url()
    dead.close()  # nothing listens there any more
    _register(api, url)
    _arrive(api)
    [delivery] = emulator.wait_for_deliveries(1, timeout=10)
    assert (delivery["status"], delivery["attemptCount"], delivery["httpStatus"]) == (
        "failed",
        4,
        None,
    )
    assert delivery["errorMessage"]


def test_two_deliveries_have_two_ids_and_the_log_is_newest_first(
    emulator: Emulator, api: httpx.Client, receiver: Receiver
) -> None:
    _register(api, receiver.url())
    first = _arrive(api, body="one").json()["messageId"]
    second = _arrive(api, body="two").json()["messageId"]
    emulator.wait_for_deliveries(2, timeout=5)
    assert len({r.headers["X-Webhook-ID"] for r in receiver.received}) == 2
    listed = api.get("/v1/webhooks/deliveries", params={"limit": 1}).json()
    assert [d["messageId"] for d in listed["data"]] == [second]
    assert (listed["total"], listed["hasMore"]) == (2, True)
    everything = api.get("/v1/webhooks/deliveries").json()["data"]
    assert [d["messageId"] for d in everything] == [second, first]
    assert api.get("/v1/webhooks/deliveries", params={"limit": 0}).status_code == 422
    assert api.get("/v1/webhooks/deliveries", headers=_auth(KEY_2)).json()["data"] == []


def test_the_test_event_is_sent_at_once(api: httpx.Client, receiver: Receiver) -> None:
    assert api.post("/v1/webhooks/test").status_code == 404  # nothing registered
    registered = _register(api, receiver.url())
    answer = api.post("/v1/webhooks/test", json={"message": "ping", "channel": "sms"})
    assert answer.status_code == 200 and answer.json()["delivered"] is True
    [received] = receiver.received
    headers = received.headers
    event = agentphone.construct_event(
        received.body,
        headers["X-Webhook-Signature"],
        registered["secret"],
        headers["X-Webhook-Timestamp"],
    )
    assert event.test is True and event.data.message == "ping"
    assert headers["X-Webhook-ID"] == answer.json()["deliveryId"]


# --- the control route and the Python API -------------------------------------------------
def test_the_control_route_answers_and_refuses(
    emulator: Emulator, api: httpx.Client, receiver: Receiver
) -> None:
    path = f"/_emulator/conversations/{BUSY}/messages"
    with _client(emulator, key=None) as anonymous:
        assert anonymous.post(path).status_code == 401
    assert _arrive(api, BUSY, key="not-a-key").status_code == 401
    assert _arrive(api, OTHER, key=KEY_1).status_code == 404  # another account's
    assert _arrive(api, "conv_nope").status_code == 404
    assert api.get(path).status_code == 405
    assert api.post("/_emulator/nothing-here").status_code == 404
    assert api.post(path, content=b"{").status_code == 422
    before = api.get(f"/v1/conversations/{BARE}").json()
    assert before["messageCount"] == 0
    unheard = _arrive(api, BARE)  # no webhook yet: the message arrives, nothing is sent
    assert unheard.status_code == 201
    assert unheard.json() == {
        "messageId": unheard.json()["messageId"],
        "conversationId": BARE,
        "deliveryQueued": False,
    }
    _register(api, receiver.url())
    message_id = emulator.arrive(BARE, body="through Python")
    emulator.wait_for_deliveries(1, timeout=5)
    assert receiver.received[0].json()["data"]["messageId"] == message_id
    after = api.get(f"/v1/conversations/{BARE}").json()
    assert [m["body"] for m in after["messages"]] == ["Hello from the emulator", "through Python"]
    assert after["messageCount"] == 2 and after["lastMessageAt"] > before["lastMessageAt"]
    with pytest.raises(KeyError):
        emulator.arrive("conv_nope")


def test_the_control_route_is_never_throttled() -> None:
    with Emulator(throttle_every=1) as emulator, _client(emulator) as api:
        assert _arrive(api).status_code == 201
        assert api.get("/v1/webhooks").status_code == 429


def test_the_seed_edition_keeps_the_webhooks(receiver: Receiver) -> None:
    with Emulator(edition="seed") as emulator, _client(emulator) as api:
        registered = _register(api, receiver.url())
        _patch(api, {"seed": True})
        _arrive(api)
        emulator.wait_for_deliveries(1, timeout=5)
    [received] = receiver.received
    assert received.json()["conversationState"] == {"seed": True}
    assert received.headers["X-Webhook-Signature"] == _expected_signature(
        registered["secret"], received
    )


# --- lifecycle ------------------------------------------------------------------------------
def test_stop_is_prompt_even_while_retrying(receiver: Receiver) -> None:
    emulator = Emulator()
    emulator.start()
    try:
        receiver.script[:] = [500] * 10
        with _client(emulator) as api:
            _register(api, receiver.url())
            _arrive(api)
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert receiver.received and _delivery_threads()
    finally:
        started = time.monotonic()
        emulator.stop()
    assert time.monotonic() - started < 1.5
    assert not _delivery_threads()
    attempts = len(receiver.received)
    time.sleep(0.3)  # longer than the first back-off: a stopped emulator retries no more
    assert len(receiver.received) == attempts


def test_no_thread_starts_until_something_is_delivered(api: httpx.Client) -> None:
    assert _arrive(api).json()["deliveryQueued"] is False  # no webhook: nothing to send
    assert not _delivery_threads()


def test_the_log_keeps_the_latest_two_hundred(emulator: Emulator, api: httpx.Client) -> None:
    emulator.app.webhooks.transport = lambda _outgoing: 204
    _register(api, "http://127.0.0.1:9/never-used")
    for _ in range(205):
        emulator.arrive(BUSY)
    emulator.wait_for_deliveries(205, timeout=10)
    listed = api.get("/v1/webhooks/deliveries", params={"limit": 200}).json()
    assert listed["total"] == 200 and all(d["status"] == "success" for d in listed["data"])


# --- faults ---------------------------------------------------------------------------------
def _observe(fault: str | None) -> dict[str, Any]:
    """What a receiver sees of one scenario, on the conformant emulator or with a fault."""
    receiver = Receiver()
    try:
        with Emulator(faults=[fault] if fault else []) as emulator, _client(emulator) as api:
            _register(api, receiver.url())  # a first secret...
            registered = _register(api, receiver.url())  # ...replaced
            _patch(api, {"first": 1})
            _patch(api, {"second": 2})
            _arrive(api, body="one")
            _arrive(api, body="two")
            emulator.wait_for_deliveries(timeout=5)
    finally:
        receiver.close()
    received = receiver.received
    payload = received[0].json()
    return {
        "state": payload.get("conversationState", "<absent>"),
        "signed": all(
            r.headers["X-Webhook-Signature"] == _expected_signature(registered["secret"], r)
            for r in received
        ),
        "ids": len({r.headers["X-Webhook-ID"] for r in received}),
    }


@pytest.fixture(scope="module")
def conformant() -> dict[str, Any]:
    observed = _observe(None)
    assert observed == {"state": {"second": 2}, "signed": True, "ids": 2}
    return observed


@pytest.mark.parametrize(
    ("fault", "differs"),
    [
        ("webhook-state-stale", {"state": {"first": 1}}),
        ("webhook-state-absent", {"state": "<absent>"}),
        ("webhook-state-other-conversation", {"state": None}),  # the bare conversation's
        ("webhook-signature-wrong-bytes", {"signed": False}),
        ("webhook-signature-wrong-secret", {"signed": False}),
        ("webhook-id-reused", {"ids": 1}),
    ],
)
def test_each_webhook_fault_is_observable(
    conformant: dict[str, Any], fault: str, differs: dict[str, Any]
) -> None:
    assert _observe(fault) == {**conformant, **differs}


@pytest.mark.parametrize("fault", [None, "webhook-delivers-other-account"])
def test_account_isolation_and_its_fault(fault: str | None) -> None:
    mine, theirs = Receiver(), Receiver()
    try:
        with Emulator(faults=[fault] if fault else []) as emulator, _client(emulator) as api:
            _register(api, mine.url(), key=KEY_1)
            _register(api, theirs.url(), key=KEY_2)
            _arrive(api, OTHER, key=KEY_2)
            _arrive(api, BUSY, key=KEY_1)
            emulator.wait_for_deliveries(timeout=5)
    finally:
        mine.close()
        theirs.close()
    to_mine = [r.json()["data"]["conversationId"] for r in mine.received]
    to_theirs = [r.json()["data"]["conversationId"] for r in theirs.received]
    if fault is None:
        assert (to_mine, to_theirs) == ([BUSY], [OTHER])
    else:  # each account's arrival reaches the other account's webhook too
        assert (sorted(to_mine), sorted(to_theirs)) == (sorted([BUSY, OTHER]),) * 2


def test_the_signature_fault_without_an_older_secret_still_signs_wrongly(
    receiver: Receiver,
) -> None:
    with Emulator(faults=["webhook-signature-wrong-secret"]) as emulator, _client(emulator) as api:
        registered = _register(api, receiver.url())  # the only registration
        _arrive(api)
        emulator.wait_for_deliveries(1, timeout=5)
    [received] = receiver.received
    assert received.headers["X-Webhook-Signature"] != _expected_signature(
        registered["secret"], received
    )


# --- the vendor's SDK as the client ---------------------------------------------------------
def test_the_official_sdk_registers_reads_lists_tests_and_deletes(
    emulator: Emulator, receiver: Receiver
) -> None:
    with agentphone.AgentPhone(api_key=KEY_1, base_url=emulator.base_url, timeout=10) as client:
        webhook = client.webhooks.set(url=receiver.url(), context_limit=3, timeout=15)
        assert isinstance(webhook, agentphone.Webhook)
        assert (webhook.url, webhook.status, webhook.context_limit, webhook.timeout) == (
            receiver.url(),
            "active",
            3,
            15,
        )
        assert webhook.secret.startswith("whsec_")
        fetched = client.webhooks.get()
        assert fetched is not None and fetched.secret == webhook.secret
        assert client.webhooks.test(message="from the SDK")["delivered"] is True
        emulator.arrive(BUSY, body="after the test")
        emulator.wait_for_deliveries(2, timeout=5)
        deliveries = client.webhooks.list_deliveries(limit=10)
        assert [type(d) for d in deliveries] == [agentphone.WebhookDelivery] * 2
        assert [d.status for d in deliveries] == ["success", "success"]
        assert deliveries[0].message_id == receiver.received[1].json()["data"]["messageId"]
        for received in receiver.received:
            # independently of the SDK: hmac from the standard library
            assert received.headers["X-Webhook-Signature"] == _expected_signature(
                webhook.secret, received
            )
            event = agentphone.construct_event(
                received.body,
                received.headers["X-Webhook-Signature"],
                webhook.secret,
                received.headers["X-Webhook-Timestamp"],
            )
            assert event.event == "agent.message"
        assert client.webhooks.delete() == {"deleted": True}
        assert client.webhooks.get() is None
