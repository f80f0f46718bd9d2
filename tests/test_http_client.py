"""The client: budget, rate limit, back-off on 429, redaction and curl commands."""

from __future__ import annotations

import json
import shlex
import subprocess
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from conformance.core._http import (
    BudgetExhausted,
    Client,
    TargetUnreachable,
    Throttled,
    _retry_after,
    curl_command,
)
from conformance.emulator import Emulator
from conformance.model import redact

from .conftest import BUSY, KEY_1

SECRET = "ape_live_0123456789abcdef"
SECRETS = {SECRET: "AGENTPHONE_API_KEY"}


def _client(handler: object, **kwargs: object) -> tuple[Client, list[float]]:
    slept: list[float] = []
    client = Client(
        "http://target.test",
        SECRETS,
        max_requests=kwargs.pop("max_requests", 10),  # type: ignore[arg-type]
        sleep=slept.append,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        **{"timeout": 10.0, "max_answer_bytes": 1 << 20, **kwargs},
    )  # type: ignore[arg-type]
    return client, slept


def test_429_is_retried_after_the_delay_the_server_asks_for() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(429),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    client, slept = _client(lambda request: next(answers))
    seen: list[int] = []
    client.observers.append(lambda sent: seen.append(sent.status))
    sent = client.send("GET", "/v1/conversations/x", authorization=f"Bearer {SECRET}")
    assert sent.status == 200
    assert slept == [3.0, 2.0]  # Retry-After, then exponential back-off
    assert client.backoffs == [3.0, 2.0] and client.sent == 3
    assert seen == [200]  # checks never see the 429s


def test_retry_after_accepts_http_dates_and_is_capped() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    assert 3.5 < _retry_after(soon, 0) <= 5
    assert _retry_after("86400", 0) == 30.0
    assert _retry_after("garbage", 2) == 4.0


def test_a_429_that_never_ends_is_throttled_after_bounded_retries() -> None:
    client, slept = _client(lambda request: httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(Throttled, match="answered 429 6 times in a row"):
        client.send("GET", "/", authorization=None)
    assert len(slept) == 5


def test_the_budget_stops_ordinary_requests_but_not_restores() -> None:
    client, _ = _client(lambda request: httpx.Response(200), max_requests=2)
    client.send("GET", "/", authorization=None)
    client.send("GET", "/", authorization=None)
    with pytest.raises(BudgetExhausted):
        client.send("GET", "/", authorization=None)
    assert client.send("PATCH", "/", authorization=None, reserved=True).status == 200
    assert client.sent == 3


def test_the_rate_limit_spaces_requests() -> None:
    client, slept = _client(lambda request: httpx.Response(200), rate_limit=2.0)
    for _ in range(3):
        client.send("GET", "/", authorization=None)
    assert len(slept) == 2 and all(0 < s <= 0.5 for s in slept)  # less if the clock moved on


def test_network_errors_are_target_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client, _ = _client(refuse)
    with pytest.raises(TargetUnreachable, match="connection refused"):
        client.send("GET", "/", authorization=None)


def test_exchanges_are_redacted_even_when_the_target_echoes_the_key() -> None:
    client, _ = _client(
        lambda request: httpx.Response(
            401, json={"detail": f"bad key {SECRET}"}, headers={"X-Echo": SECRET}
        )
    )
    sent = client.send(
        "PATCH",
        f"/v1/conversations/{SECRET}",
        authorization=f"Token {SECRET}",
        json_body={"metadata": {"k": SECRET}},
    )
    recorded = json.dumps(sent.exchange.to_dict())
    assert SECRET not in recorded
    assert "[REDACTED]" in recorded
    assert sent.exchange.request_headers["Authorization"] == "Token [REDACTED]"
    assert SECRET in sent.presented  # kept in memory for the echo check only


def test_curl_commands_name_the_variable_and_run_in_a_shell() -> None:
    command = curl_command(
        "PATCH",
        "http://127.0.0.1:1/v1/conversations/c",
        {"Authorization": f"Bearer {SECRET}"},
        b'{"metadata": {"q": "it\'s"}}',
        SECRETS,
    )
    assert SECRET not in command and "${AGENTPHONE_API_KEY}" in command
    words = shlex.split(command.replace("${AGENTPHONE_API_KEY}", "KEY"))
    assert words[:4] == ["curl", "-i", "-X", "PATCH"]
    assert "Authorization: Bearer KEY" in words
    assert '{"metadata": {"q": "it\'s"}}' in words


def test_a_curl_command_reproduces_the_request_against_the_emulator() -> None:
    with Emulator() as emulator:
        client = Client(
            emulator.base_url,
            {KEY_1: "AGENTPHONE_API_KEY"},
            max_requests=5,
            timeout=10,
            max_answer_bytes=1 << 20,
        )
        sent = client.send(
            "PATCH",
            f"/v1/conversations/{BUSY}",
            authorization=f"Bearer {KEY_1}",
            json_body={"metadata": {"via": "curl"}},
        )
        client.close()
        emulator.state.conversations[BUSY].metadata = None
        result = subprocess.run(
            ["bash", "-c", sent.exchange.curl],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={"AGENTPHONE_API_KEY": KEY_1, "PATH": "/usr/bin:/bin"},
        )
        if result.returncode == 127:
            pytest.skip("curl is not installed")
        assert "200 OK" in result.stdout
        assert emulator.state.conversations[BUSY].metadata == {"via": "curl"}


def test_redact_prefers_the_longest_secret() -> None:
    assert redact("abc abcdef", {"abc": "A", "abcdef": "B"}) == "[REDACTED] [REDACTED]"


def test_a_503_that_says_when_to_come_back_is_waited_for_like_a_429() -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200)])
    client, slept = _client(lambda request: next(answers))
    assert client.send("GET", "/", authorization=None).status == 200
    assert slept == [2.0] and client.backoffs == [2.0]


def test_a_503_without_retry_after_is_an_answer() -> None:
    client, slept = _client(lambda request: httpx.Response(503))
    assert client.send("GET", "/", authorization=None).status == 503
    assert slept == []


def test_a_same_origin_307_is_followed_with_its_method_body_and_key() -> None:
    seen: list[tuple[str, str, bytes, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(
            (
                request.method,
                request.url.path,
                request.content,
                request.headers.get("Authorization"),
            )
        )
        if request.url.path == "/old":
            return httpx.Response(307, headers={"Location": "/new"})
        return httpx.Response(200, json={"ok": True})

    client, _ = _client(answer)
    sent = client.send("PATCH", "/old", authorization=f"Bearer {SECRET}", json_body={"a": 1})
    assert sent.status == 200 and sent.json_body == {"ok": True}
    assert [s[:3] for s in seen] == [("PATCH", "/old", b'{"a": 1}'), ("PATCH", "/new", b'{"a": 1}')]
    assert client.sent == 1  # a hop is the same request: it costs no more of the budget


@pytest.mark.parametrize(
    ("status", "location", "method"),
    [
        (307, "http://elsewhere.test/new", "GET"),  # another host: the key stays home
        (308, "https://target.test/new", "GET"),  # another scheme is another origin
        (302, "/new", "PATCH"),  # a redirect that turns a PATCH into a GET: an answer
    ],
)
def test_other_redirects_are_the_answer_and_the_key_never_leaves_the_origin(
    status: int, location: str, method: str
) -> None:
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(f"{request.url.scheme}://{request.url.host}")
        return httpx.Response(status, headers={"Location": location})

    client, _ = _client(answer)
    assert client.send(method, "/old", authorization=f"Bearer {SECRET}").status == status
    assert hosts == ["http://target.test"]


def test_a_replay_sends_the_same_request_again_unobserved() -> None:
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={"n": len(bodies)})

    client, _ = _client(answer)
    observed: list[object] = []
    client.observers.append(observed.append)
    first = client.send("PATCH", "/x", authorization=f"Bearer {SECRET}", json_body={"a": 1})
    again = client.resend(first)
    assert bodies == [b'{"a": 1}', b'{"a": 1}'] and again.json_body == {"n": 2}
    assert observed == [first]
    assert again.exchange.request_headers["Authorization"] == "Bearer [REDACTED]"
