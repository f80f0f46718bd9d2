"""Smoke tests of the Node.js server (``tests/servers/node/server.js``): httpx, real sockets.

One server for the module; whatever metadata a test changes is put back after it.
JavaScript's JSON is part of what it is: integers beyond 2^53 come back rounded, -0 comes
back 0, and keys come back in JavaScript's order (integer-like keys first).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.servers._node import NodeServer, node_server
from tests.test_independent_servers_smoke import (
    CURRENT_CONVERSATION_ADDITIONS,
    CURRENT_MESSAGE_ADDITIONS,
    SEED_CONVERSATION_KEYS,
    SEED_MESSAGE_KEYS,
    SEED_REACTION_KEYS,
)

pytestmark = [
    pytest.mark.skipif(
        shutil.which("node") is None, reason="`node` is not on PATH: the Node server cannot run"
    ),
    pytest.mark.timeout(60),
]

BODY_LIMIT = 100 * 1024
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONVERSATION_KEYS = SEED_CONVERSATION_KEYS | CURRENT_CONVERSATION_ADDITIONS
MESSAGE_KEYS = SEED_MESSAGE_KEYS | CURRENT_MESSAGE_ADDITIONS
REACTION_KEYS = SEED_REACTION_KEYS


@dataclass
class Running:
    server: NodeServer
    client: httpx.Client

    @property
    def state(self) -> Any:
        return self.server.state

    def auth(self, account: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.state.accounts[account][0]}"}

    def conversation(self, *, bare: bool = False, account: int = 0) -> str:
        """A seeded conversation of the account: with metadata, or without (bare)."""
        seeded = self.state.seeded_metadata
        for cid in self.state.accounts[account][1]:
            if (seeded[cid] is None) == bare:
                return str(cid)
        raise LookupError("no such seeded conversation")

    def url(self, cid: str) -> str:
        return f"/v1/conversations/{cid}"


@pytest.fixture(scope="module")
def served() -> Iterator[Running]:
    with (
        node_server() as server,
        httpx.Client(base_url=server.base_url, trust_env=False, timeout=10) as client,
    ):
        yield Running(server, client)


@pytest.fixture
def running(served: Running) -> Iterator[Running]:
    yield served
    seeded = served.state.seeded_metadata
    for account, (_, conversations) in enumerate(served.state.accounts):
        for cid in conversations:
            if served.state.metadata_snapshot()[cid] != seeded[cid]:
                served.client.patch(
                    served.url(cid), headers=served.auth(account), json={"metadata": seeded[cid]}
                )
    assert served.state.metadata_snapshot() == seeded


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "code", "type", "details"}, body
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["error"]["details"] == []
    return body


def assert_validation_error(response: httpx.Response, *loc: str | int) -> None:
    assert response.status_code == 422, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert {"loc", "msg", "type"} <= set(item), item
        assert all(isinstance(part, str | int) for part in item["loc"])
    if loc:
        assert [item["loc"] for item in detail] == [list(loc)], detail


# ----------------------------------------------------------------------------- state


def test_the_state_route_describes_the_seed(running: Running) -> None:
    state = running.state
    assert state.edition == "current"
    (key_1, ids_1), (key_2, ids_2) = state.accounts
    assert key_1 != key_2 and (len(ids_1), len(ids_2)) == (2, 1)
    assert set(state.seeded_metadata) == {*ids_1, *ids_2}
    assert state.seeded_metadata[running.conversation()] is not None
    assert state.seeded_metadata[running.conversation(bare=True)] is None
    assert state.metadata_snapshot() == state.seeded_metadata


# ------------------------------------------------------------------------------ auth


def test_auth_refusals(running: Running) -> None:
    url = running.url(running.conversation())
    key = running.state.accounts[0][0]
    refusals: tuple[dict[str, str], ...] = (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": key},
        {"Authorization": f"Bearer {key[:-1]}"},
        {"Authorization": f"Bearer {key}0"},
        {"Authorization": f"Bearer {key.upper()}"},
    )
    for headers in refusals:
        for method, path in (("GET", url), ("GET", "/v1/conversations"), ("PATCH", url)):
            refused = running.client.request(
                method, path, headers=headers, json={"metadata": {"a": 1}}
            )
            assert_envelope(refused, 401, "UNAUTHORIZED")
            assert refused.headers["www-authenticate"].startswith("Bearer"), headers
    # the scheme is case-insensitive (RFC 9110 11.1)
    assert running.client.get(url, headers={"Authorization": f"bearer {key}"}).status_code == 200
    assert running.state.metadata_snapshot() == running.state.seeded_metadata


def test_unknown_and_foreign_conversations_get_the_same_404(running: Running) -> None:
    foreign = running.url(running.conversation(account=1))
    unknown = running.url("cnv_node_doesnotexist")
    headers = running.auth()
    answers = []
    for path in (foreign, unknown):
        answers.append(assert_envelope(running.client.get(path, headers=headers), 404, "NOT_FOUND"))
        patched = running.client.patch(path, headers=headers, json={"metadata": {"a": 1}})
        answers.append(assert_envelope(patched, 404, "NOT_FOUND"))
    assert all(answer == answers[0] for answer in answers)
    assert running.state.metadata_snapshot() == running.state.seeded_metadata
    # the owner still reads it
    assert running.client.get(foreign, headers=running.auth(1)).status_code == 200


# -------------------------------------------------------------------------- metadata


def test_replace_clear_untouched_and_persisted(running: Running) -> None:
    cid = running.conversation()
    url = running.url(cid)
    headers = running.auth()
    original = running.client.get(url, headers=headers).json()
    assert original["metadata"] == running.state.seeded_metadata[cid]

    replaced = running.client.patch(url, headers=headers, json={"metadata": {"stage": "new"}})
    assert replaced.status_code == 200
    assert replaced.json() == {**original, "metadata": {"stage": "new"}}  # replaced, not merged
    assert running.client.get(url, headers=headers).json()["metadata"] == {"stage": "new"}
    assert running.state.metadata_snapshot()[cid] == {"stage": "new"}

    for body in ({}, {"unknown_member": 1}, {"group_name": "ignored: not a group"}):
        untouched = running.client.patch(url, headers=headers, json=body)
        assert untouched.status_code == 200
        assert untouched.json() == {**original, "metadata": {"stage": "new"}}
    assert running.client.patch(url, headers=headers).json()["metadata"] == {"stage": "new"}
    json_type = {**headers, "Content-Type": "application/json"}
    empty = running.client.patch(url, headers=json_type, content=b"")
    assert empty.json()["metadata"] == {"stage": "new"}

    cleared = running.client.patch(url, headers=headers, json={"metadata": None})
    assert cleared.status_code == 200 and cleared.json()["metadata"] is None
    assert running.client.get(url, headers=headers).json()["metadata"] is None
    assert running.state.metadata_snapshot()[cid] is None

    restored = running.client.patch(url, headers=headers, json={"metadata": original["metadata"]})
    assert restored.json() == original
    assert running.state.metadata_snapshot() == running.state.seeded_metadata


def test_javascript_numbers_and_strings(running: Running) -> None:
    cid = running.conversation(bare=True)
    url = running.url(cid)
    json_type = {**running.auth(), "Content-Type": "application/json"}
    body = (
        b'{"metadata": {"b": 9007199254740993, "a": -0, "z": -0.0, "2": "two", "1": "one",'
        b' "huge": 123456789012345678901234567890, "lone": "\\ud800", "tiny": 5e-324}}'
    )
    answer = running.client.patch(url, headers=json_type, content=body)
    assert answer.status_code == 200, answer.text
    metadata = answer.json()["metadata"]
    assert metadata["b"] == 2**53  # rounded to the nearest double
    assert metadata["huge"] == float(123456789012345678901234567890)
    assert metadata["tiny"] == 5e-324
    assert json.dumps(metadata["a"]) == json.dumps(metadata["z"]) == "0"  # -0 is written 0
    assert metadata["lone"] == "\ud800"  # a lone surrogate survives, escaped
    assert list(metadata)[:2] == ["1", "2"]  # integer-like keys first, ascending
    assert running.state.metadata_snapshot()[cid] == metadata


def test_timestamps_are_what_javascript_writes(running: Running) -> None:
    conversation = running.client.get(
        running.url(running.conversation()), headers=running.auth()
    ).json()
    stamps = [conversation["lastMessageAt"], conversation["createdAt"]]
    for message in conversation["messages"]:
        stamps.append(message["receivedAt"])
        stamps.extend(r["createdAt"] for r in message["reactions"])
    assert all(TIMESTAMP.match(stamp) for stamp in stamps), stamps


# ------------------------------------------------------------------------ refusals


def test_validation_errors_have_fastapis_shape(running: Running) -> None:
    cid = running.conversation()
    url = running.url(cid)
    headers = running.auth()
    for metadata in ("x", [1], 5, True):
        answer = running.client.patch(url, headers=headers, json={"metadata": metadata})
        assert_validation_error(answer, "body", "metadata")
    json_type = {**headers, "Content-Type": "application/json"}
    for body in (b'[{"metadata": {}}]', b"null", b'"metadata"', b"5"):
        answer = running.client.patch(url, headers=json_type, content=body)
        assert_validation_error(answer, "body")
    for group_name in (5, ["a"], {"a": 1}, False):
        answer = running.client.patch(url, headers=headers, json={"group_name": group_name})
        assert_validation_error(answer, "body", "group_name")
    infinite = running.client.patch(url, headers=json_type, content=b'{"metadata": {"x": 1e400}}')
    assert_validation_error(infinite, "body", "metadata", "x")
    deep = b'{"metadata": ' + b'{"a": ' * 300 + b"1" + b"}" * 301
    assert_validation_error(running.client.patch(url, headers=json_type, content=deep))
    for limit in ("0", "101", "x", ""):
        answer = running.client.get(url, headers=headers, params={"message_limit": limit})
        assert_validation_error(answer, "query", "message_limit")
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "1.5"}, {"offset": -1}):
        answer = running.client.get("/v1/conversations", headers=headers, params=params)
        assert_validation_error(answer, "query", next(iter(params)))
    assert running.state.metadata_snapshot() == running.state.seeded_metadata


def test_other_refusals(running: Running) -> None:
    url = running.url(running.conversation())
    headers = running.auth()
    json_type = {**headers, "Content-Type": "application/json"}
    for malformed in (b"{", b'{"metadata": }', b"[NaN]", b'{"metadata": {"x": "\xff"}}'):
        answer = running.client.patch(url, headers=json_type, content=malformed)
        assert_envelope(answer, 400, "BAD_REQUEST")
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        answer = running.client.patch(
            url, headers={**headers, "Content-Type": content_type}, content=b'{"metadata": {}}'
        )
        assert_envelope(answer, 415, "UNSUPPORTED_MEDIA_TYPE")
    for method in ("PUT", "DELETE", "POST"):
        answer = running.client.request(method, url, headers=headers, json={})
        assert_envelope(answer, 405, "METHOD_NOT_ALLOWED")
        assert answer.headers["allow"] == "GET, HEAD, PATCH"
    listed = running.client.post("/v1/conversations", headers=headers, json={})
    assert_envelope(listed, 405, "METHOD_NOT_ALLOWED")
    assert listed.headers["allow"] == "GET, HEAD"
    assert_envelope(running.client.get("/v1/nothing", headers=headers), 404, "NOT_FOUND")
    assert running.state.metadata_snapshot() == running.state.seeded_metadata


def test_a_body_over_100_kb_is_refused_with_413(running: Running) -> None:
    cid = running.conversation(bare=True)
    url = running.url(cid)
    json_type = {**running.auth(), "Content-Type": "application/json"}

    def body(size: int) -> bytes:
        frame = b'{"metadata": {"pad": ""}}'
        padded = b'{"metadata": {"pad": "' + b"x" * (size - len(frame)) + b'"}}'
        assert len(padded) == size
        return padded

    too_large = running.client.patch(url, headers=json_type, content=body(BODY_LIMIT + 1))
    assert_envelope(too_large, 413, "PAYLOAD_TOO_LARGE")
    assert running.state.metadata_snapshot()[cid] is None  # nothing stored

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        data = body(3 * BODY_LIMIT)
        for start in range(0, len(data), 8192):
            yield data[start : start + 8192]

    streamed = running.client.patch(url, headers=json_type, content=chunks())
    assert_envelope(streamed, 413, "PAYLOAD_TOO_LARGE")
    assert running.state.metadata_snapshot()[cid] is None

    at_the_limit = running.client.patch(url, headers=json_type, content=body(BODY_LIMIT))
    assert at_the_limit.status_code == 200
    assert len(at_the_limit.json()["metadata"]["pad"]) > BODY_LIMIT - 100


# ------------------------------------------------------------------- current edition


def test_answers_carry_the_current_editions_fields(running: Running) -> None:
    answer = running.client.get(running.url(running.conversation()), headers=running.auth())
    conversation = answer.json()
    assert set(conversation) == CONVERSATION_KEYS
    assert conversation["messages"], "the rich conversation has messages"
    assert all(set(m) == MESSAGE_KEYS for m in conversation["messages"])
    reactions = [r for m in conversation["messages"] for r in m["reactions"]]
    assert reactions and all(set(r) == REACTION_KEYS for r in reactions)
    assert any(m["mediaUrls"] for m in conversation["messages"])
    received = [m["receivedAt"] for m in conversation["messages"]]
    assert received == sorted(received, reverse=True)
    assert conversation["lastMessageAt"] == received[0]

    one = running.client.get(
        running.url(running.conversation()), headers=running.auth(), params={"message_limit": 1}
    ).json()
    assert len(one["messages"]) == 1 and one["messageCount"] == len(received)


def test_group_name_renames_a_group_conversation(running: Running) -> None:
    url = running.url(running.conversation(bare=True))
    headers = running.auth()
    before = running.client.get(url, headers=headers).json()
    assert before["isGroup"] is True
    renamed = running.client.patch(url, headers=headers, json={"group_name": "Summit team"})
    assert renamed.json() == {**before, "groupName": "Summit team"}
    both = running.client.patch(url, headers=headers, json={"group_name": None, "metadata": {}})
    assert both.json() == {**before, "groupName": None, "metadata": {}}
    back = running.client.patch(
        url, headers=headers, json={"group_name": before["groupName"], "metadata": None}
    )
    assert back.json() == before


def test_list_of_conversations(running: Running) -> None:
    headers = running.auth()
    listed = running.client.get("/v1/conversations", headers=headers)
    assert listed.status_code == 200
    page = listed.json()
    assert set(page) == {"data", "hasMore", "total"}
    mine = running.state.accounts[0][1]
    assert page["total"] == len(mine) and page["hasMore"] is False
    assert sorted(item["id"] for item in page["data"]) == sorted(mine)
    stamps = [item["lastMessageAt"] for item in page["data"]]
    assert stamps == sorted(stamps, reverse=True)
    for item in page["data"]:
        assert set(item) == CONVERSATION_KEYS - {"messages"} | {"lastMessagePreview"}
        assert item["metadata"] == running.state.seeded_metadata[item["id"]]

    first = running.client.get("/v1/conversations", headers=headers, params={"limit": 1}).json()
    assert first["hasMore"] is True and first["data"] == page["data"][:1]
    second = running.client.get(
        "/v1/conversations", headers=headers, params={"limit": 1, "offset": 1}
    ).json()
    assert second["hasMore"] is False and second["data"] == page["data"][1:]
    beyond = running.client.get("/v1/conversations", headers=headers, params={"offset": 10**20})
    assert beyond.json() == {"data": [], "hasMore": False, "total": len(mine)}

    cid = running.conversation(bare=True)
    running.client.patch(running.url(cid), headers=headers, json={"metadata": {"k": 1}})
    relisted = running.client.get("/v1/conversations", headers=headers).json()
    assert {i["id"]: i["metadata"] for i in relisted["data"]}[cid] == {"k": 1}

    other = running.client.get("/v1/conversations", headers=running.auth(1)).json()
    assert [i["id"] for i in other["data"]] == running.state.accounts[1][1]
