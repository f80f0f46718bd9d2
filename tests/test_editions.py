"""Contract editions: the fragment's marks, the judged edition, not-implemented, and a
failure's replay (confirmed or flaky)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.checks import REGISTRY, Snapshot
from conformance.checks.generated import seed_invalid
from conformance.core import GivenOptions, TargetSpec, load_spec
from conformance.core._spec import EDITION_KEY, later_members
from conformance.engine import run
from conformance.engine._snapshot import judge_edition
from conformance.jobs import Job, embedded_target, execute, run_options
from conformance.model import Confirmation, Edition, Outcome
from conformance.reports import load_report

from .conftest import run_cli

GROUP_NAME = "VALIDATION-GROUP-NAME"


def _marked(node: Any) -> list[Any]:
    if isinstance(node, dict):
        found = [node] if node.get(EDITION_KEY) == "current" else []
        return found + [m for value in node.values() for m in _marked(value)]
    if isinstance(node, list):
        return [m for item in node for m in _marked(item)]
    return []


def test_the_seed_edition_is_the_fragment_without_its_later_additions() -> None:
    current, seed = load_spec(Edition.CURRENT), load_spec(Edition.SEED)
    assert len(_marked(current)) >= 14 and _marked(seed) == []
    schemas = seed["components"]["schemas"]
    assert "group_name" not in schemas["UpdateConversationRequest"]["properties"]
    assert "groupName" not in schemas["Conversation"]["properties"]
    assert {"isGroup", "groupName", "participants"} <= later_members("Conversation")
    assert later_members("UpdateConversationRequest") == {"group_name"}
    # every seed-page member survives
    assert set(schemas["Conversation"]["required"]) <= set(schemas["Conversation"]["properties"])


@pytest.mark.parametrize(
    ("asked", "answers", "edition", "because"),
    [
        ("auto", [{"metadata": None, "groupName": None}], Edition.CURRENT, "carry groupName"),
        ("auto", [{"metadata": None, "isGroup": False}], Edition.SEED, "carry no groupName"),
        ("seed", [{"metadata": None, "groupName": "x"}], Edition.SEED, "pinned"),
        ("current", [{"metadata": None}], Edition.CURRENT, "pinned"),
    ],
)
def test_the_edition_judged_is_the_one_asked_for_or_the_one_the_answers_show(
    asked: str, answers: list[dict[str, Any]], edition: Edition, because: str
) -> None:
    snapshot = Snapshot({("KEY", f"conv_{i}"): body for i, body in enumerate(answers)})
    judged = judge_edition(asked, snapshot)
    assert judged.edition is edition and because in judged.reason


def test_a_body_is_invalid_in_the_seed_edition_only_for_its_metadata() -> None:
    assert seed_invalid([]) and seed_invalid({"metadata": 5})
    assert not seed_invalid({"metadata": None, "group_name": 5})  # the current edition's
    assert not seed_invalid({"unknown": [1]})  # the server's call


def test_the_seed_emulator_is_conformant_and_later_checks_are_not_implemented(
    tmp_path: Path,
) -> None:
    job = Job(TargetSpec(emulator_edition="seed"), run_options(GivenOptions(seed=5)))
    result, _ = execute(job, tmp_path)
    assert result.exit_code == 0 and result.edition.edition is Edition.SEED
    group = next(r for r in result.checks if r.check.id == GROUP_NAME)
    assert group.outcome is Outcome.NOT_IMPLEMENTED and not group.gates(strict=True)
    assert result.count(Outcome.NOT_IMPLEMENTED) == 1
    report = load_report(tmp_path / "report.json")  # schema-valid
    assert report.edition == result.edition
    assert report.to_dict()["summary"]["not-implemented"] == 1
    junit = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert '<property name="edition" value="seed" />' in junit
    assert "not implemented (a later edition" in junit
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "**Edition judged:** seed (auto: its answers carry no groupName" in summary
    assert "⬜ not implemented" in summary
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<dt>Edition judged</dt><dd>seed (auto:" in page


def test_a_fault_of_the_current_edition_is_caught_there_and_invisible_in_the_seed_one() -> None:
    fault = "validation-group-name-unchecked"
    current, _ = execute(Job(TargetSpec(faults=(fault,)), run_options(GivenOptions(seed=2))), None)
    failed = [r for r in current.checks if r.outcome is Outcome.FAILED]
    assert [r.check.id for r in failed] == [GROUP_NAME]
    assert failed[0].confirmation is Confirmation.CONFIRMED
    pinned = run_options(GivenOptions(seed=2, edition="seed"))
    seed, _ = execute(Job(TargetSpec(faults=(fault,)), pinned), None)
    assert seed.exit_code == 0 and seed.edition.reason == "pinned with --edition seed"


def test_edition_is_a_run_option_from_the_command_line_and_a_target_file(tmp_path: Path) -> None:
    target = tmp_path / "seed.toml"
    target.write_text('name = "seed"\n[emulator]\nedition = "seed"\n[settings]\nedition = "seed"\n')
    done = run_cli("run", "--target", str(target), "--seed", "1", "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "edition judged: seed (pinned with --edition seed)" in done.stdout
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["settings"]["edition"] == "seed" and data["target"]["emulator_edition"] == "seed"
    bad = run_cli("run", "--edition", "latest")
    assert bad.returncode == 2 and "latest" in bad.stderr


class _Faulty(httpx.BaseTransport):
    """The emulator's handler, in process, with a fault that can be switched off."""

    def __init__(self, app: Any, fault: str) -> None:
        self.app, self.fault = app, fault
        self.on = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        from conformance.emulator import Request

        self.app.faults = frozenset({self.fault}) if self.on else frozenset()
        answer = self.app.handle(
            Request(
                request.method,
                request.url.path,
                request.url.query.decode(),
                dict(request.headers),
                request.content,
            )
        )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)


@pytest.mark.parametrize("fixed_before_the_replay", [False, True])
def test_a_failure_is_replayed_confirmed_or_flaky_and_fails_the_gate_either_way(
    monkeypatch: pytest.MonkeyPatch, fixed_before_the_replay: bool
) -> None:
    from conformance.emulator import Emulator
    from conformance.engine import _runner

    replay_all = _runner.replay_all

    def replay(context: Any, failures: Any) -> Any:
        transport.on = not fixed_before_the_replay
        return replay_all(context, failures)

    monkeypatch.setattr(_runner, "replay_all", replay)
    with Emulator() as emulator:
        transport = _Faulty(emulator.app, "semantics-null-ignored")
        options = run_options(GivenOptions(seed=4, checks=("META-NULL-CLEARS",)))
        result = run(embedded_target(emulator), options, transport=transport)
    (checked,) = result.checks
    expected = Confirmation.FLAKY if fixed_before_the_replay else Confirmation.CONFIRMED
    assert checked.outcome is Outcome.FAILED and checked.confirmation is expected
    assert result.exit_code == 1


def test_every_check_knows_its_edition() -> None:
    later = {check.id for check in REGISTRY.values() if check.info.edition is Edition.CURRENT}
    assert later == {GROUP_NAME}
