"""`python -m bench.mutation [options]`: the options, the job, the two reports.

    python -m bench.mutation                    # every mutant in scope (~6 min on 2 cores)
    python -m bench.mutation --sample 20 --seed 3 --out /tmp/m
    python -m bench.mutation --only _patch --only Conversation.to_json
    python -m bench.mutation --mutant 'conformance/emulator/_app.py:App._list:331:NumberReplacer:0'

Writes OUT/mutation.json and OUT/mutation.md (OUT: --out, default reports/). Exit status 0
when the job ran (a measurement: survivors do not fail it), 1 when the unmutated emulator
does not pass the default run, 2 on a usage error. See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .job import BaselineFailed, Settings, run_job, stderr_progress
from .library import LibraryMissing
from .mutants import REPO
from .report import totals, write

DEFAULT_EQUIVALENT = REPO / "bench" / "mutation-equivalent.json"


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def parse_args(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mutation",
        description="Mutate the emulator's request handling and storage; run the suite's "
        "default run against each mutant; report the mutation score and every survivor.",
    )
    parser.add_argument("--out", type=Path, default=REPO / "reports", help="output folder")
    parser.add_argument("--jobs", type=_positive_int, default=2, help="mutants at once (default 2)")
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        help="seconds a mutant's run may take before it is killed (default 60)",
    )
    parser.add_argument(
        "--sample", type=_positive_int, help="run a random sample of N mutants (for CI)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument(
        "--run-seed",
        type=int,
        default=1,
        help="the default run's --seed, the same for every mutant (default 1)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="mutate only this function: App._get, _get, to_json, ... (repeatable)",
    )
    parser.add_argument(
        "--mutant",
        action="append",
        default=[],
        metavar="ID",
        help="run only this mutant, by id or digest, in scope or not (repeatable)",
    )
    parser.add_argument(
        "--equivalent",
        type=Path,
        default=DEFAULT_EQUIVALENT if DEFAULT_EQUIVALENT.exists() else None,
        metavar="FILE",
        help="JSON: mutant id (or digest) -> why it is equivalent "
        "(default bench/mutation-equivalent.json)",
    )
    args = parser.parse_args(argv)
    return Settings(
        out=args.out.resolve(),
        jobs=args.jobs,
        timeout=args.timeout,
        sample=args.sample,
        seed=args.seed,
        run_seed=args.run_seed,
        only=tuple(args.only),
        mutants=tuple(args.mutant),
        equivalent=args.equivalent,
        argv=tuple(argv),
    )


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    settings = parse_args(given)
    try:
        report = run_job(settings, stderr_progress)
    except (ValueError, LookupError, LibraryMissing) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BaselineFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return 130
    data, text = write(report, settings.out)
    t = totals(report.records)
    score = "-" if t["score"] is None else f"{t['score']:.1%}"
    print(
        f"{t['mutants']} mutants: {t['killed']} killed ({t['timed_out']} by time-out), "
        f"{t['survived']} survived, {t['equivalent']} equivalent; score {score}; "
        f"{report.wall_s:.0f} s; wrote {text} and {data}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
