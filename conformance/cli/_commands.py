"""The command line: option parsing and wiring only. Everything else lives elsewhere."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table

from .. import __version__
from ..checks import REGISTRY
from ..core import PROFILES, HarnessError
from ..emulator import EDITIONS, FAULTS, Emulator, UnknownFaultError
from ..jobs import (
    DEFAULT_REPORT_DIR,
    Job,
    SelftestRow,
    choose_finding,
    ensure_writable,
    execute,
    execute_differential,
    load_baseline,
    load_run_report,
    plan_differential,
    plan_run,
    reproduce,
    run_selftest,
    write_selftest,
)
from ..jobs.matrix import matrix_job
from ..model import compare
from ._cache import use_cache_directory
from ._comparison import emit_comparison, print_comparison
from ._differential import print_differential
from ._matrix import MatrixReporter, print_matrix
from ._options import PROFILE, given_options, target_options, tuning_options
from ._terminal import print_result, progress_reporter
from ._text import line, plain_console, styled

__all__ = ["cli", "main"]

_err = plain_console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: HarnessError) -> NoReturn:
    _err.print(line(("error:", "bold red"), f" {error.message} - {error.hint}"), soft_wrap=True)
    sys.exit(int(error.code))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentphone-conformance")
def cli() -> None:
    """Conformance suite for the AgentPhone Conversations API."""


def _console(width: int) -> Console:
    """Standard output: a terminal as it is; piped (CI logs), `width` columns wide."""
    out = plain_console()
    return out if out.is_terminal else plain_console(width=width)


@cli.command(name="run")
@target_options()
@click.option(
    "--webhook-secret-env",
    metavar="NAME",
    help="Variable holding the secret of a TEST account's webhook you pointed at the receiver: "
    "enables the webhook checks against a real target (the suite never registers one there).",
)
@click.option(
    "--webhook-trigger",
    metavar="COMMAND",
    help="A command that makes a message arrive on $CONVERSATION_ID (with --webhook-secret-env).",
)
@click.option(
    "--webhook-wait",
    type=float,
    metavar="SECONDS",
    help="Instead of a trigger: wait this long for a message you send by hand when asked.",
)
@click.option(
    "--webhook-listen",
    metavar="HOST:PORT",
    help="Where the webhook receiver listens [default: 127.0.0.1, any free port].",
)
@click.option(
    "--webhook-public-url",
    metavar="URL",
    help="The URL deliveries are sent to, when a tunnel forwards it to the receiver.",
)
@click.option(
    "--emulator-edition",
    type=click.Choice(EDITIONS),
    help="The edition of the contract the embedded emulator serves [default: current].",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_REPORT_DIR,
    show_default=True,
    help="Where the reports go.",
)
@click.option(
    "--har",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write every exchange of the run as HAR 1.2 (redacted), for a browser's "
    "network panel.",
)
@click.option(
    "--badge",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write the verdict as an SVG badge (conformant, N failing, inconclusive, "
    "not testable).",
)
@tuning_options
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Gate on regressions only: compare with an earlier report.json or an "
    "accepted-failures file (see README).",
)
def run_command(**params: Any) -> None:
    """Run the conformance suite against a target (default: the embedded emulator)."""
    job, report_dir, baseline_file = run_job(params)
    baseline = load_baseline(baseline_file) if baseline_file is not None else None
    with progress_reporter(_err) as progress:
        result, written = execute(job, report_dir, progress, baseline=baseline)
    out = _console(160)  # CI logs: room for the detail column
    print_result(out, result, written)
    if baseline is not None:
        comparison = compare(baseline, result)
        print_comparison(out, comparison, short=True)
        sys.exit(comparison.exit_code)
    sys.exit(result.exit_code)


def run_job(params: dict[str, Any]) -> tuple[Job, Path, Path | None]:
    """The `run` command's parsed parameters as a job, its report directory and its
    baseline file: shared with the pytest plugin, which parses the same command line."""
    params = dict(params)
    report_dir: Path = params.pop("report_dir")
    baseline_file: Path | None = params.pop("baseline_file", None)
    return plan_run(given=given_options(params), **params), report_dir, baseline_file


@cli.command(name="differential")
@target_options(reference=True)
@click.option(
    "--candidate",
    "candidate_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The candidate as a TOML target file, its conversations given in the order of the "
    "reference's. Default: the embedded emulator, seeded from the reference.",
)
@click.option(
    "--candidate-fault",
    "candidate_faults",
    multiple=True,
    metavar="NAME",
    help="The embedded candidate with this fault on (repeatable).",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_REPORT_DIR,
    show_default=True,
    help="Where differential.md/.json/.html go (each side's own reports in reference/ "
    "and candidate/).",
)
@tuning_options
def differential_command(
    candidate_file: Path | None, candidate_faults: tuple[str, ...], **params: Any
) -> None:
    """Differential conformance: the suite's requests sent to a reference and to a
    candidate (default: the embedded emulator, seeded from the reference), every difference
    the reference's own noise does not explain reported, decided by the contract or open.

    \b
    Exit codes: 0 no divergence; 1 a divergence the contract decides (one side breaks
    it); 4 divergences only where the contract leaves it open (a fidelity gap);
    2 bad options; 3 a target unusable; 130 interrupted.
    """
    report_dir: Path = params.pop("report_dir")
    reference = plan_run(given=given_options(params), **params)
    job = plan_differential(reference, candidate_file, candidate_faults)
    with progress_reporter(_err) as progress:
        result, written = execute_differential(job, report_dir, progress)
    print_differential(_console(160), result, written)
    sys.exit(result.exit_code)


@cli.command(name="diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    help="[default: a table on a terminal, text when piped]",
)
@click.option(
    "--strict",
    is_flag=True,
    default=None,
    help="Advisory failures regress too [default: as the NEW run was].",
)
def diff_command(old: Path, new: Path, fmt: str | None, strict: bool | None) -> None:
    """Compare NEW (a report.json) with OLD (a report.json or an accepted-failures file):
    exit 0 if nothing regressed, 1 if something did, 2 on bad input (3: NEW had errors)."""
    comparison = compare(load_baseline(old), load_run_report(new), strict=strict)
    emit_comparison(_console(160), comparison, fmt)
    sys.exit(comparison.exit_code)


@cli.command(name="reproduce")
@click.argument("report", type=click.Path(path_type=Path))
@click.argument("check")
@click.option(
    "--finding",
    "number",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Which finding of the check (report.html numbers them).",
)
@click.option(
    "--base-url",
    help="Send the steps here instead of the report's target (keys from the variables the "
    "steps name; the embedded emulator needs none).",
)
def reproduce_command(report: Path, check: str, number: int, base_url: str | None) -> None:
    """Send a finding's requests again, in order, to the report's target (or --base-url),
    and put back what they changed: exit 0 once sent and restored, 3 if the target stopped
    answering or a conversation could not be put back, 2 on bad input."""
    result = load_run_report(report)
    finding = choose_finding(result, check, number)
    out = _console(160)
    done = reproduce(result, finding, base_url, lambda text: out.print(text, soft_wrap=True))
    if done.stopped:
        out.print(f"stopped: {done.stopped}", soft_wrap=True)
    if done.compared:
        out.print(f"last answer: {done.compared}", soft_wrap=True)
    for path, ok in done.restored:
        out.print(f"{'restored' if ok else 'NOT RESTORED'}: {path}", soft_wrap=True)
    out.print(f"the run found: {finding.message}", soft_wrap=True)
    trouble = bool(done.stopped) or not all(ok for _, ok in done.restored)
    sys.exit(3 if trouble else 0)


@cli.command(name="matrix")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), metavar="[FILE]...")
@click.option(
    "--merge",
    is_flag=True,
    help="Run nothing: the FILEs are report.json files (or directories holding them) "
    "written by `run` elsewhere, merged into one matrix.",
)
@click.option("--no-emulator", is_flag=True, help="Leave out the embedded emulator's column.")
@click.option(
    "--reference",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also compare every target with this one (a target file: the implementation you "
    "trust), as `differential` does: a column of divergence counts.",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_REPORT_DIR,
    show_default=True,
    help="Where matrix.md/.json/.html go; each run's reports go in targets/<name>/.",
)
@click.option(
    "--har",
    is_flag=True,
    help="Also write each target's exchanges as HAR 1.2: targets/<name>/run.har.",
)
@click.option(
    "--badges",
    is_flag=True,
    help="Also write each target's verdict as an SVG badge: targets/<name>/badge.svg.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="At most N targets at once [default: 2]; targets that share a conversation "
    "never run together.",
)
@tuning_options
def matrix_command(
    files: tuple[Path, ...],
    merge: bool,
    no_emulator: bool,
    report_dir: Path,
    jobs: int | None,
    har: bool,
    badges: bool,
    reference: Path | None,
    **tuning: Any,
) -> None:
    """Compatibility matrix: the suite against each target FILE (TOML, as for `run
    --target`) and the embedded emulator, checks down, targets across; or, with --merge,
    report.json files from elsewhere (one CI job per vendor) in one table.

    \b
    Exit codes: 0 every target conformant; 1 a target has gating failures;
    3 a target was unusable (unreachable, key missing or refused) or its run
    inconclusive, and none failed; 2 bad options or files; 130 interrupted.
    """
    matrix, written = matrix_job(
        files,
        given_options(tuning),
        report_dir,
        merge=merge,
        include_emulator=not no_emulator,
        jobs=jobs,
        har=har,
        badges=badges,
        progress=MatrixReporter(_err),
        reference=reference,
    )
    print_matrix(_console(160), matrix, written)
    sys.exit(matrix.exit_code)


@cli.command()
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_REPORT_DIR,
    show_default=True,
    help="Where selftest.md and selftest.json go.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=1, show_default=True, help="The first seed."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    metavar="N",
    help="At most N runs at once (each against an emulator of its own).",
)
@click.option(
    "--seeds",
    "count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Run every fault on N seeds (--seed, --seed + 1, ...): a fault caught on fewer "
    "than all of them fails the self-test.",
)
@click.option(
    "--edition",
    type=click.Choice([*EDITIONS, "both"]),
    default="both",
    show_default=True,
    help="The edition(s) of the contract the emulator serves.",
)
@click.option(
    "--profile", type=click.Choice(list(PROFILES)), default=PROFILE.default, show_default=True
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME",
    help="Only these faults (repeatable); default: the whole catalogue.",
)
@click.option(
    "--whole",
    is_flag=True,
    help="Run every fault through the whole suite (slower), not only through the checks it "
    "names; shows what else each fault trips.",
)
def selftest(
    report_dir: Path,
    seed: int,
    jobs: int,
    count: int,
    edition: str,
    profile: str,
    faults: tuple[str, ...],
    whole: bool,
) -> None:
    """Prove the suite's teeth: every fault of the emulator must be caught, on every seed.

    The conformant emulator goes through the whole suite; each fault through the checks it
    names and the scenario checks that show it to them, unless --whole."""
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise HarnessError(f"unknown fault {unknown[0]!r}", "run `agentphone-conformance faults`")
    ensure_writable(report_dir)  # before minutes of runs, not after
    out = _console(200)  # CI logs: one line per fault

    def show(row: SelftestRow) -> None:
        mark = styled("ok", "green") if row.ok else styled("FAIL", "bold red")
        name = row.fault or "(conformant emulator)"
        detail = f"missed {', '.join(row.missed)}" if row.missed else ", ".join(row.tripped)
        out.print(
            line(
                mark,
                f" {name:38} {row.edition:>7} edition, seed {row.seed:<4} {row.seconds:5.1f} s"
                f"  {detail}",
            )
        )

    result = run_selftest(
        seeds=range(seed, seed + count),
        profile=profile,
        faults=faults or None,
        editions=EDITIONS if edition == "both" else (edition,),
        on_row=show,
        jobs=jobs,
        whole=whole,
    )
    written = write_selftest(result, report_dir)
    for tally in result.tallies():
        if not tally.ok:
            out.print(
                line(
                    (tally.fault or "(conformant emulator)", "bold red"),
                    f" ({tally.edition}): {tally.caught} of {len(tally.rows)} seeds",
                )
            )
    if result.unproven:
        out.print("unproven checks (no fault trips them): " + ", ".join(result.unproven))
    out.print("reports: " + ", ".join(str(p) for p in written))
    out.print(
        styled("self-test passed", "bold green")
        if result.ok
        else styled("self-test FAILED", "bold red")
    )
    sys.exit(result.exit_code)


@cli.command(name="checks")
def list_checks() -> None:
    """List every check: ID, level, requirement and source."""
    table = Table(box=None, pad_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("requirement (source)", overflow="fold", ratio=1)
    for check in REGISTRY.values():
        info = check.info
        table.add_row(
            info.id, info.level.value, line(info.requirement, (f" ({info.source})", "dim"))
        )
    _console(220).print(table)


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
@click.option(
    "--edition",
    type=click.Choice(EDITIONS),
    default="current",
    show_default=True,
    help="Serve the seed page's edition of the API, or the current one (later additions).",
)
@click.option(
    "--throttle",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Answer every Nth request 429 with Retry-After (0: never), as a "
    "rate-limited service does.",
)
def emulator(
    host: str,
    port: int,
    faults: tuple[str, ...],
    describe: bool,
    log_requests: bool,
    edition: str,
    throttle: int,
) -> None:
    """Serve the AgentPhone emulator until Ctrl-C."""
    try:
        server = Emulator(
            faults=faults,
            host=host,
            port=port,
            log_requests=log_requests,
            throttle_every=throttle,
            edition=edition,
        )
    except UnknownFaultError as exc:
        _fail(HarnessError(f"unknown fault {exc.name!r}", "run `agentphone-conformance faults`"))
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
    out = plain_console()
    active = ", ".join(sorted(server.faults)) or "none"
    out.print(line("AgentPhone emulator on ", (server.base_url, "bold"), f" (faults: {active})"))
    out.print(f"  edition of the contract: {server.edition}")
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
    _console(200).print(table)  # piped: one line per fault


def _stop_on(signum: int) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> None:
    run: Callable[..., Any] = cli.main
    use_cache_directory()  # nothing of hypothesis's in the working directory
    _stop_on(signal.SIGTERM)  # a CI job cancelled: unwind, restore, exit
    try:
        run(args=argv, prog_name="agentphone-conformance", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.UsageError as usage:  # one line, as every error of ours
        command = usage.ctx.command_path if usage.ctx is not None else "agentphone-conformance"
        _fail(HarnessError(usage.format_message(), f"see `{command} --help`"))
    except click.Abort:
        sys.exit(130)
    except HarnessError as error:
        _fail(error)
    except KeyboardInterrupt:
        _err.print(
            "interrupted: every conversation was restored before stopping "
            "(see above for any that could not be)"
        )
        sys.exit(130)
