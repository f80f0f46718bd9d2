"""A target's conformance over time: its runs oldest to newest, each check's outcome in
each, and the stretches in which a check failed ("failing since run 2, fixed in run 3").

Built by `build_history` from finished `RunResult`s (report.json files read back); read by
the history report writers. Like `_results`, it knows nothing of HTTP, checks' code or the
CLI. A history keeps of each run only what it shows (`lighten`): outcomes, levels, reasons
and what the verdict needs; the evidence stays in the run's own report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ._results import CheckInfo, CheckResult, Outcome, RunResult, TargetInfo

__all__ = [
    "EMBEDDED_URL",
    "HISTORY_FORMAT",
    "CheckLine",
    "History",
    "HistoryRun",
    "Skipped",
    "Stretch",
    "Timeline",
    "build_history",
    "lighten",
    "target_key",
]

HISTORY_FORMAT = 1  # bump when history.json changes incompatibly

#: What stands for the base URL of the embedded emulator in a target's key: it listens on
#: loopback at a port picked anew for every run, so its URL names no target.
EMBEDDED_URL: Final = "embedded"
MAX_REASON: Final = 300  # characters of a check's reason a history keeps


def lighten(result: RunResult) -> RunResult:
    """What a history keeps of a run: no findings, no metadata of restores, no notes
    (hundreds of runs fit in memory; every detail stays in the run's own report)."""
    return replace(
        result,
        checks=[replace(c, findings=[], reason=c.reason[:MAX_REASON]) for c in result.checks],
        restore=[replace(r, original_metadata=None, manual_fix=None) for r in result.restore],
        notes=[],
    )


def target_key(target: TargetInfo) -> tuple[str, str]:
    """The runs of one target: the same name and base URL as the reports record them (the
    embedded emulator, with whatever faults, by its name alone: its URL changes each run)."""
    return target.name, EMBEDDED_URL if target.embedded else target.base_url


@dataclass(frozen=True)
class HistoryRun:
    """One run in a target's history: its (lightened) result and where its report is."""

    result: RunResult
    source: Path  # its report.json
    html: Path | None = None  # the report.html beside it, if there is one
    number: int = 0  # 1 for the oldest run of its timeline, counting up

    @property
    def label(self) -> str:
        """`run 3`."""
        return f"run {self.number}"


@dataclass(frozen=True)
class Stretch:
    """Runs in which a check failed with no pass between them. Runs that did not judge it
    (an error, skipped, not applicable, not run) neither start nor end a stretch."""

    since: int  # the number of the first run that failed it
    last_failed: int  # the number of the last run of the stretch that failed it
    fixed_in: int | None  # the first run after it that passed the check; None: none did
    from_start: bool  # no earlier run here judged the check: it may have failed before

    @property
    def open(self) -> bool:
        return self.fixed_in is None


@dataclass(frozen=True)
class CheckLine:
    """One check across a target's runs."""

    check: CheckInfo  # as the newest run that has the check describes it
    cells: tuple[CheckResult | None, ...]  # one per run, oldest first; None: not run there
    stretches: tuple[Stretch, ...]  # oldest first

    @property
    def failing_now(self) -> Stretch | None:
        """The open stretch, if the newest run failed the check."""
        last = self.cells[-1] if self.cells else None
        if self.stretches and self.stretches[-1].open and last is not None:
            return self.stretches[-1] if last.outcome is Outcome.FAILED else None
        return None


@dataclass
class Timeline:
    """One target: its runs oldest to newest, and each check across them."""

    name: str
    base_url: str  # as the newest run records it
    embedded: bool
    slug: str  # unique within the history, safe in an HTML id
    runs: list[HistoryRun]
    lines: list[CheckLine]
    left_out: int = 0  # older runs left out (--last)

    @property
    def latest(self) -> HistoryRun:
        return self.runs[-1]

    @property
    def previous(self) -> HistoryRun | None:
        return self.runs[-2] if len(self.runs) > 1 else None

    def changed(self) -> list[tuple[CheckLine, CheckResult | None, CheckResult | None]]:
        """The checks whose outcome (or level of failure) the newest run changed, with the
        result before and after; nothing when there is one run."""
        if len(self.runs) < 2:
            return []
        found = []
        for line in self.lines:
            before, after = line.cells[-2], line.cells[-1]
            if _state(before) != _state(after):
                found.append((line, before, after))
        return found

    def newly_failing(self) -> list[CheckLine]:
        """Checks the newest run failed and the one before did not."""
        return [
            line for line, before, after in self.changed() if _failed(after) and not _failed(before)
        ]

    def fixed(self) -> list[CheckLine]:
        """Checks the run before the newest failed and the newest passed."""
        return [
            line
            for line, before, after in self.changed()
            if _failed(before) and after is not None and after.outcome is Outcome.PASSED
        ]


def _failed(cell: CheckResult | None) -> bool:
    return cell is not None and cell.outcome is Outcome.FAILED


def _state(cell: CheckResult | None) -> tuple[str, str] | None:
    if cell is None:
        return None
    return cell.outcome.value, cell.check.level.value if cell.outcome is Outcome.FAILED else ""


@dataclass(frozen=True)
class Skipped:
    """A file found in a directory that is not a readable report: left out, named."""

    path: Path
    reason: str


@dataclass
class History:
    timelines: list[Timeline]
    tool_version: str  # of the suite that drew the history
    generated_at: str  # RFC 3339, UTC
    skipped: list[Skipped] = field(default_factory=list)
    last: int | None = None  # --last: the newest N runs of each target kept

    @property
    def runs(self) -> int:
        return sum(len(t.runs) for t in self.timelines)


def _when(run: HistoryRun) -> tuple[int, datetime | str]:
    try:
        when = datetime.fromisoformat(run.result.started_at)
    except ValueError:  # not RFC 3339 after all: after every run that is, as written
        return 1, run.result.started_at
    return 0, when if when.tzinfo else when.replace(tzinfo=UTC)


def _stretches(numbers: list[int], cells: list[CheckResult | None]) -> tuple[Stretch, ...]:
    found: list[Stretch] = []
    judged = start = False  # judged: an earlier run passed or failed the check
    since = last = None
    for number, cell in zip(numbers, cells, strict=True):
        if cell is None or cell.outcome not in (Outcome.PASSED, Outcome.FAILED):
            continue
        if cell.outcome is Outcome.FAILED:
            if since is None:
                since, start = number, not judged
            last = number
        elif since is not None and last is not None:
            found.append(Stretch(since, last, number, start))
            since = last = None
        judged = True
    if since is not None and last is not None:
        found.append(Stretch(since, last, None, start))
    return tuple(found)


def _lines(runs: list[HistoryRun]) -> list[CheckLine]:
    """Every check any run has: in the newest run's order, then those only older runs had."""
    infos: dict[str, CheckInfo] = {}
    by_run = [{r.check.id: r for r in run.result.checks} for run in runs]
    for found in reversed(by_run):
        for check_id, r in found.items():
            infos.setdefault(check_id, r.check)
    numbers = [run.number for run in runs]
    lines = []
    for check_id, info in infos.items():
        cells = [results.get(check_id) for results in by_run]
        lines.append(CheckLine(info, tuple(cells), _stretches(numbers, cells)))
    return lines


def _slugs(names: Iterable[str]) -> list[str]:
    taken: set[str] = set()
    found = []
    for name in names:
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "target"
        slug, number = base, 1
        while slug in taken:
            number += 1
            slug = f"{base}-{number}"
        taken.add(slug)
        found.append(slug)
    return found


def build_history(
    runs: Iterable[HistoryRun],
    *,
    tool_version: str,
    generated_at: str,
    last: int | None = None,
    skipped: Iterable[Skipped] = (),
) -> History:
    """The history of every target the runs are of: one timeline per target (in the order
    each first appears), its runs oldest to newest by `started_at` (ties: in the order
    given), only the newest `last` of them if given. Each run is lightened."""
    grouped: dict[tuple[str, str], list[HistoryRun]] = {}
    for run in runs:
        light = replace(run, result=lighten(run.result))
        grouped.setdefault(target_key(run.result.target), []).append(light)
    timelines = []
    slugs = _slugs(name for name, _ in grouped)
    for (name, _), slug, found in zip(grouped, slugs, grouped.values(), strict=True):
        ordered = sorted(found, key=_when)  # stable: ties keep the order given
        kept = ordered[-last:] if last else ordered
        numbered = [replace(run, number=index) for index, run in enumerate(kept, start=1)]
        newest = numbered[-1].result.target
        timelines.append(
            Timeline(
                name=name,
                base_url=newest.base_url,
                embedded=newest.embedded,
                slug=slug,
                runs=numbered,
                lines=_lines(numbered),
                left_out=len(ordered) - len(kept),
            )
        )
    return History(
        timelines=timelines,
        tool_version=tool_version,
        generated_at=generated_at,
        skipped=list(skipped),
        last=last,
    )
