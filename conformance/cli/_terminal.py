"""What a person sees in the terminal: progress while it runs, then a table of outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..engine import Progress as ProgressCallback
from ..model import CheckResult, Level, Outcome, RunResult
from ..reports._common import (
    edition_line,
    levels,
    one_line,
    plural,
    same_cause_line,
    table_rows,
    verdict,
)
from ._text import line, styled

__all__ = ["print_result", "progress_reporter"]

STYLE = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "bold red",
    Outcome.NOT_APPLICABLE: "dim",
    Outcome.SKIPPED: "blue",
    Outcome.NOT_IMPLEMENTED: "dim italic",
    Outcome.ERROR: "magenta",
}


@contextmanager
def progress_reporter(console: Console) -> Iterator[ProgressCallback]:
    """A progress bar on a terminal; one line per step otherwise (CI logs)."""
    if not console.is_terminal:

        def plain(what: str, done: int, total: int) -> None:
            console.print(f"[{done}/{total}] {what}", soft_wrap=True)

        yield plain
        return
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def live(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        yield live


def _outcome_text(result: RunResult, check: CheckResult) -> Text:
    outcome, level = check.outcome, check.check.level
    replay = [check.confirmation.value] if check.confirmation else []
    if outcome is Outcome.FAILED and level is Level.ADVISORY and not result.settings.strict:
        return styled(f"failed ({', '.join(['advisory', *replay])})", "yellow")
    shown = f"{outcome.value} ({replay[0]})" if replay else outcome.value
    return styled(shown, STYLE[outcome])


def _count(result: RunResult, outcome: Outcome) -> str:
    """`48 passed`; failures say which of them do not gate: `3 failed (advisory)`."""
    count = result.count(outcome)
    if outcome is not Outcome.FAILED:
        return f"{count} {outcome.value}"
    advisory = count - len(result.gate_failures)
    if not advisory:
        return f"{count} failed"
    return (
        f"{count} failed (advisory)"
        if advisory == count
        else f"{count} failed ({advisory} advisory)"
    )


def print_result(console: Console, result: RunResult, written: dict[str, Path]) -> None:
    table = Table(title=f"{result.target.name} ({result.target.base_url})", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for row in table_rows(result):  # checks that did not run for one reason: one row
        check = row[0]
        detail = same_cause_line(check) or check.reason or plural(check.exchanges, "request")
        table.add_row(
            "\n".join(r.check.id for r in row),
            levels(row),
            _outcome_text(result, check),
            one_line(detail, 300),
            end_section=False,
        )
    console.print(table)

    def say(
        text: str | Text,
    ) -> None:  # a line as it is: the terminal wraps it, not us (curl commands)
        console.print(text, soft_wrap=True)

    counts = ", ".join(_count(result, o) for o in Outcome if result.count(o))
    say(
        f"seed {result.settings.seed} - profile {result.settings.profile} - "
        f"{result.requests_sent} requests in {result.duration_s:.1f} s - {counts}"
    )
    say(f"edition judged: {edition_line(result)}")
    for record in result.restore:
        if not record.restored:
            say(
                line(
                    (record.message, "bold red"),
                    f" conversation {record.conversation_id}: put it back by hand with\n  "
                    f"{record.manual_fix or ''}",
                )
            )
    for limit in result.limits:
        say(f"limit of the target (refused cleanly, not a failure): {limit}")
    for note in result.notes:
        say(f"note: {note}")
    if written:
        say("reports: " + ", ".join(str(p) for p in written.values()))
    gate = result.gate_failures
    if result.exit_code != 0 and result.rerun:
        say(f"rerun: {result.rerun}")
    if gate:
        causes = [r for r in gate if not r.caused_by]
        by = f" by {plural(len(causes), 'cause')}" if len(causes) < len(gate) else ""
        shown = [
            r.check.id + (f" (with {', '.join(r.same_cause)})" if r.same_cause else "")
            for r in causes
        ]
        failed = ", ".join(shown)
        say(line(("NOT CONFORMANT", "bold red"), f": {len(gate)} check(s) failed{by}: {failed}"))
    elif result.exit_code == 3:
        say(line(("INCOMPLETE", "magenta"), f": {verdict(result).headline}"))
    else:
        say(line(("CONFORMANT", "bold green"), ": no required check failed"))
