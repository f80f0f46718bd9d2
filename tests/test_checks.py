"""Check functions called directly, with hand-made answers: each can pass and each can fail."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.checks import REGISTRY, RunContext, Verdict, same_json
from conformance.checks._context import CONVERSATION_PATH, absent_id_like
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
    ],
)
def test_json_equality_is_strict_about_types_not_key_order(a: Any, b: Any, same: bool) -> None:
    assert same_json(a, b) is same


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
