"""A comparison with a baseline, as reports show it: its verdict, plain text, and
comparison.json (with its JSON Schema). The markdown section lives with summary.md.

report.json stays the record of the run alone (its schema is closed and versioned); the
comparison, which depends on a baseline the run does not own, goes to comparison.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from ..model import Baseline, Change, CheckChange, Comparison, redact, scrub_result
from ..schemas import schema
from ._common import Headline, one_line, plural, printable
from ._output import write_text

__all__ = [
    "CHANGES",
    "also_failed",
    "baseline_description",
    "comparison_schema",
    "comparison_verdict",
    "explain_change",
    "render_comparison_json",
    "render_comparison_text",
    "scrub_comparison",
    "transition",
    "way_back",
    "ways_back",
    "write_comparison_json",
]

#: How each kind of change is named and marked, in the order reports list them: (section
#: title, short label, emoji).
CHANGES: Final[dict[Change, tuple[str, str, str]]] = {
    Change.REGRESSED: ("Regressions", "regressed", "❌"),
    Change.FIXED: ("Fixed", "fixed", "✅"),
    Change.STILL_FAILING: ("Still failing (accepted)", "still failing", "🔁"),
    Change.NOT_RUN: ("Not run (known failures, not counted as fixed)", "not run", "⏭️"),
    Change.WARNING: ("New advisory warnings (do not fail the gate)", "warning", "⚠️"),
    Change.NEW: ("New checks (not in the baseline)", "new check", "🆕"),
}


def baseline_description(baseline: Baseline) -> str:
    """`old/report.json (the run of 2024-... against staging)`, or the accepted file's."""
    if baseline.report is not None:
        report = baseline.report
        return f"{baseline.source} (the run of {report.started_at} against {report.target.name})"
    entries = plural(len(baseline.accepted), "accepted failure")
    about = f": {one_line(baseline.description, 120)}" if baseline.description.strip() else ""
    return f"{baseline.source} ({entries}{about})"


def comparison_verdict(comparison: Comparison) -> Headline:
    """The gate with a baseline in one line ("1 regression (2 fixed)"; say "since the
    baseline" around it); failing iff the comparison's exit code is not 0."""
    if comparison.interrupted:
        return Headline(
            "⏹", "interrupted before every check ran: not compared", "inconclusive", "interrupted"
        )
    counts = [
        (len(comparison.fixed), "fixed"),
        (len(comparison.still_failing), "still failing (accepted)"),
        (len(comparison.not_run), "not run"),
        (len(comparison.warnings), "new advisory warning(s)"),
        (len(comparison.new_checks), "new check(s)"),
    ]
    causes, regressions = len(comparison.regression_causes), len(comparison.regressions)
    rest = ", ".join(f"{n} {label}" for n, label in counts if n)
    suffix = f" ({rest})" if rest else ""
    if causes < regressions:  # one bug, several checks: the bug is what is counted
        by = "its cause" if causes == 1 else "their causes"
        head = f"{plural(causes, 'regression')} ({regressions} checks failed by {by})"
        return Headline("❌", head + (f"; {rest}" if rest else ""), "fail")
    if regressions:
        return Headline("❌", f"{plural(causes, 'regression')}{suffix}", "fail")
    if comparison.inconclusive:
        return Headline(
            "💥",
            f"no regressions, but inconclusive: checks errored or a restore failed{suffix}",
            "inconclusive",
            "errored",
        )
    return Headline("✅", f"no regressions{suffix}", "ok")


def transition(change: CheckChange, arrow: str = "->") -> str:
    """`passed -> failed`: the baseline's outcome (or "accepted") and this run's."""
    return f"{change.before or 'absent'} {arrow} {change.after or 'absent'}"


def explain_change(change: CheckChange, limit: int = 300) -> str:
    """What a person needs next to the ID: why it was a known failure, why it failed or
    did not run, what to do about an accepted failure that got fixed."""
    parts = []
    reason = change.accepted_reason
    until = f" until {change.expires}" if change.expires else ""
    if change.change is Change.FIXED:
        if change.before == "accepted":  # an accepted-failures entry, now obsolete
            parts.append(f"was accepted{until}: {reason}; remove the entry")
    elif change.expired:
        parts.append(f"acceptance expired on {change.expires}: {reason}")
    elif reason is not None:
        parts.append(f"accepted{until}: {reason}")
    if change.new and change.change is not Change.NEW:
        parts.append("new check")
    if change.caused_by and change.change is not Change.FIXED:
        parts.append(f"the same cause as {change.caused_by}: {change.cause}")
    elif change.detail and change.change is not Change.FIXED:
        parts.append(change.detail)
    return one_line(printable(" - ".join(parts)), limit)


def also_failed(comparison: Comparison, change: CheckChange) -> str:
    """`also failed by the same cause: ROUNDTRIP-METADATA, ...` under a regression that
    leads others; "" otherwise."""
    if change.change is not Change.REGRESSED:
        return ""
    others = [c.check for c in comparison.explained_by(change)]
    return f"also failed by the same cause: {', '.join(others)}" if others else ""


def ways_back(comparison: Comparison) -> list[tuple[CheckChange, list[str]]]:
    """Each regression cause with its way back (the regressions it explains share it)."""
    return [(c, back) for c in comparison.regression_causes if (back := way_back(c))]


def render_comparison_text(comparison: Comparison, kinds: Iterable[Change] = tuple(CHANGES)) -> str:
    """Plain text, one line per changed check (of `kinds`), then the notes and the verdict."""
    lines = [f"Compared with baseline {printable(baseline_description(comparison.baseline))}"]
    shown = [c for kind in kinds for c in comparison.of(kind)]
    width = max((len(c.check) for c in shown), default=0)
    for change in shown:
        label = CHANGES[change.change][1]
        lines.append(
            f"  {label:<14} {printable(change.check):<{width}}  {change.level or '-':<8}  "
            f"{transition(change):<22}  {explain_change(change)}".rstrip()
        )
        also = also_failed(comparison, change)
        if also:
            lines.append(f"      {printable(also)}")
        if change in comparison.regression_causes:
            lines += [f"      {line}" for line in way_back(change)]
    if not comparison.changes:
        lines.append("  nothing changed")
    lines += [f"note: {printable(note)}" for note in comparison.notes]
    verdict = comparison_verdict(comparison)
    lines.append(
        f"{verdict.emoji} since the baseline: {verdict.headline} (exit code {comparison.exit_code})"
    )
    return "\n".join(lines) + "\n"


def way_back(change: CheckChange) -> list[str]:
    """A regression's rerun line and reproduction, as lines of a shell script."""
    lines = [f"# rerun: {printable(change.rerun)}"] if change.rerun else []
    if change.reproduce:
        if change.assumes:
            lines.append(f"# assumes: {one_line(printable(change.assumes), 300)}")
        lines.append(f"# reproduce: {plural(len(change.reproduce), 'request')}, in order")
        lines += [printable(curl) for curl in change.reproduce]
    return lines


def render_comparison_json(comparison: Comparison) -> str:
    return json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n"


def scrub_comparison(comparison: Comparison, secrets: Iterable[str]) -> Comparison:
    """A copy with every secret replaced in every free-text field."""
    found = tuple(s for s in secrets if s)
    if not found:
        return comparison

    def text(value: str) -> str:
        return redact(value, found)

    baseline = comparison.baseline
    return replace(
        comparison,
        baseline=replace(
            baseline,
            source=text(baseline.source),
            description=text(baseline.description),
            report=scrub_result(baseline.report, found) if baseline.report else None,
            accepted=tuple(
                replace(a, reason=text(a.reason), target=a.target and text(a.target))
                for a in baseline.accepted
            ),
        ),
        target=text(comparison.target),
        changes=tuple(
            replace(
                c,
                check=text(c.check),
                detail=text(c.detail),
                accepted_reason=c.accepted_reason and text(c.accepted_reason),
                rerun=text(c.rerun),
                reproduce=tuple(text(curl) for curl in c.reproduce),
                assumes=text(c.assumes),
                cause=text(c.cause),
            )
            for c in comparison.changes
        ),
        notes=tuple(text(n) for n in comparison.notes),
    )


def write_comparison_json(comparison: Comparison, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    return write_text(path, render_comparison_json(scrub_comparison(comparison, secrets)), secrets)


def comparison_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of comparison.json: a fresh copy, free to mutate."""
    return schema("comparison")
