"""`python -m bench [options]`: parse the options, run the benchmark, write the reports.

    python -m bench                       # everything: the conformant emulator + every fault
    python -m bench --faults robust-slow,auth-any-key-accepted --examples 5

Writes OUT/bench.md and OUT/bench.json (OUT: --out, default reports/), and each tool's own
output and reports under OUT/bench-raw/<target>/<tool>/. See bench/README.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .benchmark import run_benchmark
from .report import write_json, write_markdown
from .rows import BenchResult
from .settings import parse_args


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    result = run_benchmark(settings, progress=_progress)
    write_json(result, settings.out / "bench.json")
    write_markdown(result, settings.out / "bench.md")
    print(_summary(result), file=sys.stderr)
    return 0


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _summary(result: BenchResult) -> str:
    t, out = result.totals, result.settings.out
    return (
        f"caught: schemathesis {t.schemathesis.faults_caught}/{t.faults}, "
        f"ours {t.ours.faults_caught}/{t.faults}; median ratio {t.median_ratio}; "
        f"{result.bench_wall_s} s; wrote {out / 'bench.md'} and {out / 'bench.json'}"
    )


if __name__ == "__main__":
    sys.exit(main())
