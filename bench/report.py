"""The two files the benchmark writes: bench.md (tables for people) and bench.json (the same
data and more, for machines). Both are written from a `BenchResult`."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from pathlib import Path

from .rows import BenchResult, Row, ToolRun
from .settings import TOOLS

_NONE = "—"


def write_json(result: BenchResult, path: Path) -> None:
    path.write_text(
        json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def write_markdown(result: BenchResult, path: Path) -> None:
    path.write_text(markdown(result), encoding="utf-8")


def markdown(result: BenchResult) -> str:
    return "\n".join(
        [
            *_main_table(result),
            *_totals(result),
            *_failing_checks(result.rows),
            *_machine_and_commands(result),
        ]
    )


def _main_table(result: BenchResult) -> list[str]:
    s = result.settings
    lines = [
        "# Benchmark: plain schemathesis vs agentphone-conformance",
        "",
        f"Seed {s.seed}; schemathesis `--max-examples {s.examples}`, "
        f"ours `--profile {s.profile}` ({s.generated_examples} generated "
        f"examples per operation and mode, and its deterministic probes); both "
        f"`--max-response-time {s.max_response_time:g}` and a {s.request_timeout:g} s request "
        f"time-out; {s.timeout:g} s per tool run. Each run has its own freshly started "
        "in-process emulator with the target's fault; for ours, account 1's webhook points at "
        "its receiver, registered by the bench as a user would, and `bench/trigger.py` makes "
        "messages arrive. Wall time = the tool's subprocess, interpreter start-up included.",
        "",
        "| target | st caught | st false alarm | st restored | st wall s | st requests "
        "| ours caught | ours false alarm | ours restored | ours wall s | ours requests "
        "| ours / st |",
        "|---|---|---|---|---:|---:|---|---|---|---:|---:|---:|",
    ]
    for row in result.rows:
        cells = [f"`{row.target}`", *_cells(row.schemathesis), *_cells(row.ours)]
        cells.append(_fixed(row.ratio))
        lines.append(_table_row(cells))
    return lines


def _totals(result: BenchResult) -> list[str]:
    t = result.totals
    st, ours = t.schemathesis, t.ours
    goal = ", ".join(
        f"{name.replace('_', ' ')}: {'yes' if met else 'no'}" for name, met in t.goal.parts.items()
    )
    return [
        "",
        "## Totals",
        "",
        "| | schemathesis | ours |",
        "|---|---:|---:|",
        f"| faults caught (of {t.faults}) | {st.faults_caught} | {ours.faults_caught} |",
        f"| false alarms (conformant emulator) | {st.false_alarms} | {ours.false_alarms} |",
        f"| runs leaving data unrestored (of {len(result.rows)}) | {st.unrestored} "
        f"| {ours.unrestored} |",
        f"| time-outs | {st.timeouts} | {ours.timeouts} |",
        f"| median wall time per target (s) | {st.median_wall_s:.2f} | {ours.median_wall_s:.2f} |",
        f"| total wall time (s) | {st.total_wall_s:.1f} | {ours.total_wall_s:.1f} |",
        "",
        f"- Median of the per-target ratios ours / schemathesis: **{_fixed(t.median_ratio)}**; "
        f"ratio of the median wall times: **{_fixed(t.ratio_of_medians)}**; largest "
        f"per-target ratio: {_fixed(t.max_ratio)} (`{t.max_ratio_target}`); targets over 2x: "
        f"{_names(t.targets_over_2x)}.",
        f"- Missed by schemathesis: {_names(st.faults_missed)}.",
        f"- Missed by ours: {_names(ours.faults_missed)}.",
        "- Goal (ours: every fault caught, no false alarm, everything restored, at most 2x "
        "schemathesis's median wall time): "
        f"{'**met**' if t.goal.met else '**not met**'} ({goal}).",
        f"- The whole benchmark took {result.bench_wall_s:.1f} s.",
    ]


def _failing_checks(rows: Iterable[Row]) -> list[str]:
    lines = [
        "",
        "## Failing checks per target",
        "",
        "| target | expected (ours) | schemathesis failing checks | ours failing checks | notes |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        notes: list[str] = []
        for name, run in (("st", row.schemathesis), ("ours", row.ours)):
            if run.note:
                notes.append(f"{name}: {run.note}")
            if run.other_changes:
                notes.append(f"{name} left: {'; '.join(run.other_changes)}")
            if run.errors:
                notes.append(f"{name} errors: {len(run.errors)}")
        cells = [
            f"`{row.target}`",
            ", ".join(row.trips) or _NONE,
            ", ".join(row.schemathesis.failing) or _NONE,
            ", ".join(row.ours.failing) or _NONE,
            "; ".join(notes).replace("|", "\\|"),
        ]
        lines.append(_table_row(cells))
    return lines


def _machine_and_commands(result: BenchResult) -> list[str]:
    m = result.machine
    lines = [
        "",
        "## Machine",
        "",
        f"- CPU: {m.cpu_model}; {m.cores} cores ({m.usable_cores} usable by this process); "
        f"load average at start {list(m.load_average_at_start)}, at end "
        f"{list(m.load_average_at_end or ())}",
        f"- OS: {m.os}",
        f"- Python {m.python}; schemathesis {m.schemathesis}; agentphone-conformance "
        f"{m.agentphone_conformance}",
        f"- Date: {m.date}",
        "",
        "## Commands (keys shown as `<key>`; ids and ports are the emulator's)",
        "",
    ]
    first = result.rows[0]
    for tool in TOOLS:
        lines += ["```", shlex.join(first.run(tool).command), "```"]
    lines.append("")
    return lines


def _cells(run: ToolRun) -> list[str]:
    """caught, false alarm, restored, wall s, requests."""
    if run.partial:
        caught = f"**partial** ({len(run.expected_failed)}/{len(run.expected)})"
    elif run.timed_out:
        caught = "**timeout**"
    else:
        caught = _yes(run.caught)
    false_alarm = _NONE if run.false_alarm is None else ("**YES**" if run.false_alarm else "no")
    wall = f"{run.wall_s:.2f}" + (" (t/o)" if run.timed_out else "")
    requests = _NONE if run.requests is None else str(run.requests)
    return [caught, false_alarm, _yes(run.restored), wall, requests]


def _yes(value: bool | None) -> str:
    return _NONE if value is None else ("yes" if value else "**no**")


def _fixed(value: float | None) -> str:
    return _NONE if value is None else f"{value:.2f}"


def _names(targets: Iterable[str]) -> str:
    return ", ".join(f"`{target}`" for target in targets) or "none"


def _table_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
