"""What a terminal shows of a differential run: the groups of divergences, then the
headline with its exit code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..model import DifferentialResult
from ..reports import differential_headline
from ..reports._common import printable
from ._text import line, styled

__all__ = ["print_differential"]

MAX_ROWS = 40


def print_differential(
    console: Console, result: DifferentialResult, written: Mapping[str, Path]
) -> None:
    groups = result.groups()
    if groups:
        table = Table(title="divergences", title_justify="left")
        table.add_column("what differs", overflow="fold", ratio=2)
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column("reference", overflow="fold", ratio=1)
        table.add_column("candidate", overflow="fold", ratio=1)
        table.add_column("contract", overflow="fold", ratio=1)
        for group in groups[:MAX_ROWS]:
            where = f" {group.member}" if group.member else ""
            decided = (
                styled(f"decided: the {group.first.breaks} breaks it", "red")
                if group.decided
                else styled("open", "yellow")
            )
            table.add_row(
                printable(f"{group.kind}{where}, {group.request}"),
                str(group.count),
                printable(group.first.reference),
                printable(group.first.candidate),
                decided,
            )
        console.print(table)
        if len(groups) > MAX_ROWS:
            console.print(f"... {len(groups) - MAX_ROWS} more groups: see differential.md")
    for failed in result.unrestored:
        console.print(styled(printable(failed), "bold red"))
    if result.noise:
        noise = ", ".join(f"{k} ({v})" for k, v in sorted(result.noise.items()))
        console.print(printable("noise: " + noise))
    if written:
        console.print(printable("reports: " + ", ".join(str(p) for p in written.values())))
    style = {0: "bold green", 1: "bold red", 3: "magenta", 4: "bold yellow"}[result.exit_code]
    console.print(line((differential_headline(result), style), f" (exit code {result.exit_code})"))
