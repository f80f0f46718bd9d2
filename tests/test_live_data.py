"""A live conversation: another client writes it while the suite runs. Its last write
survives, or the run says it saw another writer (exit 3); never is the target blamed."""

from __future__ import annotations

import time

import httpx
import pytest

from conformance.core import GivenOptions, resolve
from conformance.emulator import Emulator, Request
from conformance.engine import run
from conformance.jobs import embedded_target
from conformance.model import Outcome

from .conftest import BUSY, call

CUSTOMER = [{"customer_agent": "step", "n": n} for n in range(4)]


class Customer(httpx.BaseTransport):
    """The emulator, in process, with another client (a customer's agent) that PATCHes the
    conversation four times early in the run: just before the suite's requests number
    `at`."""

    def __init__(self, emulator: Emulator, at: tuple[int, ...]) -> None:
        self.emulator, self.at, self.seen = emulator, at, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen in self.at:
            step = self.at.index(self.seen)
            call(
                self.emulator.app,
                "PATCH",
                f"/v1/conversations/{BUSY}",
                {"metadata": CUSTOMER[step]},
            )
        answer = self.emulator.app.handle(
            Request(
                request.method,
                request.url.path,
                request.url.query.decode(),
                dict(request.headers),
                request.read(),
            )
        )
        return httpx.Response(
            answer.status, headers=answer.headers, stream=httpx.ByteStream(answer.body)
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("at", [(10, 14, 18, 22), (40, 47, 54, 61), (120, 121, 122, 123)])
def test_another_clients_last_write_survives_and_the_run_says_it_saw_another_writer(
    seed: int, at: tuple[int, ...]
) -> None:
    with Emulator() as emulator:
        customer = Customer(emulator, at)
        result = run(
            embedded_target(emulator), resolve(GivenOptions(seed=seed)), transport=customer
        )
        final = emulator.state.conversations[BUSY].metadata
    failed = [(r.check.id, r.reason) for r in result.checks if r.outcome is Outcome.FAILED]
    assert not failed  # never the target's fault
    if result.other_writers:
        assert result.other_writers == (BUSY,) and result.exit_code == 3
        assert final == CUSTOMER[-1]  # the other client's last write is what stays
        (kept,) = [r for r in result.restore if r.conversation_id == BUSY]
        assert kept.kept and kept.restored
        assert any("another client wrote" in note for note in result.notes)
    else:  # each write overwritten before the run read it: the one thing it cannot see
        assert result.exit_code == 0


def test_the_run_sees_another_writer_on_most_schedules() -> None:
    """Not only the lucky case: across schedules and seeds, the writer is usually seen."""
    seen = 0
    for seed, at in [(1, (10, 14, 18, 22)), (2, (40, 47, 54, 61)), (3, (120, 121, 122, 123))]:
        with Emulator() as emulator:
            result = run(
                embedded_target(emulator),
                resolve(GivenOptions(seed=seed)),
                transport=Customer(emulator, at),
            )
        seen += bool(result.other_writers)
    assert seen >= 2


def test_a_conversation_in_live_use_gets_a_warning_before_the_first_write() -> None:
    with Emulator() as emulator:
        emulator.state.conversations[BUSY].messages[-1].received_at = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # a message just now
        )
        result = run(
            embedded_target(emulator), resolve(GivenOptions(seed=1, checks=("META-PERSISTED",)))
        )
    assert any("had a message 0 min ago" in note and "dedicated" in note for note in result.notes)
