"""Regression runs: `run --baseline FILE` and `diff OLD NEW`, against real runs of the
embedded emulator with and without faults.

The baseline is a faulty emulator (FAULT_A); a run with the same fault is still failing
(exit 0), a conformant run fixed it (exit 0), a run with another fault (FAULT_B) regressed
(exit 1). Accepted-failures files gate the same way, with reasons, targets and expiry.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance.core import GivenOptions
from conformance.core._errors import HarnessError
from conformance.core._target import TargetSpec
from conformance.emulator import FAULTS
from conformance.jobs import Job, execute, run_options
from conformance.jobs._baseline import (
    accepted_failures_schema,
    load_baseline,
    load_run_report,
    parse_accepted_failures,
)
from conformance.model import Baseline, Change, Comparison, Outcome, RunResult, compare, run_date
from conformance.reports import (
    COMPARISON_FILE,
    comparison_schema,
    render_comparison_text,
    render_summary_markdown,
    write_reports,
)

from .conftest import run_cli

FAULT_A = "semantics-null-ignored"  # fails META-NULL-CLEARS and ROUNDTRIP-METADATA
FAULT_B = "semantics-empty-becomes-null"  # fails META-EMPTY-OBJECT and ROUNDTRIP-METADATA
ADVISORY_FAULT = "auth-no-www-authenticate"  # fails AUTH-WWW-AUTHENTICATE (advisory)
NULL_CLEARS = "META-NULL-CLEARS"
EMPTY_OBJECT = "META-EMPTY-OBJECT"
ROUNDTRIP = "ROUNDTRIP-METADATA"
WWW_AUTH = "AUTH-WWW-AUTHENTICATE"
EXAMPLE = Path(__file__).parent.parent / "examples" / "accepted-failures.json"


def _run(directory: Path, *faults: str, baseline: Baseline | None = None) -> RunResult:
    result, _ = execute(
        Job(TargetSpec(faults=faults), run_options(GivenOptions(seed=1))),
        directory,
        baseline=baseline,
    )
    return result


def _failed(result: RunResult) -> set[str]:
    return {r.check.id for r in result.checks if r.outcome is Outcome.FAILED}


def _ids(changes: list[Any]) -> set[str]:
    return {c.check for c in changes}


def _accepted_file(path: Path, *entries: dict[str, Any], **top: Any) -> Path:
    path.write_text(
        json.dumps({"format": 1, "description": "test", "accepted": list(entries), **top}),
        encoding="utf-8",
    )
    return path


def _one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """report.json of real runs: FAULT_A (the baseline), clean, FAULT_B, the advisory fault."""
    root = tmp_path_factory.mktemp("runs")
    runs = {"a": (FAULT_A,), "clean": (), "b": (FAULT_B,), "advisory": (ADVISORY_FAULT,)}
    paths = {}
    for name, faults in runs.items():
        _run(root / name, *faults)
        paths[name] = root / name / "report.json"
    return paths


@pytest.fixture(scope="module")
def baseline_a(reports: dict[str, Path]) -> Baseline:
    return load_baseline(reports["a"])


# --- a report as the baseline ------------------------------------------------------------


def test_the_faults_fail_what_the_tests_expect(reports: dict[str, Path]) -> None:
    assert NULL_CLEARS in FAULTS[FAULT_A].trips and EMPTY_OBJECT in FAULTS[FAULT_B].trips
    assert _failed(load_run_report(reports["a"])) == {NULL_CLEARS, ROUNDTRIP}
    assert _failed(load_run_report(reports["b"])) == {EMPTY_OBJECT, ROUNDTRIP}
    assert _failed(load_run_report(reports["clean"])) == set()
    assert _failed(load_run_report(reports["advisory"])) == {WWW_AUTH}


def test_same_fault_again_is_still_failing_and_passes_the_gate(
    baseline_a: Baseline, tmp_path: Path
) -> None:
    result = _run(tmp_path, FAULT_A, baseline=baseline_a)
    assert result.exit_code == 1  # the run's own gate is untouched
    comparison = compare(baseline_a, result)
    assert comparison.exit_code == 0
    assert _ids(comparison.still_failing) == {NULL_CLEARS, ROUNDTRIP}
    assert not comparison.regressions and not comparison.fixed and not comparison.new_checks
    for change in comparison.still_failing:
        assert (change.before, change.after) == ("failed", "failed")
        assert change.accepted_reason == "failed in the baseline run"
    text = render_comparison_text(comparison)
    assert "still failing" in text and "accepted: failed in the baseline run" in text
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ✅ Changes since baseline: no regressions")
    # junit.xml follows the gate with the baseline: accepted failures are not <failure>s
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    out = cases[NULL_CLEARS].find("system-out")
    assert out is not None and (out.text or "").startswith("ACCEPTED FAILURE")
    assert cases[NULL_CLEARS].find("failure") is None


def test_a_conformant_run_fixed_the_baseline_failures(
    baseline_a: Baseline, reports: dict[str, Path]
) -> None:
    comparison = compare(baseline_a, load_run_report(reports["clean"]))
    assert comparison.exit_code == 0
    assert _ids(comparison.fixed) == {NULL_CLEARS, ROUNDTRIP}
    assert {(c.before, c.after) for c in comparison.fixed} == {("failed", "passed")}
    assert not comparison.regressions and not comparison.still_failing


def test_another_fault_is_a_regression(baseline_a: Baseline, tmp_path: Path) -> None:
    result = _run(tmp_path, FAULT_B, baseline=baseline_a)
    comparison = compare(baseline_a, result)
    assert comparison.exit_code == 1
    assert _ids(comparison.regressions) == {EMPTY_OBJECT}
    assert _ids(comparison.fixed) == {NULL_CLEARS}
    assert _ids(comparison.still_failing) == {ROUNDTRIP}
    (regression,) = comparison.regressions
    assert (regression.before, regression.after, regression.level) == (
        "passed",
        "failed",
        "required",
    )
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    lines = summary.splitlines()
    assert lines[0] == (
        "## ❌ Changes since baseline: 1 regression (1 fixed, 1 still failing (accepted))"
    )
    # the changes lead, in order, before the run's own report
    order = [summary.index(f"### {s}") for s in ("❌ Regressions", "✅ Fixed", "🔁 Still failing")]
    assert order == sorted(order)
    assert order[-1] < summary.index("## ❌ 2 required checks failed")
    assert summary.index(f"`{EMPTY_OBJECT}`") < summary.index("### ✅ Fixed")
    # comparison.json beside report.json, valid against its schema; report.json unchanged
    data = json.loads((tmp_path / COMPARISON_FILE).read_text(encoding="utf-8"))
    Draft202012Validator(comparison_schema()).validate(data)
    assert data["exit_code"] == 1 and data["summary"]["regressed"] == 1
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["exit_code"] == 1
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_errors_skips_and_absent_checks_are_not_run_never_fixed(
    baseline_a: Baseline, reports: dict[str, Path], tmp_path: Path
) -> None:
    clean = load_run_report(reports["clean"])
    checks = []
    for r in clean.checks:
        if r.check.id == NULL_CLEARS:
            r = replace(r, outcome=Outcome.ERROR, reason="connection reset")
        elif r.check.id == ROUNDTRIP:
            r = replace(r, outcome=Outcome.SKIPPED, reason="read-only run")
        checks.append(r)
    comparison = compare(baseline_a, replace(clean, checks=checks))
    assert not comparison.fixed
    assert {(c.check, c.after) for c in comparison.not_run} == {
        (NULL_CLEARS, "error"),
        (ROUNDTRIP, "skipped"),
    }
    assert comparison.exit_code == 3  # nothing regressed, but a check errored
    # a real run of one check: the other baseline failure is absent, not fixed
    only_one = Job(TargetSpec(), run_options(GivenOptions(seed=1, checks=(NULL_CLEARS,))))
    only = execute(only_one, tmp_path)[0]
    comparison = compare(baseline_a, only)
    assert _ids(comparison.fixed) == {NULL_CLEARS}
    (absent,) = comparison.not_run
    assert (absent.check, absent.after, absent.detail) == (ROUNDTRIP, None, "not in this run")
    assert comparison.exit_code == 0
    assert any("not in this run" in note for note in comparison.notes)


def test_checks_new_since_the_baseline_are_listed_and_gate_when_they_fail(
    tmp_path: Path,
) -> None:
    one = GivenOptions(seed=1, checks=(NULL_CLEARS,))
    old = execute(Job(TargetSpec(faults=(FAULT_A,)), run_options(one)), None)[0]
    baseline = Baseline(source="old.json", report=old)
    comparison = compare(baseline, _run(tmp_path, FAULT_A))
    new = comparison.new_checks
    assert len(new) == len(load_run_report(tmp_path / "report.json").checks) - 1
    assert NULL_CLEARS not in _ids(new)
    assert _ids(comparison.still_failing) == {NULL_CLEARS}
    (regression,) = comparison.regressions  # new, and failing: not in the baseline
    assert regression.check == ROUNDTRIP and regression.new and regression.before is None
    assert comparison.exit_code == 1
    assert "new check" in render_comparison_text(comparison)


def test_advisory_failures_are_warnings_unless_strict(
    reports: dict[str, Path],
) -> None:
    baseline = load_baseline(reports["clean"])
    comparison = compare(baseline, load_run_report(reports["advisory"]))
    assert _ids(comparison.warnings) == {WWW_AUTH} and comparison.exit_code == 0
    strict = compare(baseline, load_run_report(reports["advisory"]), strict=True)
    assert _ids(strict.regressions) == {WWW_AUTH} and strict.exit_code == 1


# --- an accepted-failures file as the baseline ------------------------------------------


def test_accepted_failures_gate_like_a_report(reports: dict[str, Path], tmp_path: Path) -> None:
    path = _accepted_file(
        tmp_path / "accepted.json",
        {"check": NULL_CLEARS, "reason": "vendor ticket #123: null ignored until v2"},
        {"check": ROUNDTRIP, "reason": "same root cause as #123", "expires": "2999-12-31"},
    )
    baseline = load_baseline(path)
    assert baseline.kind == "accepted-failures"
    result = _run(tmp_path / "run", FAULT_A, baseline=baseline)
    comparison = compare(baseline, result)
    assert comparison.exit_code == 0
    reasons = {c.check: c.accepted_reason for c in comparison.still_failing}
    assert reasons == {
        NULL_CLEARS: "vendor ticket #123: null ignored until v2",
        ROUNDTRIP: "same root cause as #123",
    }
    assert {c.before for c in comparison.still_failing} == {"accepted"}
    assert "accepted: vendor ticket #123: null ignored until v2" in render_comparison_text(
        comparison
    )
    summary = (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ✅ Changes since baseline")
    assert "vendor ticket \\#123" in summary or "vendor ticket #123" in summary
    # no "new checks" from a list of failures; a fixed entry says to remove it
    fixed = compare(baseline, load_run_report(reports["clean"]))
    assert not fixed.new_checks and _ids(fixed.fixed) == {NULL_CLEARS, ROUNDTRIP}
    assert "remove the entry" in render_comparison_text(fixed)
    # a failure the file does not accept regresses
    other = compare(baseline, load_run_report(reports["b"]))
    assert _ids(other.regressions) == {EMPTY_OBJECT} and other.exit_code == 1


def test_an_expired_acceptance_gates_again(reports: dict[str, Path], tmp_path: Path) -> None:
    result = load_run_report(reports["a"])
    day = run_date(result)
    entries = (
        {"check": NULL_CLEARS, "reason": "ticket #1", "expires": day.isoformat()},
        {"check": ROUNDTRIP, "reason": "ticket #2", "expires": (day - timedelta(1)).isoformat()},
    )
    baseline = load_baseline(_accepted_file(tmp_path / "a.json", *entries))
    comparison = compare(baseline, result)
    assert _ids(comparison.still_failing) == {NULL_CLEARS}  # expires today: still holds
    (expired,) = comparison.regressions
    assert expired.check == ROUNDTRIP and expired.expired
    assert comparison.exit_code == 1
    assert "acceptance expired" in render_comparison_text(comparison)
    assert any("expired" in note for note in comparison.notes)
    later = compare(baseline, result, on=day + timedelta(1))
    assert _ids(later.regressions) == {NULL_CLEARS, ROUNDTRIP}


def test_an_entry_for_another_target_does_not_apply(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    result = load_run_report(reports["a"])
    baseline = load_baseline(
        _accepted_file(
            tmp_path / "a.json",
            {"check": NULL_CLEARS, "reason": "staging only", "target": "https://staging.*"},
            {"check": NULL_CLEARS, "reason": "the emulator", "target": "embedded*"},
            {"check": ROUNDTRIP, "reason": "staging only", "target": "https://staging.*"},
        )
    )
    comparison = compare(baseline, result)
    assert {c.check: c.accepted_reason for c in comparison.still_failing} == {
        NULL_CLEARS: "the emulator"
    }
    assert _ids(comparison.regressions) == {ROUNDTRIP}
    assert any("other targets" in note for note in comparison.notes)


def test_the_example_file_is_valid_and_loads() -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(accepted_failures_schema())
    Draft202012Validator(
        accepted_failures_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    baseline = load_baseline(EXAMPLE)
    assert baseline.accepted and all(entry.reason.strip() for entry in baseline.accepted)
    assert baseline.description


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"format": 1, "accepted": [{"check": NULL_CLEARS}]}, "has no reason"),
        ({"format": 1, "accepted": [{"check": NULL_CLEARS, "reason": " "}]}, "blank reason"),
        ({"format": 2, "accepted": []}, "accepted-failures format 2"),
        ({"accepted": []}, "'format' is a required property"),
        ({"format": 1, "accepted": [{"check": "null-clears", "reason": "x"}]}, "not a check ID"),
        (
            {"format": 1, "accepted": [{"check": NULL_CLEARS, "reason": "x", "expires": "soon"}]},
            "is not a 'date'",
        ),
        (
            {
                "format": 1,
                "accepted": [{"check": "A", "reason": "x"}, {"check": "A", "reason": "y"}],
            },
            "repeats A",
        ),
    ],
)
def test_bad_accepted_files_are_rejected(data: Any, needle: str) -> None:
    with pytest.raises(HarnessError) as caught:
        parse_accepted_failures(data, "bad.json")
    assert needle in caught.value.message
    assert int(caught.value.code) == 2


# --- the CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"format": 1, "accepted": [{"check": "META-NULL-CLEARS"}]}', "has no reason"),
        ('{"format": 1, "accepted": [', "is not UTF-8 JSON"),
        ('{"format": 7, "accepted": []}', "accepted-failures format 7"),
        ('{"checks": []}', "not an agentphone-conformance report"),
        ("[]", "neither a report.json nor an accepted-failures file"),
        (None, "not found"),
    ],
)
def test_run_rejects_a_bad_baseline_in_one_line(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli("run", "--report-dir", str(tmp_path / "out"), "--baseline", str(path))
    _one_line_error(result, needle)
    assert not (tmp_path / "out").exists()  # rejected before the run


def test_run_with_a_baseline_uses_the_comparisons_exit_code(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    same = run_cli(
        "run", "--emulator-fault", FAULT_A, "--seed", "1", "--report-dir", str(tmp_path / "same"),
        "--baseline", str(reports["a"]),
    )  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    assert f"still failing {NULL_CLEARS}" in same.stdout
    assert same.stdout.rstrip().splitlines()[-1].startswith("✅ since the baseline")
    assert (tmp_path / "same" / COMPARISON_FILE).is_file()
    worse = run_cli(
        "run", "--emulator-fault", FAULT_B, "--seed", "1", "--report-dir", str(tmp_path / "worse"),
        "--baseline", str(reports["a"]),
    )  # fmt: skip
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert f"regressed {EMPTY_OBJECT}" in worse.stdout
    assert f"fixed {NULL_CLEARS}" in worse.stdout
    summary = (tmp_path / "worse" / "summary.md").read_text(encoding="utf-8")
    assert summary.splitlines()[0].startswith("## ❌ Changes since baseline: 1 regression")


def test_diff_prints_the_comparison_and_exits_1_on_a_regression(
    reports: dict[str, Path],
) -> None:
    worse = run_cli("diff", str(reports["a"]), str(reports["b"]))
    assert worse.returncode == 1, worse.stdout + worse.stderr
    lines = worse.stdout.splitlines()
    assert lines[0].startswith(f"Compared with baseline {reports['a']}")
    assert any(line.split()[:2] == ["regressed", EMPTY_OBJECT] for line in lines)
    assert any(line.split()[:2] == ["fixed", NULL_CLEARS] for line in lines)
    assert any(line.split()[:3] == ["still", "failing", ROUNDTRIP] for line in lines)
    assert lines[-1].startswith("❌ since the baseline: 1 regression")
    better = run_cli("diff", str(reports["a"]), str(reports["clean"]))
    assert better.returncode == 0, better.stdout + better.stderr
    assert "no regressions (2 fixed)" in better.stdout
    same = run_cli("diff", str(reports["a"]), str(reports["a"]), "--format", "markdown")
    assert same.returncode == 0
    assert same.stdout.startswith("## ✅ Changes since baseline: no regressions")
    as_json = run_cli("diff", str(reports["a"]), str(reports["b"]), "--format", "json")
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    Draft202012Validator(comparison_schema()).validate(data)
    assert [c["check"] for c in data["changes"] if c["change"] == "regressed"] == [EMPTY_OBJECT]
    strict = run_cli("diff", str(reports["clean"]), str(reports["advisory"]), "--strict")
    assert strict.returncode == 1 and WWW_AUTH in strict.stdout


def test_diff_accepts_an_accepted_failures_file_and_rejects_bad_input(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    accepted = _accepted_file(
        tmp_path / "accepted.json",
        {"check": NULL_CLEARS, "reason": "ticket #1"},
        {"check": ROUNDTRIP, "reason": "ticket #1"},
    )
    ok = run_cli("diff", str(accepted), str(reports["a"]))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "accepted: ticket #1" in ok.stdout
    _one_line_error(run_cli("diff", str(reports["a"]), str(accepted)), "not an agentphone")
    _one_line_error(run_cli("diff", str(reports["a"]), str(tmp_path / "no.json")), "not found")
    _one_line_error(run_cli("diff", str(tmp_path), str(reports["a"])), "is a directory")


# --- the writers --------------------------------------------------------------------------


def test_without_a_baseline_the_reports_are_as_before(
    reports: dict[str, Path], baseline_a: Baseline, tmp_path: Path
) -> None:
    result = load_run_report(reports["b"])
    comparison = compare(baseline_a, result)
    assert not render_summary_markdown(result).startswith("## ❌ Changes since baseline")
    assert render_summary_markdown(result, comparison).endswith(render_summary_markdown(result))
    write_reports(result, tmp_path, comparison=comparison)
    assert (tmp_path / COMPARISON_FILE).is_file()
    written = write_reports(result, tmp_path)  # a later run without a baseline
    assert "comparison" not in written and not (tmp_path / COMPARISON_FILE).exists()


def test_secrets_are_scrubbed_from_the_comparison(reports: dict[str, Path], tmp_path: Path) -> None:
    secret = "sk_live_hunter2"
    baseline = parse_accepted_failures(
        {"format": 1, "accepted": [{"check": NULL_CLEARS, "reason": f"key {secret} leaked"}]},
        "accepted.json",
    )
    comparison: Comparison = compare(baseline, load_run_report(reports["a"]))
    assert secret in render_comparison_text(comparison)
    written = write_reports(load_run_report(reports["a"]), tmp_path, [secret], comparison)
    for path in written.values():
        assert secret not in path.read_text(encoding="utf-8"), path.name


def test_expiry_is_judged_on_the_day_the_run_started(reports: dict[str, Path]) -> None:
    result = load_run_report(reports["a"])
    assert run_date(result) == date.fromisoformat(result.started_at[:10])
    baseline = Baseline(source="x", accepted=())
    assert compare(baseline, result).exit_code == 1  # nothing accepted: both failures gate
    assert {c.change for c in compare(baseline, result).changes} == {Change.REGRESSED}
