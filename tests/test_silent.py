"""A target that gives no answer to one request (past --timeout) and answers the rest: that
request's check is not judged, and the run goes on. A write that got no answer and is stored
later, in the middle of another check, never turns into that check's failure; the restore
waits for it and comes after it. At the third such request the run stops."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conformance.core import GivenOptions, resolve
from conformance.emulator import Emulator
from conformance.engine import _runner, _snapshot, run
from conformance.engine._runner import MAX_SILENT
from conformance.jobs import embedded_target
from conformance.model import Outcome, RunResult

from .conftest import BUSY

Lands = Callable[[int], bool]  # given how many requests came since: is the write stored now?


class Silent(httpx.BaseTransport):
    """The embedded emulator, behind a server that takes the PATCHes numbered in `silent`
    (counting from 1) and never answers them in time; each is stored once `lands` says so
    (never, by default), before the request that comes then is served."""

    def __init__(self, emulator: Emulator, silent: set[int], lands: Lands | None = None) -> None:
        self.inner, self.silent, self.lands = emulator.transport(), silent, lands
        self.patches = 0
        self.pending: list[tuple[httpx.Request, int]] = []  # a write taken, and when
        self.requests = 0
        self.lock = threading.Lock()
        self.landed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self.lock:
            self.requests += 1
            due = [p for p in self.pending if self.lands and self.lands(self.requests - p[1])]
            for taken in due:
                self.pending.remove(taken)
                self.inner.handle_request(taken[0])
                self.landed += 1
            if request.method == "PATCH":
                self.patches += 1
                if self.patches in self.silent:
                    self.pending.append((request, self.requests))
                    raise httpx.ReadTimeout("timed out", request=request)
        return self.inner.handle_request(request)


def _run(silent: set[int], lands: Lands | None = None, seed: int = 1) -> tuple[RunResult, Silent]:
    with Emulator() as emulator:
        transport = Silent(emulator, silent, lands)
        before = {c: v.metadata for c, v in emulator.state.conversations.items()}
        result = run(
            embedded_target(emulator), resolve(GivenOptions(seed=seed)), transport=transport
        )
        after = {c: v.metadata for c, v in emulator.state.conversations.items()}
    assert after == before  # put back, the late write included
    return result, transport


@pytest.fixture
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The restore's wait for a write that got no answer, shortened: these tests' writes
    land at once or never."""
    monkeypatch.setattr(_snapshot, "SETTLE_SECONDS", (0.5, 0.5))


def _outcomes(result: RunResult) -> dict[str, Outcome]:
    return {r.check.id: r.outcome for r in result.checks}


def _clean() -> tuple[dict[str, Outcome], int]:
    result, transport = _run(set())
    assert result.exit_code == 0
    return _outcomes(result), transport.patches


def test_one_request_without_an_answer_costs_its_check_and_the_run_goes_on(
    quick_settle: None,
) -> None:
    clean, patches = _clean()
    result, transport = _run({patches // 2})
    assert transport.landed == 0
    errored = [r for r in result.checks if r.outcome is Outcome.ERROR]
    assert len(errored) == 1, [(r.check.id, r.reason) for r in errored]
    assert errored[0].reason.startswith("not judged: no answer to one request (PATCH ")
    assert "no complete answer within" in errored[0].reason
    assert result.exit_code == 3  # inconclusive: never the target's failure
    others = {k: v for k, v in _outcomes(result).items() if k != errored[0].check.id}
    assert others == {k: v for k, v in clean.items() if k != errored[0].check.id}
    assert any(n.startswith("1 request got no answer") for n in result.notes), result.notes
    assert any("never did" in n for n in result.notes), result.notes
    # it may land after the run: the restore of its conversation is not claimed, and says so
    unsure = {r.conversation_id: r for r in result.restore if not r.restored}
    assert list(unsure) == [BUSY], result.restore
    assert unsure[BUSY].message.startswith("RESTORE UNCERTAIN") and unsure[BUSY].manual_fix


def _checks_patches(monkeypatch: pytest.MonkeyPatch) -> int:
    """How many PATCHes a clean run sends before its restore (seed 1)."""
    settling: list[int] = []
    transport = None

    def settle(*args: Any, **kwargs: Any) -> Any:
        assert transport is not None
        settling.append(transport.patches)
        return _snapshot.settle(*args, **kwargs)

    with monkeypatch.context() as patched, Emulator() as emulator:
        patched.setattr(_runner, "settle", settle)
        transport = Silent(emulator, set())
        run(embedded_target(emulator), resolve(GivenOptions(seed=1)), transport=transport)
    return settling[-1]


def test_a_write_stored_late_is_never_a_failure_of_the_check_that_sees_it(
    quick_settle: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    patches = _checks_patches(monkeypatch)
    caught = 0
    for which in range(3, patches, max(1, patches // 10)):  # bounded: ten runs
        result, transport = _run({which}, lands=lambda since: since >= 4)
        failed = [(r.check.id, r.reason) for r in result.checks if r.outcome is Outcome.FAILED]
        assert failed == [], (which, failed)
        assert result.exit_code in (0, 3)  # 0: generated traffic's, and seen by no check
        assert transport.landed == 1
        late = [r for r in result.checks if "was stored late, during this check" in r.reason]
        caught += bool(late)
    assert caught  # at least one of them landed where a check read it, and said so


def test_the_restore_waits_for_a_write_that_lands_after_the_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    last = _checks_patches(monkeypatch)  # the checks' last PATCH: no answer, it lands later
    landing = {"armed": False}

    def settle(*args: Any, **kwargs: Any) -> Any:
        landing["armed"] = True  # the late write lands now: during the restore's wait
        return _snapshot.settle(*args, **kwargs)

    monkeypatch.setattr(_runner, "settle", settle)
    with Emulator() as emulator:
        transport = Silent(emulator, {last}, lambda since: landing["armed"])
        original = emulator.state.conversations[BUSY].metadata
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=1)), transport=transport)
        assert emulator.state.conversations[BUSY].metadata == original
    assert transport.landed == 1
    assert any(n.startswith("the restore waited") for n in result.notes), result.notes
    assert all(r.restored for r in result.restore), result.restore  # it came after the write


def test_at_the_third_request_without_an_answer_the_run_stops(quick_settle: None) -> None:
    clean, _ = _clean()
    result, _ = _run(set(range(5, 5 + MAX_SILENT)))  # then the restore's writes are answered
    assert result.exit_code == 3
    outcomes = _outcomes(result)
    stopped = [r.check.id for r in result.checks if "target stopped answering" in r.reason]
    assert len(stopped) > 10 and all(outcomes[c] is Outcome.ERROR for c in stopped)
    went_on = [r for r in result.checks if r.reason.startswith("not judged: no answer")]
    assert len(went_on) == MAX_SILENT - 1, [r.check.id for r in went_on]
    assert any(n.startswith(f"{MAX_SILENT - 1} requests got no answer") for n in result.notes)
    judged = [c for c, o in outcomes.items() if o in (Outcome.PASSED, Outcome.FAILED)]
    assert judged and all(outcomes[c] is clean[c] for c in judged)  # judged as ever
