"""What a person sees in the terminal of a comparison with a baseline: a few lines after
a run, or a table from `diff`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model import Change, Comparison
from ..reports import render_changes_markdown, render_comparison_json, render_comparison_text
from ..reports._changes import (
    CHANGES,
    also_failed,
    baseline_description,
    comparison_verdict,
    explain_change,
    transition,
    ways_back,
)
from ._text import line, styled

__all__ = ["emit_comparison", "print_comparison"]

STYLE = {
    Change.REGRESSED: "bold red",
    Change.FIXED: "green",
    Change.STILL_FAILING: "yellow",
    Change.NOT_RUN: "blue",
    Change.WARNING: "yellow",
    Change.NEW: "cyan",
}

#: What `run --baseline` lists check by check; the other kinds are counted.
SHORT = (Change.REGRESSED, Change.FIXED, Change.STILL_FAILING)


def _verdict_line(comparison: Comparison) -> Text:
    verdict = comparison_verdict(comparison)
    style = {"ok": "bold green", "fail": "bold red"}.get(verdict.status, "magenta")
    return line(
        (f"{verdict.emoji} since the baseline: {verdict.headline}", style),
        f" (exit code {comparison.exit_code})",
    )


def _print_short(console: Console, comparison: Comparison) -> None:
    for kind in SHORT:
        label = CHANGES[kind][1]
        changes = comparison.regression_causes if kind is Change.REGRESSED else comparison.of(kind)
        for change in changes:  # a regression: its cause, with the checks it explains
            why = explain_change(change, limit=160)
            also = [c.check for c in comparison.explained_by(change)]
            why += f" (with {', '.join(also)})" if also else ""
            console.print(
                line(
                    "  ",
                    (label, STYLE[kind]),
                    f" {change.check} ({transition(change)}){': ' + why if why else ''}",
                ),
                soft_wrap=True,
            )
    others = [
        f"{len(comparison.of(kind))} {CHANGES[kind][1]}"
        for kind in CHANGES
        if kind not in SHORT and comparison.of(kind)
    ]
    if others:
        console.print(f"  and {', '.join(others)}: see summary.md or comparison.json")


def _print_table(console: Console, comparison: Comparison) -> None:
    if not comparison.changes:
        console.print("  nothing changed: every check ended as it did in the baseline")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("change", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("baseline -> now", no_wrap=True)
    table.add_column("why", overflow="fold", ratio=1)
    for kind, (_, label, _) in CHANGES.items():
        for change in comparison.of(kind):
            table.add_row(
                styled(label, STYLE[kind]),
                change.check,
                change.level or "-",
                transition(change),
                " - ".join(filter(None, [explain_change(change), also_failed(comparison, change)])),
            )
    console.print(table)


def print_comparison(console: Console, comparison: Comparison, *, short: bool = False) -> None:
    """The comparison and its verdict; `short` (after a run): only what regressed, got
    fixed or still fails, the rest counted."""
    console.print(f"baseline: {baseline_description(comparison.baseline)}", soft_wrap=True)
    if short:
        _print_short(console, comparison)
    else:
        _print_table(console, comparison)
        for _, back in ways_back(comparison):  # the way back, as lines to copy
            for text in back:
                console.print(f"  {text}", soft_wrap=True)
    for note in comparison.notes:
        console.print(f"note: {note}", soft_wrap=True)
    console.print(_verdict_line(comparison))


def emit_comparison(console: Console, comparison: Comparison, fmt: str | None = None) -> None:
    """`diff`'s output: `fmt` text, markdown or json; None: a table on a terminal, plain
    text when piped."""
    if fmt is None and console.is_terminal:
        print_comparison(console, comparison)
        return
    render = {
        "markdown": render_changes_markdown,
        "json": render_comparison_json,
    }.get(fmt or "text", render_comparison_text)
    text = render(comparison)
    console.file.write(text if text.endswith("\n") else text + "\n")
