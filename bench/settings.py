"""The benchmark's options: the command line, parsed once into a frozen `Settings`.

Each default is written here and nowhere else.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from conformance.core import PROFILES, spec_path
from conformance.emulator import FAULTS

Tool = Literal["schemathesis", "ours"]
TOOLS: Final[tuple[Tool, Tool]] = ("schemathesis", "ours")
CONFORMANT: Final = "conformant"  # the target without a fault

DEFAULT_SEED: Final = 20240115
DEFAULT_EXAMPLES: Final = 12  # schemathesis --max-examples: more than our quick profile draws
DEFAULT_PROFILE: Final = "quick"  # ours: the CI gate's profile
DEFAULT_TIMEOUT: Final = 120.0  # seconds, per tool invocation
DEFAULT_MAX_RESPONSE_TIME: Final = 1.0  # seconds; the same limit for both tools
REQUEST_TIMEOUT: Final = 10.0  # seconds; per request, the same for both tools
REPO: Final = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    seed: int
    examples: int  # schemathesis --max-examples
    profile: str  # our --profile
    timeout: float  # seconds per tool invocation
    max_response_time: float
    targets: tuple[str, ...]  # CONFORMANT, then fault names
    out: Path
    request_timeout: float = REQUEST_TIMEOUT
    fragment: Path = field(default_factory=spec_path)

    @property
    def generated_examples(self) -> int:
        """Our profile's generated examples per operation."""
        return PROFILES[self.profile].generated_examples

    @property
    def raw_root(self) -> Path:
        """Where each run's output and the tool's own reports go: <raw_root>/<target>/<tool>/."""
        return self.out / "bench-raw"

    def to_dict(self) -> dict[str, Any]:
        """The `settings` section of bench.json."""
        return {
            "seed": self.seed,
            "examples": self.examples,
            "schemathesis_max_examples": self.examples,
            "our_profile": self.profile,
            "our_profile_generated_examples": self.generated_examples,
            "max_response_time_s": self.max_response_time,
            "request_timeout_s": self.request_timeout,
            "timeout_per_run_s": self.timeout,
            "fragment": str(self.fragment),
            "emulator": "in-process Emulator in the bench script, a fresh one per tool run",
        }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Plain schemathesis beside agentphone-conformance, against the emulator "
        "and each of its faults.",
    )
    parser.add_argument(
        "--faults",
        default=None,
        help="comma-separated fault names (default: the whole catalogue); the conformant "
        "emulator is always benchmarked too",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed for both tools")
    parser.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        help=f"schemathesis --max-examples (default {DEFAULT_EXAMPLES})",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"our --profile (default {DEFAULT_PROFILE}: "
        f"{PROFILES[DEFAULT_PROFILE].generated_examples} generated cases per operation and "
        "mode, and every deterministic probe)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds per tool invocation; a run that takes longer is killed and counts as "
        "not caught (default %(default)s)",
    )
    parser.add_argument(
        "--max-response-time",
        type=float,
        default=DEFAULT_MAX_RESPONSE_TIME,
        help="response-time limit given to both tools (default %(default)s s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "reports",
        help="output folder (default: the repository's reports/)",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    """The command line as `Settings`; a usage error exits with status 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    if args.timeout <= 0 or args.max_response_time <= 0:
        parser.error("--timeout and --max-response-time must be positive")
    if args.faults is None:
        faults = list(FAULTS)
    else:
        faults = [name.strip() for name in args.faults.split(",") if name.strip()]
        unknown = [name for name in faults if name not in FAULTS]
        if unknown:
            parser.error(
                f"unknown fault(s): {', '.join(unknown)} "
                "(see `agentphone-conformance faults` for the names)"
            )
    return Settings(
        seed=args.seed,
        examples=args.examples,
        profile=args.profile,
        timeout=args.timeout,
        max_response_time=args.max_response_time,
        targets=(CONFORMANT, *dict.fromkeys(faults)),
        out=args.out.resolve(),  # the tools run in a scratch cwd
    )
