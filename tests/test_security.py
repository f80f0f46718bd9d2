"""The OWASP API Top 10 properties: each check fails on a server that breaks it and passes
on servers that make the choices the contract leaves open."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conformance.checks import REGISTRY, Verdict
from conformance.checks.security import body_shape
from conformance.core import GivenOptions, resolve
from conformance.emulator import Emulator
from conformance.engine import run
from conformance.jobs import embedded_target
from conformance.model import Outcome, RunResult

from .conftest import BUSY, KEY_1, OTHER
from .test_checks import _context, _sent

no_internals = REGISTRY["SECURITY-NO-INTERNALS"].response
assert no_internals is not None

LEAKED = [
    ('Traceback (most recent call last):\n  File "/srv/app/main.py", line 88', "a stack trace"),
    ("TypeError: x is undefined\n    at Object.<anonymous> (/app/server.js:12:5)", "a stack trace"),
    ("java.lang.NullPointerException\n\tat com.acme.Api.get(Api.java:42)", "a stack trace"),
    ("SELECT id, metadata FROM conversations WHERE id = 'x'", "SQL"),
    ('psycopg2.errors.UndefinedTable: relation "conversations" does not exist', "SQL"),
    ("ORA-00942: table or view does not exist", "SQL"),
    ("could not open /var/lib/agentphone/data.db", "a server path"),
    ("C:\\inetpub\\wwwroot\\api\\web.config", "a server path"),
    ("upstream 10.0.3.17:8080 timed out", "an internal address"),
    ("db-primary.prod.internal refused the connection", "an internal host"),
]
CLEAN = [
    {
        "detail": [
            {
                "type": "dict_type",
                "loc": ["body", "metadata"],
                "msg": "Input should be a valid dictionary",
                "input": "x",
                "url": "https://errors.pydantic.dev/2.9/v/dict_type",
            }
        ]
    },
    {"error": {"message": "Conversation not found", "code": "NOT_FOUND", "type": "not_found"}},
    {"type": "about:blank", "title": "Not Found", "status": 404, "instance": "/v1/conversations/x"},
    {"detail": "Please select a value from the list"},
    {"detail": "see https://docs.agentphone.ai/app/errors/not-found"},
]


@pytest.mark.parametrize(("text", "kind"), LEAKED)
def test_an_error_body_with_internals_fails(text: str, kind: str) -> None:
    verdict = no_internals(_context(), _sent(404, {"detail": text}))
    assert isinstance(verdict, str) and kind in verdict


@pytest.mark.parametrize("body", CLEAN)
def test_ordinary_error_bodies_pass(body: Any) -> None:
    assert no_internals(_context(), _sent(422, body)) is Verdict.PASS


def test_internals_in_a_header_fail_and_an_echo_of_the_request_does_not() -> None:
    leaky = _sent(200, {"id": "x"}, headers={"X-Upstream": "10.1.2.3:9000"})
    assert "internal address" in str(no_internals(_context(), leaky))
    sql = "O'Brien; SELECT name FROM users"  # what the round trip may send
    echoed = _sent(
        422,
        {"detail": [{"msg": "bad", "input": sql}]},
        method="PATCH",
        request_body={"metadata": sql},
    )
    assert no_internals(_context(), echoed) is Verdict.PASS
    own = _sent(404, {"detail": "not found at http://target.test/v1"})  # the target's own host
    assert no_internals(_context(), own) is Verdict.PASS
    # a generated query value that looks like a Windows path, echoed by FastAPI's 422
    odd = "[{'Q:\\U0006403c\\dir\\x': 1}]"
    query = _sent(
        422,
        {"detail": [{"type": "int_parsing", "loc": ["query", "message_limit"], "input": odd}]},
        params={"message_limit": odd},
    )
    assert no_internals(_context(), query) is Verdict.PASS


def test_body_shape_keeps_structure_and_types_only() -> None:
    assert body_shape({"detail": "a", "n": [1, 2], "x": None}) == {
        "detail": "str",
        "n": ["number"],
        "x": "NoneType",
    }
    assert body_shape({"detail": "Conversation x not found"}) == body_shape({"detail": "y"})


class Layer(httpx.BaseTransport):
    """The embedded emulator behind a layer that answers some requests itself."""

    def __init__(self, emulator: Emulator, answer: Any) -> None:
        self.inner, self.answer = emulator.transport(), answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        own = self.answer(request)
        return own if own is not None else self.inner.handle_request(request)


def _run(emulator: Emulator, answer: Any = lambda request: None, **given: Any) -> RunResult:
    options = resolve(GivenOptions(seed=1, **given))
    return run(embedded_target(emulator), options, transport=Layer(emulator, answer))


def _outcome(result: RunResult, check: str) -> Outcome:
    return next(r.outcome for r in result.checks if r.check.id == check)


def test_a_body_with_other_members_may_be_refused() -> None:
    def forbid_extra(request: httpx.Request) -> httpx.Response | None:
        body = json.loads(request.read() or b"{}") if request.method == "PATCH" else None
        if isinstance(body, dict) and set(body) - {"metadata", "group_name"}:
            detail = [{"type": "extra_forbidden", "loc": ["body", "agentId"], "msg": "Extra"}]
            return httpx.Response(422, json={"detail": detail})
        return None

    with Emulator() as emulator:
        result = _run(emulator, forbid_extra, checks=("SECURITY-READ-ONLY-MEMBERS",))
    assert _outcome(result, "SECURITY-READ-ONLY-MEMBERS") is Outcome.PASSED


def test_members_a_faulty_target_took_are_put_back_and_the_report_says_so() -> None:
    with Emulator(faults=["security-mass-assignment"]) as emulator:
        original = emulator.state.conversations[BUSY].agent_id
        result = _run(emulator, checks=("SECURITY-READ-ONLY-MEMBERS",))
        assert emulator.state.conversations[BUSY].agent_id == original
    assert _outcome(result, "SECURITY-READ-ONLY-MEMBERS") is Outcome.FAILED
    assert any("wrote the original values back" in note for note in result.notes)


def test_403_for_a_missing_key_and_401_for_a_bad_one_is_one_refusal_each() -> None:
    def legacy_bearer(request: httpx.Request) -> httpx.Response | None:
        if "authorization" not in request.headers:
            return httpx.Response(403, json={"detail": "Not authenticated"})
        return None

    with Emulator() as emulator:
        result = _run(emulator, legacy_bearer, checks=("SECURITY-AUTH-FIRST",))
    assert _outcome(result, "SECURITY-AUTH-FIRST") is Outcome.PASSED


def _foreign_answered(text: Any) -> Any:
    """A layer that answers another account's conversation (OTHER) itself, with `text(id)`,
    and every unknown id with `text(id)` too when `text` says so."""

    def answer(request: httpx.Request) -> httpx.Response | None:
        if (
            request.url.path.rsplit("/", 1)[-1] == OTHER
            and request.headers.get("authorization") == f"Bearer {KEY_1}"
        ):
            return httpx.Response(404, json={"detail": text(OTHER)})
        return None

    return answer


def test_another_accounts_conversation_told_apart_by_its_text_fails() -> None:
    with Emulator() as emulator:
        result = _run(
            emulator,
            _foreign_answered(lambda cid: "This conversation belongs to another account"),
            checks=("SECURITY-FOREIGN-LIKE-ABSENT",),
        )
    (check,) = [r for r in result.checks if r.check.id == "SECURITY-FOREIGN-LIKE-ABSENT"]
    assert check.outcome is Outcome.FAILED and "different texts" in check.reason


def test_an_id_or_a_request_id_in_the_text_does_not_tell_them_apart() -> None:
    class Named(Layer):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            answer = self.inner.handle_request(request)
            if answer.status_code != 404:
                return answer
            cid = request.url.path.rsplit("/", 1)[-1]
            stamp = f"req_{abs(hash(request.url.path)) % 10**8:08d}"
            return httpx.Response(404, json={"detail": f"Conversation {cid} not found ({stamp})"})

    with Emulator() as emulator:
        options = resolve(GivenOptions(seed=1, checks=("SECURITY-FOREIGN-LIKE-ABSENT",)))
        result = run(embedded_target(emulator), options, transport=Named(emulator, None))
    assert _outcome(result, "SECURITY-FOREIGN-LIKE-ABSENT") is Outcome.PASSED
