"""A target that closes the connection without answering one request, and answers the rest:
it crashed on that request. A finding, named with the request, never "unreachable"; the run
goes on, and a conversation whose every GET crashes is still put back."""

from __future__ import annotations

import httpx

from conformance.core import GivenOptions, resolve
from conformance.emulator import Emulator
from conformance.engine import run
from conformance.jobs import embedded_target
from conformance.model import Outcome, RunResult

from .conftest import BUSY

SURROGATE = b"\\ud800"


class Crashing(httpx.BaseTransport):
    """The embedded emulator, behind a server that dies on a lone surrogate: on the PATCH
    that carries one, or (`poisoned`) on every GET once it has stored one."""

    def __init__(self, emulator: Emulator, poisoned: bool = False) -> None:
        self.inner, self.poisoned, self.holds = emulator.transport(), poisoned, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        if request.method == "PATCH" and BUSY in request.url.path:
            if SURROGATE in content and not self.poisoned:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            self.holds = SURROGATE in content
            if self.holds:  # stored as it came; answering it is what crashes
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if request.method == "GET" and BUSY in request.url.path and self.holds:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return self.inner.handle_request(request)


def _run(poisoned: bool) -> tuple[RunResult, Emulator]:
    with Emulator() as emulator:
        transport = Crashing(emulator, poisoned)
        return run(
            embedded_target(emulator), resolve(GivenOptions(seed=1)), transport=transport
        ), emulator


def test_a_crash_on_one_request_is_a_finding_and_the_run_goes_on() -> None:
    result, _ = _run(poisoned=False)
    assert result.exit_code == 1
    errored = [r.check.id for r in result.checks if r.outcome is Outcome.ERROR]
    assert errored == []  # the target answered everything else: nothing left unjudged
    (roundtrip,) = [r for r in result.checks if r.check.id == "ROUNDTRIP-METADATA"]
    assert roundtrip.outcome is Outcome.FAILED
    crash = next(f for f in roundtrip.findings if "closed the connection" in f.message)
    assert crash.exchange is not None and crash.exchange.status is None
    assert "ud800" in (crash.exchange.request_body or "")  # the request that did it, shown
    (no_5xx,) = [r for r in result.checks if r.check.id == "ROBUST-NO-5XX"]
    assert no_5xx.outcome is Outcome.FAILED
    assert all(r.restored for r in result.restore)


def test_a_conversation_whose_get_crashes_is_written_back_blind() -> None:
    result, emulator = _run(poisoned=True)
    (busy,) = [r for r in result.restore if r.conversation_id == BUSY]
    assert busy.restored, busy
    assert emulator.state.conversations[BUSY].metadata == {
        "customerName": "Ada Lovelace",
        "orderId": "ORD-1042",
        "tier": 2,
    }
