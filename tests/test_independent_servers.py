"""Never cry wolf: the suite against conformant servers written apart from the emulator.

Each server in `tests/servers` is an ordinary FastAPI app (seed edition, current edition on
SQLite, the vendor's error envelope), some behind what a deployment puts in front of an API
(compression, a media-type parameter, a rate limiter, a slow network). Every run must end
with no failure, no error, and every conversation's metadata as it was seeded.

Seeds: the three base servers on many seeds (SERVER_SEEDS, 10 unless the environment asks
for more), the deployments on a few (each costs the rate limiter's waits).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from conformance.core import Account, GivenOptions, Target
from conformance.engine import run
from conformance.jobs import run_options
from conformance.model import Edition, Outcome, RunResult

from .servers import SERVERS, base_app, serve

BASE = ("seed-fastapi", "current-sqlite", "envelope-errors")
DEPLOYED = tuple(name for name in SERVERS if name not in BASE)
SEEDS = range(1, 1 + int(os.environ.get("SERVER_SEEDS", "10")))
FEW_SEEDS = range(1, 3)


def run_against(name: str, seed: int, **given: Any) -> tuple[RunResult, Any]:
    app = SERVERS[name]()
    state = base_app(app).state
    (key_1, ids_1), (key_2, ids_2) = state.accounts
    with serve(app) as server:
        target = Target(
            name,
            server.base_url,
            Account(key_1, "AGENTPHONE_API_KEY", tuple(ids_1)),
            Account(key_2, "AGENTPHONE_SECOND_API_KEY", tuple(ids_2)),
        )
        result = run(target, run_options(GivenOptions(seed=seed, **given)))
    return result, state


def assert_clean(result: RunResult, state: Any) -> None:
    trouble = [
        (r.check.id, r.outcome.value, r.reason)
        for r in result.checks
        if r.outcome in (Outcome.FAILED, Outcome.ERROR)
    ]
    assert not trouble, f"seed {result.settings.seed}: {trouble}"
    assert result.exit_code == 0
    assert all(r.restored for r in result.restore), result.restore
    assert state.metadata_snapshot() == state.seeded_metadata  # restored, nothing created


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", BASE)
def test_a_conformant_server_passes_on_every_seed(name: str) -> None:
    for seed in SEEDS:
        result, state = run_against(name, seed)
        assert_clean(result, state)
        expected = Edition.SEED if state.edition == "seed" else Edition.CURRENT
        assert result.edition.edition is expected, result.edition


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", DEPLOYED)
def test_a_conformant_server_behind_a_deployment_passes(name: str) -> None:
    for seed in FEW_SEEDS:
        assert_clean(*run_against(name, seed))


def test_a_seed_server_is_not_judged_by_the_current_editions_requirements() -> None:
    result, state = run_against("seed-fastapi", 3)
    assert_clean(result, state)
    (group_name,) = [r for r in result.checks if r.check.id == "VALIDATION-GROUP-NAME"]
    assert group_name.outcome is Outcome.NOT_IMPLEMENTED
    assert "groupName" in result.edition.reason


def test_pinning_the_current_edition_on_a_seed_server_judges_it_and_it_fails() -> None:
    result, _ = run_against("seed-fastapi", 3, edition="current")
    failed = {r.check.id for r in result.checks if r.outcome is Outcome.FAILED}
    assert failed == {"VALIDATION-GROUP-NAME"}  # it ignores a group_name of any type
    assert result.edition.reason == "pinned with --edition current"
