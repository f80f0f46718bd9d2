"""The conformant emulator behaves as the live API does: documented semantics, FastAPI errors."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.core._spec import validate_response_body
from conformance.emulator import App, seeded_state
from conformance.emulator._app import _depth, _depth_and_strings
from conformance.emulator._state import copy_json

from .conftest import BARE, BUSY, KEY_1, KEY_2, OTHER, QUIET, call, conversation

PATCH = "updateConversation"
GET = "getConversation"


def _valid(operation: str, status: int, body: Any) -> None:
    assert validate_response_body(operation, status, body) == []


# --- seeded data ----------------------------------------------------------------------------
def test_seeded_data_is_the_same_on_every_start() -> None:
    assert seeded_state() == seeded_state()


def test_seed_has_two_accounts_with_the_documented_conversations() -> None:
    state = seeded_state()
    first, second = state.accounts
    assert first.api_key != second.api_key
    busy, bare = state.conversations_of(first)
    assert busy.messages and any(m.reactions for m in busy.messages)
    assert bare.agent_id is None and bare.metadata is None
    assert [c.id for c in state.conversations_of(second)] == [OTHER, QUIET]


@pytest.mark.parametrize(("conversation_id", "key"), [(BUSY, KEY_1), (BARE, KEY_1), (OTHER, KEY_2)])
def test_every_seeded_conversation_matches_the_fragment(conversation_id: str, key: str) -> None:
    _valid(GET, 200, conversation(App(), conversation_id, key))


# --- GET ------------------------------------------------------------------------------------
def test_message_limit_keeps_the_latest_messages_and_the_full_count(app: App) -> None:
    response = call(app, "GET", f"/v1/conversations/{BUSY}", query="message_limit=1")
    body = response.json()
    assert response.status == 200
    assert [m["body"] for m in body["messages"]] == ["Thanks! 🎉"]
    assert body["messageCount"] == 3


@pytest.mark.parametrize("value", ["0", "101", "-1", "abc", "", "1.5"])
def test_bad_message_limit_is_a_422_on_the_query(app: App, value: str) -> None:
    response = call(app, "GET", f"/v1/conversations/{BUSY}", query=f"message_limit={value}")
    assert response.status == 422
    assert response.json()["detail"][0]["loc"] == ["query", "message_limit"]
    _valid(GET, 422, response.json())


def test_head_answers_like_get_without_a_body(app: App) -> None:
    response = call(app, "HEAD", f"/v1/conversations/{BUSY}")
    assert (response.status, response.body) == (200, b"")


# --- PATCH semantics ------------------------------------------------------------------------
def test_an_object_replaces_the_metadata_without_merging(app: App) -> None:
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", {"metadata": {"step": "billing"}})
    assert response.status == 200
    _valid(PATCH, 200, response.json())
    assert response.json()["metadata"] == {"step": "billing"}
    assert conversation(app, BUSY)["metadata"] == {"step": "billing"}


def test_null_clears_the_metadata(app: App) -> None:
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", {"metadata": None})
    assert response.json()["metadata"] is None
    assert conversation(app, BUSY)["metadata"] is None


@pytest.mark.parametrize("body", [{}, {"unrelated": 1}, None])
def test_omitting_metadata_leaves_it_untouched(app: App, body: Any) -> None:
    before = conversation(app, BUSY)
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", body)  # None: no body at all
    assert response.status == 200
    assert response.json() == before
    assert conversation(app, BUSY) == before


def test_empty_object_stays_an_empty_object(app: App) -> None:
    assert (
        call(app, "PATCH", f"/v1/conversations/{BARE}", {"metadata": {}}).json()["metadata"] == {}
    )
    assert conversation(app, BARE)["metadata"] == {}


def test_patch_changes_nothing_but_metadata_and_twice_answers_the_same(app: App) -> None:
    before = conversation(app, BUSY)
    first = call(app, "PATCH", f"/v1/conversations/{BUSY}", {"metadata": {"a": [1, {"b": None}]}})
    second = call(app, "PATCH", f"/v1/conversations/{BUSY}", {"metadata": {"a": [1, {"b": None}]}})
    assert first.json() == second.json()
    assert {k: v for k, v in first.json().items() if k != "metadata"} == {
        k: v for k, v in before.items() if k != "metadata"
    }


def test_group_name_is_validated_and_ignored_outside_groups(app: App) -> None:
    assert call(app, "PATCH", f"/v1/conversations/{BUSY}", {"group_name": "x"}).status == 200
    assert conversation(app, BUSY)["groupName"] is None
    rejected = call(app, "PATCH", f"/v1/conversations/{BUSY}", {"group_name": 5})
    assert rejected.status == 422
    assert rejected.json()["detail"][0]["loc"] == ["body", "group_name"]


metadata_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(metadata=st.dictionaries(st.text(), metadata_values, max_size=6))
def test_any_json_object_round_trips_exactly(metadata: dict[str, Any]) -> None:
    app = App()
    response = call(app, "PATCH", f"/v1/conversations/{BARE}", {"metadata": metadata})
    assert response.status == 200
    assert response.json()["metadata"] == metadata
    assert conversation(app, BARE)["metadata"] == metadata


# --- not found and other tenants --------------------------------------------------------------
@pytest.mark.parametrize("conversation_id", ["conv_does_not_exist", OTHER])
def test_unknown_and_foreign_ids_are_404_and_create_nothing(app: App, conversation_id: str) -> None:
    before = copy.deepcopy(app.state)
    for method, body in (("GET", None), ("PATCH", {"metadata": {"x": 1}})):
        response = call(app, method, f"/v1/conversations/{conversation_id}", body)
        assert response.status == 404
        assert isinstance(response.json()["detail"], str)
    assert app.state == before


def test_the_second_account_sees_only_its_own_conversations(app: App) -> None:
    listing = call(app, "GET", "/v1/conversations", key=KEY_2).json()
    assert [c["id"] for c in listing["data"]] == [OTHER, QUIET]  # the latest message first
    assert call(app, "GET", f"/v1/conversations/{BUSY}", key=KEY_2).status == 404


# --- auth -----------------------------------------------------------------------------------
REFUSED_HEADERS = {
    "missing": None,
    "empty bearer": "Bearer ",
    "bare scheme": "Bearer",
    "basic scheme": f"Basic {KEY_1}",
    "token scheme": f"Token {KEY_1}",
    "no scheme": KEY_1,
    "unknown key": "Bearer ape_test_0000000000000000",
    "key with extra space": f"Bearer  {KEY_1}",
}


@pytest.mark.parametrize("header", REFUSED_HEADERS.values(), ids=REFUSED_HEADERS.keys())
@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_refused_credentials_are_401_with_a_challenge_and_change_nothing(
    app: App, header: str | None, method: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    before = copy.deepcopy(app.state)
    response = call(
        app,
        method,
        f"/v1/conversations/{BUSY}",
        {"metadata": {"pwned": True}},
        key=None,
        headers=headers,
    )
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    _valid(PATCH, 401, response.json())
    assert KEY_1.encode() not in response.body
    assert app.state == before


def test_the_bearer_scheme_is_case_insensitive(app: App) -> None:
    response = call(
        app,
        "GET",
        f"/v1/conversations/{BUSY}",
        key=None,
        headers={"Authorization": f"bearer {KEY_1}"},
    )
    assert response.status == 200


# --- validation -----------------------------------------------------------------------------
NOT_OBJECTS: list[Any] = ["text", 42, 1.5, True, False, [1, 2], []]


@pytest.mark.parametrize("metadata", NOT_OBJECTS)
def test_metadata_that_is_not_an_object_or_null_is_a_422(app: App, metadata: Any) -> None:
    before = copy.deepcopy(app.state)
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", {"metadata": metadata})
    assert response.status == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "metadata"], "dict_type")
    _valid(PATCH, 422, response.json())
    assert app.state == before


@pytest.mark.parametrize("body", [*NOT_OBJECTS, None], ids=repr)
def test_a_body_that_is_not_an_object_is_a_422(app: App, body: Any) -> None:
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", raw=json.dumps(body).encode())
    assert response.status == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    _valid(PATCH, 422, response.json())


UNPARSEABLE = {
    "truncated": b'{"metadata": {',
    "not json": b"metadata=1",
    "nan": b'{"metadata": {"x": NaN}}',
    "infinity": b'{"metadata": {"x": -Infinity}}',
    "lone surrogate": b'{"metadata": {"x": "\\ud800"}}',
    "lone low surrogate in a key": b'{"metadata": {"\\uDC00": 1}}',
    "lone surrogate spelt in capitals": b'{"metadata": {"x": ["\\uD83D"]}}',
    "absurd nesting": b'{"metadata": ' + b"[" * 300 + b"]" * 300 + b"}",
    "deeper than the parser": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("raw", UNPARSEABLE.values(), ids=UNPARSEABLE.keys())
def test_bodies_that_cannot_be_stored_are_a_422_json_invalid(app: App, raw: bytes) -> None:
    before = copy.deepcopy(app.state)
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", raw=raw)
    assert response.status == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    _valid(PATCH, 422, response.json())
    assert app.state == before


def test_a_surrogate_pair_escaped_in_json_is_one_character_and_kept(app: App) -> None:
    raw = b'{"metadata": {"clef": "\\ud834\\udd1e"}}'  # U+1D11E, spelt as JSON escapes
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", raw=raw)
    assert response.status == 200
    assert response.json()["metadata"] == {"clef": "\U0001d11e"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


@given(_json)
def test_the_nesting_limit_measures_depth_as_the_full_walk_does(value: Any) -> None:
    assert _depth(value) == _depth_and_strings(value)[0]
    assert copy_json(value) == value


def test_a_body_that_is_not_even_text_is_fastapis_400(app: App) -> None:
    before = copy.deepcopy(app.state)
    response = call(app, "PATCH", f"/v1/conversations/{BUSY}", raw=b'{"metadata": "\xff\xfe"}')
    assert response.status == 400
    _valid(PATCH, 400, response.json())
    assert app.state == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_labelled_json_is_a_422(app: App, content_type: str) -> None:
    response = call(
        app,
        "PATCH",
        f"/v1/conversations/{BUSY}",
        {"metadata": {"a": 1}},
        headers={"Content-Type": content_type},
    )
    assert response.status == 422
    assert response.json()["detail"][0]["type"] == "model_attributes_type"


def test_json_subtypes_and_a_missing_content_type_are_read_as_json(app: App) -> None:
    for headers in ({"Content-Type": "application/merge-patch+json"}, {"Content-Type": ""}):
        response = call(
            app, "PATCH", f"/v1/conversations/{BUSY}", {"metadata": {"a": 1}}, headers=headers
        )
        assert response.status == 200, headers


# --- routing --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "OPTIONS", "TRACE", "BREW"])
def test_other_methods_are_405_with_allow(app: App, method: str) -> None:
    response = call(app, method, f"/v1/conversations/{BUSY}")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD, PATCH"


@pytest.mark.parametrize("path", ["/", "/v1/conversations/", "/v1/conversations/a/b", "/v2/x"])
def test_unknown_paths_are_404(app: App, path: str) -> None:
    assert call(app, "GET", path).status == 404


def test_list_is_sorted_by_latest_message_and_paginates(app: App) -> None:
    first = call(app, "GET", "/v1/conversations", query="limit=1").json()
    assert (first["total"], first["hasMore"], len(first["data"])) == (2, True, 1)
    assert first["data"][0]["id"] == BARE  # 2024-02-01 is after the busy one's last message
    assert "messages" not in first["data"][0]
    rest = call(app, "GET", "/v1/conversations", query="limit=1&offset=1").json()
    assert ([c["id"] for c in rest["data"]], rest["hasMore"]) == ([BUSY], False)
    assert rest["data"][0]["lastMessagePreview"] == "Thanks! 🎉"
    assert call(app, "GET", "/v1/conversations", query="offset=-1").status == 422


# --- never a 5xx ----------------------------------------------------------------------------
paths = st.sampled_from(
    [
        f"/v1/conversations/{BUSY}",
        f"/v1/conversations/{OTHER}",
        "/v1/conversations",
        "/v1/conversations/%00",
        "/v1/conversations/x%2Fy",
    ]
) | st.text().map(lambda s: "/" + s)
header_values = st.text(st.characters(codec="latin-1"), max_size=40)


@given(
    method=st.sampled_from(["GET", "HEAD", "PATCH", "PUT", "POST", "DELETE"]) | st.text(max_size=8),
    path=paths,
    query=st.text(max_size=30),
    authorization=st.none() | st.just(f"Bearer {KEY_1}") | header_values,
    content_type=st.none() | st.sampled_from(["application/json", "text/plain"]) | header_values,
    body=st.binary(max_size=200)
    | metadata_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(st.text(), metadata_values).map(
        lambda m: json.dumps({"metadata": m}).encode()
    ),
)
def test_no_request_gets_a_server_error(
    method: str,
    path: str,
    query: str,
    authorization: str | None,
    content_type: str | None,
    body: bytes,
) -> None:
    headers = {
        k: v
        for k, v in {"Authorization": authorization, "Content-Type": content_type}.items()
        if v is not None
    }
    response = call(App(), method, path, raw=body, key=None, headers=headers, query=query)
    assert response.status < 500
    assert response.headers["Content-Type"] == "application/json"
    if path.startswith("/v1/conversations/conv_") and method in ("GET", "PATCH"):
        operation = GET if method == "GET" else PATCH
        _valid(operation, response.status, response.json())
