"""history.md: a short GitHub-flavoured markdown for a CI job summary.

Per target: the latest run's verdict, what changed in it against the run before (newly
failing, fixed), the checks failing since when, and the last few runs in a table. Plain
text marks, no emoji. The timeline of every check and run is history.html's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ...model import CheckLine, History, Timeline
from .._common import TOOL_NAME, plural
from .._markdown import md_code, md_text
from .._output import write_text
from ._common import (
    CELL_KINDS,
    cell_kind,
    history_verdict,
    latest_changes,
    line_words,
    run_counts,
    run_verdict,
    run_when,
    scrub_history,
    stretch_words,
    timeline_verdict,
)

__all__ = ["render_history_markdown", "write_history_markdown"]

MAX_LISTED: Final = 25  # checks listed per list
MAX_TABLE_RUNS: Final = 10  # the newest runs in each target's table
MAX_CHARS: Final = 60_000  # under GitHub's limit on a job summary's part
_STATUS: Final = {"ok": "OK", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}


def _check(line: CheckLine) -> str:
    return f"{md_code(line.check.id)} ({line.check.level.value})"


def _listed(lines: list[str]) -> list[str]:
    shown = lines[:MAX_LISTED]
    if len(lines) > MAX_LISTED:
        shown.append(f"- ... and {len(lines) - MAX_LISTED} more: see history.html")
    return shown


def _ids(lines: list[CheckLine], limit: int = 8) -> str:
    shown = ", ".join(md_code(line.check.id) for line in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def _changes(timeline: Timeline) -> list[str]:
    previous = timeline.previous
    if previous is None:
        return ["The only run of this target: nothing to compare it with.", ""]
    latest = timeline.latest
    head = f"**Run {latest.number} against run {previous.number}:**"
    changes = latest_changes(timeline)
    if not changes:
        return [f"{head} no check changed.", ""]
    lines = [head, ""]
    lines += _listed([f"- newly failing: {_check(line)}" for line in changes.newly_failing])
    lines += _listed([f"- fixed: {_check(line)}" for line in changes.fixed])
    lines += _listed(
        [
            f"- changed: {_check(line)} {CELL_KINDS[cell_kind(before)][0]} -> "
            f"{CELL_KINDS[cell_kind(after)][0]}"
            for line, before, after in changes.changed
        ]
    )
    if changes.dropped:
        lines.append(
            f"- not run in run {latest.number}: {plural(len(changes.dropped), 'check')} "
            f"({_ids(changes.dropped)})"
        )
    if changes.added:
        lines.append(
            f"- new in run {latest.number}: {plural(len(changes.added), 'check')} "
            f"({_ids(changes.added)})"
        )
    return [*lines, ""]


def _since(timeline: Timeline) -> list[str]:
    failing = [(line, s) for line in timeline.lines if (s := line.failing_now) is not None]
    lines = ["**Failing in the latest run, since when:**", ""]
    if not failing:
        lines.append("- none")
    lines += _listed(
        [f"- {_check(line)}: {md_text(stretch_words(timeline, s))}" for line, s in failing]
    )
    earlier = [
        line
        for line in timeline.lines
        if line.stretches and line.failing_now is None and line.stretches[-1].fixed_in
    ]
    if earlier:
        lines += ["", "**Failed earlier, fixed since:**", ""]
        lines += _listed(
            [f"- {_check(line)}: {md_text(line_words(timeline, line) or '')}" for line in earlier]
        )
    return [*lines, ""]


def _table(timeline: Timeline) -> list[str]:
    runs = timeline.runs[-MAX_TABLE_RUNS:]
    lines = [
        "| Run | Started | Seed | Version | Verdict | passed | failed (required) "
        "| failed (advisory) |",
        "|---:|---|---:|---|---|---:|---:|---:|",
    ]
    for run in reversed(runs):
        counts = run_counts(run)
        headline = run_verdict(run)
        lines.append(
            f"| {run.number} | {run_when(run)} | {run.result.settings.seed} | "
            f"{md_text(run.result.tool_version, 40)} | {_STATUS.get(headline.status, '')} "
            f"{md_text(headline.headline, 120)} | {counts['passed']} | "
            f"{counts['failed-required']} | {counts['failed-advisory']} |"
        )
    older = len(timeline.runs) - len(runs)
    notes = [f"{older} older runs: see history.html"] if older else []
    if timeline.left_out:
        notes.append(f"{timeline.left_out} older still left out (--last)")
    if notes:
        lines += ["", f"<sub>{'; '.join(notes)}</sub>"]
    return [*lines, ""]


def _target(timeline: Timeline) -> list[str]:
    latest = timeline.latest
    headline = timeline_verdict(timeline)
    where = "the embedded emulator" if timeline.embedded else timeline.base_url
    return [
        f"### {md_text(timeline.name, 100)} ({md_text(where, 120)})",
        "",
        f"Latest: **{_STATUS.get(headline.status, '')}** {md_text(headline.headline)} - "
        f"run {latest.number} of {len(timeline.runs)}, {run_when(latest)}, seed "
        f"{latest.result.settings.seed}, {TOOL_NAME} {md_text(latest.result.tool_version, 40)}",
        "",
        *_changes(timeline),
        *_since(timeline),
        *_table(timeline),
    ]


def render_history_markdown(history: History) -> str:
    overall = history_verdict(history)
    lines = [f"## History: {md_text(overall.headline)}", ""]
    if history.last:
        lines += [f"The newest {history.last} runs of each target.", ""]
    if history.skipped:
        left_out = plural(len(history.skipped), "file")
        lines += [f"{left_out} left out (not readable reports, or copies of a run):", ""]
        lines += _listed(
            [f"- {md_code(str(s.path))}: {md_text(s.reason)}" for s in history.skipped]
        )
        lines.append("")
    size = sum(len(line) + 1 for line in lines)
    for index, timeline in enumerate(history.timelines):
        part = _target(timeline)
        cost = sum(len(line) + 1 for line in part)
        if size + cost > MAX_CHARS:
            rest = len(history.timelines) - index
            lines += [f"... and {rest} more targets: see history.html", ""]
            break
        lines += part
        size += cost
    lines += [
        f"<sub>{TOOL_NAME} {md_text(history.tool_version)} · drawn {md_text(history.generated_at)}"
        "</sub>",
        "",
    ]
    return "\n".join(lines)


def write_history_markdown(history: History, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    return write_text(path, render_history_markdown(scrub_history(history, secrets)), secrets)
