"""What a person sees in the terminal: progress while it runs, then a table of outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..engine import Progress as ProgressCallback
from ..model import CheckResult, Level, Outcome, RunResult
from ..reports._common import edition_line, plural, same_cause_line, verdict

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
            console.print(f"[{done}/{total}] {what}", highlight=False)

        yield plain
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def live(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        yield live


def _outcome_text(result: RunResult, check: CheckResult) -> str:
    outcome, level = check.outcome, check.check.level
    replay = [check.confirmation.value] if check.confirmation else []
    if outcome is Outcome.FAILED and level is Level.ADVISORY and not result.settings.strict:
        return f"[yellow]failed ({', '.join(['advisory', *replay])})[/]"
    shown = f"{outcome.value} ({replay[0]})" if replay else outcome.value
    return f"[{STYLE[outcome]}]{shown}[/]"


def print_result(console: Console, result: RunResult, written: dict[str, Path]) -> None:
    table = Table(title=f"{result.target.name} ({result.target.base_url})", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for check in result.checks:
        table.add_row(
            check.check.id,
            check.check.level.value,
            _outcome_text(result, check),
            escape(
                (same_cause_line(check) or check.reason or plural(check.exchanges, "request"))[:300]
            ),
            end_section=False,
        )
    console.print(table)

    def say(text: str) -> None:  # a line as it is: the terminal wraps it, not us (curl commands)
        console.print(text, soft_wrap=True)

    counts = ", ".join(f"{result.count(o)} {o.value}" for o in Outcome if result.count(o))
    say(
        f"seed {result.settings.seed} - profile {result.settings.profile} - "
        f"{result.requests_sent} requests in {result.duration_s:.1f} s - {counts}"
    )
    say(f"edition judged: {escape(edition_line(result))}")
    for record in result.restore:
        if not record.restored:
            say(
                f"[bold red]{escape(record.message)}[/] conversation "
                f"{escape(record.conversation_id)}: put it back by hand with\n  "
                f"{escape(record.manual_fix or '')}"
            )
    for limit in result.limits:
        say(f"limit of the target (refused cleanly, not a failure): {escape(str(limit))}")
    for note in result.notes:
        say(f"note: {escape(note)}")
    if written:
        say("reports: " + escape(", ".join(str(p) for p in written.values())))
    gate = result.gate_failures
    if result.exit_code != 0 and result.rerun:
        say(f"rerun: {escape(result.rerun)}")
    if gate:
        causes = [r for r in gate if not r.caused_by]
        by = f" by {plural(len(causes), 'cause')}" if len(causes) < len(gate) else ""
        shown = [
            r.check.id + (f" (with {', '.join(r.same_cause)})" if r.same_cause else "")
            for r in causes
        ]
        failed = escape(", ".join(shown))
        say(f"[bold red]NOT CONFORMANT[/]: {len(gate)} check(s) failed{by}: {failed}")
    elif result.exit_code == 3:
        say(f"[magenta]INCOMPLETE[/]: {escape(verdict(result).headline)}")
    else:
        say("[bold green]CONFORMANT[/]: no required check failed")
