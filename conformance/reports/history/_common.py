"""What the history reports agree on: how a run is named, a cell's kind, a failing stretch
in words, the verdicts (each target's latest run, and the whole history), report links,
and scrubbing secrets out of a whole history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from ...model import (
    CheckLine,
    CheckResult,
    History,
    HistoryRun,
    Skipped,
    Stretch,
    Timeline,
    redact,
    scrub_result,
    secret_list,
)
from .._common import KINDS, Headline, kind, plural, verdict

__all__ = [
    "ABSENT",
    "CELL_KINDS",
    "HISTORY_FILES",
    "LatestChanges",
    "cell_kind",
    "history_verdict",
    "latest_changes",
    "line_words",
    "run_counts",
    "run_verdict",
    "run_when",
    "scrub_history",
    "stretch_words",
    "timeline_verdict",
]

#: History report kind -> file name inside the output directory.
HISTORY_FILES: Final = {"markdown": "history.md", "json": "history.json", "html": "history.html"}

ABSENT: Final = "absent"

#: Every cell kind: (label, letter). KINDS, plus "absent": the run did not have the check
#: (an older or newer suite, --check). The letter is what a grid cell shows: no emoji.
CELL_KINDS: Final[dict[str, tuple[str, str]]] = {
    **{
        key: (label, letter)
        for (key, (label, _)), letter in zip(
            KINDS.items(), ("P", "F", "W", "N", "I", "S", "E"), strict=True
        )
    },
    ABSENT: ("not run", "-"),
}


def cell_kind(cell: CheckResult | None) -> str:
    return ABSENT if cell is None else kind(cell)


@dataclass(frozen=True)
class LatestChanges:
    """What the newest run changed against the one before, sorted for people."""

    newly_failing: list[CheckLine]
    fixed: list[CheckLine]
    changed: list[tuple[CheckLine, CheckResult, CheckResult]]  # any other change
    dropped: list[CheckLine]  # the run before had the check, the newest did not run it
    added: list[CheckLine]  # the newest run has it, the one before did not (failed: newly)

    def __bool__(self) -> bool:
        return bool(self.newly_failing or self.fixed or self.changed or self.dropped or self.added)


def latest_changes(timeline: Timeline) -> LatestChanges:
    newly = timeline.newly_failing()
    fixed = timeline.fixed()
    listed = {line.check.id for line in (*newly, *fixed)}
    changes = LatestChanges(newly, fixed, [], [], [])
    for line, before, after in timeline.changed():
        if line.check.id in listed:
            continue
        if after is None:
            changes.dropped.append(line)
        elif before is None:
            changes.added.append(line)
        else:
            changes.changed.append((line, before, after))
    return changes


def run_counts(run: HistoryRun) -> dict[str, int]:
    """How many checks of the run ended in each kind (KINDS order), zeros included."""
    counts = dict.fromkeys(KINDS, 0)
    for r in run.result.checks:
        counts[kind(r)] += 1
    return counts


def run_when(run: HistoryRun) -> str:
    """`2026-11-29 22:01 UTC` from an RFC 3339 time in UTC; anything else as written."""
    text = run.result.started_at
    if len(text) >= 16 and text[10] == "T" and text.endswith(("Z", "+00:00")):
        return f"{text[:10]} {text[11:16]} UTC"
    return text


def _run_ref(timeline: Timeline, number: int) -> str:
    run = timeline.runs[number - 1]
    return f"run {number} ({run_when(run)})"


def stretch_words(timeline: Timeline, stretch: Stretch) -> str:
    """`failing since run 2 (2026-11-29 22:01 UTC), fixed in run 3 (...)`, and the like."""
    words = f"failing since {_run_ref(timeline, stretch.since)}"
    if stretch.from_start:
        words += " or earlier (no earlier run here judged it)"
    if stretch.fixed_in is not None:
        return f"{words}, fixed in {_run_ref(timeline, stretch.fixed_in)}"
    latest = timeline.latest.number
    if stretch.last_failed == latest:
        return words + (", the latest run" if stretch.since == latest else ", still failing")
    return (
        f"{words}, last failed in run {stretch.last_failed}; not judged since "
        "(error, skipped or not run)"
    )


def line_words(timeline: Timeline, line: CheckLine) -> str | None:
    """Every failing stretch of a check, newest first, in words; None: it never failed."""
    if not line.stretches:
        return None
    return "; ".join(stretch_words(timeline, s) for s in reversed(line.stretches))


def run_verdict(run: HistoryRun) -> Headline:
    """The run's verdict, as its own report says it."""
    return verdict(run.result)


def timeline_verdict(timeline: Timeline) -> Headline:
    """The verdict of the target's latest run."""
    return run_verdict(timeline.latest)


def history_verdict(history: History) -> Headline:
    """One line for the whole history: how the targets stand in their latest runs. Its
    status is the worst of theirs."""
    verdicts = [timeline_verdict(t) for t in history.timelines]
    runs = plural(history.runs, "run")
    failing = sum(1 for v in verdicts if v.status == "fail")
    unsure = sum(1 for v in verdicts if v.status == "inconclusive")
    if len(verdicts) == 1:
        only, name = verdicts[0], history.timelines[0].name
        latest = "the only run" if history.runs == 1 else f"the latest of {runs}"
        return replace(only, headline=f"{name}: {only.headline} in {latest}")
    total = plural(len(verdicts), "target")
    if failing:
        tail = f", {unsure} inconclusive" if unsure else ""
        return Headline(
            "❌", f"{failing} of {total} not conformant in their latest run{tail} ({runs})", "fail"
        )
    if unsure:
        return Headline(
            "💥", f"{unsure} of {total} inconclusive in their latest run ({runs})", "inconclusive"
        )
    return Headline("✅", f"all {total} conformant in their latest run ({runs})", "ok")


def scrub_history(history: History, secrets: Iterable[str]) -> History:
    """A copy with every secret replaced in every run, target name and skipped file."""
    found = secret_list(secrets)
    if not found:
        return history

    def timeline(t: Timeline) -> Timeline:
        runs = [replace(r, result=scrub_result(r.result, found)) for r in t.runs]
        lines = [
            replace(
                line,
                cells=tuple(
                    None if c is None else replace(c, reason=redact(c.reason, found))
                    for c in line.cells
                ),
            )
            for line in t.lines
        ]
        return replace(
            t,
            name=redact(t.name, found),
            base_url=redact(t.base_url, found),
            runs=runs,
            lines=lines,
        )

    skipped = [Skipped(s.path, redact(s.reason, found)) for s in history.skipped]
    return replace(history, timelines=[timeline(t) for t in history.timelines], skipped=skipped)
