"""From failure to fix: the command that runs a job again, exactly (same target, seed,
profile, options and checks). Keys are never in it: they stay in the variables it names."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import OPTIONS, TargetSpec
from ..core._target import DEFAULT_KEY_ENV, DEFAULT_SECOND_KEY_ENV, WebhookSetup

if TYPE_CHECKING:
    from ._run import Job

__all__ = ["rerun_command"]

PROGRAM = "agentphone-conformance run"
DEFAULT_REPORT_DIR = Path("reports")


def _webhook_args(setup: WebhookSetup) -> list[str]:
    """The webhook options that differ from the defaults (the secret stays in its variable)."""
    default = WebhookSetup()
    given = [
        ("--webhook-listen", setup.listen if setup.listen != default.listen else None),
        ("--webhook-public-url", setup.public_url),
        ("--webhook-secret-env", setup.secret_env),
        ("--webhook-trigger", setup.trigger),
        ("--webhook-wait", None if setup.wait is None else f"{setup.wait:g}"),
    ]
    return [a for flag, value in given if value is not None for a in (flag, value)]


def _target_args(spec: TargetSpec) -> list[str]:
    args: list[str] = []
    if spec.source is not None:
        args += ["--target", str(spec.source)]
    if spec.embedded:
        args += [a for fault in spec.faults for a in ("--emulator-fault", fault)]
        if spec.emulator_edition != "current":
            args += ["--emulator-edition", spec.emulator_edition]
        return args + _webhook_args(spec.webhooks)
    assert spec.base_url is not None
    args += ["--base-url", spec.base_url]
    if spec.key_env != DEFAULT_KEY_ENV:
        args += ["--api-key-env", spec.key_env]
    args += [a for cid in spec.conversation_ids for a in ("--conversation-id", cid)]
    args += [a for cid in spec.witness_ids for a in ("--witness-conversation-id", cid)]
    args += [a for cid in spec.second_conversation_ids for a in ("--second-conversation-id", cid)]
    if spec.second_conversation_ids and spec.second_key_env != DEFAULT_SECOND_KEY_ENV:
        args += ["--second-api-key-env", spec.second_key_env]
    return args + _webhook_args(spec.webhooks)


def _option_args(job: Job, checks: tuple[str, ...]) -> list[str]:
    """The seed and profile always; every other option where it is not its default; then
    `checks`."""
    options = job.options
    args = ["--seed", str(options.seed), "--profile", options.profile.name]
    for option in OPTIONS:
        if option.name in ("seed", "profile"):
            continue
        value = getattr(options, option.name)
        default = options.profile.max_requests if option.name == "max_requests" else option.default
        if value == default or value is None:
            continue
        if option.kind is bool:
            args.append(option.flag)
        else:
            args += [option.flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return args + [a for check in checks for a in ("--check", check)]


def _output_args(job: Job, report_dir: Path | None, baseline: str | None) -> list[str]:
    """Where the run wrote, and what it gated against: the same again."""
    args: list[str] = []
    if report_dir is not None and report_dir != DEFAULT_REPORT_DIR:
        args += ["--report-dir", str(report_dir)]
    if baseline is not None:
        args += ["--baseline", baseline]
    if job.har is not None:
        args += ["--har", str(job.har)]
    if job.badge is not None:
        args += ["--badge", str(job.badge)]
    return args


def rerun_command(
    job: Job,
    checks: tuple[str, ...] | None = None,
    report_dir: Path | None = None,
    baseline: str | None = None,
) -> str:
    """The command line that runs `job` again, exactly: its target and options, its own
    checks or `checks` (() for all), and where it wrote (`report_dir`, the HAR, the badge)
    and what it gated against (`baseline`, a file's path)."""
    chosen = job.options.checks if checks is None else checks
    args = _target_args(job.spec) + _option_args(job, chosen)
    args += _output_args(job, report_dir, baseline)
    return " ".join([PROGRAM, *(shlex.quote(a) for a in args)])
