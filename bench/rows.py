"""The benchmark's results as typed data, from one tool run up to the whole result; the
writers read these objects, and `to_dict()` is only for bench.json."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

from .machine import Machine
from .settings import CONFORMANT, TOOLS, Settings, Tool

FORMAT: Final = "agentphone-conformance-bench/1"


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True, kw_only=True)
class ToolRun:
    """One tool against one target (its own freshly started emulator), judged."""

    tool: Tool
    target: str
    command: tuple[str, ...]  # keys shown as <key>
    exit_code: int | None  # None: killed after the time-out
    timed_out: bool
    wall_s: float
    caught: bool | None = None  # None on the conformant target
    false_alarm: bool | None = None  # only judged on the conformant target
    restored: bool
    unrestored: tuple[str, ...]  # conversation ids whose metadata differs from the seed
    other_changes: tuple[str, ...]  # what else differs from the seed (not judged)
    failing: tuple[str, ...] = ()  # failing checks: schemathesis check names / our check IDs
    requests: int | None = None  # schemathesis: recorded interactions; ours: requests_sent
    errors: tuple[str, ...] = ()  # schemathesis network/schema errors; our checks that errored
    expected: tuple[str, ...] = ()  # ours: the fault's check IDs
    expected_failed: tuple[str, ...] = ()
    own_duration_s: float | None = None  # the tool's own timer (without start-up)
    own_restore_claim: bool | None = None  # ours: every restore[].restored
    note: str = ""

    @property
    def partial(self) -> bool:
        """Ours, on a fault: some of the expected checks failed, not all."""
        return self.caught is False and self.tool == "ours" and bool(self.expected_failed)

    @property
    def verdict(self) -> str:
        if self.timed_out:
            return "TIMEOUT"
        if self.target == CONFORMANT:
            return "FALSE ALARM" if self.false_alarm else "clean"
        if self.caught:
            return "caught"
        if self.tool == "ours" and self.expected_failed:
            return f"partial {len(self.expected_failed)}/{len(self.expected)}"
        return "missed"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _listed(getattr(self, f.name)) for f in fields(self)}


def ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs > 0 else None


@dataclass(frozen=True)
class Row:
    """One target: both tools' runs."""

    target: str
    family: str | None  # the fault's family; None on the conformant target
    trips: tuple[str, ...]  # the check IDs the fault is expected to trip
    order: tuple[Tool, ...]  # who ran first
    schemathesis: ToolRun
    ours: ToolRun

    def run(self, tool: Tool) -> ToolRun:
        return self.schemathesis if tool == "schemathesis" else self.ours

    @property
    def is_fault(self) -> bool:
        return self.target != CONFORMANT

    @property
    def ratio(self) -> float | None:
        """Our wall time over schemathesis's."""
        return ratio(self.ours.wall_s, self.schemathesis.wall_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "family": self.family,
            "trips": list(self.trips),
            "order": list(self.order),
            "runs": {tool: self.run(tool).to_dict() for tool in TOOLS},
            "ratio": self.ratio,
        }


@dataclass(frozen=True)
class ToolTotals:
    faults_caught: int
    faults_missed: tuple[str, ...]
    false_alarms: int
    unrestored: int  # runs that left metadata changed
    timeouts: int
    median_wall_s: float
    total_wall_s: float

    @classmethod
    def of(cls, tool: Tool, rows: Sequence[Row]) -> ToolTotals:
        runs = [row.run(tool) for row in rows]
        faults = [row for row in rows if row.is_fault]
        walls = [run.wall_s for run in runs]
        return cls(
            faults_caught=sum(bool(row.run(tool).caught) for row in faults),
            faults_missed=tuple(row.target for row in faults if not row.run(tool).caught),
            false_alarms=sum(bool(run.false_alarm) for run in runs),
            unrestored=sum(not run.restored for run in runs),
            timeouts=sum(run.timed_out for run in runs),
            median_wall_s=round(statistics.median(walls), 3),
            total_wall_s=round(sum(walls), 3),
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: _listed(value) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class Goal:
    """The issue's goal for our suite, part by part."""

    every_fault_caught: bool
    no_false_alarm: bool
    everything_restored: bool
    median_ratio_at_most_2x: bool
    ratio_of_medians_at_most_2x: bool

    @property
    def parts(self) -> dict[str, bool]:
        return asdict(self)

    @property
    def met(self) -> bool:
        return all(self.parts.values())

    def to_dict(self) -> dict[str, Any]:
        return {**self.parts, "met": self.met}


@dataclass(frozen=True)
class Totals:
    faults: int
    schemathesis: ToolTotals
    ours: ToolTotals
    median_ratio: float | None  # of the per-target ratios
    ratio_of_medians: float | None
    max_ratio: float | None
    max_ratio_target: str | None
    targets_over_2x: tuple[str, ...]
    goal: Goal

    def tool(self, tool: Tool) -> ToolTotals:
        return self.schemathesis if tool == "schemathesis" else self.ours

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Totals:
        faults = sum(row.is_fault for row in rows)
        schemathesis, ours = ToolTotals.of("schemathesis", rows), ToolTotals.of("ours", rows)
        ratios = [row.ratio for row in rows if row.ratio is not None]
        median_ratio = round(statistics.median(ratios), 3) if ratios else None
        ratio_of_medians = ratio(ours.median_wall_s, schemathesis.median_wall_s)
        max_ratio = max(ratios) if ratios else None
        return cls(
            faults=faults,
            schemathesis=schemathesis,
            ours=ours,
            median_ratio=median_ratio,
            ratio_of_medians=ratio_of_medians,
            max_ratio=max_ratio,
            max_ratio_target=next((row.target for row in rows if row.ratio == max_ratio), None),
            targets_over_2x=tuple(
                row.target for row in rows if row.ratio is not None and row.ratio > 2
            ),
            goal=Goal(
                every_fault_caught=ours.faults_caught == faults,
                no_false_alarm=ours.false_alarms == 0,
                everything_restored=ours.unrestored == 0,
                median_ratio_at_most_2x=median_ratio is not None and median_ratio <= 2,
                ratio_of_medians_at_most_2x=ratio_of_medians is not None and ratio_of_medians <= 2,
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "faults": self.faults,
            **{tool: self.tool(tool).to_dict() for tool in TOOLS},
            "median_ratio": self.median_ratio,
            "ratio_of_medians": self.ratio_of_medians,
            "max_ratio": self.max_ratio,
            "max_ratio_target": self.max_ratio_target,
            "targets_over_2x": list(self.targets_over_2x),
            "goal": self.goal.to_dict(),
        }


@dataclass(frozen=True)
class BenchResult:
    """The whole benchmark: what bench.md and bench.json are written from."""

    settings: Settings
    machine: Machine
    rows: tuple[Row, ...]
    totals: Totals
    bench_wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "machine": self.machine.to_dict(),
            "settings": self.settings.to_dict(),
            "rows": [row.to_dict() for row in self.rows],
            "totals": self.totals.to_dict(),
            "bench_wall_s": self.bench_wall_s,
        }
