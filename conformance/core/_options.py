"""Run options: one typed object, resolved once.

Every option that tunes a run is declared once, in `OPTIONS` (name, type, default, lower
bound, help). Each source gives a `GivenOptions` (the command line of `run` or `matrix`,
the pytest plugin's arguments, a target file's `[settings]`), checked when it is made;
`resolve` layers them, the first that gives an option winning, over the defaults and the
profile's budget, and draws a random seed when none gave one.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from ..model import RunSettings
from ._errors import HarnessError

__all__ = ["OPTIONS", "PROFILES", "GivenOptions", "Option", "Profile", "RunOptions", "resolve"]


@dataclass(frozen=True)
class Profile:
    """How hard to look: examples per property, per generated operation mode."""

    name: str
    roundtrip_examples: int
    invalid_examples: int
    generated_examples: int
    max_requests: int  # the default budget for this profile


PROFILES: Final = {
    # quick: the CI gate, in about a second and a half against the emulator. Every fault
    # class has a deterministic probe that runs on every profile; generated cases add breadth.
    "quick": Profile(
        "quick", roundtrip_examples=4, invalid_examples=4, generated_examples=4, max_requests=400
    ),
    "ci": Profile(
        "ci", roundtrip_examples=30, invalid_examples=20, generated_examples=25, max_requests=700
    ),
    "thorough": Profile(
        "thorough",
        roundtrip_examples=150,
        invalid_examples=80,
        generated_examples=100,
        max_requests=2500,
    ),
}


@dataclass(frozen=True)
class Option:
    """One option that tunes a run: a field of `RunOptions`, a key of `[settings]`, and a
    command-line flag (`--max-requests` for `max_requests`)."""

    name: str
    kind: type  # bool, int, float or str
    help: str
    default: Any = None  # None: none of its own (the profile's budget, a random seed)
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def _of_kind(self, value: Any) -> bool:
        if self.kind is bool or isinstance(value, bool):  # True is an int to Python
            return self.kind is bool and isinstance(value, bool)
        if self.kind is float:
            return isinstance(value, int | float)
        return isinstance(value, self.kind)

    def check(self, value: Any, where: str) -> Any:
        """`value` if it is of this option's type, bound and choices; else a usage error
        that names `where` it came from ("the command line", "target file x [settings]")."""
        on_command_line = where == "the command line"
        name = self.flag if on_command_line else f"settings.{self.name}"
        fix = f"give another {self.flag}" if on_command_line else f"fix {self.name} in {where}"
        if not self._of_kind(value):
            kind = {bool: "true or false", int: "an integer", float: "a number"}.get(
                self.kind, "a string"
            )
            raise HarnessError(f"{name} must be {kind}, not {value!r}", fix)
        if self.choices and value not in self.choices:
            raise HarnessError(
                f"unknown {self.name} {value!r} ({name})", f"use one of: {', '.join(self.choices)}"
            )
        if self.minimum is not None and value < self.minimum:
            raise HarnessError(
                f"{name} must be at least {self.minimum:g}", f"give a larger {self.flag}"
            )
        return float(value) if self.kind is float else value


OPTIONS: Final = (
    Option(
        "seed",
        int,
        "Make the run repeatable (default: a random seed, printed and in every report).",
        minimum=0,
        metavar="N",
    ),
    Option("profile", str, "How hard to look.", default="quick", choices=tuple(PROFILES)),
    Option(
        "max_requests",
        int,
        "Request budget per target (default: the profile's).",
        minimum=1,
        metavar="N",
    ),
    Option(
        "rate_limit",
        float,
        "At most this many requests a second, per target.",
        minimum=0.01,
        metavar="PER_SECOND",
    ),
    Option(
        "max_response_time",
        float,
        "Response-time budget of the advisory ROBUST-RESPONSE-TIME.",
        default=1.0,
        minimum=0.001,
        metavar="SECONDS",
    ),
    Option(
        "timeout",
        float,
        "Seconds a whole answer may take (connect, headers and body).",
        default=10.0,
        minimum=0.1,
        metavar="SECONDS",
    ),
    Option(
        "deadline",
        float,
        "Seconds the whole run may take: past it no check starts, what ran is restored and "
        "reported (default: none).",
        minimum=1,
        metavar="SECONDS",
    ),
    Option(
        "max_answer_bytes",
        int,
        "Bytes of an answer read at most, counted after decoding; a larger answer is a "
        "finding (ROBUST-ANSWER-SIZE).",
        default=8 * 1024 * 1024,
        minimum=1024,
        metavar="BYTES",
    ),
    Option("read_only", bool, "Send no write: skip every check that needs one.", default=False),
    Option("strict", bool, "Advisory failures fail the gate too.", default=False),
    Option(
        "no_concurrency",
        bool,
        "Never send two requests at the same time (for a target whose terms forbid it): the "
        "consistency checks do not apply.",
        default=False,
    ),
    Option(
        "edition",
        str,
        "The edition of the contract to judge: the seed page's, the current one (with the "
        "vendor's later additions), or whichever the target's answers show.",
        default="auto",
        choices=("auto", "seed", "current"),
    ),
)
_BY_NAME: Final = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class GivenOptions:
    """The options one source gave: None (or no checks) means "not given here"."""

    seed: int | None = None
    profile: str | None = None
    max_requests: int | None = None
    rate_limit: float | None = None
    max_response_time: float | None = None
    timeout: float | None = None
    deadline: float | None = None
    max_answer_bytes: int | None = None
    read_only: bool | None = None
    strict: bool | None = None
    no_concurrency: bool | None = None
    edition: str | None = None
    checks: tuple[str, ...] = ()  # run only these check IDs (checked against the registry
    # by the job, which knows it)

    @classmethod
    def parse(cls, values: Mapping[str, Any], where: str = "the command line") -> GivenOptions:
        """Checked options from plain values (a click context's, a TOML table's); values of
        None are "not given". Unknown names are a bug of the caller, not of the user."""
        checked: dict[str, Any] = {}
        for name, value in values.items():
            if name == "checks":
                checked[name] = tuple(value)
            elif value is not None:
                checked[name] = _BY_NAME[name].check(value, where)
        return cls(**checked)

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) not in (None, ())
        }


@dataclass(frozen=True)
class RunOptions:
    """Every option of a run, resolved: what the engine reads."""

    seed: int
    profile: Profile
    max_requests: int
    rate_limit: float | None
    max_response_time: float
    timeout: float
    read_only: bool
    strict: bool
    edition: str  # auto, seed or current
    deadline: float | None  # seconds for the whole run
    max_answer_bytes: int
    no_concurrency: bool = False
    checks: tuple[str, ...] = ()  # empty: every check

    def settings(self) -> RunSettings:
        """What a report says of them."""
        return RunSettings(
            seed=self.seed,
            profile=self.profile.name,
            max_requests=self.max_requests,
            rate_limit=self.rate_limit,
            max_response_time=self.max_response_time,
            read_only=self.read_only,
            strict=self.strict,
            edition=self.edition,
            deadline=self.deadline,
            max_answer_bytes=self.max_answer_bytes,
            no_concurrency=self.no_concurrency,
        )


def resolve(*layers: GivenOptions) -> RunOptions:
    """The first layer that gives an option wins (the command line, then a target file,
    then whatever else the caller layers, such as a matrix's shared seed); then each
    option's default and the profile's budget; a random seed when no layer gave one."""
    merged: dict[str, Any] = {option.name: option.default for option in OPTIONS}
    merged["checks"] = ()
    for layer in reversed(layers):
        merged.update(layer.given())
    profile = PROFILES[merged["profile"]]
    return RunOptions(
        seed=secrets.randbelow(2**31) if merged["seed"] is None else merged["seed"],
        profile=profile,
        max_requests=merged["max_requests"] or profile.max_requests,
        rate_limit=merged["rate_limit"],
        max_response_time=merged["max_response_time"],
        timeout=merged["timeout"],
        read_only=merged["read_only"],
        strict=merged["strict"],
        edition=merged["edition"],
        deadline=merged["deadline"],
        max_answer_bytes=merged["max_answer_bytes"],
        no_concurrency=merged["no_concurrency"],
        checks=merged["checks"],
    )
