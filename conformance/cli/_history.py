"""`agentphone-conformance history`: option parsing and what the terminal shows of it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core import HarnessError
from ..jobs import history_job
from ..reports import history_verdict
from ..reports.history import stretch_words, timeline_verdict
from ._commands import _console, _err, _fail
from ._text import line

__all__ = ["history_command"]

_STYLE = {"ok": "bold green", "fail": "bold red"}


@click.command(name="history")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="REPORT.json|DIR...")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports/history"),
    show_default=True,
    help="Where history.md, history.json and history.html go.",
)
@click.option(
    "--last",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep the newest N runs of each target [default: every run found].",
)
def history_command(paths: tuple[Path, ...], out: Path, last: int | None) -> None:
    """Since when? Each check's outcome across many runs of the same targets, oldest to
    newest: the report.json files given, and every report.json under each DIR.

    \b
    A target is a report's target name and base URL (the embedded emulator: its name,
    whatever its faults). A file named here that is not a readable report is an error;
    one found in a directory is left out with a warning that names it.

    \b
    Exit codes: 0 the history was written (whatever the verdicts in it);
    2 bad input: no report found, a named file unreadable or not a report,
    --out not writable.
    """
    try:
        history, written = history_job(list(paths), out, last)
    except HarnessError as error:
        _fail(error)
    for skipped in history.skipped:
        _err.print(
            line(("warning:", "yellow"), f" left out {skipped.path}: {skipped.reason}"),
            soft_wrap=True,
        )
    console = _console(160)
    for timeline in history.timelines:
        headline = timeline_verdict(timeline)
        style = _STYLE.get(headline.status, "magenta")
        console.print(
            line(
                (timeline.name, "bold"),
                f" ({len(timeline.runs)} runs): latest ",
                (headline.headline, style),
            ),
            soft_wrap=True,
        )
        for row in timeline.lines:
            now = row.failing_now
            if now is not None:
                console.print(f"  {row.check.id}: {stretch_words(timeline, now)}", soft_wrap=True)
    console.print("history: " + ", ".join(str(p) for p in written.values()))
    overall = history_verdict(history)
    console.print(overall.headline, soft_wrap=True)
    sys.exit(0)
