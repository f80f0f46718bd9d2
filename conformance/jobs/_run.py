"""The main job, shared by the CLI and the pytest plugin: options -> target -> run -> reports."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..checks import REGISTRY
from ..core import ExitCode, GivenOptions, HarnessError, RunOptions, resolve
from ..core._target import (
    DEFAULT_KEY_ENV,
    DEFAULT_SECOND_KEY_ENV,
    Account,
    Target,
    TargetSpec,
    WebhookSetup,
    load_target_file,
    webhook_setup,
)
from ..emulator import Emulator, UnknownFaultError
from ..engine import Progress, run
from ..model import Baseline, Journal, RunResult, compare
from ..reports._badge import write_badge
from ..reports._har import har_about, write_har
from ._rerun import rerun_command

__all__ = [
    "Job",
    "embedded_target",
    "ensure_writable",
    "execute",
    "open_target",
    "plan_run",
    "run_options",
    "writing_to",
]


@dataclass(frozen=True)
class Job:
    """A run to do: the target as configured and every option resolved."""

    spec: TargetSpec
    options: RunOptions
    har: Path | None = None  # where every exchange goes, as HAR 1.2
    badge: Path | None = None  # where the verdict goes, as an SVG badge


def run_options(*layers: GivenOptions) -> RunOptions:
    """`resolve` (the first layer that gives an option wins), with the check IDs checked
    against the registry (in any letter case: `meta-replace` is META-REPLACE)."""
    layers = tuple(
        replace(layer, checks=tuple(c.upper() for c in layer.checks)) for layer in layers
    )
    for layer in layers:
        unknown = sorted(set(layer.checks) - REGISTRY.keys())
        if unknown:
            raise HarnessError(
                f"unknown check {unknown[0]}", "run `agentphone-conformance checks` for the IDs"
            )
    return resolve(*layers)


def plan_run(
    *,
    given: GivenOptions,
    base_url: str | None = None,
    api_key_env: str | None = None,
    conversation_ids: tuple[str, ...] = (),
    second_ids: tuple[str, ...] = (),
    witness_ids: tuple[str, ...] = (),
    second_api_key_env: str | None = None,
    target_file: Path | None = None,
    faults: tuple[str, ...] = (),
    emulator_edition: str | None = None,
    webhook_listen: str | None = None,
    webhook_public_url: str | None = None,
    webhook_secret_env: str | None = None,
    webhook_trigger: str | None = None,
    webhook_wait: float | None = None,
    har: Path | None = None,
    badge: Path | None = None,
) -> Job:
    """The `run` command's job (from the CLI or the pytest plugin): options given on the
    command line override the target file's."""
    spec = load_target_file(target_file) if target_file else TargetSpec()
    overrides: dict[str, Any] = {}
    if base_url is not None:
        overrides["base_url"] = base_url
    if api_key_env:
        overrides["key_env"] = api_key_env
    if conversation_ids:  # a conversation named twice is one
        overrides["conversation_ids"] = tuple(dict.fromkeys(conversation_ids))
    if second_ids:
        overrides["second_conversation_ids"] = tuple(dict.fromkeys(second_ids))
    if witness_ids:
        overrides["witness_ids"] = tuple(dict.fromkeys(witness_ids))
    if second_api_key_env:
        overrides["second_key_env"] = second_api_key_env
    if faults:
        if base_url is not None or not spec.embedded:
            raise HarnessError(
                "--emulator-fault given with an external target",
                "faults only apply to the embedded emulator: drop --base-url",
            )
        overrides["faults"] = tuple(spec.faults) + faults
    if emulator_edition is not None:
        if base_url is not None or not spec.embedded:
            raise HarnessError(
                "--emulator-edition given with an external target",
                "it only applies to the embedded emulator: drop --base-url",
            )
        overrides["emulator_edition"] = emulator_edition
    external_only = (webhook_secret_env, webhook_trigger, webhook_wait)
    if spec.embedded and base_url is None and any(v is not None for v in external_only):
        raise HarnessError(
            "--webhook-secret-env, --webhook-trigger and --webhook-wait are for an external target",
            "drop them: against the embedded emulator the suite sets its webhook up itself",
        )
    overrides["webhooks"] = webhook_setup(
        listen=webhook_listen,
        public_url=webhook_public_url,
        secret_env=webhook_secret_env,
        trigger=webhook_trigger,
        wait=webhook_wait,
        base=spec.webhooks,
    )
    if spec.embedded and base_url is None and (conversation_ids or second_ids or witness_ids):
        raise HarnessError(
            "--conversation-id given without --base-url",
            "the embedded emulator brings its own conversations: add --base-url",
        )
    return Job(replace(spec, **overrides), run_options(given, spec.settings), har, badge)


def embedded_target(
    emulator: Emulator, name: str = "embedded emulator", webhooks: WebhookSetup | None = None
) -> Target:
    """The embedded emulator as a target; its webhook is the suite's to register (where the
    receiver listens: `webhooks`, by default loopback on any free port)."""
    first, second = emulator.state.describe()
    return Target(
        webhooks=replace(webhooks or WebhookSetup(), managed=True),
        name=name,
        base_url=emulator.base_url,
        primary=Account(first["api_key"], DEFAULT_KEY_ENV, tuple(first["conversation_ids"])),
        second=Account(
            second["api_key"], DEFAULT_SECOND_KEY_ENV, tuple(second["conversation_ids"])
        ),
        embedded=True,
        faults=tuple(sorted(emulator.faults)),
        emulator_edition=emulator.edition,
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
        emulator = Emulator(
            faults=spec.faults, host="127.0.0.1", port=0, edition=spec.emulator_edition
        )
    except UnknownFaultError as exc:
        raise HarnessError(
            f"unknown fault {exc.name!r}", "run `agentphone-conformance faults` for the names"
        ) from None
    with emulator:  # served on loopback too, but the run calls it in-process
        target = embedded_target(emulator, spec.name or "embedded emulator", spec.webhooks)
        yield replace(target, transport=emulator.transport())


def ensure_writable(directory: Path) -> None:
    """Create `directory` and write a file in it, or say why not (a usage error): checked
    before anything is sent to a target, so a run never writes to it for nothing."""
    probe = directory / ".agentphone-conformance-write-check"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise HarnessError(
            f"cannot write to {directory} ({exc.strerror or exc})",
            "pick a writable --report-dir",
        ) from None


def execute(
    job: Job,
    report_dir: Path | None,
    progress: Progress | None = None,
    *,
    baseline: Baseline | None = None,
) -> tuple[RunResult, dict[str, Path]]:
    """Run the job against its target and write the reports; with `baseline`,
    the reports carry the comparison with it (`compare(baseline, result)` gives it back)."""
    from ..reports import write_reports

    for directory in (report_dir, *(f.parent for f in (job.har, job.badge) if f is not None)):
        if directory is not None:
            ensure_writable(directory)  # before the first request, not after the run
    journal = Journal() if job.har is not None else None
    with open_target(job.spec) as target:
        try:
            result = run(target, job.options, progress, journal=journal)
        except HarnessError as error:  # the target could not be tested: say so there too
            if error.code is ExitCode.TARGET_UNUSABLE:
                _untestable(job, journal, target, error)
            raise
        source = baseline.source if baseline is not None else None
        result.rerun = rerun_command(job, report_dir=report_dir, baseline=source)
        result.rerun_all = rerun_command(job, checks=(), report_dir=report_dir, baseline=source)
        if report_dir is not None:
            result.report_json = shlex.quote(str(report_dir / "report.json"))
        written = _extras(job, journal, result, target)
        if report_dir is not None:
            comparison = compare(baseline, result) if baseline is not None else None
            with writing_to(report_dir):
                written |= write_reports(
                    result, report_dir, secrets=list(target.secrets), comparison=comparison
                )
    return result, written


@contextmanager
def writing_to(report_dir: Path) -> Iterator[None]:
    """Reports being written: a directory that cannot take them is one line, a usage error."""
    try:
        yield
    except OSError as exc:
        raise HarnessError(
            f"cannot write reports to {report_dir} ({exc.strerror})",
            "pick a writable --report-dir",
        ) from None


def _extras(
    job: Job, journal: Journal | None, result: RunResult, target: Target
) -> dict[str, Path]:
    """The HAR and the badge, where the job asked for them."""
    written: dict[str, Path] = {}
    try:
        if job.har is not None and journal is not None:
            about, titles = har_about(result)
            written["har"] = write_har(journal, job.har, about, titles, target.secrets)
        if job.badge is not None:
            written["badge"] = write_badge(result, job.badge)
    except OSError as exc:
        raise HarnessError(
            f"cannot write {exc.filename} ({exc.strerror})", "pick a writable --har / --badge"
        ) from None
    return written


def _untestable(job: Job, journal: Journal | None, target: Target, error: HarnessError) -> None:
    """A target that could not be tested still gets its badge ("not testable") and its HAR
    (what it answered is what a person wants to see)."""
    with contextlib.suppress(OSError):
        if job.badge is not None:
            write_badge(None, job.badge)
        if job.har is not None and journal is not None:
            about = f"{target.name} ({target.base_url}) could not be tested: {error.message}"
            write_har(journal, job.har, about, secrets=target.secrets)
