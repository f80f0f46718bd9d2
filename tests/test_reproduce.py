"""From finding to fix: a finding's requests in order, the rerun line that is the run, one
cause for one bug, and the new user's path replayed end to end.

The new user's path: a server written apart from the suite (`tests/realistic`, the
conformant base) passes and its report becomes the baseline; the same server, now with a
merge bug (PostgreSQL's jsonb `||`, a top-level merge), is run against that baseline. The
comparison must come down to one regression whose reproduction, sent to the server from a
null-metadata start, shows the merge - and the conversation is put back afterwards.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from conformance.checks import answer_cause
from conformance.core import Sent
from conformance.engine._runner import _group_causes, _Observer
from conformance.jobs import load_run_report
from conformance.model import Exchange, Outcome
from conformance.model._results import CheckInfo, Level
from conformance.reports._common import reproduction_script

from .conftest import run_cli
from .realistic.servers import CONTROL, create
from .servers._serve import serve

MERGE_BUG = "jsonb-concat"


class Switch:
    """One address, the app behind it swapped: the server before and after the change."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def new_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The server passes (the baseline), then regresses: both runs' reports."""
    tmp = tmp_path_factory.mktemp("new-user")
    switch = Switch(create(CONTROL))
    with serve(switch) as server:
        key, ids = switch.app.state.accounts[0]
        env = {"AGENTPHONE_API_KEY": key}
        target = ("--base-url", server.base_url, "--conversation-id", ids[0], "--seed", "5")
        first = run_cli("run", *target, "--report-dir", str(tmp / "before"), env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        switch.app = create(MERGE_BUG)  # the deliberate bug, same address and data
        baseline = str(tmp / "before" / "report.json")
        args = ("run", *target, "--report-dir", str(tmp / "after"), "--baseline", baseline)
        second = run_cli(*args, env=env)
        yield {
            "server": server,
            "switch": switch,
            "env": env,
            "key": key,
            "conversation": ids[0],
            "tmp": tmp,
            "second": second,
            "baseline": baseline,
        }


def _comparison(tmp: Path) -> dict[str, Any]:
    return json.loads((tmp / "after" / "comparison.json").read_text(encoding="utf-8"))


def test_the_regression_comes_down_to_one_cause(new_user: dict[str, Any]) -> None:
    second = new_user["second"]
    assert second.returncode == 1, second.stdout + second.stderr
    comparison = _comparison(new_user["tmp"])
    assert comparison["summary"]["regression_causes"] == 1
    regressed = [c for c in comparison["changes"] if c["change"] == "regressed"]
    (lead,) = [c for c in regressed if not c["caused_by"]]
    assert all(c["caused_by"] == lead["check"] for c in regressed if c is not lead)
    assert "1 regression" in second.stdout
    # its way back: the rerun line and the requests in order, set-up first
    assert "--baseline" in lead["rerun"] and "--report-dir" in lead["rerun"]
    assert len(lead["reproduce"]) >= 2 and all(c.startswith("curl ") for c in lead["reproduce"])
    assert lead["assumes"]
    text = run_cli("diff", new_user["baseline"], str(new_user["tmp"] / "after" / "report.json"))
    assert text.returncode == 1
    assert lead["reproduce"][0] in text.stdout and f"# rerun: {lead['rerun']}" in text.stdout


def _metadata(new_user: dict[str, Any]) -> Any:
    url = f"{new_user['server'].base_url}/v1/conversations/{new_user['conversation']}"
    headers = {"Authorization": f"Bearer {new_user['key']}"}
    return httpx.get(url, headers=headers, timeout=10).json()["metadata"]


def _set_metadata(new_user: dict[str, Any], metadata: Any) -> None:
    url = f"{new_user['server'].base_url}/v1/conversations/{new_user['conversation']}"
    headers = {"Authorization": f"Bearer {new_user['key']}"}
    answer = httpx.patch(url, headers=headers, json={"metadata": metadata}, timeout=10)
    assert answer.status_code == 200


def test_its_reproduction_shows_the_bug_from_null_metadata(new_user: dict[str, Any]) -> None:
    comparison = _comparison(new_user["tmp"])
    lead = next(c for c in comparison["changes"] if c["change"] == "regressed")
    _set_metadata(new_user, None)
    report = str(new_user["tmp"] / "after" / "report.json")
    done = run_cli("reproduce", report, lead["check"], env=new_user["env"])
    assert done.returncode == 0, done.stdout + done.stderr
    answers = [x for x in done.stdout.splitlines() if x[:1].isdigit()]
    assert len(answers) == len(lead["reproduce"])
    held = [json.loads(answer.split(": metadata ", 1)[1]) for answer in answers]
    set_up = {key for metadata in held[:-1] if metadata for key in metadata}
    sent_last = json.loads(shlex.split(lead["reproduce"][-1])[-1])["metadata"]
    survivors = set(held[-1]) - set(sent_last)
    assert survivors and survivors <= set_up  # the set-up's members survived: a merge
    assert "last answer: the run's answer again" in done.stdout
    assert "restored:" in done.stdout and _metadata(new_user) is None  # put back


def test_the_same_reproduction_is_clean_on_the_conformant_server(
    new_user: dict[str, Any],
) -> None:
    lead = next(c for c in _comparison(new_user["tmp"])["changes"] if c["change"] == "regressed")
    switch = new_user["switch"]
    buggy, switch.app = switch.app, create(CONTROL)
    try:
        _set_metadata(new_user, None)
        report = str(new_user["tmp"] / "after" / "report.json")
        done = run_cli("reproduce", report, lead["check"], env=new_user["env"])
        assert done.returncode == 0, done.stderr
        answers = [x for x in done.stdout.splitlines() if x[:1].isdigit()]
        last = json.loads(answers[-1].split(": metadata ", 1)[1])
        assert last == json.loads(shlex.split(lead["reproduce"][-1])[-1])["metadata"]
        assert "last answer: the run's status (200), other metadata" in done.stdout
    finally:
        switch.app = buggy


def test_the_rerun_line_is_the_run(new_user: dict[str, Any]) -> None:
    """Every option that shaped the run is in its rerun line; run as printed, it writes
    where the run wrote and gates against the same baseline, to the same verdict."""
    after = new_user["tmp"] / "after"
    report = load_run_report(after / "report.json")
    words = shlex.split(report.rerun)
    assert words[:2] == ["agentphone-conformance", "run"]
    for option, value in [
        ("--report-dir", str(after)),
        ("--baseline", new_user["baseline"]),
        ("--seed", "5"),
        ("--base-url", new_user["server"].base_url),
        ("--conversation-id", new_user["conversation"]),
    ]:
        assert words[words.index(option) + 1] == value, option
    (after / "comparison.json").unlink()
    again = run_cli(*words[1:], env=new_user["env"])
    assert again.returncode == 1, again.stderr
    assert _comparison(new_user["tmp"])["summary"]["regression_causes"] == 1
    before = load_run_report(new_user["tmp"] / "before" / "report.json")
    assert before.exit_code == 0  # the baseline was read, not overwritten


def test_an_accepted_failure_accepts_its_cause(new_user: dict[str, Any], tmp_path: Path) -> None:
    comparison = _comparison(new_user["tmp"])
    lead = next(c for c in comparison["changes"] if c["change"] == "regressed")
    accepted = tmp_path / "accepted.json"
    entry = {"check": lead["check"], "reason": "ticket 7: the merge, fixed in 2.1"}
    accepted.write_text(json.dumps({"format": 1, "accepted": [entry]}), encoding="utf-8")
    done = run_cli("diff", str(accepted), str(new_user["tmp"] / "after" / "report.json"))
    assert done.returncode == 0, done.stdout
    assert "no regressions" in done.stdout and "the same cause as" in done.stdout


# --- the sequence in every report -----------------------------------------------------------


@pytest.fixture(scope="module")
def merge_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("merge")
    checks = ("META-REPLACE", "META-EMPTY-OBJECT", "ROUNDTRIP-METADATA")
    selected = [a for check in checks for a in ("--check", check)]
    fault = ("--emulator-fault", "semantics-merge-not-replace")
    done = run_cli("run", *fault, "--seed", "2", *selected, "--report-dir", str(out))
    assert done.returncode == 1, done.stderr
    return out


@pytest.mark.parametrize("check", ["META-REPLACE", "META-EMPTY-OBJECT", "ROUNDTRIP-METADATA"])
def test_a_finding_carries_its_set_up_in_every_report(merge_run: Path, check: str) -> None:
    report = load_run_report(merge_run / "report.json")
    result = next(r for r in report.checks if r.check.id == check)
    finding = result.findings[0]
    assert len(finding.reproduction) >= 2  # the set-up PATCH, then the trigger
    assert finding.reproduction[-1].curl == finding.exchange.curl  # ends with what failed
    script = reproduction_script(finding, check)
    assert script is not None
    # summary.md leads with one finding per cause: a check it explains is named there
    kinds = ("report.html", "junit.xml") + (() if result.caused_by else ("summary.md",))
    for kind in kinds:
        text = (merge_run / kind).read_text(encoding="utf-8")
        for exchange in finding.reproduction:
            assert _in(exchange.curl, text, kind), (check, kind)


def _in(curl: str, text: str, kind: str) -> bool:
    if kind == "report.html":
        from html import escape

        return escape(curl, quote=False) in text or escape(curl) in text
    if kind == "junit.xml":
        from xml.sax.saxutils import escape as xml_escape

        return xml_escape(curl) in text or curl in text
    return curl in text


def test_one_bug_leads_once_and_the_rest_follow(merge_run: Path) -> None:
    report = load_run_report(merge_run / "report.json")
    by_id = {r.check.id: r for r in report.checks}
    lead = by_id["META-REPLACE"]
    assert lead.outcome is Outcome.FAILED and not lead.caused_by
    assert set(lead.same_cause) == {"META-EMPTY-OBJECT", "ROUNDTRIP-METADATA"}
    for follower in lead.same_cause:
        assert by_id[follower].caused_by == "META-REPLACE" and "merges" in by_id[follower].cause
    summary = (merge_run / "summary.md").read_text(encoding="utf-8")
    assert "Also failed by the same cause" in summary


def _sent(body: str) -> Sent:
    exchange = Exchange(
        method="PATCH",
        url="http://127.0.0.1:9/v1/conversations/conv_1",
        request_headers={},
        request_body=body,
        status=415,
        response_headers={},
        response_body="",
        elapsed_ms=1.0,
        curl="curl -i -X PATCH http://127.0.0.1:9/v1/conversations/conv_1",
    )
    return Sent(httpx.Response(415), exchange, (), None, None)


def test_the_same_answer_judged_twice_is_one_finding_and_one_cause() -> None:
    """Two response checks that both fail an answer: one cause, the second check follows
    the first; the same answer seen twice is one finding, another request's is another."""
    checks = [
        SimpleNamespace(
            id=check_id,
            info=CheckInfo(check_id, "response", Level.REQUIRED, "r", "s"),
            response=lambda run, sent: "Undocumented status code: Received: 415",
        )
        for check_id in ("SHAPE-STATUS-DOCUMENTED", "SHAPE-CONTENT-TYPE")
    ]
    observer = _Observer(run=None, checks=checks)  # type: ignore[arg-type]
    observer.edition_judged()
    one, other = _sent('{"metadata": "x"}'), _sent('{"metadata": "y"}')
    for sent in (one, one, other):
        observer.judge(sent)
    results = observer.results()
    assert [len(r.findings) for r in results] == [2, 2]
    assert {f.cause for f in results[0].findings} == {
        answer_cause(one.exchange),
        answer_cause(other.exchange),
    }
    assert answer_cause(one.exchange) != answer_cause(other.exchange)
    assert '"x"' in answer_cause(one.exchange)
    _group_causes(results)
    assert results[1].caused_by == "SHAPE-STATUS-DOCUMENTED"
    assert results[0].same_cause == ("SHAPE-CONTENT-TYPE",)


def test_reproduce_says_in_one_line_when_the_target_is_gone_or_the_key_refused(
    merge_run: Path,
) -> None:
    report = str(merge_run / "report.json")
    gone = run_cli(
        *("reproduce", report, "META-REPLACE", "--base-url", "http://127.0.0.1:9"),
        env={"AGENTPHONE_API_KEY": "k"},
    )
    assert gone.returncode == 3 and "Traceback" not in gone.stderr
    assert gone.stderr.count("\n") == 1 and "unreachable" in gone.stderr
    with serve(create(CONTROL)) as server:
        refused = run_cli(
            *("reproduce", report, "META-REPLACE", "--base-url", server.base_url),
            env={"AGENTPHONE_API_KEY": "not-the-key"},
        )
    assert refused.returncode == 3 and "was refused (401)" in refused.stderr


def test_the_reproduce_hint_names_the_report_where_the_run_wrote_it(merge_run: Path) -> None:
    hint = f"agentphone-conformance reproduce {merge_run / 'report.json'} META-REPLACE"
    for kind in ("summary.md", "report.html", "junit.xml"):
        assert hint in (merge_run / kind).read_text(encoding="utf-8"), kind


def test_the_verdict_counts_causes_apart_from_what_else_changed() -> None:
    from conformance.model import Baseline, compare
    from conformance.reports import comparison_verdict

    from .test_reports import _check, _run

    def failed(check_id: str, caused_by: str = "") -> Any:
        result = _check(check_id, "metadata", Outcome.FAILED, reason="merged")
        result.caused_by = caused_by
        return result

    before = _run([_check("META-REPLACE", "metadata", Outcome.PASSED), failed("LIST-PAGES")])
    now = _run(
        [
            failed("META-REPLACE"),
            failed("META-EMPTY-OBJECT", "META-REPLACE"),
            failed("ROUNDTRIP-METADATA", "META-REPLACE"),
            failed("LIST-PAGES"),
        ]
    )
    headline = comparison_verdict(compare(Baseline("b.json", report=before), now)).headline
    assert headline == (
        "1 regression (3 checks failed by its cause); 1 still failing (accepted), 2 new check(s)"
    )
