"""The main job, shared by the CLI and the pytest plugin: options -> target -> run -> reports."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..checks import PROFILES, REGISTRY
from ..core._errors import HarnessError
from ..core._target import (
    DEFAULT_KEY_ENV,
    DEFAULT_SECOND_KEY_ENV,
    Account,
    Target,
    TargetSpec,
    load_target_file,
)
from ..emulator import Emulator, UnknownFaultError
from ..engine._runner import Progress, RunOptions, run
from ..model._comparison import Baseline, compare
from ..model._results import RunResult

__all__ = [
    "JobOptions",
    "embedded_target",
    "execute",
    "job_from_options",
    "open_target",
    "run_options",
]


@dataclass(frozen=True)
class JobOptions:
    """Run options as given on the command line: None means "not given"."""

    seed: int | None = None
    profile: str | None = None
    max_requests: int | None = None
    rate_limit: float | None = None
    timeout: float | None = None
    max_response_time: float | None = None
    read_only: bool | None = None
    strict: bool | None = None
    only: tuple[str, ...] = ()


_NUMBERS: dict[str, tuple[type, float]] = {
    "max_requests": (int, 1),
    "rate_limit": (float, 0.01),
    "timeout": (float, 0.1),
    "max_response_time": (float, 0.001),
    "seed": (int, 0),
}


def job_from_options(
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    conversation_ids: tuple[str, ...] = (),
    second_ids: tuple[str, ...] = (),
    second_api_key_env: str | None = None,
    target_file: Path | None = None,
    faults: tuple[str, ...] = (),
    **tuning: Any,
) -> tuple[TargetSpec, JobOptions]:
    """The `run` command's options (from the CLI or the pytest plugin) as a target and
    options: given options override the target file. `tuning` are JobOptions' fields."""
    spec = load_target_file(target_file) if target_file else TargetSpec()
    overrides: dict[str, Any] = {}
    if base_url is not None:
        overrides["base_url"] = base_url
    if api_key_env:
        overrides["key_env"] = api_key_env
    if conversation_ids:
        overrides["conversation_ids"] = conversation_ids
    if second_ids:
        overrides["second_conversation_ids"] = second_ids
    if second_api_key_env:
        overrides["second_key_env"] = second_api_key_env
    if faults:
        if base_url is not None or not spec.embedded:
            raise HarnessError(
                "--emulator-fault given with an external target",
                "faults only apply to the embedded emulator: drop --base-url",
            )
        overrides["faults"] = tuple(spec.faults) + faults
    if spec.embedded and base_url is None and (conversation_ids or second_ids):
        raise HarnessError(
            "--conversation-id given without --base-url",
            "the embedded emulator brings its own conversations: add --base-url",
        )
    return replace(spec, **overrides), JobOptions(**tuning)


def run_options(given: JobOptions, file_settings: Mapping[str, Any]) -> RunOptions:
    """Command line over target file over defaults; every value checked."""
    merged: dict[str, Any] = dict(file_settings)
    merged.update({k: v for k, v in vars(given).items() if v is not None and k != "only"})
    for name, (kind, low) in _NUMBERS.items():
        value = merged.get(name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and not isinstance(value, int))
        ):
            raise HarnessError(
                f"{name} must be a {kind.__name__}, not {value!r}",
                f"fix {name} in the target file's [settings]",
            )
        if value < low:
            raise HarnessError(
                f"{name.replace('_', '-')} must be at least {low:g}",
                f"give a larger --{name.replace('_', '-')}",
            )
    profile = merged.get("profile", "quick")
    if profile not in PROFILES:
        raise HarnessError(f"unknown profile {profile!r}", f"use one of: {', '.join(PROFILES)}")
    unknown = sorted(set(given.only) - REGISTRY.keys())
    if unknown:
        raise HarnessError(
            f"unknown check {unknown[0]}", "run `agentphone-conformance checks` for the IDs"
        )
    for flag in ("read_only", "strict"):
        if not isinstance(merged.get(flag, False), bool):
            raise HarnessError(f"{flag} must be true or false", f"fix {flag} in [settings]")
    seed = merged.get("seed")
    return RunOptions(
        seed=secrets.randbelow(2**31) if seed is None else int(seed),
        profile=profile,
        max_requests=merged.get("max_requests"),
        rate_limit=merged.get("rate_limit"),
        timeout=float(merged.get("timeout", 10.0)),
        max_response_time=float(merged.get("max_response_time", 1.0)),
        read_only=bool(merged.get("read_only", False)),
        strict=bool(merged.get("strict", False)),
        only=given.only,
    )


def embedded_target(emulator: Emulator, name: str = "embedded emulator") -> Target:
    first, second = emulator.state.describe()
    return Target(
        name=name,
        base_url=emulator.base_url,
        primary=Account(first["api_key"], DEFAULT_KEY_ENV, tuple(first["conversation_ids"])),
        second=Account(
            second["api_key"], DEFAULT_SECOND_KEY_ENV, tuple(second["conversation_ids"])
        ),
        embedded=True,
        faults=tuple(sorted(emulator.faults)),
    )


@contextmanager
def open_target(spec: TargetSpec) -> Iterator[Target]:
    """The target to test: the embedded emulator (started here, loopback only) or the
    external one the spec names."""
    if not spec.embedded:
        if spec.faults:
            raise HarnessError(
                "emulator faults given for an external target",
                "faults only apply to the embedded emulator: drop them",
            )
        yield spec.resolve()
        return
    try:
        emulator = Emulator(faults=spec.faults, host="127.0.0.1", port=0)
    except UnknownFaultError as exc:
        raise HarnessError(
            f"unknown fault {exc.name!r}", "run `agentphone-conformance faults` for the names"
        ) from None
    with emulator:
        yield embedded_target(emulator, spec.name or "embedded emulator")


def execute(
    spec: TargetSpec,
    given: JobOptions,
    report_dir: Path | None,
    progress: Progress | None = None,
    *,
    baseline: Baseline | None = None,
) -> tuple[RunResult, dict[str, Path]]:
    """Run the suite against the spec's target and write the reports; with `baseline`,
    the reports carry the comparison with it (`compare(baseline, result)` gives it back)."""
    from ..reports import write_reports

    options = run_options(given, spec.settings)
    with open_target(spec) as target:
        result = run(target, options, progress)
        written: dict[str, Path] = {}
        if report_dir is not None:
            comparison = compare(baseline, result) if baseline is not None else None
            try:
                written = write_reports(
                    result, report_dir, secrets=list(target.secrets), comparison=comparison
                )
            except OSError as exc:
                raise HarnessError(
                    f"cannot write reports to {report_dir} ({exc.strerror})",
                    "pick a writable --report-dir",
                ) from None
    return result, written
