"""`python -m bench.quick`: how long the default run takes, as a user starts it.

    python -m bench.quick               # 10 runs
    python -m bench.quick --runs 3 --out /tmp/q

Each run is `agentphone-conformance run` with nothing but a seed and a report folder: the
quick profile against the embedded emulator, webhook checks included, in a fresh process
(so every run pays its own first-use costs) and a scratch working directory. It reads the
run's own report.json: the duration the run reports (the run itself, from its first request
to its restore), its requests against the profile's budget, and its verdict; and it clocks
the whole command (interpreter start-up and reports included).

The goal it judges: the median run under 2 s, every run conformant and within its budget.
Writes OUT/quick.md and OUT/quick.json (OUT: --out, default reports/). A measurement, not a
test: these machines are shared, so it reports the spread, and no test asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from .machine import describe_machine
from .process import BIN, clean_env, read_json, run_logged
from .settings import REPO

GOAL_S: Final = 2.0  # the median run, as the run reports it
_OURS = BIN / "agentphone-conformance"


@dataclass(frozen=True)
class QuickRun:
    seed: int
    exit_code: int | None
    duration_s: float | None  # as the run reports it
    wall_s: float  # the whole command
    requests: int | None
    budget: int | None  # the profile's --max-requests

    @property
    def within_budget(self) -> bool:
        return (
            self.requests is not None and self.budget is not None and (self.requests <= self.budget)
        )


def measure(seed: int, folder: Path, timeout: float = 120) -> QuickRun:
    """One default run, in a fresh process."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [str(_OURS), "run", "--seed", str(seed), "--report-dir", str(folder)]
    done = run_logged(command, log=folder / "output.log", timeout=timeout, env=clean_env())
    report = read_json(folder / "report.json") or {}
    settings = report.get("settings") or {}
    return QuickRun(
        seed=seed,
        exit_code=done.exit_code,
        duration_s=report.get("duration_s"),
        wall_s=round(done.wall_s, 3),
        requests=report.get("requests_sent"),
        budget=settings.get("max_requests"),
    )


def summarize(runs: Sequence[QuickRun]) -> dict[str, Any]:
    durations = [r.duration_s for r in runs if r.duration_s is not None]
    walls = [r.wall_s for r in runs]
    median = round(statistics.median(durations), 3) if durations else None
    clean = all(r.exit_code == 0 for r in runs)
    within = all(r.within_budget for r in runs)
    return {
        "runs": len(runs),
        "median_duration_s": median,
        "min_duration_s": min(durations, default=None),
        "max_duration_s": max(durations, default=None),
        "median_wall_s": round(statistics.median(walls), 3) if walls else None,
        "max_requests_sent": max((r.requests or 0 for r in runs), default=None),
        "budget": runs[0].budget if runs else None,
        "all_conformant": clean,
        "all_within_budget": within,
        "goal_s": GOAL_S,
        "goal_met": median is not None and median < GOAL_S and clean and within,
    }


def markdown(runs: Sequence[QuickRun], summary: dict[str, Any], machine: dict[str, Any]) -> str:
    lines = [
        "# The default run, timed",
        "",
        "`agentphone-conformance run --seed N` against the embedded emulator, each in a fresh "
        "process. *run s*: the duration the run reports; *wall s*: the whole command, "
        "interpreter start-up and reports included.",
        "",
        "| seed | exit | run s | wall s | requests | budget |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.seed} | {r.exit_code} | {r.duration_s} | {r.wall_s:.2f} | {r.requests} "
            f"| {r.budget} |"
        )
    met = "met" if summary["goal_met"] else "not met"
    lines += [
        "",
        f"Median run {summary['median_duration_s']} s (from {summary['min_duration_s']} to "
        f"{summary['max_duration_s']} s); median command {summary['median_wall_s']} s; at most "
        f"{summary['max_requests_sent']} requests of a budget of {summary['budget']}.",
        "",
        f"Goal (median run under {GOAL_S:g} s, every run conformant and within its budget): "
        f"**{met}**.",
        "",
        f"Machine: {machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}, "
        f"load average at start {machine['load_average_at_start']}; {machine['date']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quick", description="Time the default run, as a user starts it."
    )
    parser.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    parser.add_argument("--out", type=Path, default=REPO / "reports", help="output folder")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    machine = describe_machine().to_dict()
    runs: list[QuickRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-quick-") as scratch:
        for index in range(args.runs):
            seed = 1000 + index
            run = measure(seed, Path(scratch) / str(seed))
            runs.append(run)
            print(
                f"[{index + 1}/{args.runs}] seed {seed}: run {run.duration_s} s, "
                f"command {run.wall_s:.2f} s, {run.requests} requests, exit {run.exit_code}",
                file=sys.stderr,
                flush=True,
            )
    summary = summarize(runs)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine, "runs": [asdict(r) for r in runs], "summary": summary}
    (out / "quick.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (out / "quick.md").write_text(markdown(runs, summary, machine), encoding="utf-8")
    print(
        f"median run {summary['median_duration_s']} s, max {summary['max_duration_s']} s; "
        f"goal {'met' if summary['goal_met'] else 'not met'}; wrote {out / 'quick.md'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
