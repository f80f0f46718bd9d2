"""One tool against one target: a freshly started in-process emulator with the target's
fault, the tool as a subprocess, the emulator's state compared with the seed, and the
tool's own report judged."""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from conformance.checks import same_json
from conformance.emulator import FAULTS, Emulator, State, seeded_state

from . import schemathesis_cli, trigger
from .process import BIN, Completed, clean_env, read_json, run_logged
from .rows import ToolRun
from .settings import CONFORMANT, Settings, Tool

_OURS = BIN / "agentphone-conformance"
_TRIGGER = Path(trigger.__file__).resolve()
_LOOPBACK_URL = "http://127.0.0.1:"


@dataclass(frozen=True)
class _Seeded:
    """What a fresh emulator serves: its URL, and the seeded accounts' keys and ids."""

    base_url: str
    key_1: str
    key_2: str
    conversations_1: tuple[str, ...]  # account 1's: the busy one first
    conversations_2: tuple[str, ...]  # account 2's

    @classmethod
    def of(cls, emulator: Emulator) -> _Seeded:
        described = emulator.describe()
        first, second = described["accounts"]
        return cls(
            base_url=described["base_url"],
            key_1=first["api_key"],
            key_2=second["api_key"],
            conversations_1=tuple(first["conversation_ids"]),
            conversations_2=tuple(second["conversation_ids"]),
        )


def run_tool(tool: Tool, target: str, settings: Settings, raw: Path) -> ToolRun:
    """Start a fresh emulator (with the target's fault), run one tool against it, judge."""
    fault = None if target == CONFORMANT else target
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir(parents=True)
    with Emulator(faults=[fault] if fault else [], host="127.0.0.1", port=0) as emulator:
        seeded = _Seeded.of(emulator)
        assert seeded.base_url.startswith(_LOOPBACK_URL), seeded.base_url
        if tool == "schemathesis":
            invocation = _schemathesis(settings, seeded)
            completed = schemathesis_cli.run(invocation, raw, timeout=settings.timeout)
            shown = invocation.command(raw, redacted=True)
        else:
            port, secret = _register_webhook(seeded)
            shown = _ours_command(settings, seeded, raw, port)
            env = {
                "AGENTPHONE_API_KEY": seeded.key_1,
                "AGENTPHONE_SECOND_API_KEY": seeded.key_2,
                "AGENTPHONE_WEBHOOK_SECRET": secret,
                "TRIGGER_BASE_URL": seeded.base_url,  # for bench/trigger.py
                "TRIGGER_KEY_PRIMARY": seeded.key_1,
                "TRIGGER_KEY_SECOND": seeded.key_2,
            }
            completed = run_logged(
                shown, log=raw / "output.log", timeout=settings.timeout, env=clean_env(env)
            )
        unrestored, other_changes = compare_with_seed(emulator.state)

    run = _measured(tool, target, shown, completed, unrestored, other_changes, settings)
    if tool == "schemathesis":
        return _judge_schemathesis(run, raw)
    return _judge_ours(run, raw, FAULTS[fault].trips if fault else ())


def _schemathesis(settings: Settings, seeded: _Seeded) -> schemathesis_cli.Invocation:
    """All checks, our fragment, the path parameter pinned to the busy conversation, nothing
    excluded; the same response-time limit and request time-out as ours."""
    return schemathesis_cli.Invocation(
        base_url=seeded.base_url,
        api_key=seeded.key_1,
        conversation_id=seeded.conversations_1[0],
        seed=settings.seed,
        max_examples=settings.examples,
        request_timeout=settings.request_timeout,
        max_response_time=settings.max_response_time,
        spec=settings.fragment,
    )


def _register_webhook(seeded: _Seeded) -> tuple[int, str]:
    """Point account 1's webhook at a free loopback port, as a user enabling the webhook
    checks does (the suite never registers one on a target it did not start): the port its
    receiver is to listen on, and the secret the registration answered."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with httpx.Client(base_url=seeded.base_url, trust_env=False, timeout=10) as user:
        answer = user.post(
            "/v1/webhooks",
            headers={"Authorization": f"Bearer {seeded.key_1}"},
            json={"url": f"http://127.0.0.1:{port}/agentphone"},
        )
    answer.raise_for_status()
    return port, answer.json()["secret"]


def _ours_command(settings: Settings, seeded: _Seeded, raw: Path, port: int) -> list[str]:
    """Our suite against the bench's emulator: both of account 1's conversations (as the
    embedded target would), account 2's for the cross-tenant checks; keys and the webhook's
    secret in the env, its receiver on `port`, `bench/trigger.py` to make messages arrive."""
    command = [str(_OURS), "run", "--base-url", seeded.base_url]
    for conversation_id in seeded.conversations_1:
        command += ["--conversation-id", conversation_id]
    for conversation_id in seeded.conversations_2:
        command += ["--second-conversation-id", conversation_id]
    return [
        *command,
        "--seed",
        str(settings.seed),
        "--profile",
        settings.profile,
        "--max-response-time",
        f"{settings.max_response_time:g}",
        "--timeout",
        f"{settings.request_timeout:g}",
        "--strict",  # advisory checks (response time, 405 + Allow, ...) gate too
        "--webhook-secret-env",
        "AGENTPHONE_WEBHOOK_SECRET",
        "--webhook-listen",
        f"127.0.0.1:{port}",
        "--webhook-trigger",
        f"{shlex.quote(sys.executable)} {shlex.quote(str(_TRIGGER))}",
        "--report-dir",
        str(raw),
    ]


def compare_with_seed(state: State) -> tuple[list[str], list[str]]:
    """(ids whose metadata is not the seeded one, other differences from the seed). Messages
    the webhook trigger made arrive are the user's doing, not the tool's: left out."""
    seed = seeded_state()
    unrestored: list[str] = []
    other: list[str] = []
    for conversation_id, original in seed.conversations.items():
        now = state.conversations.get(conversation_id)
        if now is None:
            unrestored.append(conversation_id)
            other.append(f"{conversation_id} is gone")
            continue
        now = dataclasses.replace(now, messages=[m for m in now.messages if m.body != trigger.BODY])
        if not same_json(now.metadata, original.metadata):
            unrestored.append(conversation_id)
        if dataclasses.replace(now, metadata=None) != dataclasses.replace(original, metadata=None):
            changed = [
                f.name
                for f in dataclasses.fields(original)
                if f.name != "metadata" and getattr(now, f.name) != getattr(original, f.name)
            ]
            other.append(f"{conversation_id}: {', '.join(changed)} changed")
    extra = sorted(set(state.conversations) - set(seed.conversations))
    if extra:
        other.append(f"{len(extra)} conversation(s) created")
    return unrestored, other


def _measured(
    tool: Tool,
    target: str,
    shown: Sequence[str],
    completed: Completed,
    unrestored: Sequence[str],
    other_changes: Sequence[str],
    settings: Settings,
) -> ToolRun:
    """What is known before reading the tool's report."""
    return ToolRun(
        tool=tool,
        target=target,
        command=tuple(shown),
        exit_code=completed.exit_code,
        timed_out=completed.timed_out,
        wall_s=round(completed.wall_s, 3),
        restored=not unrestored,
        unrestored=tuple(unrestored),
        other_changes=tuple(other_changes),
        note=f"timed out after {settings.timeout:g} s (killed)" if completed.timed_out else "",
    )


def _judge_schemathesis(run: ToolRun, raw: Path) -> ToolRun:
    """Caught: exit code 1 with at least one failure and no error in its report.json."""
    findings = schemathesis_cli.read_findings(raw)
    report = findings.report or {}
    failures = report.get("failures") or []
    errors = report.get("errors") or []
    caught = not run.timed_out and run.exit_code == 1 and bool(failures) and not errors
    note = run.note
    if not run.timed_out and findings.report is None:
        note = _no_report(run)
    elif errors:
        note = f"{len(errors)} error(s) reported (network or schema), see report.json"
    caught_if_fault, false_alarm = _verdict(run, caught)
    return dataclasses.replace(
        run,
        caught=caught_if_fault,
        false_alarm=false_alarm,
        failing=tuple(findings.failing),
        requests=findings.requests,
        errors=tuple(json.dumps(error, sort_keys=True)[:300] for error in errors),
        own_duration_s=report.get("running_time"),
        note=note,
    )


def _judge_ours(run: ToolRun, raw: Path, trips: Sequence[str]) -> ToolRun:
    """Caught: every check ID the fault trips has outcome `failed` in our report.json."""
    report = read_json(raw / "report.json")
    checks = report.get("checks", []) if report is not None else []
    failing = tuple(c["check"]["id"] for c in checks if c.get("outcome") == "failed")
    restore = report.get("restore", []) if report is not None else []
    claim = all(r.get("restored") for r in restore) if restore else None
    expected_failed = tuple(check for check in trips if check in failing)
    caught = not run.timed_out and bool(trips) and len(expected_failed) == len(trips)
    note = run.note
    if not run.timed_out and report is None:
        note = _no_report(run)
    elif claim is not None and claim != run.restored:
        note = f"its report says restored={claim}, the emulator's state says {run.restored}"
    caught_if_fault, false_alarm = _verdict(run, caught)
    return dataclasses.replace(
        run,
        caught=caught_if_fault,
        false_alarm=false_alarm,
        failing=failing,
        requests=report.get("requests_sent") if report is not None else None,
        errors=tuple(
            f"{c['check']['id']}: {c.get('reason', '')}"[:300]
            for c in checks
            if c.get("outcome") == "error"
        ),
        expected=tuple(trips),
        expected_failed=expected_failed,
        own_duration_s=report.get("duration_s") if report is not None else None,
        own_restore_claim=claim,
        note=note,
    )


def _verdict(run: ToolRun, caught: bool) -> tuple[bool | None, bool | None]:
    """(caught, false alarm): on the conformant target only a false alarm is judged (any
    non-zero exit), on a fault only whether it was caught."""
    if run.target == CONFORMANT:
        return None, not run.timed_out and run.exit_code != 0
    return caught, None


def _no_report(run: ToolRun) -> str:
    return f"no report.json (exit {run.exit_code}): see output.log"
