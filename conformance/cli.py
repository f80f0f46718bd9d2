"""The command line: option parsing and wiring only. Everything else lives elsewhere."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from ._errors import HarnessError
from .emulator import FAULTS, Emulator, UnknownFaultError

__all__ = ["cli", "main"]

_err = Console(stderr=True, highlight=False)


def _fail(error: HarnessError) -> NoReturn:
    _err.print(f"[bold red]error:[/] {error.message} - {error.hint}", soft_wrap=True)
    sys.exit(int(error.code))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentphone-conformance")
def cli() -> None:
    """Conformance suite for the AgentPhone Conversations API."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help="Switch on a fault (repeatable, or comma-separated); see `faults`.",
)
@click.option(
    "--describe",
    is_flag=True,
    help="Print the base URL, keys and conversation ids as one JSON line and exit.",
)
@click.option("--log-requests", is_flag=True, help="Log each request line to stderr.")
def emulator(
    host: str, port: int, faults: tuple[str, ...], describe: bool, log_requests: bool
) -> None:
    """Serve the AgentPhone emulator until Ctrl-C."""
    try:
        server = Emulator(faults=faults, host=host, port=port, log_requests=log_requests)
    except UnknownFaultError as exc:
        _fail(HarnessError(str(exc).split(":")[0], "run `agentphone-conformance faults`"))
    if describe:
        click.echo(json.dumps(server.describe()))
        return
    try:
        server.bind()
    except OSError as exc:
        _fail(
            HarnessError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                "pick another --port, or --port 0 for any free one",
            )
        )
    out = Console(highlight=False)
    active = ", ".join(sorted(server.faults)) or "none"
    out.print(f"AgentPhone emulator on [bold]{server.base_url}[/] (faults: {active})")
    for number, account in enumerate(server.state.describe(), start=1):
        out.print(f"  account {number}: api key {account['api_key']}")
        for conversation_id in account["conversation_ids"]:
            out.print(f"    conversation {conversation_id}")
    out.print("Ctrl-C to stop.")
    _stop_on(signal.SIGINT)
    _stop_on(signal.SIGTERM)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out.print("stopped.")


@cli.command(name="faults")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per fault, one per line.")
def list_faults(as_json: bool) -> None:
    """List the emulator's faults, each with the checks it must trip."""
    if as_json:
        for fault in FAULTS.values():
            click.echo(
                json.dumps(
                    {
                        "name": fault.name,
                        "family": fault.family,
                        "description": fault.description,
                        "trips": list(fault.trips),
                    }
                )
            )
        return
    table = Table(show_lines=False, box=None, pad_edge=False)
    table.add_column("fault", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("what it does", overflow="fold", ratio=1)
    table.add_column("trips", no_wrap=True)
    for fault in FAULTS.values():
        table.add_row(fault.name, fault.family, fault.description, ", ".join(fault.trips))
    Console(highlight=False).print(table)


def _stop_on(signum: int) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> None:
    run: Callable[..., Any] = cli.main
    try:
        run(args=argv, prog_name="agentphone-conformance")
    except HarnessError as error:
        _fail(error)
