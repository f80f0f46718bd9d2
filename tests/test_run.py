"""The conformance run end to end: against the conformant emulator, every fault, bad input."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import REGISTRY
from conformance.core import GivenOptions, resolve
from conformance.core._target import TargetSpec
from conformance.emulator import FAULTS, Emulator, Request, Response, seeded_state
from conformance.emulator._state import State
from conformance.engine import run
from conformance.jobs import Job, embedded_target, execute, run_options
from conformance.jobs._selftest import focus
from conformance.model._results import Outcome
from conformance.reports import load_report

from .conftest import BUSY, KEY_1, KEY_2, run_cli

ARRIVAL = "a message the conformance run made arrive"  # the body of the run's arrivals


def without_arrivals(state: State) -> State:
    """The emulator's state without the messages the webhook checks made arrive through
    its control route (everything else a run touches, it restores)."""
    for conversation in state.conversations.values():
        conversation.messages = [m for m in conversation.messages if m.body != ARRIVAL]
    return state


REPORT_FILES = ("junit.xml", "report.json", "summary.md", "report.html")
# How each report shows a run's seed (7), where a reader looks for it.
SEED_SHOWN = {
    "junit.xml": '<property name="seed" value="7" />',
    "report.json": '"seed": 7,',
    "summary.md": "**Seed:** `7`",
    "report.html": "<dt>Seed</dt><dd>7</dd>",
}


def _failed(result_checks: list) -> set[str]:  # type: ignore[type-arg]
    return {r.check.id for r in result_checks if r.outcome is Outcome.FAILED}


def test_a_fresh_run_against_the_embedded_emulator_exits_0_with_reports(tmp_path: Path) -> None:
    result = run_cli("run", "--report-dir", str(tmp_path), "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CONFORMANT" in result.stdout
    for name, seed_shown in SEED_SHOWN.items():
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert KEY_1 not in text and KEY_2 not in text, name
        assert seed_shown in text, name
    assert KEY_1 not in result.stdout + result.stderr
    report = load_report(tmp_path / "report.json")  # validates against the JSON Schema
    assert report.settings.seed == 7
    assert {r.check.id for r in report.checks} == set(REGISTRY)
    unjudged = {"HTTP-VALIDATORS-CHANGE"}  # the embedded emulator sends no ETag by default
    assert all(r.outcome is Outcome.PASSED for r in report.checks if r.check.id not in unjudged), [
        (r.check.id, r.reason) for r in report.checks if r.outcome is not Outcome.PASSED
    ]
    (validators,) = [r for r in report.checks if r.check.id in unjudged]
    assert validators.outcome is Outcome.NOT_APPLICABLE and "ETag" in validators.reason
    assert report.restore and all(r.restored for r in report.restore)


def test_a_run_leaves_nothing_of_hypothesis_in_the_working_directory(tmp_path: Path) -> None:
    """Hypothesis's caches go to the user's cache directory (or where
    HYPOTHESIS_STORAGE_DIRECTORY says), never into the checkout the suite runs in."""
    checkout, cache, chosen = tmp_path / "checkout", tmp_path / "cache", tmp_path / "chosen"
    checkout.mkdir()
    args = ("run", "--check", "ROUNDTRIP-METADATA", "--seed", "3", "--report-dir", "../r")
    result = run_cli(*args, cwd=checkout, env={"XDG_CACHE_HOME": str(cache)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(checkout.iterdir()) == []
    assert any((cache / "agentphone-conformance" / "hypothesis").iterdir())

    env = {"XDG_CACHE_HOME": str(tmp_path / "unused"), "HYPOTHESIS_STORAGE_DIRECTORY": str(chosen)}
    result = run_cli(*args, cwd=checkout, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(checkout.iterdir()) == []
    assert not (tmp_path / "unused").exists()


def test_the_conformant_emulator_ends_as_it_started() -> None:
    with Emulator() as emulator:
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=3)))
        assert result.exit_code == 0
        assert result.requests_sent > 100
        after = emulator.state
    # The webhook checks made messages arrive (the emulator's control route); take those
    # away and every conversation is as it was: restored, nothing created, nothing else moved.
    arrived = [m for c in after.conversations.values() for m in c.messages if m.body == ARRIVAL]
    assert len(arrived) >= 5  # three for the state check, the marker, one on account 2
    assert without_arrivals(after) == seeded_state()


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_caught_by_the_checks_it_names(fault: str) -> None:
    """As the self-test runs it (its checks, and the scenario checks that show it to them),
    on a seed of its own, and the emulator ends as it was seeded. `selftest --whole` runs each
    through the whole suite (so do the baseline, edition and pytest-plugin tests for some)."""
    given = GivenOptions(seed=11, strict=True, checks=focus(fault))
    with Emulator(faults=[fault]) as emulator:
        result = run(embedded_target(emulator), resolve(given))
        metadata_after = {cid: c.metadata for cid, c in emulator.state.conversations.items()}
    assert result.exit_code == 1
    missed = set(FAULTS[fault].trips) - _failed(result.checks)
    assert not missed, f"{fault} was not caught by {missed}"
    assert all(r.restored for r in result.restore), result.restore
    seeded = {cid: c.metadata for cid, c in seeded_state().conversations.items()}
    assert {cid: metadata_after[cid] for cid in seeded} == seeded


def test_advisory_failures_gate_only_with_strict() -> None:
    spec = TargetSpec(faults=("http-405-without-allow",))
    lenient, _ = execute(Job(spec, run_options(GivenOptions(seed=1))), None)
    strict, _ = execute(Job(spec, run_options(GivenOptions(seed=1, strict=True))), None)
    assert "HTTP-ALLOW-ON-405" in _failed(lenient.checks)
    assert (lenient.exit_code, strict.exit_code) == (0, 1)


def test_the_credential_never_reaches_a_report_even_when_echoed(tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--emulator-fault",
        "auth-echoes-credential",
        "--report-dir",
        str(tmp_path),
        "--seed",
        "1",
    )
    assert result.returncode == 1
    assert "AUTH-NO-CREDENTIAL-ECHO" in result.stdout
    for name in REPORT_FILES:
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert KEY_1 not in text and KEY_2 not in text, name
    assert KEY_1 not in result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    echo = next(c for c in report["checks"] if c["check"]["id"] == "AUTH-NO-CREDENTIAL-ECHO")
    curl = echo["findings"][0]["exchange"]["curl"]
    assert "${AGENTPHONE_API_KEY}" in curl or "${AGENTPHONE_SECOND_API_KEY}" in curl


def test_the_same_seed_sends_the_same_requests() -> None:
    def requests(seed: int) -> list[tuple[str, str, bytes]]:
        seen: list[tuple[str, str, bytes]] = []
        with Emulator() as emulator:
            handle = emulator.app.handle

            def recording(request: Request) -> Response:
                # the webhook receiver listens on a free port: the one difference allowed
                body = re.sub(rb"127\.0\.0\.1:\d+/webhook", b"RECEIVER", request.body)
                seen.append((request.method, request.path + "?" + request.query, body))
                return handle(request)

            emulator.app.handle = recording  # type: ignore[method-assign]
            run(embedded_target(emulator), resolve(GivenOptions(seed=seed)))
        return seen

    def apart(sent: list[tuple[str, str, bytes]]) -> tuple[list[Any], list[Any]]:
        """The requests in order, the consistency history's aside: sent at the same time,
        its writes are the same in any order and its readers read until the writes end."""
        start = next(i for i, r in enumerate(sent) if b'"write": "S-' in r[2])
        path = sent[start][1]
        end = next(
            i
            for i, (method, where, body) in enumerate(sent[start + 1 :], start + 1)
            if where != path or (method == "PATCH" and b'"conformance": "consistency"' not in body)
        )
        history = sent[start:end]
        writes = sorted(r for r in history if r[0] == "PATCH")
        return sent[:start] + sent[end:], writes

    first = requests(5)
    assert len(first) > 100
    assert apart(requests(5)) == apart(first)
    assert apart(requests(6)) != apart(first)


def test_read_only_sends_no_write(tmp_path: Path) -> None:
    with Emulator(faults=["auth-missing-key-accepted"]) as emulator:
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=1, read_only=True)))
        assert emulator.state == seeded_state()
    skipped = {r.check.id for r in result.checks if r.outcome is Outcome.SKIPPED}
    assert {"META-REPLACE", "ROUNDTRIP-METADATA", "AUTH-CROSS-TENANT-WRITE"} <= skipped
    assert "AUTH-MISSING-REJECTED" in _failed(result.checks)  # caught with GETs alone


def test_a_small_budget_skips_checks_instead_of_failing_them() -> None:
    result, _ = execute(Job(TargetSpec(), run_options(GivenOptions(seed=1, max_requests=60))), None)
    assert result.exit_code == 0
    skipped = [r for r in result.checks if r.outcome is Outcome.SKIPPED]
    assert skipped and all("budget" in r.reason for r in skipped)
    assert any("--max-requests" in note for note in result.notes)
    assert all(r.restored for r in result.restore)  # restores may go past the budget


def test_a_crashing_check_is_an_error_and_the_data_is_still_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = REGISTRY["META-REPLACE"]

    def crash(ctx: object) -> None:
        ctx.patch(BUSY, {"metadata": {"half": "done"}})  # type: ignore[attr-defined]
        raise RuntimeError("boom")

    monkeypatch.setitem(
        REGISTRY, "META-REPLACE", type(check)(check.info, scenario=crash, guards=check.guards)
    )
    with Emulator() as emulator:
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=1)))
        assert (
            emulator.state.conversations[BUSY].metadata
            == seeded_state().conversations[BUSY].metadata
        )
    crashed = next(r for r in result.checks if r.check.id == "META-REPLACE")
    assert crashed.outcome is Outcome.ERROR and "boom" in crashed.reason
    assert result.exit_code == 3  # a harness error is not the target's fault


def test_ctrl_c_restores_then_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    check = REGISTRY["META-NULL-CLEARS"]

    def interrupted(ctx: object) -> None:
        ctx.patch(BUSY, {"metadata": None})  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setitem(
        REGISTRY,
        "META-NULL-CLEARS",
        type(check)(check.info, scenario=interrupted, guards=check.guards),
    )
    with Emulator() as emulator:
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=1)))
        assert emulator.state == seeded_state()
    assert result.interrupted and result.exit_code == 130
    assert {r.check.id for r in result.checks} == set(REGISTRY)


def test_a_restore_the_target_refuses_is_loud_with_a_manual_fix() -> None:
    with Emulator(faults=["semantics-null-ignored"]) as emulator:
        emulator.state.conversations[BUSY].metadata = None  # null cannot be written back
        options = resolve(GivenOptions(seed=1, checks=("META-PERSISTED",)))
        result = run(embedded_target(emulator), options)
    (failed,) = result.restore_failed
    assert failed.conversation_id == BUSY and "RESTORE FAILED" in failed.message
    assert failed.original_metadata is None
    assert failed.manual_fix is not None
    assert '{"metadata": null}' in failed.manual_fix
    assert "${AGENTPHONE_API_KEY}" in failed.manual_fix and KEY_1 not in failed.manual_fix
    assert result.exit_code == 3  # nothing failed, but the run is not clean


# --- bad input: one line, a distinct exit code, no traceback ----------------------------------
def _one_line_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_unreachable_target_exits_3() -> None:
    result = run_cli(
        "run",
        "--base-url",
        "http://127.0.0.1:9",
        "--conversation-id",
        "conv_x",
        env={"AGENTPHONE_API_KEY": "k" * 20},
        timeout=60,
    )
    _one_line_error(result, 3, "unreachable")


@pytest.mark.parametrize(
    ("env", "conversation", "code", "needle"),
    [
        ({"AGENTPHONE_API_KEY": "ape_wrong_key_123456"}, BUSY, 3, "was refused (401)"),
        ({}, BUSY, 2, "AGENTPHONE_API_KEY is not set"),
        ({"AGENTPHONE_API_KEY": KEY_1}, "conv_missing", 3, "does not exist"),
    ],
    ids=["refused key", "missing key", "missing conversation"],
)
def test_an_unusable_external_target(
    env: dict[str, str], conversation: str, code: int, needle: str
) -> None:
    with Emulator() as emulator:
        result = run_cli(
            "run",
            "--base-url",
            emulator.base_url,
            "--conversation-id",
            conversation,
            env=env,
            timeout=60,
        )
    _one_line_error(result, code, needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--base-url", "not a url", "--conversation-id", "c"), "malformed target URL"),
        (("--base-url", "ftp://example.com", "--conversation-id", "c"), "malformed target URL"),
        (("--base-url", "https://api.agentphone.ai/v1", "--conversation-id", "c"), "ends with /v1"),
        (("--base-url", "http://127.0.0.1:99999", "--conversation-id", "c"), "bad port"),
        (
            (
                "--base-url",
                "https://api.agentphone.ai",
            ),
            "no conversation to test",
        ),
        (("--emulator-fault", "nope"), "unknown fault"),
        (("--check", "NOPE"), "unknown check"),
        (("--max-requests", "0"), "max-requests must be at least 1"),
        (("--target", "/nonexistent.toml"), "does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...], needle: str) -> None:
    _one_line_error(run_cli("run", *args, env={"AGENTPHONE_API_KEY": "k" * 20}), 2, needle)


def test_an_external_run_against_the_emulator_with_a_target_file(tmp_path: Path) -> None:
    with Emulator(faults=["semantics-null-ignored"]) as emulator:
        first, second = emulator.describe()["accounts"]
        target = tmp_path / "vendor.toml"
        target.write_text(
            f'name = "vendor-x"\nbase_url = "{emulator.base_url}"\n'
            f'api_key_env = "VENDOR_KEY"\n'
            f"conversation_ids = {json.dumps(first['conversation_ids'])}\n"
            f'[second_account]\napi_key_env = "VENDOR_KEY_2"\n'
            f"conversation_ids = {json.dumps(second['conversation_ids'])}\n"
            '[settings]\nseed = 4\nprofile = "quick"\n',
            encoding="utf-8",
        )
        result = run_cli(
            "run",
            "--target",
            str(target),
            "--report-dir",
            str(tmp_path / "out"),
            env={"VENDOR_KEY": first["api_key"], "VENDOR_KEY_2": second["api_key"]},
        )
        assert (
            emulator.state.conversations[BUSY].metadata
            == seeded_state().conversations[BUSY].metadata
        )
    assert result.returncode == 1
    report = load_report(tmp_path / "out" / "report.json")
    assert report.target.name == "vendor-x" and report.settings.seed == 4
    assert report.target.second_account
    assert "META-NULL-CLEARS" in _failed(report.checks)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert first["api_key"] not in summary and "${VENDOR_KEY}" in summary


def test_without_a_second_account_cross_tenant_checks_are_not_applicable() -> None:
    with Emulator() as emulator:
        target = embedded_target(emulator)
        alone = type(target)(target.name, target.base_url, target.primary)
        result = run(alone, resolve(GivenOptions(seed=1)))
    outcomes = {r.check.id: r.outcome for r in result.checks}
    assert outcomes["AUTH-CROSS-TENANT-READ"] is Outcome.NOT_APPLICABLE
    assert outcomes["AUTH-CROSS-TENANT-WRITE"] is Outcome.NOT_APPLICABLE
    assert result.exit_code == 0


def test_a_rate_limited_target_is_backed_off_and_never_blamed() -> None:
    with Emulator(throttle_every=9) as emulator:
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=1)))
        assert without_arrivals(emulator.state) == seeded_state()
    assert result.exit_code == 0, [(r.check.id, r.reason) for r in result.checks if r.reason]
    assert any("429" in note for note in result.notes)


def test_sigint_mid_run_restores_writes_reports_and_exits_130(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--emulator-fault",
            "robust-slow",
            "--report-dir",
            str(tmp_path),
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # progress lines: one per step when not a terminal
            if "META-" in line:
                break
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    report = load_report(tmp_path / "report.json")
    assert report.interrupted
    assert report.restore and all(r.restored for r in report.restore)
    assert any(r.reason == "not run: interrupted" for r in report.checks)


def test_a_finding_about_a_later_get_shows_that_get_in_every_report(tmp_path: Path) -> None:
    only = run_options(GivenOptions(seed=1, checks=("META-PERSISTED",)))
    job = Job(TargetSpec(faults=("semantics-not-persisted",)), only)
    execute(job, tmp_path)
    report = load_report(tmp_path / "report.json")
    (persisted,) = report.checks
    (later_get,) = persisted.findings  # the PATCH answered the new value: no finding there
    assert later_get.message.startswith("a later GET: the metadata ")
    assert later_get.exchange is not None
    assert later_get.exchange.method == "GET" and later_get.exchange.request_body is None
    assert later_get.exchange.curl.startswith("curl -i -X GET ")
    stale = json.loads(later_get.exchange.response_body or "")["metadata"]
    assert stale == seeded_state().conversations[BUSY].metadata  # the GET shows the old value
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    for text in (page, summary):
        assert "curl -i -X GET" in text


def test_a_bad_option_is_one_error_line_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for args in (
        ("run", "--profile", "bad"),
        ("run", "--report-dir", str(tmp_path / "file")),
        ("nosuch",),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "--help" in lines[0], lines


def test_a_check_id_in_another_letter_case_is_the_check() -> None:
    options = run_options(GivenOptions(seed=1, checks=("meta-replace",)))
    assert options.checks == ("META-REPLACE",)
