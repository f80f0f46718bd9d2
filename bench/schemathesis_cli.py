"""The plain schemathesis CLI, driven from one place: the config file that pins the path
parameter, the command line, the run, and what its two reports say.

Used by the benchmark (`bench.tools`) and by `tests/test_fidelity.py`.

The path parameter is pinned through the config file: in 4.32 `[parameters]` is read by the
CLI engine (there is no CLI flag for it). It is pinned to a conversation of account 1 so every
case reaches the real logic (200s for valid input) instead of 404s on random ids.

Every check (`--checks all`) and no `--exclude-checks`: against this fragment none of the
generic checks disagrees with the documented contract (verified with seeds 1-8 and 20240115,
at 10 and 50 examples). In particular: ignored_auth gets 401 without a key and with a bogus
one; unsupported_method gets 405 + Allow for TRACE/PUT/POST/DELETE/OPTIONS/QUERY;
use_after_free and ensure_resource_availability have nothing to act on (the fragment has no
create or delete operation); positive_data_acceptance never sees a 404 because the id is
pinned (and would tolerate one: 404 is in its defaults).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from conformance.core import spec_path

from .process import BIN, Completed, clean_env, read_json, run_logged

__all__ = [
    "CONFIG",
    "EVENTS",
    "LOG",
    "REPORT",
    "SCHEMATHESIS",
    "Failure",
    "Findings",
    "Invocation",
    "read_findings",
    "run",
]

SCHEMATHESIS: Final = BIN / "schemathesis"
# What one run leaves in its folder:
CONFIG: Final = "schemathesis.toml"  # the pinned path parameter
REPORT: Final = "report.json"  # --report json: exit code, failures, errors, test case counts
EVENTS: Final = "events.ndjson"  # --report ndjson: every scenario, its checks and interactions
LOG: Final = "output.log"  # stdout and stderr
_KEY_SHOWN: Final = "<key>"


@dataclass(frozen=True)
class Invocation:
    """One `schemathesis run` of every check on our fragment against `base_url`."""

    base_url: str
    api_key: str  # sent as `Authorization: Bearer <key>`
    conversation_id: str  # the pinned `path.conversation_id`
    seed: int
    max_examples: int  # per operation and generating phase
    request_timeout: float  # seconds, per request
    max_response_time: float | None = None  # seconds; None: no limit (schemathesis's default)
    spec: Path = field(default_factory=spec_path)

    def command(self, folder: Path, *, redacted: bool = False) -> list[str]:
        """The command line, its config file and reports in `folder`; the key shown as
        `<key>` if `redacted`."""
        key = _KEY_SHOWN if redacted else self.api_key
        command = [
            str(SCHEMATHESIS),
            "--config-file",
            str(folder / CONFIG),
            "--no-color",
            "run",
            str(self.spec),
            "--url",
            self.base_url,
            "--header",
            f"Authorization: Bearer {key}",
            "--checks",
            "all",
            "--seed",
            str(self.seed),
            "--max-examples",
            str(self.max_examples),
        ]
        if self.max_response_time is not None:
            command += ["--max-response-time", f"{self.max_response_time:g}"]
        return [
            *command,
            "--request-timeout",
            f"{self.request_timeout:g}",
            "--generation-database",
            "none",
            "--report",
            "json,ndjson",
            "--report-json-path",
            str(folder / REPORT),
            "--report-ndjson-path",
            str(folder / EVENTS),
        ]

    def write_config(self, folder: Path) -> Path:
        config = folder / CONFIG
        config.write_text(
            f'[parameters]\n"path.conversation_id" = "{self.conversation_id}"\n',
            encoding="utf-8",
        )
        return config


def run(invocation: Invocation, folder: Path, *, timeout: float) -> Completed:
    """Write the config file into `folder` and run schemathesis in a clean environment; its
    reports and `output.log` land in `folder`. Killed after `timeout` seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    invocation.write_config(folder)
    return run_logged(
        invocation.command(folder), log=folder / LOG, timeout=timeout, env=clean_env()
    )


@dataclass(frozen=True)
class Failure:
    """A failed check of one scenario, as the ndjson report records it."""

    check: str  # e.g. response_schema_conformance
    code: str  # e.g. ST108
    title: str
    message: str
    operation: str


@dataclass(frozen=True)
class Findings:
    """What a run's reports say. A report that is missing or unreadable (a run killed early)
    reads as `report=None` or `events_found=False`."""

    report: dict[str, Any] | None  # report.json as schemathesis wrote it
    events_found: bool
    broken_lines: int  # ndjson lines that are not one JSON event (a run killed mid-write)
    checks: Counter[tuple[str, str]]  # (check name, status) over every scenario
    failures: tuple[Failure, ...]
    statuses: Counter[tuple[str, int]]  # (method, status) of every answered interaction
    uris: frozenset[str]  # every request's URI
    interactions: int  # recorded interactions, answered or not

    @property
    def failing(self) -> list[str]:
        """The names of the checks that failed at least once, sorted."""
        return sorted({failure.check for failure in self.failures})

    @property
    def requests(self) -> int | None:
        return self.interactions if self.events_found else None


def read_findings(folder: Path) -> Findings:
    report = read_json(folder / REPORT)
    checks: Counter[tuple[str, str]] = Counter()
    failures: list[Failure] = []
    statuses: Counter[tuple[str, int]] = Counter()
    uris: set[str] = set()
    interactions = broken = 0
    try:
        lines = (folder / EVENTS).read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = None
    for line in lines or []:
        try:
            ((kind, event),) = json.loads(line).items()
        except (ValueError, AttributeError):
            broken += 1
            continue
        if kind != "ScenarioFinished":
            continue
        recorder = event.get("recorder", {})
        for results in recorder.get("checks", {}).values():
            for result in results:
                checks[result["name"], result["status"]] += 1
                if result["status"] == "failure":
                    failures.append(_failure(result))
        for interaction in recorder.get("interactions", {}).values():
            interactions += 1
            request, response = interaction["request"], interaction.get("response")
            uris.add(request["uri"])
            if response is not None:
                statuses[request["method"], response["status_code"]] += 1
    return Findings(
        report=report if isinstance(report, dict) else None,
        events_found=lines is not None,
        broken_lines=broken,
        checks=checks,
        failures=tuple(failures),
        statuses=statuses,
        uris=frozenset(uris),
        interactions=interactions,
    )


def _failure(result: dict[str, Any]) -> Failure:
    found = (result.get("failure_info") or {}).get("failure") or {}
    return Failure(
        check=result["name"],
        code=str(found.get("code", "")),
        title=str(found.get("title", "")),
        message=str(found.get("message", "")),
        operation=str(found.get("operation", "")),
    )
