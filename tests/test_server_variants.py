"""Each server variant of ``tests/servers`` (``VARIANTS``) really makes its choice.

httpx against the variant served on 127.0.0.1; every loop is bounded.
"""

from __future__ import annotations

import ast
import json
import re
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import SERVERS, VARIANTS, base_app, serve

SERVERS_DIR = Path(__file__).parent / "servers"
KIB_16 = 16 * 1024


@dataclass
class Served:
    client: httpx.Client
    app: Any  # the base FastAPI app

    def auth(self, account: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.app.state.accounts[account][0]}"}

    def conversation(self, *, bare: bool = False) -> str:
        """The first account's first conversation with (or without) seeded metadata."""
        seeded = self.app.state.seeded_metadata
        return next(c for c in self.app.state.accounts[0][1] if (seeded[c] is None) == bare)

    def url(self, *, bare: bool = False) -> str:
        return f"/v1/conversations/{self.conversation(bare=bare)}"

    def unchanged(self) -> bool:
        return bool(self.app.state.metadata_snapshot() == self.app.state.seeded_metadata)


@contextmanager
def serving(name: str) -> Iterator[Served]:
    app = SERVERS[name]()
    with (
        serve(app) as server,
        httpx.Client(base_url=server.base_url, trust_env=False, timeout=10) as client,
    ):
        yield Served(client, base_app(app))


def assert_fastapi_422(response: httpx.Response, loc: list[Any] | None = None) -> None:
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all({"loc", "msg", "type"} <= set(item) for item in detail)
    if loc is not None:
        assert detail[0]["loc"] == loc, detail


# ------------------------------------------------------------------------ registry


def test_every_variant_is_registered_and_independent_of_the_suite() -> None:
    assert set(VARIANTS) <= set(SERVERS)
    assert len(VARIANTS) == 17
    for path in SERVERS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "conformance" for n in names), path


# ----------------------------------------------------------------- current-datetimes

MICROSECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
SECONDS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
MILLISECONDS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _stamps(answer: dict[str, Any]) -> list[str]:
    """Every date-time of a conversation (or a summary), in order."""
    found = [answer["lastMessageAt"], answer["createdAt"]]
    for message in answer.get("messages", []):
        found.append(message["receivedAt"])
        found.extend(reaction["createdAt"] for reaction in message["reactions"])
    return found


def test_current_datetimes_spells_each_operation_its_own_way() -> None:
    like_a_stamp = {"at": "2025-03-10T14:20:05Z", "createdAt": "2025-03-10T14:20:05Z"}
    with serving("current-datetimes") as served:
        url, headers = served.url(), served.auth()
        patched = served.client.patch(url, headers=headers, json={"metadata": like_a_stamp})
        got = served.client.get(url, headers=headers)
        listed = served.client.get("/v1/conversations", headers=headers)
        assert (patched.status_code, got.status_code, listed.status_code) == (200, 200, 200)
        (summary,) = [s for s in listed.json()["data"] if s["id"] == served.conversation()]
        spelled = {
            MICROSECONDS: _stamps(patched.json()),
            SECONDS_Z: _stamps(got.json()),
            MILLISECONDS_Z: _stamps(summary),
        }
        for pattern, stamps in spelled.items():
            assert len(stamps) >= 2 and all(pattern.fullmatch(s) for s in stamps), stamps
        assert any(m["reactions"] for m in got.json()["messages"])  # reactions' createdAt too
        instants = [[datetime.fromisoformat(s) for s in stamps] for stamps in spelled.values()]
        assert instants[0] == instants[1]  # the same instants, written differently
        assert instants[2] == instants[0][:2]
        for answer in (patched.json(), got.json(), summary):
            assert answer["metadata"] == like_a_stamp  # customer data: never rewritten
        assert served.client.patch(url, headers=headers, json={"metadata": None}).is_success
        errors = served.client.get("/v1/conversations/nope", headers=headers)
        assert errors.status_code == 404 and errors.json() == {
            "detail": "Conversation 'nope' not found"
        }


# ------------------------------------------------------------------- seed-size-limit


def test_seed_size_limit_takes_16_kib_and_refuses_one_byte_more() -> None:
    exactly = {"k": "é" * ((KIB_16 - 8) // 2)}  # {"k":"..."}: 8 bytes around 2-byte letters
    over = {"k": "é" * ((KIB_16 - 8) // 2) + "x"}
    sizes = [
        len(json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode())
        for m in (exactly, over)
    ]
    assert sizes == [KIB_16, KIB_16 + 1]
    with serving("seed-size-limit") as served:
        url, headers = served.url(bare=True), served.auth()
        refused = served.client.patch(url, headers=headers, json={"metadata": over})
        assert_fastapi_422(refused, ["body", "metadata"])
        assert refused.json()["detail"][0]["type"] == "value_error"
        assert served.unchanged()  # nothing stored
        accepted = served.client.patch(url, headers=headers, json={"metadata": exactly})
        assert accepted.status_code == 200 and accepted.json()["metadata"] == exactly
        assert served.client.patch(url, headers=headers, json={"metadata": None}).is_success
        assert served.unchanged()


# ---------------------------------------------------------------------- current-jsonb


def test_current_jsonb_keeps_decimals_and_orders_keys() -> None:
    body = (
        b'{"metadata": {"bb": 1.50, "ccc": {"y": 1E2, "x": [-0, -0.0]}, "a": 1e400,'
        b' "\xc3\xa9": 0.1, "z": 7, "z": 8}}'
    )
    with serving("current-jsonb") as served:
        url, headers = served.url(bare=True), served.auth()
        json_headers = {**headers, "Content-Type": "application/json"}
        patched = served.client.patch(url, headers=json_headers, content=body)
        assert patched.status_code == 200, patched.text
        got = served.client.get(url, headers=headers)
        for answer in (patched, got):
            metadata = json.loads(answer.text, parse_float=Decimal)["metadata"]
            assert list(metadata) == ["a", "z", "bb", "é", "ccc"]  # (length, bytes), last z
            assert list(metadata["ccc"]) == ["x", "y"]
            assert metadata["a"] == 10**400 and metadata["z"] == 8
            assert '"bb":1.50' in answer.text and '"é":0.1' in answer.text
            assert '"ccc":{"x":[0,0.0],"y":100}' in answer.text  # -0 becomes 0, as numeric
        listed = served.client.get("/v1/conversations", headers=headers)
        assert '"bb":1.50' in listed.text
        assert served.app.state.metadata_snapshot()[served.conversation(bare=True)]["z"] == 8

        nested: Any = 1
        for _ in range(32):
            nested = {"n": nested}
        deep = served.client.patch(url, headers=headers, json={"metadata": nested})
        assert deep.status_code == 200, deep.text
        before = served.app.state.metadata_snapshot()
        for refused in ({"n": {"n": nested}}["n"], {"text": "a\u0000b"}, {"a\u0000": 1}):
            answer = served.client.patch(url, headers=headers, json={"metadata": refused})
            assert_fastapi_422(answer, ["body", "metadata"])
        assert served.app.state.metadata_snapshot() == before  # nothing stored
        nan = served.client.patch(url, headers=json_headers, content=b'{"metadata": {"x": NaN}}')
        assert_fastapi_422(nan)
        assert served.client.patch(url, headers=headers, json={"metadata": None}).is_success
        assert served.unchanged()


# --------------------------------------------------------------------------- seed-415


def test_seed_415_refuses_a_body_labelled_other_than_json() -> None:
    with serving("seed-415") as served:
        url, headers = served.url(bare=True), served.auth()
        body = b'{"metadata": {"k": 1}}'
        for label in ("text/plain", "application/x-www-form-urlencoded", "text/json", ""):
            refused = served.client.patch(
                url, headers={**headers, "Content-Type": label}, content=body
            )
            assert refused.status_code == 415, (label, refused.text)
            assert refused.json() == {"detail": "Unsupported Media Type"}
        assert served.unchanged()
        for label in ("Application/JSON; Charset=UTF-8", "application/merge-patch+json"):
            accepted = served.client.patch(
                url, headers={**headers, "Content-Type": label}, content=body
            )
            assert accepted.status_code == 200, (label, accepted.text)
        assert served.client.patch(url, headers=headers).status_code == 200  # no body, no type
        assert served.client.get(url, headers=headers).json()["metadata"] == {"k": 1}
        assert served.client.patch(url, headers=headers, json={"metadata": None}).is_success


# ----------------------------------------------------------------- seed-400-malformed


def test_seed_400_answers_malformed_json_and_keeps_422_for_the_wrong_shape() -> None:
    with serving("seed-400-malformed") as served:
        url, headers = served.url(bare=True), served.auth()
        json_headers = {**headers, "Content-Type": "application/json"}
        for malformed in (
            b"{",
            b'{"metadata": }',
            b"\xff",
            b'{"metadata": {"x": NaN}}',
            b"[Infinity]",
        ):
            refused = served.client.patch(url, headers=json_headers, content=malformed)
            assert refused.status_code == 400, (malformed, refused.text)
            assert refused.json() == {"detail": "Malformed JSON body"}
        for wrong_shape in (b"null", b"[1]", b'{"metadata": 1}', b'{"metadata": "\\udfff"}'):
            assert_fastapi_422(served.client.patch(url, headers=json_headers, content=wrong_shape))
        assert served.unchanged()
        ok = served.client.patch(url, headers=json_headers, content=b'{"metadata": {"k": [1]}}')
        assert ok.status_code == 200 and ok.json()["metadata"] == {"k": [1]}
        assert served.client.patch(url, headers=headers, json={"metadata": None}).is_success


# --------------------------------------------------------------- seed-403-missing-key


def test_seed_403_for_a_missing_key_and_401_for_a_bad_one() -> None:
    with serving("seed-403-missing-key") as served:
        url = served.url()
        missing = served.client.get(url)
        assert missing.status_code == 403
        assert missing.json() == {"detail": "Not authenticated"}
        patched = served.client.patch(url, json={"metadata": {"k": 1}})
        assert patched.status_code == 403
        bad = served.client.get(url, headers={"Authorization": "Bearer ak_live_wrong"})
        assert bad.status_code == 401
        assert bad.headers["www-authenticate"] == "Bearer"
        other_scheme = served.client.get(url, headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert other_scheme.status_code == 403
        assert served.client.get(url, headers=served.auth()).status_code == 200
        assert served.unchanged()


# --------------------------------------------------------------- current-problem-json


def test_current_problem_json_for_every_error_but_422() -> None:
    with serving("current-problem-json") as served:
        url, headers = served.url(), served.auth()
        answers = {
            401: served.client.get(url),
            404: served.client.get("/v1/conversations/conv_nope", headers=headers),
            405: served.client.put(url, headers=headers, json={}),
            400: served.client.patch(
                url, headers={**headers, "Content-Type": "application/json"}, content=b"\xff"
            ),
        }
        for status, answer in answers.items():
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            problem = answer.json()
            assert set(problem) == {"type", "title", "status", "detail"}
            assert problem["type"] == "about:blank" and problem["status"] == status
            assert problem["title"] and isinstance(problem["detail"], str) and problem["detail"]
        assert answers[401].headers["www-authenticate"] == "Bearer"
        assert "GET" in answers[405].headers["allow"]
        assert answers[404].json()["title"] == "Not Found"
        assert_fastapi_422(served.client.patch(url, headers=headers, json={"metadata": 1}))
        assert served.client.get(url, headers=headers).headers["content-type"] == "application/json"


# ------------------------------------------------------------------ seed-clamps-limit


def test_seed_clamps_message_limit() -> None:
    with serving("seed-clamps-limit") as served:
        url, headers = served.url(), served.auth()
        everything = served.client.get(url, headers=headers).json()
        assert everything["messageCount"] == len(everything["messages"]) > 1
        none = served.client.get(url, headers=headers, params={"message_limit": 0})
        assert none.status_code == 200
        assert none.json()["messages"] == [] and none.json()["messageCount"] > 0
        for limit in (101, 10**6):
            many = served.client.get(url, headers=headers, params={"message_limit": limit})
            assert many.status_code == 200
            assert many.json()["messages"] == everything["messages"]  # at most 100: all 4
        for invalid in (-1, "x", "1.5"):
            refused = served.client.get(url, headers=headers, params={"message_limit": invalid})
            assert_fastapi_422(refused, ["query", "message_limit"])


# ----------------------------------------------------------------- seed-forbids-extra


def test_seed_forbids_extra_members() -> None:
    with serving("seed-forbids-extra") as served:
        url, headers = served.url(bare=True), served.auth()
        for body in ({"metadata": {"k": 1}, "extra": 1}, {"group_name": "x"}):
            refused = served.client.patch(url, headers=headers, json=body)
            assert_fastapi_422(refused)
            assert refused.json()["detail"][0]["type"] == "extra_forbidden"
            assert refused.json()["detail"][0]["loc"][0] == "body"
        assert served.unchanged()  # nothing stored
        assert served.client.patch(url, headers=headers, json={"metadata": {"k": 1}}).is_success
        assert served.client.patch(url, headers=headers, json={}).json()["metadata"] == {"k": 1}
        assert served.client.patch(url, headers=headers, json={"metadata": None}).is_success


# ----------------------------------------------------------------- current-updated-at


def test_current_updated_at_moves_on_every_patch() -> None:
    with serving("current-updated-at") as served:
        url, headers = served.url(), served.auth()
        first = served.client.get(url, headers=headers).json()
        assert first["version"] == 1 and first["updatedAt"] == first["createdAt"]
        seen = [first]
        for body in ({"metadata": {"k": 1}}, {}, {"metadata": first["metadata"]}):
            answer = served.client.patch(url, headers=headers, json=body)
            assert answer.status_code == 200
            seen.append(answer.json())
        for before, after in pairwise(seen):
            assert after["version"] == before["version"] + 1
            updated = datetime.fromisoformat(after["updatedAt"])
            assert updated > datetime.fromisoformat(before["updatedAt"])
        assert served.client.get(url, headers=headers).json() == seen[-1]
        listed = served.client.get("/v1/conversations", headers=headers).json()["data"]
        (summary,) = [s for s in listed if s["id"] == served.conversation()]
        assert (summary["version"], summary["updatedAt"]) == (4, seen[-1]["updatedAt"])
        assert all(isinstance(s["version"], int) and s["updatedAt"] for s in listed)
        refused = served.client.patch(url, headers=headers, json={"metadata": 1})
        assert refused.status_code == 422
        assert served.client.get(url, headers=headers).json()["version"] == 4  # not moved
        assert served.unchanged()


# ----------------------------------------------------------------------- seed-redirect


def test_seed_redirect_moves_v1_under_api() -> None:
    with serving("seed-redirect") as served:
        cid, headers = served.conversation(), served.auth()
        moved = served.client.get(f"/v1/conversations/{cid}?message_limit=1", headers=headers)
        assert moved.status_code == 308
        assert moved.headers["location"] == f"/api/v1/conversations/{cid}?message_limit=1"
        followed = served.client.get(
            f"/v1/conversations/{cid}",
            headers=headers,
            params={"message_limit": 1},
            follow_redirects=True,
        )
        assert followed.status_code == 200 and len(followed.json()["messages"]) == 1
        assert [r.status_code for r in followed.history] == [308]
        patch = served.client.patch(
            f"/v1/conversations/{cid}",
            headers=headers,
            json={"metadata": {"k": 1}},
            follow_redirects=True,
        )
        assert patch.status_code == 200 and patch.json()["metadata"] == {"k": 1}  # body resent
        direct = served.client.get(f"/api/v1/conversations/{cid}", headers=headers)
        assert direct.status_code == 200 and direct.json()["metadata"] == {"k": 1}
        assert served.client.get(f"/api/v1/conversations/{cid}").status_code == 401
        seeded = served.app.state.seeded_metadata[cid]
        served.client.patch(
            f"/api/v1/conversations/{cid}", headers=headers, json={"metadata": seeded}
        )
        assert served.unchanged()


# --------------------------------------------------------------------- seed-media-case


def test_seed_media_case_labels_every_json_answer() -> None:
    with serving("seed-media-case") as served:
        url, headers = served.url(), served.auth()
        answers = [
            served.client.get(url, headers=headers),
            served.client.get(url),
            served.client.get("/v1/conversations/conv_nope", headers=headers),
            served.client.patch(url, headers=headers, json={"metadata": 1}),
            served.client.patch(url, headers=headers, json={}),
        ]
        assert [a.status_code for a in answers] == [200, 401, 404, 422, 200]
        for answer in answers:
            assert answer.headers["content-type"] == "Application/JSON; Charset=UTF-8"
            assert answer.json()


# ------------------------------------------------------------------------ seed-deflate


def test_seed_deflate_compresses_when_accepted() -> None:
    with serving("seed-deflate") as served:
        url, headers = served.url(), served.auth()
        with served.client.stream(
            "GET", url, headers={**headers, "Accept-Encoding": "deflate"}
        ) as answer:
            raw = b"".join(answer.iter_raw())
        assert answer.headers["content-encoding"] == "deflate"
        assert "accept-encoding" in answer.headers["vary"].lower()
        assert int(answer.headers["content-length"]) == len(raw)
        decoded = served.client.get(url, headers={**headers, "Accept-Encoding": "deflate"})
        assert zlib.decompress(raw) == decoded.content
        assert decoded.json()["id"] == served.conversation()
        plain = served.client.get(url, headers={**headers, "Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == decoded.content
        refused = served.client.get(
            url, headers={**headers, "Accept-Encoding": "gzip, deflate;q=0"}
        )
        assert "content-encoding" not in refused.headers


# ------------------------------------------------------------------------ seed-501-methods


def test_seed_501_methods_answers_501_to_methods_it_implements_for_nothing() -> None:
    with serving("seed-501-methods") as served:
        url, headers = served.url(), served.auth()
        for method in ("PUT", "POST", "DELETE", "OPTIONS"):
            answer = served.client.request(method, url, headers=headers)
            assert answer.status_code == 501, method
        assert served.client.get(url, headers=headers).status_code == 200
        patched = served.client.patch(url, headers=headers, json={"metadata": {"a": 1}})
        assert patched.status_code == 200 and patched.json()["metadata"] == {"a": 1}


# ------------------------------------------------------------------ seed-409-busy, seed-etags


def test_seed_409_busy_refuses_a_patch_that_meets_another_and_writes_nothing() -> None:
    with serving("seed-409-busy") as served:
        url, headers = served.url(), served.auth()
        base = str(served.client.base_url)
        barrier = threading.Barrier(4)
        answers: list[httpx.Response] = []

        def write(n: int) -> None:
            with httpx.Client(base_url=base, trust_env=False, timeout=10) as own:
                barrier.wait(timeout=10)
                answers.append(own.patch(url, headers=headers, json={"metadata": {"n": n}}))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        statuses = sorted(a.status_code for a in answers)
        assert 200 in statuses and 409 in statuses and set(statuses) <= {200, 409}, statuses
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.json() == {"detail": "Another update of this conversation is in progress"}
        stored = served.client.get(url, headers=headers).json()["metadata"]
        assert stored in [a.json()["metadata"] for a in answers if a.status_code == 200]


def test_seed_etags_validates_reads_and_refuses_a_stale_if_match() -> None:
    with serving("seed-etags") as served:
        url, headers = served.url(), served.auth()
        read = served.client.get(url, headers=headers)
        tag = read.headers["ETag"]
        assert tag.startswith('"') and not tag.startswith("W/")
        again = served.client.get(url, headers={**headers, "If-None-Match": tag})
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
        other = served.client.get(url, headers=headers, params={"message_limit": 1})
        assert other.headers["ETag"] != tag  # another representation, its own tag
        written = served.client.patch(
            url, headers={**headers, "If-Match": tag}, json={"metadata": {"a": 1}}
        )
        assert written.status_code == 200 and written.headers["ETag"] != tag
        stale = served.client.patch(
            url, headers={**headers, "If-Match": tag}, json={"metadata": {"b": 2}}
        )
        assert stale.status_code == 412 and stale.json() == {"detail": "Precondition Failed"}
        assert served.client.get(url, headers=headers).json()["metadata"] == {"a": 1}
        fresh = served.client.patch(
            url, headers={**headers, "If-Match": written.headers["ETag"]}, json={"metadata": None}
        )
        assert fresh.status_code == 200 and fresh.json()["metadata"] is None


# ------------------------------------------------------------------------ current-live


def test_current_live_messages_keep_arriving_until_closed() -> None:
    app = SERVERS["current-live"]()
    line = base_app(app).state.live_line
    assert not line.running  # nothing arrives before the first request
    with (
        serve(app) as server,
        httpx.Client(base_url=server.base_url, trust_env=False, timeout=10) as client,
    ):
        served = Served(client, base_app(app))
        url, headers = served.url(), served.auth()
        first = client.get(url, headers=headers).json()
        counts = [first["messageCount"]]
        deadline = time.monotonic() + 3.0
        while counts[-1] < first["messageCount"] + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            counts.append(client.get(url, headers=headers).json()["messageCount"])
        assert counts[-1] >= first["messageCount"] + 3, counts
        latest = client.get(url, headers=headers).json()
        assert latest["messages"][-1]["body"].startswith("Live message")
        assert latest["messages"][-1]["direction"] == "inbound"
        assert latest["lastMessageAt"] > first["lastMessageAt"]
        other = client.get(served.url(bare=True), headers=headers).json()
        assert other["messageCount"] == 0  # only the first conversation is live
    assert not line.running  # stopped by the app's close() when the server stopped
    arrived = line.arrived
    time.sleep(0.25)
    assert line.arrived == arrived
    assert line.limit == 600 and line.every == pytest.approx(0.1)
