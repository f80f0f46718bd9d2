"""pytest plugin: the same checks, with the same options, from a team's own pytest run.

    pytest --pyargs conformance.pytest_suite --agentphone-args="--base-url https://... \\
        --conversation-id conv_123 --profile ci"

One test per check ID: a failing required check fails its test (advisory ones too with
--strict), not-applicable and skipped checks are skipped, a harness error is an error.
The run happens once per session; reports go to --report-dir as usual.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import click
import pytest

from ..core import HarnessError
from ..jobs import Job, execute
from ..model import RunResult

__all__ = ["agentphone_conformance_result", "pytest_addoption", "pytest_terminal_summary"]

_JOB = pytest.StashKey[tuple[Job, Path]]()
_RESULT = pytest.StashKey[RunResult]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agentphone-conformance")
    group.addoption(
        "--agentphone-args",
        default=None,
        metavar="ARGS",
        help="Options of `agentphone-conformance run`, as one string (default: the embedded "
        "emulator). Also read from AGENTPHONE_CONFORMANCE_ARGS.",
    )


def _arguments(config: pytest.Config) -> list[str]:
    given = config.getoption("--agentphone-args") or os.environ.get(
        "AGENTPHONE_CONFORMANCE_ARGS", ""
    )
    return shlex.split(given)


def _job(config: pytest.Config) -> tuple[Job, Path]:
    """Parse the options exactly as `agentphone-conformance run` does."""
    from ._commands import run_command, run_job

    try:
        context = run_command.make_context("run", _arguments(config))
    except click.ClickException as exc:
        raise pytest.UsageError(f"--agentphone-args: {exc.format_message()}") from None
    try:
        job, report_dir, baseline_file = run_job(context.params)
    except HarnessError as error:
        raise pytest.UsageError(f"--agentphone-args: {error}") from None
    if baseline_file is not None:
        raise pytest.UsageError(
            "--agentphone-args: --baseline is for `agentphone-conformance run`; here each "
            "check is a test: compare the reports afterwards with `agentphone-conformance diff`"
        )
    return job, report_dir


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("agentphone_conformance_result" in getattr(i, "fixturenames", ()) for i in items):
        config.stash[_JOB] = _job(config)  # bad options: a usage error, before anything runs


def run_from_pytest(config: pytest.Config) -> RunResult:
    job, report_dir = config.stash.get(_JOB, None) or _job(config)
    try:
        result, _ = execute(job, report_dir)
    except HarnessError as error:
        raise RuntimeError(f"agentphone-conformance: {error}") from None
    config.stash[_RESULT] = result
    return result


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The run's seed and the command that reruns it, as `run` prints them."""
    result = config.stash.get(_RESULT, None)
    if result is None:
        return
    terminalreporter.write_sep("-", "agentphone-conformance")
    terminalreporter.write_line(
        f"seed {result.settings.seed} - edition {result.edition.edition.value} - exit code "
        f"{result.exit_code}"
    )
    terminalreporter.write_line(f"rerun: {result.rerun}")


@pytest.fixture(scope="session")
def agentphone_conformance_result(pytestconfig: pytest.Config) -> RunResult:
    """The session's conformance run (started on first use)."""
    return run_from_pytest(pytestconfig)
