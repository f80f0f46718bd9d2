"""A tool as a subprocess: a clean environment, a scratch working directory, its output in a
log file, a time-out and a wall clock; and reading the JSON reports it leaves behind.

Both tools of the benchmark go through `run_logged`, and so does the schemathesis run of
`tests/test_fidelity.py` (through `bench.schemathesis_cli`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

BIN: Final = Path(sys.executable).parent  # the console scripts of this environment
LOOPBACK: Final = "127.0.0.1,localhost"
_DROPPED_PREFIXES: Final = ("SCHEMATHESIS_", "AGENTPHONE_", "HYPOTHESIS_")
_PROXIES: Final = ("http_proxy", "https_proxy", "all_proxy")


@dataclass(frozen=True)
class Completed:
    """How a subprocess ended."""

    exit_code: int | None  # None: killed at the time-out
    timed_out: bool
    wall_s: float  # the subprocess only, interpreter start-up included
    log: Path  # its stdout and stderr, interleaved

    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a tool: no schemathesis, Hypothesis or AgentPhone settings of this
    machine, no proxy, loopback direct; then `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(_DROPPED_PREFIXES) and name.lower() not in _PROXIES
    }
    env.update(NO_PROXY=LOOPBACK, no_proxy=LOOPBACK)
    env.update(extra or {})
    return env


def run_logged(
    command: Sequence[str], *, log: Path, timeout: float, env: Mapping[str, str]
) -> Completed:
    """Run `command` in a scratch working directory (`.hypothesis/`, `.schemathesis/` land
    there), its output into `log`; kill it after `timeout` seconds."""
    exit_code: int | None = None
    timed_out = False
    with (
        tempfile.TemporaryDirectory(prefix="bench-cwd-") as cwd,
        log.open("wb") as out,
    ):
        clock = time.monotonic()
        try:
            exit_code = subprocess.run(
                list(command),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:  # run() has killed it
            timed_out = True
        wall = time.monotonic() - clock
    return Completed(exit_code=exit_code, timed_out=timed_out, wall_s=wall, log=log)


def read_json(path: Path) -> Any:
    """A JSON report, or None if it is missing or unreadable (a run killed early)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
