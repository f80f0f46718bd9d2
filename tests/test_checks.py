"""Check functions called directly, with hand-made answers: each can pass and each can fail."""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response

from conformance.checks import REGISTRY, RunContext, Verdict, responses, same_json
from conformance.checks._context import CONVERSATION_PATH, absent_id_like
from conformance.checks._schemathesis import as_schemathesis
from conformance.checks.edges import identical
from conformance.checks.generated import portable
from conformance.checks.semantics import differing_fields
from conformance.core import GivenOptions, resolve
from conformance.core._http import Client, Sent
from conformance.core._target import Account, Target
from conformance.engine._runner import schema_for
from conformance.model import Edition

KEY = "ape_test_0123456789abcdef"
CID = "conv_d5542f7bb9d25e92a5675c61"
SEED_BODY: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data/spec/conformant/seed-example.json").read_text("utf-8")
)


def _context(max_response_time: float = 1.0) -> RunContext:
    target = Target("t", "http://target.test", Account(KEY, "AGENTPHONE_API_KEY", (CID,)))
    client = Client(
        target.base_url, target.secrets, max_requests=10, timeout=10, max_answer_bytes=1 << 20
    )
    options = resolve(GivenOptions(seed=1, max_response_time=max_response_time))
    return RunContext(target, client, options, schema=schema_for(Edition.CURRENT))


def _sent(
    status: int,
    body: Any = None,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    authorization: str | None = f"Bearer {KEY}",
    request_body: Any = None,
    content_type: str = "application/json",
    raw: bytes | None = None,
    params: dict[str, str] | None = None,
) -> Sent:
    content = raw if raw is not None else b"" if body is None else json.dumps(body).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            stream=httpx.ByteStream(content),
            headers={"Content-Type": content_type, **(headers or {})},
        )

    client = Client(
        "http://target.test",
        {KEY: "AGENTPHONE_API_KEY"},
        max_requests=5,
        timeout=10,
        max_answer_bytes=1 << 20,
        transport=httpx.MockTransport(answer),
    )
    kwargs: dict[str, Any] = {} if request_body is None else {"json_body": request_body}
    if params is not None:
        kwargs["params"] = params
    return client.send(
        method,
        f"/v1/conversations/{CID}",
        authorization=authorization,
        path_template=CONVERSATION_PATH,
        **kwargs,
    )


def _verdict(check_id: str, sent: Sent, ctx: RunContext | None = None) -> Verdict | str:
    check = REGISTRY[check_id].response
    assert check is not None
    return check(ctx or _context(), sent)


@pytest.mark.parametrize(
    ("check_id", "good", "bad"),
    [
        ("SHAPE-SCHEMA", _sent(200, SEED_BODY), _sent(200, {**SEED_BODY, "messageCount": "1"})),
        ("SHAPE-STATUS-DOCUMENTED", _sent(404, {"detail": "x"}), _sent(409, {"detail": "x"})),
        (
            "SHAPE-CONTENT-TYPE",
            _sent(200, SEED_BODY),
            _sent(200, SEED_BODY, content_type="text/html"),
        ),
        ("ROBUST-NO-5XX", _sent(404, {"detail": "x"}), _sent(502, {"detail": "x"})),
        (
            "AUTH-NO-CREDENTIAL-ECHO",
            _sent(401, {"detail": "Invalid API key"}),
            _sent(401, {"detail": f"Invalid API key {KEY}"}),
        ),
        (
            "AUTH-WWW-AUTHENTICATE",
            _sent(401, {"detail": "x"}, headers={"WWW-Authenticate": "Bearer"}),
            _sent(401, {"detail": "x"}),
        ),
        (
            "HTTP-ALLOW-ON-405",
            _sent(405, {"detail": "x"}, headers={"Allow": "GET, PATCH"}),
            _sent(405, {"detail": "x"}),
        ),
        (
            "VALIDATION-ERROR-SHAPE",
            _sent(
                422, {"detail": [{"loc": ["body", "metadata"], "msg": "m", "type": "dict_type"}]}
            ),
            _sent(422, {"detail": "metadata must be an object"}),
        ),
        (
            "VALIDATION-ACCEPTS-VALID",
            _sent(200, SEED_BODY, method="PATCH", request_body={"metadata": {"a": 1}}),
            _sent(422, {"detail": []}, method="PATCH", request_body={"metadata": {"a.b": 1}}),
        ),
    ],
)
def test_each_response_check_passes_and_fails(check_id: str, good: Sent, bad: Sent) -> None:
    assert _verdict(check_id, good) is Verdict.PASS
    assert isinstance(_verdict(check_id, bad), str)


def test_response_time_uses_the_budget() -> None:
    sent = _sent(200, SEED_BODY)
    assert _verdict("ROBUST-RESPONSE-TIME", sent, _context(10.0)) is Verdict.PASS
    assert isinstance(_verdict("ROBUST-RESPONSE-TIME", sent, _context(0.0)), str)


@pytest.mark.parametrize(
    ("check_id", "sent"),
    [
        ("AUTH-WWW-AUTHENTICATE", _sent(200, SEED_BODY)),
        ("HTTP-ALLOW-ON-405", _sent(404, {"detail": "x"})),
        ("VALIDATION-ERROR-SHAPE", _sent(400, {"detail": "x"})),
        ("AUTH-NO-CREDENTIAL-ECHO", _sent(401, {"detail": "x"}, authorization=None)),
        # a body with members the contract does not name: the server may refuse it
        (
            "VALIDATION-ACCEPTS-VALID",
            _sent(422, {"detail": []}, method="PATCH", request_body={"metadata": {}, "x": 1}),
        ),
    ],
)
def test_response_checks_say_when_they_do_not_apply(check_id: str, sent: Sent) -> None:
    assert _verdict(check_id, sent) is Verdict.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True),
        ({"n": 1}, {"n": 1.0}, True),
        ({"t": True}, {"t": 1}, False),
        ({"z": None}, {}, False),
        ([1, 2], [2, 1], False),
        ("1", 1, False),
        # string members are compared in the loop, without a call: still strict
        ({"s": "1"}, {"s": 1}, False),
        ({"s": 1}, {"s": "1"}, False),
        ({"s": "x", "n": {"t": "y"}}, {"n": {"t": "y"}, "s": "x"}, True),
        ({"s": "x", "n": {"t": "y"}}, {"n": {"t": "z"}, "s": "x"}, False),
        ({"s": "x"}, {"s": None}, False),
    ],
)
def test_json_equality_is_strict_about_types_not_key_order(a: Any, b: Any, same: bool) -> None:
    assert same_json(a, b) is same


def _reference_same_json(a: Any, b: Any) -> bool:
    """same_json as first written, with no fast path: the property below holds the fast one
    to it."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_reference_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            _reference_same_json(x, y) for x, y in zip(a, b, strict=True)
        )
    return type(a) is type(b) and a == b


_json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, 1.0, -0.0])
    | st.text(max_size=2)
)
_json_values = st.recursive(
    _json_leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=8,
)


@given(_json_values, _json_values)
def test_same_json_agrees_with_its_reference(a: Any, b: Any) -> None:
    assert same_json(a, b) is _reference_same_json(a, b)
    assert same_json(a, a) is True
    assert identical(a, copy.deepcopy(a)) is True
    if identical(a, b):
        assert same_json(a, b)  # stricter, never looser


def test_differing_fields_ignores_metadata_volatile_fields_and_truncated_messages() -> None:
    before = {**SEED_BODY, "updatedAt": "2024-01-01T00:00:00Z"}
    after = {**before, "metadata": {"new": 1}, "updatedAt": "2025-01-01T00:00:00Z"}
    assert differing_fields(before, after) == []
    assert differing_fields(before, {**after, "agentId": "other"}) == ["agentId"]
    truncated = {**before, "messageCount": 99}
    assert differing_fields(truncated, {**truncated, "messages": []}) == []


@pytest.mark.parametrize(
    ("example", "pattern"),
    [
        ("conv_d5542f7bb9d25e92a5675c61", r"conv_[0-9a-f]{24}"),
        (
            "3f2b8c1e-4d5a-4b6c-9e8f-0a1b2c3d4e5f",
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
            r"[0-9a-f]{4}-[0-9a-f]{12}",
        ),
        ("CONV-ABCDEFGHIJKLMNOP", r"[A-Z0-9]{4}-[A-Z0-9]{16}"),
        ("42", r"conv_conformance_absent_[0-9a-f]{16}"),  # too short to redraw safely
    ],
)
def test_absent_ids_look_like_real_ones(example: str, pattern: str) -> None:
    drawn = absent_id_like(example, random.Random(1))
    assert re.fullmatch(pattern, drawn), drawn
    assert drawn != example


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ({"a": [1, "é", {"b": None}], "": 2.5}, True),
        ({"a": "nul\x00"}, False),
        ({"k\x00": 1}, False),
        ({"a": "\ud800"}, False),
        ({"n": 2**53}, False),
        ({"n": -(2**53) + 1, "t": True}, True),
    ],
)
def test_generated_positive_bodies_are_kept_only_when_portable(value: Any, kept: bool) -> None:
    assert portable(value) is kept


@pytest.mark.parametrize(
    "sent",
    [
        _sent(200, SEED_BODY),
        _sent(200, {**SEED_BODY, "messageCount": "1"}),
        _sent(200, SEED_BODY, content_type="text/html"),
        _sent(409, {"detail": "x"}),
        _sent(200, raw=b"{not json"),
        _sent(422, {"detail": "x"}, method="PATCH", request_body={"metadata": 1}),
    ],
    ids=["valid", "wrong type", "content type", "status", "not json", "patch"],
)
def test_an_answer_reaches_schemathesis_as_its_own_conversion_would_hand_it(sent: Sent) -> None:
    """`as_schemathesis` skips schemathesis's re-preparing of the request: the same checks
    must find the same failures, and see the same request."""
    operation = schema_for(Edition.CURRENT)[CONVERSATION_PATH][sent.exchange.method]

    def failures(response: Any) -> list[tuple[type, str]]:
        case = operation.Case(path_parameters={"conversation_id": CID})
        try:
            case.validate_response(response, checks=responses._SHAPE_CHECKS)
        except FailureGroup as group:
            return [(type(f), f.title) for f in group.exceptions]
        return []

    ours, theirs = as_schemathesis(sent.response), Response.from_httpx(sent.response, True)
    assert failures(ours) == failures(theirs)
    assert (ours.request.method, ours.request.url, ours.request.body) == (
        theirs.request.method,
        theirs.request.url,
        theirs.request.body,
    )
    assert {k.lower(): v for k, v in ours.request.headers.items()} == {
        k.lower(): v for k, v in theirs.request.headers.items()
    }
    assert (ours.status_code, ours.headers, ours.content) == (
        theirs.status_code,
        theirs.headers,
        theirs.content,
    )


def test_a_query_value_of_unicode_digits_is_not_a_whole_number() -> None:
    """ "¹" is a digit to str.isdigit, not a number to int(): not judged valid, never a crash."""
    allowed = {"message_limit": (1, 100)}
    assert not responses._valid_query({"message_limit": "\u00b9"}, allowed)
    assert not responses._valid_query({"message_limit": "\u0663"}, allowed)  # Arabic-Indic 3
    assert responses._valid_query({"message_limit": "3"}, allowed)
