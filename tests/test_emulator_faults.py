"""Every fault is a real, observable deviation from the conformant emulator, and they compose."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conformance.emulator import (
    FAMILIES,
    FAULTS,
    App,
    Outgoing,
    UnknownFaultError,
    parse_faults,
    sign,
)
from conformance.emulator._app import Request

from .conftest import BARE, BUSY, KEY_1, KEY_2, OTHER, QUIET, call, conversation

ONE = f"/v1/conversations/{BUSY}"
Probe = Callable[[App], Any]


def _status(method: str, path: str = ONE, body: Any = None, **kw: Any) -> Probe:
    return lambda app: call(app, method, path, body, **kw).status


def _patched_then_read(*bodies: Any, path: str = ONE, target: str = BUSY) -> Probe:
    def probe(app: App) -> Any:
        for body in bodies:
            call(app, "PATCH", path, body)
        return conversation(app, target)["metadata"]

    return probe


def _patch_answer(body: Any, field: str | None = None, conversation_id: str = BUSY) -> Probe:
    def probe(app: App) -> Any:
        answer = call(app, "PATCH", f"/v1/conversations/{conversation_id}", body).json()
        return answer if field is None else answer.get(field, "<absent>")

    return probe


def _get_answer(conversation_id: str, field: str) -> Probe:
    return lambda app: call(app, "GET", f"/v1/conversations/{conversation_id}").json().get(field)


def _metadata_after_refused_patch(app: App) -> Any:
    call(app, "PATCH", ONE, {"metadata": {"pwned": True}}, key="wrong-key")
    return conversation(app, BUSY)["metadata"]


def _metadata_after_invalid_patch(app: App) -> Any:
    call(app, "PATCH", ONE, {"metadata": "not an object"})
    return conversation(app, BUSY)["metadata"]


def _twice(app: App) -> bool:
    first = call(app, "PATCH", ONE, {"metadata": {"n": 1}}).json()
    return first == call(app, "PATCH", ONE, {"metadata": {"n": 1}}).json()


def _after_one_patch(field: str) -> Probe:
    """A field of the conversation after its first PATCH (of metadata only)."""

    def probe(app: App) -> Any:
        call(app, "PATCH", ONE, {"metadata": {"n": 1}})
        return conversation(app, BUSY)[field]

    return probe


def _neighbour_after_patch(app: App) -> Any:
    call(app, "PATCH", ONE, {"metadata": {"mine": 1}})
    return conversation(app, BARE)["metadata"]


def _list_after_patch(app: App) -> Any:
    call(app, "PATCH", ONE, {"metadata": {"fresh": 1}})
    listing = call(app, "GET", "/v1/conversations").json()["data"]
    return next(s["metadata"] for s in listing if s["id"] == BUSY)


def _foreign_patch_then_owners(app: App) -> Any:
    call(app, "PATCH", f"/v1/conversations/{OTHER}", {"metadata": {"foreign": 1}})
    return conversation(app, QUIET, key=KEY_2)["metadata"]


def _stored(metadata: Any) -> Probe:
    """The metadata as stored, as JSON text (where True and 1 differ)."""
    read = _patched_then_read({"metadata": metadata})
    return lambda app: json.dumps(read(app))


def _large_refused(app: App) -> tuple[int, Any]:
    status = call(app, "PATCH", ONE, {"metadata": {"big": "x" * 70_000}}).status
    return status, conversation(app, BUSY)["metadata"]


def _unknown_id_then_get(app: App) -> tuple[int, int]:
    patched = call(app, "PATCH", "/v1/conversations/conv_nope", {"metadata": {"a": 1}}).status
    return patched, call(app, "GET", "/v1/conversations/conv_nope").status


def _header(name: str, response_of: Probe) -> Probe:
    return lambda app: response_of(app).headers.get(name)


def _response(method: str, path: str = ONE, body: Any = None, **kw: Any) -> Probe:
    return lambda app: call(app, method, path, body, **kw)


def _timestamps(app: App) -> list[str]:
    body = conversation(app, BUSY)
    return [body["createdAt"], body["lastMessageAt"], body["messages"][0]["receivedAt"]]


def _slept(app: App) -> list[float]:
    slept: list[float] = []
    app._sleep = slept.append
    call(app, "PATCH", ONE, {"metadata": {}})
    return slept


class _Recorder:
    """A webhook transport that keeps each attempt and answers 200, with no network."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    def __call__(self, outgoing: Outgoing) -> int:
        self.sent.append(outgoing)
        return 200


def _webhook(
    *steps: tuple[str, str, Any], read: Callable[[list[Outgoing], list[str]], Any]
) -> Probe:
    """Register account 1's webhook (each step may register again, PATCH or make a message
    arrive), then read what would have been POSTed, with no network: a recording transport
    answers 200. `read` gets the attempts and the secrets of every registration, in order."""

    def probe(app: App) -> Any:
        app.webhooks.transport = recorder = _Recorder()
        secrets: list[str] = []
        try:
            for method, path, body in [("POST", "/v1/webhooks", None), *steps]:
                answer = call(app, method, path, body or {"url": "http://127.0.0.1:9/hook"})
                if path == "/v1/webhooks":
                    secrets.append(answer.json()["secret"])
            app.webhooks.wait(timeout=5)
        finally:
            app.close()
        return read(recorder.sent, secrets)

    return probe


ARRIVAL = ("POST", f"/_emulator/conversations/{BUSY}/messages", {"body": "hi"})


def _payload(sent: list[Outgoing], _secrets: list[str]) -> Any:
    return json.loads(sent[-1].body)


def _state_after_patch(app: App) -> Any:
    patch = ("PATCH", ONE, {"metadata": {"fresh": 1}})
    read = _webhook(patch, ARRIVAL, read=_payload)
    return read(app).get("conversationState", "<absent>")


def _signature_checks(sent: list[Outgoing], secrets: list[str]) -> bool:
    """Is the signature HMAC-SHA256 over "{timestamp}.{body}" with the latest secret?"""
    headers = sent[-1].headers
    expected = sign(secrets[-1], headers["X-Webhook-Timestamp"], sent[-1].body)
    return headers["X-Webhook-Signature"] == expected


def _distinct_ids(sent: list[Outgoing], _secrets: list[str]) -> int:
    return len({outgoing.headers["X-Webhook-ID"] for outgoing in sent})


def _arrive_on_other(app: App) -> list[str]:
    """Account 1 has a webhook; a message arrives on account 2's conversation."""
    app.webhooks.transport = recorder = _Recorder()
    try:
        call(app, "POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/account-1"})
        app.arrive(OTHER, "for account 2 only")
        app.webhooks.wait(timeout=5)
    finally:
        app.close()
    return [outgoing.url for outgoing in recorder.sent]


PROBES: dict[str, Probe] = {
    "auth-missing-key-accepted": _status("GET", key=None),
    "auth-any-key-accepted": _status("GET", key="not-a-key"),
    "auth-key-loosely-matched": _status("GET", key=KEY_1.upper()),
    "auth-scheme-ignored": _status("GET", key=None, headers={"Authorization": f"Token {KEY_1}"}),
    "auth-cross-tenant-read": _status("GET", f"/v1/conversations/{OTHER}"),
    "auth-cross-tenant-write": _status("PATCH", f"/v1/conversations/{OTHER}", {"metadata": {}}),
    "auth-cross-tenant-write-elsewhere": _foreign_patch_then_owners,
    "auth-refused-still-writes": _metadata_after_refused_patch,
    "auth-echoes-credential": lambda app: (
        b"wrong-key" in call(app, "GET", ONE, key="wrong-key").body
    ),
    "auth-no-www-authenticate": _header("WWW-Authenticate", _response("GET", key=None)),
    "validation-wrong-type-accepted": _status("PATCH", body={"metadata": [1, 2]}),
    "validation-400-not-422": _status("PATCH", body={"metadata": 3}),
    "validation-error-shape": lambda app: sorted(call(app, "PATCH", ONE, {"metadata": 3}).json()),
    "validation-500-on-malformed-json": _status("PATCH", raw=b"{nope"),
    "validation-invalid-still-writes": _metadata_after_invalid_patch,
    "validation-rejects-valid": _status("PATCH", body={"metadata": {"a.b": 1}}),
    "validation-query-unchecked": _status("GET", query="message_limit=0"),
    "validation-group-name-unchecked": _status("PATCH", ONE, {"group_name": 5}),
    "shape-missing-required-field": _get_answer(BUSY, "messageCount"),
    "shape-wrong-type": _get_answer(BUSY, "messageCount"),
    "shape-nullable-mishandled": _get_answer(BARE, "metadata"),
    "shape-reactions-null": lambda app: conversation(app, BUSY)["messages"][0]["reactions"],
    "shape-naive-timestamps": _timestamps,
    "shape-wrong-content-type": _header("Content-Type", _response("GET")),
    "shape-undocumented-status": _status("PATCH", body={"metadata": {}}),
    "semantics-merge-not-replace": _patched_then_read({"metadata": {"only": 1}}),
    "semantics-null-ignored": _patched_then_read({"metadata": None}),
    "semantics-omitted-clears": _patched_then_read({}),
    "semantics-empty-becomes-null": _patched_then_read({"metadata": {}}),
    "semantics-not-persisted": _patched_then_read({"metadata": {"kept": True}}),
    "semantics-unrelated-field-changed": _twice,
    "semantics-unknown-id-upserted": _unknown_id_then_get,
    "semantics-wrong-conversation": _patch_answer({"metadata": {}}, "id"),
    "semantics-first-patch-resets-agent": _after_one_patch("agentId"),
    "semantics-first-patch-moves-created-at": _after_one_patch("createdAt"),
    "semantics-first-patch-empties-messages": _after_one_patch("messages"),
    "semantics-answer-without-messages": _patch_answer({"metadata": {}}, "messages"),
    "semantics-answer-truncated": _patch_answer({"metadata": {}}, "messages"),
    "semantics-writes-neighbours": _neighbour_after_patch,
    "semantics-list-stale": _list_after_patch,
    "storage-numeric-strings-coerced": _stored({"zip": "02139"}),
    "storage-booleans-as-numbers": _stored({"on": True}),
    "storage-unicode-normalized": _stored({"s": "e\u0301"}),
    "storage-strings-trimmed": _stored({"s": " x "}),
    "storage-keys-case-insensitive": _stored({"Key": 1, "key": 2}),
    "storage-floats-single-precision": _stored({"f": 0.1}),
    "storage-long-strings-truncated": _stored({"s": "x" * 5000}),
    "storage-null-members-dropped": _stored({"gone": None}),
    "storage-empty-keys-dropped": _stored({"": 1}),
    "storage-markup-escaped": _stored({"s": "<b>x</b> & y"}),
    "storage-dates-reformatted": _stored({"s": "2024-01-15T09:30:00Z"}),
    "storage-keys-camelized": _stored({"order_id": 1}),
    "storage-json-strings-parsed": _stored({"s": '{"a": 1}'}),
    "storage-controls-stripped": _stored({"s": "a\x07b"}),
    "storage-members-capped": _stored({f"k{i}": i for i in range(41)}),
    "storage-arrays-deduplicated": _stored({"s": ["a", "a"]}),
    "storage-empty-strings-null": _stored({"s": ""}),
    "storage-astral-replaced": _stored({"s": "\U0001f600"}),
    "semantics-nested-merge": _patched_then_read(
        {"metadata": {"n": {"a": 1}}}, {"metadata": {"n": {"b": 2}}}
    ),
    "semantics-oldest-messages": lambda app: call(app, "GET", ONE, query="message_limit=1").json()[
        "messages"
    ],
    "semantics-count-limited": lambda app: call(app, "GET", ONE, query="message_limit=1").json()[
        "messageCount"
    ],
    "semantics-list-offset-ignored": lambda app: call(
        app, "GET", "/v1/conversations", query="limit=1&offset=1"
    ).json()["data"],
    "semantics-group-name-anywhere": _patch_answer({"group_name": "x"}, "groupName"),
    "auth-list-cross-tenant": lambda app: len(call(app, "GET", "/v1/conversations").json()["data"]),
    "validation-charset-refused": _status(
        "PATCH",
        raw=b'{"metadata": {}}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    ),
    "validation-json-string-metadata": _status("PATCH", body={"metadata": '{"a": 1}'}),
    "semantics-list-null-as-empty": lambda app: [
        s["metadata"] for s in call(app, "GET", "/v1/conversations").json()["data"]
    ],
    "semantics-ids-case-insensitive": _status("GET", f"/v1/conversations/{BUSY.upper()}"),
    "semantics-last-message-at-stale": _get_answer(BUSY, "lastMessageAt"),
    "storage-top-level-capped": _stored({f"k{i:03d}": i for i in range(65)}),
    "robust-id-injection": _status("GET", "/v1/conversations/conv_x'"),
    "http-etag-stale": _header("ETag", _response("GET")),
    "auth-scheme-case-sensitive": _status(
        "GET", key=None, headers={"Authorization": f"bearer {KEY_1}"}
    ),
    "security-foreign-distinguishable": _status("GET", f"/v1/conversations/{OTHER}"),
    "security-lookup-before-auth": _status("GET", "/v1/conversations/conv_nope", key=None),
    "security-validates-before-auth": _status("PATCH", body={"metadata": 3}, key=None),
    "security-mass-assignment": _patch_answer({"metadata": {}, "agentId": "x"}, "agentId"),
    "security-internals-leaked": lambda app: call(app, "GET", "/v1/conversations/conv_x").body,
    "robust-500-huge-integers": _status("PATCH", body={"metadata": {"n": 2**64 + 1}}),
    "robust-refused-still-writes": _large_refused,
    "robust-edge-values-mangled": _stored({"n": 2**64 + 1, "z": -0.0}),
    "robust-500-deep-nesting": _status("PATCH", body={"metadata": {"a": {"b": {"c": {"d": {}}}}}}),
    "robust-500-unicode": _status("PATCH", body={"metadata": {"name": "Zoë 🎉"}}),
    "robust-500-large-values": _status("PATCH", body={"metadata": {"n": 2**40}}),
    "robust-500-unusual-keys": _status("PATCH", body={"metadata": {"a.b": 1, "$set": 2}}),
    "robust-huge-not-found": lambda app: len(call(app, "GET", "/v1/conversations/conv_nope").body),
    "robust-slow": _slept,
    "http-405-without-allow": _header("Allow", _response("DELETE")),
    "http-unsupported-method-500": _status("DELETE"),
    "webhook-state-stale": _state_after_patch,
    "webhook-state-absent": _state_after_patch,
    "webhook-state-other-conversation": _state_after_patch,
    "webhook-signature-wrong-bytes": _webhook(ARRIVAL, read=_signature_checks),
    "webhook-signature-wrong-secret": _webhook(
        ("POST", "/v1/webhooks", None), ARRIVAL, read=_signature_checks
    ),
    "webhook-id-reused": _webhook(ARRIVAL, ARRIVAL, read=_distinct_ids),
    "webhook-timestamp-not-datetime": _webhook(
        ARRIVAL, read=lambda sent, secrets: type(_payload(sent, secrets)["timestamp"]).__name__
    ),
    "webhook-delivers-other-account": _arrive_on_other,
    "consistency-torn-write": lambda app: _parts_seen_during_a_write(app),
    "consistency-stale-replica": _patched_then_read({"metadata": {"new": 1}}),
    "consistency-flapping-replicas": lambda app: [
        call(app, "PATCH", ONE, {"metadata": {"new": 1}}).status,
        *(call(app, "GET", ONE).json()["metadata"] for _ in range(2)),
    ],
    "consistency-worker-caches": lambda app: _read_around_a_write_on_connections(app),
}


def _read_around_a_write_on_connections(app: App) -> list[Any]:
    """GETs on two new connections, a PATCH on a third, GETs on two more: what they show."""
    key = {"Authorization": f"Bearer {KEY_1}"}

    def on(connection: str, method: str, body: bytes = b"") -> Any:
        headers = {**key, "Content-Type": "application/json"} if body else key
        return app.handle(Request(method, ONE, "", headers, body, connection))

    for connection in ("r1", "r2"):
        on(connection, "GET")
    on("w", "PATCH", b'{"metadata": {"new": 1}}')
    return [on(connection, "GET").json()["metadata"] for connection in ("r3", "r4")]


def _parts_seen_during_a_write(app: App) -> bool:
    """Did a GET at the same time as a PATCH see part of the new document?"""
    import threading

    document = {f"k{i}": i for i in range(8)}
    writer = threading.Thread(target=call, args=(app, "PATCH", ONE, {"metadata": document}))
    seen = []
    writer.start()
    while writer.is_alive():
        seen.append(call(app, "GET", ONE).json()["metadata"])
    writer.join()
    return any(isinstance(s, dict) and s and set(s) < set(document) for s in seen)


def test_every_fault_has_a_probe() -> None:
    assert set(PROBES) == set(FAULTS)


@pytest.mark.parametrize("name", FAULTS)
def test_each_fault_changes_what_a_client_observes(name: str) -> None:
    probe = PROBES[name]
    conformant, faulty = probe(App()), probe(App(faults=frozenset({name})))
    assert conformant != faulty, f"{name} is not observable: both gave {conformant!r}"


def test_the_catalogue_covers_every_family_with_at_least_twenty_faults() -> None:
    assert len(FAULTS) >= 20
    assert {fault.family for fault in FAULTS.values()} == set(FAMILIES)
    for fault in FAULTS.values():
        assert fault.description and fault.trips, fault.name
        assert all(check.isupper() and " " not in check for check in fault.trips), fault.name


def test_all_faults_at_once_compose_without_breaking_the_handler() -> None:
    app = App(faults=frozenset(FAULTS), sleep=lambda _seconds: None)
    requests: list[tuple[str, str, Any]] = [
        ("GET", ONE, None),
        ("PATCH", ONE, {"metadata": {"a.b": {"c": "é" * 300}}}),
        ("PATCH", ONE, {"metadata": None}),
        ("PATCH", ONE, {}),
        ("PATCH", ONE, {"metadata": 3}),
        ("PATCH", "/v1/conversations/conv_nope", {"metadata": {}}),
        ("DELETE", ONE, None),
        ("GET", f"/v1/conversations/{OTHER}", None),
        ("GET", "/v1/conversations", None),
    ]
    statuses = [call(app, method, path, body).status for method, path, body in requests]
    assert statuses == [
        200,
        400,
        202,
        202,
        202,
        404,
        500,
        200,
        200,
    ]  # "a.b" refused as 400, 3 accepted, the unknown id looked up before anything


def test_fault_names_are_validated_and_comma_lists_accepted() -> None:
    assert parse_faults(["robust-slow, shape-wrong-type", "robust-slow"]) == {
        "robust-slow",
        "shape-wrong-type",
    }
    with pytest.raises(UnknownFaultError, match="no-such-fault"):
        parse_faults(["no-such-fault"])
    with pytest.raises(UnknownFaultError):
        App(faults=frozenset({"no-such-fault"}))
