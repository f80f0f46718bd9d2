"""Smoke tests of the realistic faulty servers in ``tests/realistic`` (httpx only, real sockets).

For every server: it serves the ordinary happy path (read a conversation, replace its
metadata with a plain object, read it back, see it in the list, clear it with null,
refuse a request without a key, 404 for an unknown id) except where its own habit lives,
and a direct request shows the habit itself. These prove the measurement's servers are
what their descriptions say; they do not run the suite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.realistic.servers import CONTROL, FAULTY, create
from tests.servers import base_app, serve

PLAIN = {"customerName": "Ada Lovelace", "orderId": "ORD-1", "topic": "billing"}
UNKNOWN = "conv_does_not_exist_0000"


@dataclass
class Running:
    client: httpx.Client
    state: Any
    key_1: str
    ids_1: list[str]
    key_2: str
    ids_2: list[str]

    @property
    def mine(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key_1}"}

    @property
    def theirs(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key_2}"}

    @property
    def first(self) -> str:
        return f"/v1/conversations/{self.ids_1[0]}"

    def get(self, path: str | None = None, **headers: str) -> httpx.Response:
        return self.client.get(path or self.first, headers={**self.mine, **headers})

    def patch(self, body: Any, path: str | None = None) -> httpx.Response:
        return self.client.patch(path or self.first, headers=self.mine, json=body)

    def metadata(self, body: Any) -> Any:
        answer = self.patch({"metadata": body})
        assert answer.status_code == 200, answer.text
        return answer.json()["metadata"]

    def listed(self, conversation_id: str | None = None) -> dict[str, Any]:
        page = self.client.get("/v1/conversations", headers=self.mine).json()
        wanted = conversation_id or self.ids_1[0]
        (summary,) = [s for s in page["data"] if s["id"] == wanted]
        return dict(summary)


@contextmanager
def running(name: str) -> Iterator[Running]:
    app = create(name)
    state = base_app(app).state
    (key_1, ids_1), (key_2, ids_2) = state.accounts
    with (
        serve(app) as server,
        httpx.Client(base_url=server.base_url, trust_env=False, timeout=10) as client,
    ):
        yield Running(client, state, key_1, list(ids_1), key_2, list(ids_2))


# ------------------------------------------------------------------------------ happy path

# The steps of the happy path a server's own habit changes (and only those).
HABIT_STEPS: dict[str, set[str]] = {
    "sqlalchemy-json-in-place": {"read back", "list"},
    "returns-document-before": {"patch answer", "clear"},
    "list-stale-index": {"list"},
    "null-as-empty-object": {"clear"},
    "exclude-none": {"clear"},
    "gson-omits-nulls": {"clear"},
    "patch-204": {"patch answer", "clear"},
    "write-behind": {"read back", "list"},
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [CONTROL, *FAULTY])
def test_each_server_serves_the_happy_path(name: str) -> None:
    skip = HABIT_STEPS.get(name, set())
    with running(name) as server:
        # ``no key`` first: a cache in front must not have the answer yet to be fair to it
        if "no key" not in skip:
            assert server.client.get(server.first).status_code in (401, 403)
        assert server.get(f"/v1/conversations/{UNKNOWN}").status_code == 404

        patched = server.patch({"metadata": PLAIN})
        assert patched.is_success, patched.text
        if "patch answer" not in skip:
            assert patched.status_code == 200
            assert patched.json()["id"] == server.ids_1[0]
            assert patched.json()["metadata"] == PLAIN
        if "read back" not in skip:
            assert server.get().json()["metadata"] == PLAIN
        if "list" not in skip:
            assert server.listed()["metadata"] == PLAIN

        cleared = server.patch({"metadata": None})
        assert cleared.is_success, cleared.text
        if "clear" not in skip:
            assert cleared.status_code == 200
            assert cleared.json()["metadata"] is None

        untouched = server.client.get(f"/v1/conversations/{server.ids_2[0]}", headers=server.theirs)
        assert untouched.status_code == 200
        assert untouched.json()["metadata"] == server.state.seeded_metadata[server.ids_2[0]]


# ------------------------------------------------------------------------ each server's habit


def postgres_jsonb_nul(s: Running) -> None:
    before = s.get().json()["metadata"]
    assert s.patch({"metadata": {"note": "a\u0000b"}}).status_code == 500
    assert s.get().json()["metadata"] == before


def mysql_utf8mb3(s: Running) -> None:
    assert s.metadata({"mood": "ok 🎉", "kanji": "𠮷野家", "café": "é"}) == {
        "mood": "ok ?",
        "kanji": "?野家",
        "café": "é",
    }


def mongoose_minimize(s: Running) -> None:
    assert s.metadata({}) is None
    assert s.metadata({"a": {}, "b": {"c": {}}, "d": 1, "e": []}) == {"d": 1, "e": []}


def dynamodb_number_limits(s: Running) -> None:
    assert s.patch({"metadata": {"tiny": 5e-324}}).status_code == 500
    assert s.patch({"metadata": {"big": 10**40 + 1}}).status_code == 500
    assert s.metadata({"price": 0.1, "count": 10**30}) == {"price": 0.1, "count": 10**30}


def redis_hash(s: Running) -> None:
    stored = s.metadata({"priority": 2, "vip": True, "gone": None, "tags": ["a"], "ratio": 0.5})
    assert stored == {"priority": "2", "vip": "True", "tags": '["a"]', "ratio": "0.5"}
    assert s.metadata({}) is None


def sqlalchemy_json_in_place(s: Running) -> None:
    before = s.get().json()["metadata"]
    assert s.metadata({"step": 3}) == {"step": 3}
    assert s.get().json()["metadata"] == before  # never written
    assert s.metadata(None) is None  # an assignment is written
    assert s.get().json()["metadata"] is None


def eav_dotted_paths(s: Running) -> None:
    assert s.metadata({"a.b": 1, "slots": {"0": "x", "1": "y"}, "e": {}}) == {
        "a": {"b": 1},
        "slots": ["x", "y"],
        "e": {},
    }


def node_json_numbers(s: Running) -> None:
    answer = s.patch({"metadata": {"id": 9007199254740993, "one": 1.0}})
    assert answer.json()["metadata"] == {"id": 9007199254740992, "one": 1}
    assert '"one":1}' in answer.text


def xss_clean(s: Running) -> None:
    assert s.metadata({"html": "<b>hi</b> & a<b", "<k>": 1}) == {
        "html": "&lt;b>hi&lt;/b> & a&lt;b",
        "&lt;k>": 1,
    }


def express_mongo_sanitize(s: Running) -> None:
    sent = {"$set": 1, "a.b": 2, "ok": {"$gt": 1, "x": [{"c.d": 3, "e": 4}]}}
    assert s.metadata(sent) == {"ok": {"x": [{"e": 4}]}}


def laravel_trim_strings(s: Running) -> None:
    assert s.metadata({"name": "  Ada \n", "empty": "", "pad": "\x00x\x00"}) == {
        "name": "Ada",
        "empty": None,
        "pad": "x",
    }


def date_reviver(s: Running) -> None:
    sent = {"due": "2025-03-01", "at": "2025-03-01T10:00:00+02:00", "bad": "2025-13-01", "n": "x"}
    assert s.metadata(sent) == {
        "due": "2025-03-01T00:00:00.000Z",
        "at": "2025-03-01T08:00:00.000Z",
        "bad": None,
        "n": "x",
    }


def case_converter(s: Running) -> None:
    sent = {"order_id": "A", "ABC": 1, "customerName": "Ada", "nested": {"zip_code": "1"}}
    assert s.metadata(sent) == {
        "orderId": "A",
        "abc": 1,
        "customerName": "Ada",
        "nested": {"zipCode": "1"},
    }


def stale_read_cache(s: Running) -> None:
    before = s.get().json()["metadata"]
    assert s.metadata({"step": 1}) == {"step": 1}
    again = s.get()
    assert again.headers["x-cache"] == "HIT"
    assert again.json()["metadata"] == before


def shared_cache_no_vary(s: Running) -> None:
    mine = s.get()
    assert mine.status_code == 200
    theirs = s.client.get(s.first, headers=s.theirs)  # account 2 asks for account 1's
    assert (theirs.status_code, theirs.json()) == (200, mine.json())
    assert s.client.get(s.first).status_code == 200  # no key at all
    s.client.get("/v1/conversations", headers=s.theirs)
    listed = s.client.get("/v1/conversations", headers=s.mine).json()  # account 2's list
    assert {c["id"] for c in listed["data"]} == set(s.ids_2)


def etag_from_last_message(s: Running) -> None:
    etag = s.get().headers["etag"]
    s.metadata({"step": 2})
    assert s.get(**{"If-None-Match": etag}).status_code == 304


def deep_merge(s: Running) -> None:
    assert "orderId" in s.metadata({"orderId": None})  # a member to null: still there
    assert s.metadata(None) is None
    s.metadata({"a": {"x": 1, "list": [1, 2, 3]}, "keep": True})
    assert s.metadata({"a": {"y": 2, "list": [9]}}) == {
        "a": {"x": 1, "y": 2, "list": [9, 2, 3]},
        "keep": True,
    }


def jsonb_concat(s: Running) -> None:
    assert s.metadata(None) is None
    s.metadata({"a": {"x": 1}, "keep": True})
    assert s.metadata({"a": {"y": 2}}) == {"a": {"y": 2}, "keep": True}


def null_as_empty_object(s: Running) -> None:
    assert s.metadata(None) == {}


def exclude_none(s: Running) -> None:
    assert s.metadata(None) == s.state.seeded_metadata[s.ids_1[0]]


def omitted_clears(s: Running) -> None:
    assert s.get().json()["metadata"] is not None
    assert s.patch({}).json()["metadata"] is None


def key_cap_silent(s: Running) -> None:
    many = {f"k{i:02d}": i for i in range(60)}
    assert s.metadata(many) == {f"k{i:02d}": i for i in range(50)}


def truncate_varchar_255(s: Running) -> None:
    assert s.metadata({"note": "x" * 300, "deep": ["y" * 256]}) == {
        "note": "x" * 255,
        "deep": ["y" * 255],
    }


def depth_normalizer(s: Running) -> None:
    deep: Any = {"leaf": 1}
    for _ in range(6):
        deep = {"n": deep}
    assert s.metadata({"d": deep})["d"]["n"]["n"]["n"] == {"n": "[Object]"}


def tenant_403(s: Running) -> None:
    theirs = s.client.get(s.first, headers=s.theirs)
    assert theirs.status_code == 403
    assert s.client.get(f"/v1/conversations/{UNKNOWN}", headers=s.theirs).status_code == 404


def validate_before_auth(s: Running) -> None:
    bad = s.client.patch(s.first, json={"metadata": 5})
    assert bad.status_code == 422
    wrong_key = {"Authorization": "Bearer nope"}
    assert s.client.patch(s.first, headers=wrong_key, content=b"{oops").status_code == 422
    assert s.client.patch(s.first, json={"metadata": {}}).status_code in (401, 403)


def lookup_before_auth(s: Running) -> None:
    assert s.client.get(f"/v1/conversations/{UNKNOWN}").status_code == 404
    assert s.client.get(s.first).status_code in (401, 403)


def mass_assignment(s: Running) -> None:
    answer = s.patch({"metadata": {"a": 1}, "agentId": "agent_evil", "participant": "+10000000000"})
    assert (answer.json()["agentId"], answer.json()["participant"]) == (
        "agent_evil",
        "+10000000000",
    )


def debug_traceback(s: Running) -> None:
    answer = s.client.patch(s.first, headers=s.mine, content=b'{"metadata": ')
    assert answer.status_code == 500
    assert "Traceback" in answer.text and ".py" in answer.text
    assert s.client.patch(s.first, headers=s.mine, json=[1]).status_code == 500


def sql_string_format(s: Running) -> None:
    answer = s.get("/v1/conversations/conv_x'y")
    assert answer.status_code == 500
    assert "SELECT id FROM conversations" in answer.json()["detail"]
    injected = s.client.get("/v1/conversations/x' OR 1=1 --", headers=s.mine)
    assert injected.status_code == 200


def mysql_ci_collation(s: Running) -> None:
    assert s.get(s.first.upper().replace("/V1/CONVERSATIONS/", "/v1/conversations/")).is_success
    assert s.get(s.first + "%20").json()["id"] == s.ids_1[0]


def echo_key_in_401(s: Running) -> None:
    answer = s.client.get(s.first, headers={"Authorization": "Bearer sk_guessed_1234"})
    assert answer.status_code == 401
    assert "sk_guessed_1234" in answer.text


def returns_document_before(s: Running) -> None:
    before = s.get().json()["metadata"]
    assert s.metadata({"step": 5}) == before
    assert s.get().json()["metadata"] == {"step": 5}


def onupdate_last_message_at(s: Running) -> None:
    before = s.get().json()["lastMessageAt"]
    after = s.patch({"metadata": {"a": 1}}).json()["lastMessageAt"]
    assert after > before


def update_where_too_broad(s: Running) -> None:
    other = f"/v1/conversations/{s.ids_1[1]}"
    assert s.get(other).json()["metadata"] != {"a": 1}
    s.metadata({"a": 1})
    assert s.get(other).json()["metadata"] == {"a": 1}


def patch_without_messages(s: Running) -> None:
    assert s.get().json()["messages"]
    assert s.patch({"metadata": {"a": 1}}).json()["messages"] == []


def naive_datetimes(s: Running) -> None:
    conversation = s.get().json()
    assert conversation["createdAt"] == "2025-02-03T16:02:11"
    assert not conversation["messages"][0]["receivedAt"].endswith("Z")
    assert s.metadata({"at": "2025-01-01T00:00:00Z"}) == {"at": "2025-01-01T00:00:00Z"}


def typeof_object(s: Running) -> None:
    assert s.metadata([1, {"a": 2}]) == [1, {"a": 2}]
    assert s.patch({"metadata": "text"}).status_code == 422


def list_stale_index(s: Running) -> None:
    s.metadata({"a": 1})
    assert s.listed()["metadata"] == s.state.seeded_metadata[s.ids_1[0]]


def list_null_as_empty(s: Running) -> None:
    assert s.metadata(None) is None
    assert s.get().json()["metadata"] is None
    assert s.listed()["metadata"] == {}


def json_string_metadata(s: Running) -> None:
    assert s.metadata('{"a": 1}') == {"a": 1}
    assert s.patch({"metadata": "not json"}).status_code == 422


def gson_omits_nulls(s: Running) -> None:
    assert s.metadata({"a": None, "b": 1}) == {"b": 1}
    assert "metadata" not in s.patch({"metadata": None}).json()
    other = s.get(f"/v1/conversations/{s.ids_1[1]}").json()  # agentId: null
    assert "agentId" not in other


def patch_204(s: Running) -> None:
    answer = s.patch({"metadata": {"a": 1}})
    assert (answer.status_code, answer.content) == (204, b"")
    assert s.get().json()["metadata"] == {"a": 1}


def upsert_unknown_id(s: Running) -> None:
    unknown = f"/v1/conversations/{UNKNOWN}"
    assert s.patch({"metadata": {"a": 1}}, unknown).status_code == 200
    assert s.get(unknown).json()["metadata"] == {"a": 1}


def patch_idor(s: Running) -> None:
    assert s.client.get(s.first, headers=s.theirs).status_code == 404
    write = s.client.patch(s.first, headers=s.theirs, json={"metadata": {"owned": True}})
    assert write.status_code == 200
    assert s.get().json()["metadata"] == {"owned": True}


# the concurrency habits: seen only when requests overlap, or come on connections of their own


def _new_connection(s: Running) -> httpx.Client:
    return httpx.Client(base_url=s.client.base_url, trust_env=False, timeout=10)


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls together (each in a thread of its own, started at one barrier)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def each(i: int) -> None:
        barrier.wait(timeout=10)
        results[i] = calls[i]()

    threads = [threading.Thread(target=each, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results


def eav_row_per_key(s: Running) -> None:
    document = {f"k{i}": i for i in range(16)}
    seen: list[Any] = []

    def write() -> None:
        with _new_connection(s) as other:
            other.patch(s.first, headers=s.mine, json={"metadata": document})

    def read() -> None:
        with _new_connection(s) as other:
            for _ in range(40):
                seen.append(other.get(s.first, headers=s.mine).json()["metadata"])

    for _ in range(5):  # bounded: the reads must land inside the write
        s.metadata({"before": True})
        _at_once(write, read)
        if any(isinstance(m, dict) and m and set(m) < set(document) for m in seen):
            return
    raise AssertionError(f"no read saw half a replacement in {len(seen)} reads")


def diff_then_apply(s: Running) -> None:
    first, second = {"a1": "A", "a2": "A"}, {"b1": "B", "b2": "B"}
    for _ in range(5):  # bounded: the two must overlap
        s.metadata({"before": True})
        _at_once(*(lambda d=d: s.patch({"metadata": d}) for d in (first, second)))
        if s.get().json()["metadata"] == {**first, **second}:
            return
    raise AssertionError("two replacements at once never mixed")


def write_behind(s: Running) -> None:
    for attempt in range(5):  # bounded: the read must come inside the 150 ms
        s.metadata({"before": attempt})
        time.sleep(0.4)  # saved by now
        assert s.metadata({"after": attempt}) == {"after": attempt}  # the answer shows it
        stored = s.get().json()["metadata"]  # the storage does not, yet
        time.sleep(0.4)
        assert s.get().json()["metadata"] == {"after": attempt}
        if stored == {"before": attempt}:
            return
    raise AssertionError("every read after a write saw it stored already")


def per_worker_cache(s: Running) -> None:
    def read_anew() -> Any:
        with _new_connection(s) as other:
            return other.get(s.first, headers=s.mine).json()["metadata"]

    s.metadata({"before": True})
    [read_anew() for _ in range(2)]  # each worker has cached it
    with _new_connection(s) as writer:
        assert writer.patch(s.first, headers=s.mine, json={"metadata": {"after": True}}).is_success
    assert {"before": True} in [read_anew() for _ in range(2)]


def cache_aside_race(s: Running) -> None:
    for attempt, pause in enumerate((0.01, 0.02, 0.005, 0.03, 0.015, 0.04, 0.01, 0.025)):
        # bounded: the read must miss and read the database before the write, fill after it
        s.metadata({"before": attempt})  # the key deleted: the next read misses
        reader = threading.Thread(target=s.get)
        reader.start()
        time.sleep(pause)
        with _new_connection(s) as writer:
            writer.patch(s.first, headers=s.mine, json={"metadata": {"after": attempt}})
        reader.join(timeout=10)
        if s.get().json()["metadata"] == {"before": attempt}:
            return  # the old document cached after the write
    raise AssertionError("the cache never kept the document from before the write")


def conflict_still_writes(s: Running) -> None:
    first, second = {"a": 1}, {"b": 2}

    def later() -> httpx.Response:
        time.sleep(0.005)  # the first write is under way
        return s.patch({"metadata": second})

    seen: list[tuple[list[int], Any]] = []
    for _ in range(5):  # bounded: the two writes must overlap, each stored in its turn
        answers = _at_once(lambda: s.patch({"metadata": first}), later)
        seen.append(([a.status_code for a in answers], s.get().json()["metadata"]))
        if seen[-1] == ([200, 409], second):
            return  # refused, and stored all the same
    raise AssertionError(f"a refused write was never seen stored: {seen}")


HABITS: dict[str, Callable[[Running], None]] = {
    "postgres-jsonb-nul": postgres_jsonb_nul,
    "mysql-utf8mb3": mysql_utf8mb3,
    "mongoose-minimize": mongoose_minimize,
    "dynamodb-number-limits": dynamodb_number_limits,
    "redis-hash": redis_hash,
    "sqlalchemy-json-in-place": sqlalchemy_json_in_place,
    "eav-dotted-paths": eav_dotted_paths,
    "node-json-numbers": node_json_numbers,
    "xss-clean": xss_clean,
    "express-mongo-sanitize": express_mongo_sanitize,
    "laravel-trim-strings": laravel_trim_strings,
    "date-reviver": date_reviver,
    "case-converter": case_converter,
    "stale-read-cache": stale_read_cache,
    "shared-cache-no-vary": shared_cache_no_vary,
    "etag-from-last-message": etag_from_last_message,
    "deep-merge": deep_merge,
    "jsonb-concat": jsonb_concat,
    "null-as-empty-object": null_as_empty_object,
    "exclude-none": exclude_none,
    "omitted-clears": omitted_clears,
    "key-cap-silent": key_cap_silent,
    "truncate-varchar-255": truncate_varchar_255,
    "depth-normalizer": depth_normalizer,
    "tenant-403": tenant_403,
    "validate-before-auth": validate_before_auth,
    "lookup-before-auth": lookup_before_auth,
    "mass-assignment": mass_assignment,
    "debug-traceback": debug_traceback,
    "sql-string-format": sql_string_format,
    "mysql-ci-collation": mysql_ci_collation,
    "echo-key-in-401": echo_key_in_401,
    "returns-document-before": returns_document_before,
    "onupdate-last-message-at": onupdate_last_message_at,
    "update-where-too-broad": update_where_too_broad,
    "patch-without-messages": patch_without_messages,
    "naive-datetimes": naive_datetimes,
    "typeof-object": typeof_object,
    "list-stale-index": list_stale_index,
    "list-null-as-empty": list_null_as_empty,
    "json-string-metadata": json_string_metadata,
    "gson-omits-nulls": gson_omits_nulls,
    "patch-204": patch_204,
    "upsert-unknown-id": upsert_unknown_id,
    "patch-idor": patch_idor,
    "eav-row-per-key": eav_row_per_key,
    "diff-then-apply": diff_then_apply,
    "write-behind": write_behind,
    "per-worker-cache": per_worker_cache,
    "cache-aside-race": cache_aside_race,
    "conflict-still-writes": conflict_still_writes,
}


def test_every_faulty_server_has_a_demonstration() -> None:
    assert set(HABITS) == set(FAULTY)
    assert len(FAULTY) >= 18
    assert all(habit.description and habit.name == name for name, habit in FAULTY.items())


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", list(HABITS))
def test_each_faulty_server_has_its_habit(name: str) -> None:
    with running(name) as server:
        HABITS[name](server)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", list(HABITS))
def test_the_control_has_none_of_the_habits(name: str) -> None:
    """Every demonstration fails against the conformant base: it shows the habit, not the
    base."""
    with running(CONTROL) as server, pytest.raises((AssertionError, KeyError, ValueError)):
        HABITS[name](server)
