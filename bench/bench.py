#!/usr/bin/env python
"""Benchmark: plain schemathesis beside our suite, against the emulator and each of its faults.

For every target (the conformant emulator, then each fault of the catalogue) both tools run
as subprocesses of this script, one after the other, each against its own freshly started
in-process `Emulator` with that fault on (loopback only). Per target and tool it records:
caught or not, false alarm or not, whether the conversations' metadata is back to the seeded
state afterwards, and the wall time of the subprocess (interpreter start-up included).

    python bench/bench.py                       # everything: ~36 faults x 2 tools
    python bench/bench.py --faults robust-slow,auth-any-key-accepted --examples 5

Writes OUT/bench.md and OUT/bench.json (OUT: --out, default reports/), and each tool's own
output and reports under OUT/bench-raw/<target>/<tool>/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__ as SUITE_VERSION
from conformance.checks import same_json
from conformance.core import PROFILES
from conformance.core._spec import spec_path
from conformance.emulator import FAULTS, Emulator, State, seeded_state

CONFORMANT = "conformant"
TOOLS = ("schemathesis", "ours")
DEFAULT_SEED = 20240115
DEFAULT_EXAMPLES = 12  # = the quick profile's generated examples per operation
DEFAULT_TIMEOUT = 120.0  # seconds, per tool invocation
MAX_RESPONSE_TIME = 1.0  # seconds; the same limit for both tools
REQUEST_TIMEOUT = 10.0  # seconds; per request, the same for both tools
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


# --- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    seed: int
    examples: int  # schemathesis --max-examples
    profile: str  # our --profile, derived from `examples`
    timeout: float
    max_response_time: float
    targets: tuple[str, ...]  # "conformant", then fault names
    out: Path


def profile_for(examples: int) -> str:
    """Our profile for a schemathesis examples budget: the smallest profile that generates at
    least `examples` cases per operation (quick: 12, ci: 25, thorough: 100)."""
    ordered = sorted(PROFILES.values(), key=lambda p: p.generated_examples)
    for profile in ordered:
        if profile.generated_examples >= examples:
            return profile.name
    return ordered[-1].name


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="bench.py",
        description="Plain schemathesis beside agentphone-conformance, against the emulator "
        "and each of its faults.",
    )
    parser.add_argument(
        "--faults",
        default=None,
        help="comma-separated fault names (default: the whole catalogue); the conformant "
        "emulator is always benchmarked too",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed for both tools")
    parser.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        help="schemathesis --max-examples; our profile is the smallest whose generated "
        f"examples per operation are at least this (default {DEFAULT_EXAMPLES}: quick)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds per tool invocation; a run that takes longer is killed and counts as "
        "not caught (default %(default)s)",
    )
    parser.add_argument(
        "--max-response-time",
        type=float,
        default=MAX_RESPONSE_TIME,
        help="response-time limit given to both tools (default %(default)s s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "reports",
        help="output folder (default: the repository's reports/)",
    )
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    if args.timeout <= 0 or args.max_response_time <= 0:
        parser.error("--timeout and --max-response-time must be positive")
    if args.faults is None:
        faults = list(FAULTS)
    else:
        faults = [name.strip() for name in args.faults.split(",") if name.strip()]
        unknown = [name for name in faults if name not in FAULTS]
        if unknown:
            parser.error(
                f"unknown fault(s): {', '.join(unknown)} "
                "(see `agentphone-conformance faults` for the names)"
            )
        faults = list(dict.fromkeys(faults))
    return Settings(
        seed=args.seed,
        examples=args.examples,
        profile=profile_for(args.examples),
        timeout=args.timeout,
        max_response_time=args.max_response_time,
        targets=(CONFORMANT, *faults),
        out=args.out.resolve(),  # the tools run in a scratch cwd
    )


# --- one tool run -----------------------------------------------------------------------------


@dataclass
class ToolRun:
    tool: str
    target: str
    command: list[str]  # keys shown as <key>
    exit_code: int | None  # None: killed after the time-out
    timed_out: bool
    wall_s: float
    caught: bool | None  # None on the conformant target
    false_alarm: bool | None  # only judged on the conformant target
    restored: bool
    unrestored: list[str]  # conversation ids whose metadata differs from the seed
    other_changes: list[str]  # what else differs from the seed (not judged)
    failing: list[str]  # failing checks: schemathesis check names / our check IDs
    requests: int | None  # schemathesis: recorded interactions; ours: requests_sent
    errors: list[str]  # schemathesis network/schema errors; our checks that errored
    expected: list[str] = field(default_factory=list)  # ours: the fault's check IDs
    expected_failed: list[str] = field(default_factory=list)
    own_duration_s: float | None = None  # the tool's own timer (without start-up)
    own_restore_claim: bool | None = None  # ours: every restore[].restored
    note: str = ""


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a tool: no schemathesis settings, no AgentPhone keys, no proxy."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("SCHEMATHESIS_", "AGENTPHONE_", "HYPOTHESIS_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.update(extra or {})
    return env


def _schemathesis_command(
    settings: Settings, emu: dict[str, Any], config: Path, raw: Path
) -> tuple[list[str], list[str]]:
    """The plain schemathesis CLI: all checks, our fragment, the path parameter pinned to the
    busy conversation (as in tests/test_fidelity.py), nothing excluded."""
    first = emu["accounts"][0]
    head = [str(BIN / "schemathesis"), "--config-file", str(config), "--no-color", "run"]
    tail = [
        str(spec_path()),
        "--url",
        emu["base_url"],
        "--header",
        "Authorization: Bearer {key}",
        "--checks",
        "all",
        "--seed",
        str(settings.seed),
        "--max-examples",
        str(settings.examples),
        "--max-response-time",
        f"{settings.max_response_time:g}",
        "--request-timeout",
        f"{REQUEST_TIMEOUT:g}",
        "--generation-database",
        "none",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(raw / "report.json"),
        "--report-ndjson-path",
        str(raw / "events.ndjson"),
    ]
    shown = head + [a.replace("{key}", "<key>") for a in tail]
    real = head + [a.replace("{key}", first["api_key"]) for a in tail]
    return real, shown


def _ours_command(settings: Settings, emu: dict[str, Any], raw: Path) -> list[str]:
    """Our suite against the bench's emulator: both of account 1's conversations (as the
    embedded target would), account 2's for the cross-tenant checks; keys in the env."""
    first, second = emu["accounts"]
    command = [str(BIN / "agentphone-conformance"), "run", "--base-url", emu["base_url"]]
    for conversation_id in first["conversation_ids"]:
        command += ["--conversation-id", conversation_id]
    for conversation_id in second["conversation_ids"]:
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
        f"{REQUEST_TIMEOUT:g}",
        "--strict",  # advisory checks (response time, 405 + Allow, ...) gate too
        "--report-dir",
        str(raw),
    ]


def compare_with_seed(state: State) -> tuple[list[str], list[str]]:
    """(ids whose metadata is not the seeded one, other differences from the seed)."""
    seed = seeded_state()
    unrestored: list[str] = []
    other: list[str] = []
    for conversation_id, original in seed.conversations.items():
        now = state.conversations.get(conversation_id)
        if now is None:
            unrestored.append(conversation_id)
            other.append(f"{conversation_id} is gone")
            continue
        if not same_json(now.metadata, original.metadata):
            unrestored.append(conversation_id)
        if dataclasses.replace(now, metadata=None) != dataclasses.replace(original, metadata=None):
            fields = [
                f.name
                for f in dataclasses.fields(original)
                if f.name != "metadata" and getattr(now, f.name) != getattr(original, f.name)
            ]
            other.append(f"{conversation_id}: {', '.join(fields)} changed")
    extra = sorted(set(state.conversations) - set(seed.conversations))
    if extra:
        other.append(f"{len(extra)} conversation(s) created")
    return unrestored, other


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _schemathesis_findings(raw: Path) -> tuple[dict[str, Any] | None, list[str], int | None]:
    """(report.json, failing check names, recorded interactions) from its reports."""
    report = _read_json(raw / "report.json")
    failing: set[str] = set()
    interactions = 0
    try:
        lines = (raw / "events.ndjson").read_text(encoding="utf-8").splitlines()
    except OSError:
        return report, [], None
    for line in lines:
        try:
            ((kind, event),) = json.loads(line).items()
        except ValueError:
            continue  # a run killed mid-write
        if kind != "ScenarioFinished":
            continue
        recorder = event.get("recorder", {})
        interactions += len(recorder.get("interactions", {}))
        for results in recorder.get("checks", {}).values():
            failing.update(r["name"] for r in results if r.get("status") == "failure")
    return report, sorted(failing), interactions


def run_tool(tool: str, target: str, settings: Settings, raw: Path) -> ToolRun:
    """Start a fresh emulator (with the target's fault), run one tool against it, judge."""
    fault = None if target == CONFORMANT else target
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir(parents=True)
    with Emulator(faults=[fault] if fault else [], host="127.0.0.1", port=0) as emulator:
        emu = emulator.describe()
        assert emu["base_url"].startswith("http://127.0.0.1:"), emu["base_url"]
        first, second = emu["accounts"]
        if tool == "schemathesis":
            config = raw / "schemathesis.toml"
            busy = first["conversation_ids"][0]
            config.write_text(f'[parameters]\n"path.conversation_id" = "{busy}"\n')
            command, shown = _schemathesis_command(settings, emu, config, raw)
            env = _clean_env()
        else:
            command = shown = _ours_command(settings, emu, raw)
            env = _clean_env(
                {
                    "AGENTPHONE_API_KEY": first["api_key"],
                    "AGENTPHONE_SECOND_API_KEY": second["api_key"],
                }
            )
        exit_code: int | None = None
        timed_out = False
        with (
            tempfile.TemporaryDirectory(prefix="bench-cwd-") as cwd,  # .hypothesis/ etc. land here
            (raw / "output.log").open("wb") as log,
        ):
            clock = time.monotonic()
            try:
                exit_code = subprocess.run(
                    command,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=settings.timeout,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:  # run() has killed it
                timed_out = True
            wall = time.monotonic() - clock
        unrestored, other_changes = compare_with_seed(emulator.state)

    run = ToolRun(
        tool=tool,
        target=target,
        command=shown,
        exit_code=exit_code,
        timed_out=timed_out,
        wall_s=round(wall, 3),
        caught=None,
        false_alarm=None,
        restored=not unrestored,
        unrestored=unrestored,
        other_changes=other_changes,
        failing=[],
        requests=None,
        errors=[],
    )
    if timed_out:
        run.note = f"timed out after {settings.timeout:g} s (killed)"
    if tool == "schemathesis":
        _judge_schemathesis(run, raw)
    else:
        _judge_ours(run, raw, FAULTS[fault].trips if fault else ())
    return run


def _judge_schemathesis(run: ToolRun, raw: Path) -> None:
    report, failing, interactions = _schemathesis_findings(raw)
    run.failing, run.requests = failing, interactions
    failures = (report or {}).get("failures") or []
    errors = (report or {}).get("errors") or []
    run.errors = [json.dumps(e, sort_keys=True)[:300] for e in errors]
    if report is not None:
        run.own_duration_s = report.get("running_time")
    if run.target == CONFORMANT:
        run.false_alarm = not run.timed_out and run.exit_code != 0
    else:
        run.caught = bool(not run.timed_out and run.exit_code == 1 and failures and not errors)
    if not run.timed_out and report is None:
        run.note = f"no report.json (exit {run.exit_code}): see output.log"
    elif errors:
        run.note = f"{len(errors)} error(s) reported (network or schema), see report.json"


def _judge_ours(run: ToolRun, raw: Path, trips: Sequence[str]) -> None:
    report = _read_json(raw / "report.json")
    run.expected = list(trips)
    if report is not None:
        checks = report.get("checks", [])
        run.failing = [c["check"]["id"] for c in checks if c.get("outcome") == "failed"]
        run.errors = [
            f"{c['check']['id']}: {c.get('reason', '')}"[:300]
            for c in checks
            if c.get("outcome") == "error"
        ]
        run.requests = report.get("requests_sent")
        run.own_duration_s = report.get("duration_s")
        restore = report.get("restore", [])
        run.own_restore_claim = all(r.get("restored") for r in restore) if restore else None
    run.expected_failed = [check for check in trips if check in run.failing]
    if run.target == CONFORMANT:
        run.false_alarm = not run.timed_out and run.exit_code != 0
    else:
        run.caught = bool(not run.timed_out and trips and len(run.expected_failed) == len(trips))
    if not run.timed_out and report is None:
        run.note = f"no report.json (exit {run.exit_code}): see output.log"
    elif run.own_restore_claim is not None and run.own_restore_claim != run.restored:
        run.note = (
            f"its report says restored={run.own_restore_claim}, the emulator's state says "
            f"{run.restored}"
        )


# --- the whole benchmark ----------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: ")):
                name = line.split(":", 1)[1].strip()
                if name and not name.isdigit():
                    model = name
                    break
    except OSError:
        model = platform.processor() or "unknown"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_at_start": load,
        "os": platform.platform(),
        "python": platform.python_version(),
        "schemathesis": importlib.metadata.version("schemathesis"),
        "agentphone_conformance": SUITE_VERSION,
        "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs > 0 else None


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    faults = [r for r in rows if r["target"] != CONFORMANT]
    out: dict[str, Any] = {"faults": len(faults)}
    for tool in TOOLS:
        runs = [r["runs"][tool] for r in rows]
        walls = [run["wall_s"] for run in runs]
        out[tool] = {
            "faults_caught": sum(bool(r["runs"][tool]["caught"]) for r in faults),
            "faults_missed": [r["target"] for r in faults if not r["runs"][tool]["caught"]],
            "false_alarms": sum(bool(run["false_alarm"]) for run in runs),
            "unrestored": sum(not run["restored"] for run in runs),
            "timeouts": sum(run["timed_out"] for run in runs),
            "median_wall_s": round(statistics.median(walls), 3),
            "total_wall_s": round(sum(walls), 3),
        }
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    out["median_ratio"] = round(statistics.median(ratios), 3) if ratios else None
    out["ratio_of_medians"] = ratio(
        out["ours"]["median_wall_s"], out["schemathesis"]["median_wall_s"]
    )
    out["max_ratio"] = max(ratios) if ratios else None
    out["max_ratio_target"] = next(
        (r["target"] for r in rows if r["ratio"] == out["max_ratio"]), None
    )
    out["targets_over_2x"] = [
        r["target"] for r in rows if r["ratio"] is not None and r["ratio"] > 2
    ]
    ours = out["ours"]
    out["goal"] = {
        "every_fault_caught": ours["faults_caught"] == len(faults),
        "no_false_alarm": ours["false_alarms"] == 0,
        "everything_restored": ours["unrestored"] == 0,
        "median_ratio_at_most_2x": out["median_ratio"] is not None and out["median_ratio"] <= 2,
        "ratio_of_medians_at_most_2x": out["ratio_of_medians"] is not None
        and out["ratio_of_medians"] <= 2,
    }
    out["goal"]["met"] = all(out["goal"].values())
    return out


def bench(settings: Settings) -> dict[str, Any]:
    settings.out.mkdir(parents=True, exist_ok=True)
    raw_root = settings.out / "bench-raw"
    if raw_root.exists():
        shutil.rmtree(raw_root)
    info = machine()
    clock = time.monotonic()
    rows: list[dict[str, Any]] = []
    count = len(settings.targets)
    for index, target in enumerate(settings.targets):
        # Alternate who goes first, so neither tool always gets the warmer caches.
        order = TOOLS if index % 2 == 0 else TOOLS[::-1]
        runs: dict[str, ToolRun] = {}
        for tool in order:
            runs[tool] = run_tool(tool, target, settings, raw_root / target / tool)
            print(
                f"[{index + 1}/{count}] {target:36} {tool:12} "
                f"{_verdict(runs[tool]):10} {runs[tool].wall_s:7.2f} s",
                file=sys.stderr,
                flush=True,
            )
        fault = FAULTS.get(target)
        rows.append(
            {
                "target": target,
                "family": fault.family if fault else None,
                "trips": list(fault.trips) if fault else [],
                "order": list(order),
                "runs": {tool: dataclasses.asdict(runs[tool]) for tool in TOOLS},
                "ratio": ratio(runs["ours"].wall_s, runs["schemathesis"].wall_s),
            }
        )
    elapsed = time.monotonic() - clock
    with contextlib.suppress(OSError):
        info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "format": "agentphone-conformance-bench/1",
        "machine": info,
        "settings": {
            "seed": settings.seed,
            "examples": settings.examples,
            "schemathesis_max_examples": settings.examples,
            "our_profile": settings.profile,
            "our_profile_generated_examples": PROFILES[settings.profile].generated_examples,
            "max_response_time_s": settings.max_response_time,
            "request_timeout_s": REQUEST_TIMEOUT,
            "timeout_per_run_s": settings.timeout,
            "fragment": str(spec_path()),
            "emulator": "in-process Emulator in the bench script, a fresh one per tool run",
        },
        "rows": rows,
        "totals": totals(rows),
        "bench_wall_s": round(elapsed, 1),
    }


# --- Markdown ---------------------------------------------------------------------------------


def _verdict(run: ToolRun | dict[str, Any]) -> str:
    r = dataclasses.asdict(run) if isinstance(run, ToolRun) else run
    if r["timed_out"]:
        return "TIMEOUT"
    if r["target"] == CONFORMANT:
        return "FALSE ALARM" if r["false_alarm"] else "clean"
    if r["caught"]:
        return "caught"
    if r["tool"] == "ours" and r["expected_failed"]:
        return f"partial {len(r['expected_failed'])}/{len(r['expected'])}"
    return "missed"


def _yes(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "**no**")


def _cells(run: dict[str, Any]) -> list[str]:
    if run["timed_out"]:
        caught = "**timeout**"
    elif run["caught"] is None:
        caught = "—"
    else:
        caught = _yes(run["caught"])
    if run["caught"] is False and run["tool"] == "ours" and run["expected_failed"]:
        caught = f"**partial** ({len(run['expected_failed'])}/{len(run['expected'])})"
    false_alarm = "—" if run["false_alarm"] is None else ("**YES**" if run["false_alarm"] else "no")
    wall = f"{run['wall_s']:.2f}" + (" (t/o)" if run["timed_out"] else "")
    requests = "—" if run["requests"] is None else str(run["requests"])
    return [caught, false_alarm, _yes(run["restored"]), wall, requests]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(result: dict[str, Any]) -> str:
    s, m, t = result["settings"], result["machine"], result["totals"]
    lines = [
        "# Benchmark: plain schemathesis vs agentphone-conformance",
        "",
        f"Seed {s['seed']}; schemathesis `--max-examples {s['schemathesis_max_examples']}`, "
        f"ours `--profile {s['our_profile']}` ({s['our_profile_generated_examples']} generated "
        f"examples per operation); both `--max-response-time {s['max_response_time_s']:g}` and "
        f"a {s['request_timeout_s']:g} s request time-out; {s['timeout_per_run_s']:g} s per "
        "tool run. Each run has its own freshly started in-process emulator with the target's "
        "fault. Wall time = the tool's subprocess, interpreter start-up included.",
        "",
        "| target | st caught | st false alarm | st restored | st wall s | st requests "
        "| ours caught | ours false alarm | ours restored | ours wall s | ours requests "
        "| ours / st |",
        "|---|---|---|---|---:|---:|---|---|---|---:|---:|---:|",
    ]
    for row in result["rows"]:
        cells = [f"`{row['target']}`"]
        cells += _cells(row["runs"]["schemathesis"]) + _cells(row["runs"]["ours"])
        cells.append("—" if row["ratio"] is None else f"{row['ratio']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    st, ours = t["schemathesis"], t["ours"]
    goal = t["goal"]
    lines += [
        "",
        "## Totals",
        "",
        "| | schemathesis | ours |",
        "|---|---:|---:|",
        f"| faults caught (of {t['faults']}) | {st['faults_caught']} | {ours['faults_caught']} |",
        f"| false alarms (conformant emulator) | {st['false_alarms']} | {ours['false_alarms']} |",
        f"| runs leaving data unrestored (of {len(result['rows'])}) | {st['unrestored']} "
        f"| {ours['unrestored']} |",
        f"| time-outs | {st['timeouts']} | {ours['timeouts']} |",
        f"| median wall time per target (s) | {st['median_wall_s']:.2f} "
        f"| {ours['median_wall_s']:.2f} |",
        f"| total wall time (s) | {st['total_wall_s']:.1f} | {ours['total_wall_s']:.1f} |",
        "",
        f"- Median of the per-target ratios ours / schemathesis: **{t['median_ratio']:.2f}**; "
        f"ratio of the median wall times: **{t['ratio_of_medians']:.2f}**; largest per-target "
        f"ratio: {t['max_ratio']:.2f} (`{t['max_ratio_target']}`); targets over 2x: "
        + (", ".join(f"`{x}`" for x in t["targets_over_2x"]) or "none")
        + ".",
        "- Missed by schemathesis: "
        + (", ".join(f"`{x}`" for x in st["faults_missed"]) or "none")
        + ".",
        "- Missed by ours: " + (", ".join(f"`{x}`" for x in ours["faults_missed"]) or "none") + ".",
        "- Goal (ours: every fault caught, no false alarm, everything restored, at most 2x "
        "schemathesis's median wall time): "
        + ("**met**" if goal["met"] else "**not met**")
        + " ("
        + ", ".join(
            f"{k.replace('_', ' ')}: {'yes' if v else 'no'}" for k, v in goal.items() if k != "met"
        )
        + ").",
        f"- The whole benchmark took {result['bench_wall_s']:.1f} s.",
        "",
        "## Failing checks per target",
        "",
        "| target | expected (ours) | schemathesis failing checks | ours failing checks | notes |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        st_run, our_run = row["runs"]["schemathesis"], row["runs"]["ours"]
        notes = []
        for tool, run in (("st", st_run), ("ours", our_run)):
            if run["note"]:
                notes.append(f"{tool}: {run['note']}")
            if run["other_changes"]:
                notes.append(f"{tool} left: {'; '.join(run['other_changes'])}")
            if run["errors"]:
                notes.append(f"{tool} errors: {len(run['errors'])}")
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{row['target']}`",
                    ", ".join(row["trips"]) or "—",
                    ", ".join(st_run["failing"]) or "—",
                    ", ".join(our_run["failing"]) or "—",
                    _md_escape("; ".join(notes)) or "",
                ]
            )
            + " |"
        )
    lines += [
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu_model']}; {m['cores']} cores ({m['usable_cores']} usable by this "
        f"process); load average at start {m['load_average_at_start']}, at end "
        f"{m.get('load_average_at_end', [])}",
        f"- OS: {m['os']}",
        f"- Python {m['python']}; schemathesis {m['schemathesis']}; agentphone-conformance "
        f"{m['agentphone_conformance']}",
        f"- Date: {m['date']}",
        "",
        "## Commands (keys shown as `<key>`; ids and ports are the emulator's)",
        "",
    ]
    first = result["rows"][0]["runs"]
    for tool in TOOLS:
        lines += ["```", shlex.join(first[tool]["command"]), "```"]
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    result = bench(settings)
    (settings.out / "bench.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (settings.out / "bench.md").write_text(markdown(result), encoding="utf-8")
    t = result["totals"]
    print(
        f"caught: schemathesis {t['schemathesis']['faults_caught']}/{t['faults']}, "
        f"ours {t['ours']['faults_caught']}/{t['faults']}; median ratio {t['median_ratio']}; "
        f"{result['bench_wall_s']} s; wrote {settings.out / 'bench.md'} and "
        f"{settings.out / 'bench.json'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
