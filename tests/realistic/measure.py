"""Measure: does the suite's default run catch each realistic faulty server?

    python -m tests.realistic.measure [--seeds 1 2 3] [--servers NAME ...] [--jobs N]

For every server of ``tests.realistic.servers`` (and the conformant control first) and
every seed, the suite's default run goes against it exactly as
``tests/test_independent_servers.py::run_against`` does it: the server on a loopback port,
both accounts, ``run(target, run_options(GivenOptions(seed=seed)))``. Caught means the
run's ``exit_code`` is 1. Each run is a child process with a time limit (``--timeout``,
default 120 s), killed past it; ``--jobs`` of them at a time.

The table: server, caught on how many seeds, the exit code of each seed, the check IDs
that failed (with the number of seeds they failed on when not all; "*" marks an advisory
check, whose failure alone leaves the exit code 0).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from conformance.core import Account, GivenOptions, HarnessError, Target
from conformance.engine import run
from conformance.jobs import run_options
from conformance.model import Level, Outcome

from ..servers import base_app, serve
from .servers import CONTROL, FAULTY, create, describe

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SEEDS = (1, 2, 3)
DEFAULT_TIMEOUT = 120.0


@dataclass
class Measured:
    """One run's result as the table needs it (``exit_code`` None: no result)."""

    name: str
    seed: int
    exit_code: int | None
    failed: list[str] = field(default_factory=list)  # check IDs; "*": an advisory check
    errored: list[str] = field(default_factory=list)
    seconds: float = 0.0
    trouble: str = ""  # a timeout, a crash, or the harness refusing the target (HarnessError)


def run_once(name: str, seed: int) -> Measured:
    """The suite's default run against a fresh ``name`` server, in this process."""
    for logger in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    app = create(name)
    state = base_app(app).state
    (key_1, ids_1), (key_2, ids_2) = state.accounts
    started = time.monotonic()
    with serve(app) as server:
        target = Target(
            name,
            server.base_url,
            Account(key_1, "AGENTPHONE_API_KEY", tuple(ids_1)),
            Account(key_2, "AGENTPHONE_SECOND_API_KEY", tuple(ids_2)),
        )
        try:
            result = run(target, run_options(GivenOptions(seed=seed)))
        except HarnessError as refused:  # what the command line reports as its exit code
            return Measured(
                name,
                seed,
                int(refused.code),
                seconds=time.monotonic() - started,
                trouble=f"harness: {refused.message}"[:200],
            )
    return Measured(
        name,
        seed,
        result.exit_code,
        failed=[
            r.check.id + ("*" if r.check.level is Level.ADVISORY else "")
            for r in result.checks
            if r.outcome is Outcome.FAILED
        ],
        errored=[r.check.id for r in result.checks if r.outcome is Outcome.ERROR],
        seconds=time.monotonic() - started,
    )


def _child(name: str, seed: int, pipe: Connection) -> None:
    try:
        pipe.send(run_once(name, seed))
    except BaseException as exc:  # reported in the table, never hidden
        pipe.send(Measured(name, seed, None, trouble=f"{type(exc).__name__}: {exc}"[:200]))
    finally:
        pipe.close()


def measure(
    names: list[str], seeds: list[int], *, jobs: int, timeout: float, progress: bool = True
) -> list[Measured]:
    """Every (server, seed) run, each in a child process killed after ``timeout`` s."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    pending = [(name, seed) for name in names for seed in seeds]
    running: list[tuple[Any, Connection, str, int, float]] = []
    done: list[Measured] = []
    while pending or running:
        while pending and len(running) < jobs:
            name, seed = pending.pop(0)
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(name, seed, sender), daemon=True)
            process.start()
            sender.close()
            running.append((process, receiver, name, seed, time.monotonic()))
        still: list[tuple[Any, Connection, str, int, float]] = []
        for process, receiver, name, seed, started in running:
            outcome: Measured | None = None
            if receiver.poll():
                try:
                    outcome = receiver.recv()
                except EOFError:
                    outcome = Measured(name, seed, None, trouble="the run's process died")
            elif not process.is_alive():
                outcome = Measured(name, seed, None, trouble="the run's process died")
            elif time.monotonic() - started > timeout:
                process.terminate()
                process.join(5)
                if process.is_alive():
                    process.kill()
                outcome = Measured(name, seed, None, trouble=f"no result within {timeout:g} s")
            if outcome is None:
                still.append((process, receiver, name, seed, started))
                continue
            process.join(5)
            receiver.close()
            done.append(outcome)
            if progress:
                mark = outcome.exit_code if outcome.exit_code is not None else outcome.trouble
                print(f"  {name} seed {seed}: {mark}", file=sys.stderr, flush=True)
        running = still
        time.sleep(0.05)
    order = {(n, s): i for i, (n, s) in enumerate((n, s) for n in names for s in seeds)}
    return sorted(done, key=lambda o: order[(o.name, o.seed)])


def table(outcomes: list[Measured], names: list[str], seeds: list[int]) -> str:
    rows = [("server", "caught", "exit codes", "failed checks (seeds, when not all)")]
    for name in names:
        mine = [o for o in outcomes if o.name == name]
        caught = sum(1 for o in mine if o.exit_code == 1)
        codes = " ".join(str(o.exit_code) if o.exit_code is not None else "T" for o in mine)
        counted = Counter(check for o in mine for check in set(o.failed))
        failed = ", ".join(
            check if n == len(seeds) else f"{check} ({n})" for check, n in sorted(counted.items())
        )
        troubles = {o.trouble for o in mine if o.trouble}
        errored = sorted({check for o in mine for check in o.errored})
        extra = "; ".join([*sorted(troubles), *(f"errored: {c}" for c in errored)])
        rows.append(
            (
                name,
                f"{caught}/{len(mine)}",
                codes,
                (failed or "-") + (f" [{extra}]" if extra else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + " | " + row[3]
        )
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 36)
    return "\n".join(lines)


def suite_fingerprint() -> str:
    """A digest of the suite's code and fragment as measured (the working tree, committed
    or not): two tables are comparable when their fingerprints are equal."""
    digest = hashlib.sha256()
    files = sorted([*(ROOT / "conformance").rglob("*.py"), *(ROOT / "openapi").glob("*")])
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.realistic.measure")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--servers", nargs="+", choices=[CONTROL, *FAULTY], default=None)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="s per run")
    parser.add_argument("--list", action="store_true", help="list the servers and stop")
    args = parser.parse_args(argv)
    names = args.servers or [CONTROL, *FAULTY]
    if args.list:
        for name in names:
            print(f"{name}: {describe(name)}")
        return 0
    started = time.monotonic()
    fingerprint = suite_fingerprint()
    outcomes = measure(names, args.seeds, jobs=max(1, args.jobs), timeout=args.timeout)
    print(table(outcomes, names, args.seeds))
    faulty = [n for n in names if n != CONTROL]
    missed = [n for n in faulty if not any(o.exit_code == 1 for o in outcomes if o.name == n)]
    partly = [
        n
        for n in faulty
        if n not in missed and not all(o.exit_code == 1 for o in outcomes if o.name == n)
    ]
    caught = len(faulty) - len(missed)
    print("(*: an advisory check, whose failure does not fail the run; T: no result in time)")
    print()
    print(f"caught on at least one seed: {caught}/{len(faulty)} faulty servers")
    print(f"missed on every seed: {', '.join(missed) or 'none'}")
    print(f"caught on some seeds only: {', '.join(partly) or 'none'}")
    if CONTROL in names:
        control = [o.exit_code for o in outcomes if o.name == CONTROL]
        print(f"control ({CONTROL}) exit codes: {control}")
    print(f"({len(outcomes)} runs, {time.monotonic() - started:.0f} s)")
    after = suite_fingerprint()
    changed = "" if after == fingerprint else f" - CHANGED to {after} during the measurement"
    print(f"suite fingerprint: {fingerprint}{changed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
