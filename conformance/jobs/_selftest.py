"""Proof of teeth: the suite against the conformant emulator and against every fault, on
every edition of the contract the emulator serves and on several seeds.

Each fault names the checks that must catch it; the self-test passes only if every fault is
caught by its checks on every seed and edition it applies to, the conformant emulator passes
clean each time, and every conversation is restored each time. Checks that no fault trips
are listed: they are unproven.

The conformant emulator always goes through the whole suite. A fault goes through the checks
it names (a focused run, several times quicker): the generated requests every run makes, and
the scenario checks among them; where one judges every answer (SHAPE-SCHEMA, ROBUST-NO-5XX,
...), also the scenario checks whose deterministic requests show the fault to it (the fault's
`shown_by`). `whole=True` sends every fault through the whole suite, and shows what else each
trips.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..checks import REGISTRY
from ..core import GivenOptions, TargetSpec
from ..emulator import EDITIONS, FAULTS
from ..model import Outcome, RunResult
from ._run import Job, execute, run_options
from .matrix._pool import run_pooled

__all__ = [
    "SelftestResult",
    "SelftestRow",
    "render_markdown",
    "run_selftest",
    "write_selftest",
]


@dataclass(frozen=True)
class SelftestRow:
    """One run: a fault (or none) on one edition of the emulator, with one seed."""

    fault: str  # "" for the conformant emulator
    edition: str
    seed: int
    expected: tuple[str, ...]
    tripped: tuple[str, ...]  # every check that failed
    restored: bool
    exit_code: int
    seconds: float

    @property
    def ok(self) -> bool:
        if not self.fault:
            return self.exit_code == 0 and not self.tripped and self.restored
        return set(self.expected) <= set(self.tripped) and self.exit_code == 1 and self.restored

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(c for c in self.expected if c not in self.tripped)


@dataclass(frozen=True)
class FaultTally:
    """One fault (or the conformant emulator) on one edition, over every seed."""

    fault: str
    edition: str
    rows: tuple[SelftestRow, ...]

    @property
    def caught(self) -> int:
        """Seeds on which it was caught (the conformant emulator: on which it was clean)."""
        return sum(1 for row in self.rows if row.ok)

    @property
    def ok(self) -> bool:
        return self.caught == len(self.rows)


@dataclass(frozen=True)
class SelftestResult:
    seeds: tuple[int, ...]
    editions: tuple[str, ...]
    rows: tuple[SelftestRow, ...]
    unproven: tuple[str, ...]  # checks no fault trips
    whole: bool = False  # every fault through the whole suite, not only its own checks

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def tallies(self) -> list[FaultTally]:
        """Per fault and edition, in the order they ran."""
        grouped: dict[tuple[str, str], list[SelftestRow]] = {}
        for row in self.rows:
            grouped.setdefault((row.fault, row.edition), []).append(row)
        return [
            FaultTally(fault, edition, tuple(rows)) for (fault, edition), rows in grouped.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "editions": list(self.editions),
            "whole": self.whole,
            "ok": self.ok,
            "faults": [
                {
                    "fault": tally.fault,
                    "edition": tally.edition,
                    "caught": tally.caught,
                    "seeds": len(tally.rows),
                    "ok": tally.ok,
                }
                for tally in self.tallies()
            ],
            "rows": [
                {**asdict(row), "ok": row.ok, "missed": list(row.missed)} for row in self.rows
            ],
            "unproven": list(self.unproven),
        }


def _row(fault: str, edition: str, seed: int, result: RunResult, seconds: float) -> SelftestRow:
    failed = tuple(r.check.id for r in result.checks if r.outcome is Outcome.FAILED)
    return SelftestRow(
        fault=fault,
        edition=edition,
        seed=seed,
        expected=FAULTS[fault].trips if fault else (),
        tripped=failed,
        restored=not result.restore_failed,
        exit_code=result.exit_code,
        seconds=round(seconds, 2),
    )


def focus(fault: str) -> tuple[str, ...]:
    """The checks a focused run of `fault` runs: those it names, and the scenario checks
    whose requests show it to them (`Fault.shown_by`); () for the whole suite."""
    if not fault:
        return ()
    return FAULTS[fault].trips + FAULTS[fault].shown_by


def _one(item: tuple[str, str, int], profile: str, whole: bool) -> SelftestRow:
    """One run of the self-test (in a worker process when there are several)."""
    fault, edition, seed = item
    clock = time.monotonic()
    spec = TargetSpec(faults=(fault,) if fault else (), emulator_edition=edition)
    checks = () if whole else focus(fault)
    options = run_options(GivenOptions(seed=seed, profile=profile, strict=True, checks=checks))
    result, _ = execute(Job(spec, options), None)
    return _row(fault, edition, seed, result, time.monotonic() - clock)


def run_selftest(
    seeds: Sequence[int] = (1,),
    profile: str = "quick",
    faults: Sequence[str] | None = None,
    editions: Sequence[str] = EDITIONS,
    on_row: Callable[[SelftestRow], None] | None = None,
    jobs: int = 1,
    whole: bool = False,
) -> SelftestResult:
    """Run the conformant emulator, then each fault, on each edition (the faults that apply
    to it) and each seed, at most `jobs` at once; `--strict` so advisory checks gate too.
    Every run has an emulator of its own, so they may run side by side. `whole`: every fault
    through the whole suite, not only through the checks it names."""
    chosen = list(faults if faults is not None else FAULTS)
    items = [
        (fault, edition, seed)
        for edition in editions
        for fault in ("", *(f for f in chosen if edition in FAULTS[f].editions))
        for seed in seeds
    ]
    done: dict[tuple[str, str, int], SelftestRow] = {}

    def finished(item: tuple[str, str, int], outcome: SelftestRow | BaseException) -> None:
        if isinstance(outcome, BaseException):
            raise outcome
        done[item] = outcome
        if on_row:
            on_row(outcome)

    call = functools.partial(_one, profile=profile, whole=whole)
    if jobs <= 1:
        for item in items:
            finished(item, call(item))
    elif run_pooled([[item] for item in items], call, jobs, lambda _item: None, finished):
        raise KeyboardInterrupt
    rows = tuple(done[item] for item in items)
    proven = {check for row in rows if row.fault for check in row.tripped}
    unproven = tuple(check for check in REGISTRY if check not in proven)
    return SelftestResult(tuple(seeds), tuple(editions), rows, unproven, whole)


def render_markdown(result: SelftestResult) -> str:
    verdict = "✅ every fault caught" if result.ok else "❌ the suite missed something"
    seeds = ", ".join(str(s) for s in result.seeds)
    lines = [
        f"## Self-test: {verdict}",
        "",
        f"Seeds {seeds}; editions {', '.join(result.editions)}. Each fault must be caught by "
        "the checks it names on every seed; the conformant emulator must pass clean; every "
        "conversation must be restored. "
        + (
            "Every fault ran through the whole suite."
            if result.whole
            else "Each fault ran through the checks it names and the scenario checks that show "
            "it to them; `--whole` shows what else each fault trips."
        ),
        "",
        "| fault | edition | should trip | caught on | missed (seed: checks) | also tripped | "
        "restored | ok |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tally in result.tallies():
        expected = set(tally.rows[0].expected)
        extra = sorted({c for row in tally.rows for c in row.tripped if c not in expected})
        missed = [f"{row.seed}: {', '.join(row.missed)}" for row in tally.rows if row.missed]
        restored = all(row.restored for row in tally.rows)
        lines.append(
            f"| {tally.fault or '(conformant emulator)'} | {tally.edition} | "
            f"{', '.join(tally.rows[0].expected) or '-'} | "
            f"{tally.caught} of {len(tally.rows)} seeds | {'; '.join(missed) or '-'} | "
            f"{', '.join(extra) or '-'} | {'yes' if restored else '**NO**'} | "
            f"{'✅' if tally.ok else '❌'} |"
        )
    lines += ["", "### Unproven checks (no fault trips them)", ""]
    lines += [f"- {check}" for check in result.unproven] or ["None: every check is proven."]
    return "\n".join(lines) + "\n"


def write_selftest(result: SelftestResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    markdown, data = directory / "selftest.md", directory / "selftest.json"
    markdown.write_text(render_markdown(result), encoding="utf-8")
    data.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return [markdown, data]
