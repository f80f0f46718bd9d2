"""Smoke tests of the independent servers in ``tests/servers`` (httpx only, real sockets)."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.servers import (
    SERVERS,
    VARIANTS,
    base_app,
    current_app,
    envelope_app,
    seed_app,
    serve,
)
from tests.servers.wrappers import with_brotli, with_gzip, with_rate_limit

SEED_CONVERSATION_KEYS = {
    "id",
    "phoneNumberId",
    "phoneNumber",
    "participant",
    "lastMessageAt",
    "messageCount",
    "createdAt",
    "messages",
    "agentId",
    "metadata",
}
SEED_MESSAGE_KEYS = {
    "id",
    "body",
    "fromNumber",
    "toNumber",
    "direction",
    "receivedAt",
    "channel",
    "mediaUrl",
    "mediaUrls",
    "reactions",
}
SEED_REACTION_KEYS = {"id", "reactionType", "fromNumber", "direction", "createdAt"}
CURRENT_CONVERSATION_ADDITIONS = {
    "isGroup",
    "groupId",
    "groupName",
    "groupIconUrl",
    "participants",
    "channel",
}
CURRENT_MESSAGE_ADDITIONS = {"senderIdentifier", "replyTo", "status"}

EXOTIC_METADATA: dict[str, Any] = {
    "customer": {"name": "Zoë Ødegård", "tags": ["vip", "日本語", "emoji 🎉"], "ok": True},
    "a.b": 1,
    "$set": {"nested": {"deeper": {"deepest": [1, [2, [3, {"x": None}]]]}}},
    "with space": "value",
    "": "empty key",
    "big": 123456789012345678901234567890,
    "neg": -9007199254740993,
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "float": 0.1,
    "one": 1.0,
    "zero": 0,
    "nul": "a\u0000b",
    "newline": 'line1\nline2\t"quoted"',
    "empty": {},
    "list": [],
}

MAX_429_RETRIES = 4


@dataclass
class Running:
    name: str
    client: httpx.Client
    app: Any  # the base FastAPI app, for its state

    @property
    def envelope(self) -> bool:
        return self.name.startswith("envelope")

    @property
    def edition(self) -> str:
        return str(self.app.state.edition)

    def key(self, account: int = 0) -> str:
        return str(self.app.state.accounts[account][0])

    def auth(self, account: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(account)}"}

    def conversation(self, *, bare: bool = False, account: int = 0) -> str:
        seeded = self.app.state.seeded_metadata
        for cid in self.app.state.accounts[account][1]:
            if (seeded[cid] is None) == bare:
                return str(cid)
        raise LookupError("no such seeded conversation")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, waiting out a bounded number of 429s."""
        for _ in range(MAX_429_RETRIES):
            response = self.client.request(method, url, **kwargs)
            if response.status_code != 429:
                return response
            time.sleep(min(float(response.headers.get("retry-after", "1")), 2.0))
        return response


# Variants whose one choice is outside what the tests of every server below expect of all
# of them (tests/test_server_variants.py shows each choice): the reason for each.
DEVIATING_VARIANTS = {
    "current-datetimes": "a PATCH answer spells its date-times unlike a GET",
    "current-jsonb": "metadata refuses U+0000 and writes numbers as PostgreSQL does",
    "current-updated-at": "updatedAt and version move on every PATCH",
    "current-live": "messages keep arriving: answers move between two requests",
    "seed-400-malformed": "malformed JSON is a 400, not a 422",
    "seed-415": "a body not labelled JSON is a 415, not a 422",
    "seed-clamps-limit": "message_limit 0 and 101 are clamped, not refused",
    "seed-forbids-extra": "unknown members are refused",
    "seed-redirect": "/v1 is answered 308 (the API lives under /api)",
    "seed-501-methods": "PUT, POST and DELETE are a 501, not a 405",
}
assert set(DEVIATING_VARIANTS) <= set(VARIANTS)


@pytest.fixture(
    scope="module", params=sorted(name for name in SERVERS if name not in DEVIATING_VARIANTS)
)
def served(request: pytest.FixtureRequest) -> Iterator[Running]:
    """One server per registry entry, shared by the tests of this module."""
    app = SERVERS[request.param]()
    with serve(app) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield Running(name=request.param, client=client, app=base_app(app))


@pytest.fixture
def running(served: Running) -> Iterator[Running]:
    """The shared server; whatever metadata a test leaves changed is put back."""
    yield served
    seeded = served.app.state.seeded_metadata
    for account, (_, conversations) in enumerate(served.app.state.accounts):
        for cid in conversations:
            if served.app.state.metadata_snapshot()[cid] != seeded[cid]:
                served.request(
                    "PATCH",
                    f"/v1/conversations/{cid}",
                    headers=served.auth(account),
                    json={"metadata": seeded[cid]},
                )
    assert served.app.state.metadata_snapshot() == seeded


def assert_error(running: Running, response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    body = response.json()
    if running.envelope:
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "code", "type", "details"}, body
        assert isinstance(body["error"]["details"], list)
    else:
        assert isinstance(body["detail"], str), body


def assert_validation_error(response: httpx.Response) -> None:
    assert response.status_code == 422, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for item in detail:
        assert {"loc", "msg", "type"} <= set(item)
        assert all(isinstance(part, str | int) for part in item["loc"])


# ------------------------------------------------------------------- every server


def test_metadata_replace_clear_and_untouched(running: Running) -> None:
    cid = running.conversation()
    url = f"/v1/conversations/{cid}"
    headers = running.auth()
    before = running.request("GET", url, headers=headers)
    assert before.status_code == 200
    original = before.json()
    assert original["metadata"] == running.app.state.seeded_metadata[cid]
    assert original["messages"], "the rich conversation has messages"

    replaced = running.request("PATCH", url, headers=headers, json={"metadata": {"stage": "new"}})
    assert replaced.status_code == 200
    assert replaced.json()["metadata"] == {"stage": "new"}  # replaced, not merged
    assert {**replaced.json(), "metadata": None} == {**original, "metadata": None}
    assert running.request("GET", url, headers=headers).json()["metadata"] == {"stage": "new"}

    for body in ({}, {"unknown_member": 1}):
        untouched = running.request("PATCH", url, headers=headers, json=body)
        assert untouched.status_code == 200
        assert untouched.json()["metadata"] == {"stage": "new"}
    empty = running.request("PATCH", url, headers=headers)
    assert empty.status_code == 200
    assert empty.json()["metadata"] == {"stage": "new"}

    cleared = running.request("PATCH", url, headers=headers, json={"metadata": None})
    assert cleared.status_code == 200
    assert cleared.json()["metadata"] is None
    got = running.request("GET", url, headers=headers).json()
    assert got["metadata"] is None
    assert {**got, "metadata": 0} == {**original, "metadata": 0}

    restored = running.request(
        "PATCH", url, headers=headers, json={"metadata": original["metadata"]}
    )
    assert restored.json() == original
    assert running.app.state.metadata_snapshot() == running.app.state.seeded_metadata


def test_exotic_metadata_is_stored_exactly(running: Running) -> None:
    cid = running.conversation(bare=True)
    url = f"/v1/conversations/{cid}"
    headers = running.auth()
    answer = running.request("PATCH", url, headers=headers, json={"metadata": EXOTIC_METADATA})
    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"] == EXOTIC_METADATA
    assert answer.json()["messages"] == []
    assert running.request("GET", url, headers=headers).json()["metadata"] == EXOTIC_METADATA
    assert running.app.state.metadata_snapshot()[cid] == EXOTIC_METADATA

    json_header = {**headers, "Content-Type": "application/json"}
    for body in (
        b'{"metadata": {"x": NaN}}',
        b'{"metadata": {"x": 1e400}}',
        b'{"metadata": {"x": "\\ud800"}}',
        b'{"metadata": ' + b'{"a": ' * 300 + b"1" + b"}" * 301,
    ):
        assert_validation_error(running.request("PATCH", url, headers=json_header, content=body))
    for body in (b'{"metadata": {"x": "\xff"}}', b'{"metadata": {"x": ' + b"9" * 5000 + b"}}"):
        refused = running.request("PATCH", url, headers=json_header, content=body)
        assert refused.status_code in (400, 422), refused.text  # FastAPI: 400 when undecodable
    assert running.app.state.metadata_snapshot()[cid] == EXOTIC_METADATA
    running.request("PATCH", url, headers=headers, json={"metadata": None})
    assert running.app.state.metadata_snapshot() == running.app.state.seeded_metadata


def test_refusals(running: Running) -> None:
    cid = running.conversation()
    url = f"/v1/conversations/{cid}"
    headers = running.auth()
    foreign = running.conversation(account=1)

    for path in ("/v1/conversations/conv_doesnotexist0000", f"/v1/conversations/{foreign}"):
        assert_error(running, running.request("GET", path, headers=headers), 404)
        patched = running.request("PATCH", path, headers=headers, json={"metadata": {"a": 1}})
        assert_error(running, patched, 404)

    for bad in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        assert_error(running, running.request("GET", url, headers=bad), 401, 403)
    wrong_key = {"Authorization": "Bearer ak_live_0000000000000000000000000000"}
    refused = running.request("PATCH", url, headers=wrong_key, json={"metadata": {"a": 1}})
    assert_error(running, refused, 401, 403)
    assert refused.headers.get("www-authenticate", "").lower().startswith("bearer")

    assert_validation_error(running.request("PATCH", url, headers=headers, json={"metadata": "x"}))
    assert_validation_error(running.request("PATCH", url, headers=headers, json={"metadata": [1]}))
    assert_validation_error(running.request("PATCH", url, headers=headers, json=[{"metadata": {}}]))
    json_header = {**headers, "Content-Type": "application/json"}
    for malformed in (b"{", b'{"metadata": }', b"null", b'"metadata"', b"[NaN]", b'"\\udfff"'):
        assert_validation_error(
            running.request("PATCH", url, headers=json_header, content=malformed)
        )
    text_header = {**headers, "Content-Type": "text/plain"}
    assert_validation_error(
        running.request("PATCH", url, headers=text_header, content=b'{"metadata": {}}')
    )
    assert_validation_error(
        running.request("GET", url, headers=headers, params={"message_limit": 0})
    )
    assert_validation_error(
        running.request("GET", url, headers=headers, params={"message_limit": 101})
    )
    one = running.request("GET", url, headers=headers, params={"message_limit": 1})
    assert len(one.json()["messages"]) == 1
    assert one.json()["messageCount"] > 1

    assert running.app.state.metadata_snapshot() == running.app.state.seeded_metadata


def test_answer_fields_follow_the_edition(running: Running) -> None:
    cid = running.conversation()
    headers = running.auth()
    answer = running.request("GET", f"/v1/conversations/{cid}", headers=headers).json()
    message_keys = set().union(*(m.keys() for m in answer["messages"]))
    reactions = [r for m in answer["messages"] for r in m["reactions"]]
    assert reactions and all(set(r) == SEED_REACTION_KEYS for r in reactions)
    assert any(m["mediaUrls"] for m in answer["messages"])
    if running.edition == "seed":
        assert set(answer) == SEED_CONVERSATION_KEYS
        assert message_keys == SEED_MESSAGE_KEYS
        # A seed-edition server knows nothing of group_name: ignored, whatever its type.
        ignored = running.request(
            "PATCH", f"/v1/conversations/{cid}", headers=headers, json={"group_name": 5}
        )
        assert ignored.status_code == 200
        assert ignored.json() == answer
    else:
        assert set(answer) == SEED_CONVERSATION_KEYS | CURRENT_CONVERSATION_ADDITIONS
        assert message_keys == SEED_MESSAGE_KEYS | CURRENT_MESSAGE_ADDITIONS
        renamed_bare = running.request(
            "PATCH", f"/v1/conversations/{cid}", headers=headers, json={"group_name": "Renamed"}
        )
        assert renamed_bare.status_code == 200
        assert renamed_bare.json() == answer  # not a group: nothing changes
        wrong_type = running.request(
            "PATCH", f"/v1/conversations/{cid}", headers=headers, json={"group_name": 5}
        )
        assert_validation_error(wrong_type)


def test_list_of_conversations(running: Running) -> None:
    headers = running.auth()
    listed = running.request("GET", "/v1/conversations", headers=headers)
    if running.edition == "seed":
        assert_error(running, listed, 404, 405)
        return
    assert listed.status_code == 200
    page = listed.json()
    mine = running.app.state.accounts[0][1]
    assert page["total"] == len(mine) and page["hasMore"] is False
    assert sorted(item["id"] for item in page["data"]) == sorted(mine)
    stamps = [item["lastMessageAt"] for item in page["data"]]
    assert stamps == sorted(stamps, reverse=True)
    for item in page["data"]:
        assert "messages" not in item
        assert item["metadata"] == running.app.state.seeded_metadata[item["id"]]
        assert "lastMessagePreview" in item

    first = running.request("GET", "/v1/conversations", headers=headers, params={"limit": 1})
    assert first.json()["hasMore"] is True and len(first.json()["data"]) == 1
    assert first.json()["data"][0] == page["data"][0]
    beyond = running.request("GET", "/v1/conversations", headers=headers, params={"offset": 10**20})
    assert beyond.json() == {"data": [], "hasMore": False, "total": len(mine)}
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        invalid = running.request("GET", "/v1/conversations", headers=headers, params=params)
        assert_validation_error(invalid)

    cid = running.conversation(bare=True)
    running.request(
        "PATCH", f"/v1/conversations/{cid}", headers=headers, json={"metadata": {"k": 1}}
    )
    relisted = running.request("GET", "/v1/conversations", headers=headers).json()
    assert {i["id"]: i["metadata"] for i in relisted["data"]}[cid] == {"k": 1}
    assert [i["id"] for i in relisted["data"]] == [i["id"] for i in page["data"]]

    other = running.request("GET", "/v1/conversations", headers=running.auth(1)).json()
    assert [i["id"] for i in other["data"]] == running.app.state.accounts[1][1]


# -------------------------------------------------------------- specific behaviours


@contextmanager
def serving(app: Any) -> Iterator[tuple[httpx.Client, Any]]:
    """A client of ``app`` served on loopback, and the base app under its wrappers."""
    with serve(app) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client, base_app(app)


def test_group_name_renames_a_group_conversation() -> None:
    with serving(current_app.create_app()) as (client, app):
        key, conversations = app.state.accounts[0]
        headers = {"Authorization": f"Bearer {key}"}
        groups = [
            c
            for c in conversations
            if client.get(f"/v1/conversations/{c}", headers=headers).json()["isGroup"]
        ]
        assert len(groups) == 1
        url = f"/v1/conversations/{groups[0]}"
        before = client.get(url, headers=headers).json()
        renamed = client.patch(url, headers=headers, json={"group_name": "Offsite 2025"})
        assert renamed.status_code == 200
        assert renamed.json() == {**before, "groupName": "Offsite 2025"}
        both = client.patch(url, headers=headers, json={"group_name": None, "metadata": {}})
        assert both.json() == {**before, "groupName": None, "metadata": {}}


def test_envelope_errors() -> None:
    app = envelope_app.create_app()

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    with serving(app) as (client, base):
        key, conversations = base.state.accounts[0]
        url = f"/v1/conversations/{conversations[0]}"

        def envelope(response: httpx.Response, status: int, code: str, kind: str) -> None:
            assert response.status_code == status, response.text
            assert response.json()["error"]["code"] == code
            assert response.json()["error"]["type"] == kind
            assert response.json()["error"]["message"]

        unauthorized = client.get(url)
        envelope(unauthorized, 401, "UNAUTHORIZED", "authentication_error")
        assert unauthorized.headers["www-authenticate"] == "Bearer"
        headers = {"Authorization": f"Bearer {key}"}
        envelope(client.get(url + "x", headers=headers), 404, "NOT_FOUND", "not_found")
        envelope(client.get("/v1/nothing-here"), 404, "NOT_FOUND", "not_found")
        not_allowed = client.put(url, headers=headers, json={})
        envelope(not_allowed, 405, "METHOD_NOT_ALLOWED", "invalid_request_error")
        # Starlette names the methods of the first route matching the path only.
        assert "GET" in not_allowed.headers["allow"]
        undecodable = client.patch(
            url, headers={**headers, "Content-Type": "application/json"}, content=b"\xff"
        )
        envelope(undecodable, 400, "BAD_REQUEST", "invalid_request_error")
        assert_validation_error(client.patch(url, headers=headers, json={"metadata": 1}))
        # last: after an unhandled error uvicorn closes the connection
        envelope(client.get("/v1/boom"), 500, "INTERNAL_ERROR", "api_error")


def test_app_level_rate_limit_uses_the_envelope() -> None:
    with serving(envelope_app.create_app(rate_limit=(2, 1.0))) as (client, base):
        key, conversations = base.state.accounts[0]
        headers = {"Authorization": f"Bearer {key}"}
        url = f"/v1/conversations/{conversations[0]}"
        statuses = [client.get(url, headers=headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = client.get(url, headers=headers)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert limited.json()["error"]["type"] == "rate_limit_error"
        retry_after = int(limited.headers["retry-after"])
        assert 0 <= retry_after <= 1
        time.sleep(retry_after + 0.05)
        assert client.get(url, headers=headers).status_code == 200


def test_rate_limit_wrapper_answers_429_then_recovers() -> None:
    app = with_rate_limit(seed_app.create_app(), max_requests=3, window=0.5)
    with serving(app) as (client, base):
        key, conversations = base.state.accounts[0]
        headers = {"Authorization": f"Bearer {key}"}
        url = f"/v1/conversations/{conversations[0]}"
        statuses = [client.get(url, headers=headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get(url, headers=headers)
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/json"
        assert "detail" in limited.json()
        retry_after = float(limited.headers["retry-after"])
        assert 0 <= retry_after <= 1
        time.sleep(retry_after + 0.05)
        assert client.get(url, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "name", ["current-ratelimited", "envelope-ratelimited", "envelope-gzip-ratelimited"]
)
def test_rate_limited_servers_answer_429_with_retry_after(name: str) -> None:
    """Past 25 requests in a second, each answers 429 and says when to come back."""
    with serving(SERVERS[name]()) as (client, base):
        key, conversations = base.state.accounts[0]
        url = f"/v1/conversations/{conversations[0]}"
        headers = {"Authorization": f"Bearer {key}"}
        statuses = [client.get(url, headers=headers) for _ in range(30)]
        limited = [answer for answer in statuses if answer.status_code == 429]
        assert limited and "retry-after" in limited[0].headers


@pytest.mark.parametrize("name", ["seed-gzip", "envelope-gzip-ratelimited", "current-gateway"])
def test_gzip_answers_decode(name: str) -> None:
    with serving(SERVERS[name]()) as (client, base):
        key, conversations = base.state.accounts[0]
        url = f"/v1/conversations/{conversations[0]}"
        headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "gzip"}
        with client.stream("GET", url, headers=headers) as response:
            raw = b"".join(response.iter_raw())
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        decoded = client.get(url, headers=headers)
        assert decoded.json()["id"] == conversations[0]
        assert gzip.decompress(raw) == decoded.content


def test_brotli_answers_decode() -> None:
    with serving(with_brotli(with_gzip(envelope_app.create_app()))) as (client, base):
        key, conversations = base.state.accounts[0]
        url = f"/v1/conversations/{conversations[0]}"
        answer = client.get(url, headers={"Authorization": f"Bearer {key}"})
        # gzip (inner) wins when both are accepted; brotli only wraps what is not encoded yet
        assert answer.headers["content-encoding"] in ("gzip", "br")
        assert answer.json()["id"] == conversations[0]
    with serving(SERVERS["current-brotli"]()) as (client, base):
        key, conversations = base.state.accounts[0]
        url = f"/v1/conversations/{conversations[0]}"
        answer = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert answer.headers["content-encoding"] == "br"
        assert answer.json()["id"] == conversations[0]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("seed-charset", "application/json; charset=utf-8"),
        ("current-gateway", "application/json;charset=UTF-8"),
    ],
)
def test_media_type_is_relabelled(name: str, content_type: str) -> None:
    with serving(SERVERS[name]()) as (client, base):
        key, conversations = base.state.accounts[0]
        ok = client.get(
            f"/v1/conversations/{conversations[0]}", headers={"Authorization": f"Bearer {key}"}
        )
        assert ok.headers["content-type"] == content_type
        assert ok.json()["id"] == conversations[0]
        invalid = client.patch(
            f"/v1/conversations/{conversations[0]}",
            headers={"Authorization": f"Bearer {key}"},
            json={"metadata": 1},
        )
        assert invalid.headers["content-type"] == content_type


def test_slow_network_delays_and_chunks() -> None:
    with serving(SERVERS["envelope-slow"]()) as (client, base):
        key, conversations = base.state.accounts[0]
        url = f"/v1/conversations/{conversations[0]}"
        started = time.monotonic()
        with client.stream("GET", url, headers={"Authorization": f"Bearer {key}"}) as response:
            chunks = list(response.iter_raw())
        assert time.monotonic() - started >= 0.01
        assert response.status_code == 200
        assert len(chunks) > 1
        assert int(response.headers["content-length"]) == sum(map(len, chunks))


def test_factories_make_fresh_state() -> None:
    for factory in (seed_app.create_app, current_app.create_app, envelope_app.create_app):
        first, second = factory(), factory()
        assert first.state.accounts == second.state.accounts
        assert len(first.state.accounts) == 2
        assert len(first.state.accounts[0][1]) >= 2 and len(first.state.accounts[1][1]) == 1
        assert all(len(key) >= 20 for key, _ in first.state.accounts)
        snapshot = first.state.metadata_snapshot()
        assert snapshot == first.state.seeded_metadata == second.state.metadata_snapshot()
        assert None in snapshot.values()
        assert sorted(snapshot) == sorted(c for _, ids in first.state.accounts for c in ids)
        for metadata in snapshot.values():  # a snapshot is a copy, not the stored objects
            if metadata is not None:
                metadata.clear()
        assert first.state.metadata_snapshot() == first.state.seeded_metadata
