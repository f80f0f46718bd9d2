"""The whole benchmark: for every target, both tools, one after the other."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable

from conformance.emulator import FAULTS

from .machine import describe_machine, load_average
from .rows import BenchResult, Row, ToolRun, Totals
from .settings import TOOLS, Settings, Tool
from .tools import run_tool


def run_benchmark(settings: Settings, progress: Callable[[str], None]) -> BenchResult:
    """Run every target of `settings`; `progress` gets a line per tool run."""
    settings.out.mkdir(parents=True, exist_ok=True)
    if settings.raw_root.exists():
        shutil.rmtree(settings.raw_root)
    machine = describe_machine()
    clock = time.monotonic()
    rows: list[Row] = []
    count = len(settings.targets)
    for index, target in enumerate(settings.targets):
        # Alternate who goes first, so neither tool always gets the warmer caches.
        order: tuple[Tool, ...] = TOOLS if index % 2 == 0 else TOOLS[::-1]
        runs: dict[Tool, ToolRun] = {}
        for tool in order:
            run = runs[tool] = run_tool(tool, target, settings, settings.raw_root / target / tool)
            progress(
                f"[{index + 1}/{count}] {target:36} {tool:12} {run.verdict:10} {run.wall_s:7.2f} s"
            )
        fault = FAULTS.get(target)
        rows.append(
            Row(
                target=target,
                family=fault.family if fault else None,
                trips=tuple(fault.trips) if fault else (),
                order=order,
                schemathesis=runs["schemathesis"],
                ours=runs["ours"],
            )
        )
    elapsed = time.monotonic() - clock
    return BenchResult(
        settings=settings,
        machine=dataclasses.replace(machine, load_average_at_end=load_average()),
        rows=tuple(rows),
        totals=Totals.of(rows),
        bench_wall_s=round(elapsed, 1),
    )
