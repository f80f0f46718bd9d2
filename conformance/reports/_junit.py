"""junit.xml: one testcase per check, for CI systems that count tests.

Policy: the JUnit file agrees with the exit code. A `<failure>` is exactly a check that
fails the gate (a required failure, or an advisory one under --strict); an `<error>` is a
check that errored (the harness or the network, exit code 3 when nothing failed). An
advisory failure without --strict is a passing testcase whose `<system-out>` starts with
WARNING, so CI stays green exactly when the suite exits 0. Not-applicable and skipped
checks are `<skipped>`. With a baseline the gate is the comparison's: a failure the
baseline accepts is a passing testcase whose `<system-out>` starts with ACCEPTED FAILURE.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..model import CheckResult, Comparison, Level, Outcome, RunResult, scrub_result
from ._changes import scrub_comparison
from ._common import (
    ALONE,
    TOOL_NAME,
    format_size,
    one_line,
    printable,
    replayed,
    reproduction_script,
    request_line,
    same_cause_line,
    truncate_bytes,
)
from ._output import write_text

__all__ = ["render_junit", "write_junit"]

MAX_FINDINGS: Final = 10  # per testcase; the rest are in report.json
MAX_CURL: Final = 4 * 1024
# Outcomes that are a <skipped> testcase, as each is labelled there.
_NOT_RUN: Final = {
    Outcome.NOT_APPLICABLE: "not applicable",
    Outcome.NOT_IMPLEMENTED: "not implemented (a later edition's requirement)",
    Outcome.SKIPPED: "skipped",
}


def _findings_text(result: CheckResult, report: str = "report.json") -> str:
    info = result.check
    lines = [
        f"{info.id} ({info.level.value}): {info.requirement}",
        f"Source: {info.source}",
    ]
    if result.reason:
        lines.append(f"Reason: {result.reason}")
    if replayed(result):
        lines.append(f"Replayed: {replayed(result)}")
    for number, finding in enumerate(result.findings[:MAX_FINDINGS], 1):
        lines += ["", f"Finding {number}: {finding.message}"]
        if finding.exchange is not None:
            curl, cut = truncate_bytes(finding.exchange.curl, MAX_CURL)
            lines.append(f"  {request_line(finding.exchange)}")
            label = ALONE if len(finding.steps) > 1 else "Reproduce"
            lines.append(f"  {label}: {curl}")
            if cut:
                size = format_size(finding.exchange.curl)
                lines.append(f"  [curl command truncated: {size}; full command in report.json]")
        script = reproduction_script(finding, info.id, number, report)
        if script is not None:
            lines.append(f"  Reproduce it, {len(finding.steps)} requests in order:")
            lines += [f"    {line}" for line in script.splitlines()]
    if len(result.findings) > MAX_FINDINGS:
        lines += ["", f"... {len(result.findings) - MAX_FINDINGS} more findings in report.json"]
    return "\n".join(lines)


def _testcase(
    result: CheckResult, strict: bool, accepted: str | None = None, report: str = "report.json"
) -> ET.Element:
    """`accepted`: why the baseline accepts this failure, if it does."""
    info = result.check
    case = ET.Element(
        "testcase", classname=info.family, name=info.id, time=f"{result.duration_s:.3f}"
    )
    message = printable(one_line(same_cause_line(result) or result.reason or info.requirement, 500))
    if result.outcome is Outcome.FAILED:
        text = _findings_text(result, report)
        if accepted is not None and result.gates(strict):
            out = ET.SubElement(case, "system-out")
            out.text = printable(
                f"ACCEPTED FAILURE (baseline: {accepted}): fails, but does not fail the "
                "gate\n" + text
            )
        elif result.gates(strict):
            failure = ET.SubElement(case, "failure", message=message, type=info.level.value)
            if info.level is Level.ADVISORY:
                text = "advisory: fails the gate because the run is --strict\n" + text
            failure.text = printable(text)
        else:
            out = ET.SubElement(case, "system-out")
            out.text = printable(
                "WARNING: advisory check failed "
                "(advisory: does not fail the gate unless --strict)\n" + text
            )
    elif result.outcome is Outcome.ERROR:
        error = ET.SubElement(case, "error", message=message, type="harness-error")
        error.text = printable(
            "The harness or the network failed: not counted as the target's fault.\n"
            + _findings_text(result, report)
        )
    elif result.outcome in _NOT_RUN:
        label = _NOT_RUN[result.outcome]
        reason = one_line(result.reason, 500) if result.reason else "no reason given"
        ET.SubElement(case, "skipped", message=printable(f"{label}: {reason}"))
    return case


def render_junit(result: RunResult, comparison: Comparison | None = None) -> str:
    """junit.xml; with `comparison`, failures its baseline accepts are not `<failure>`s."""
    strict = result.settings.strict
    accepted = {
        c.check: c.accepted_reason or ""
        for c in (comparison.still_failing if comparison is not None else ())
    }
    cases = [
        _testcase(r, strict, accepted.get(r.check.id), result.report_json) for r in result.checks
    ]
    failures = [r for r in result.gate_failures if r.check.id not in accepted]
    counts = {
        "tests": str(len(cases)),
        "failures": str(len(failures)),
        "errors": str(result.count(Outcome.ERROR)),
        "skipped": str(sum(result.count(outcome) for outcome in _NOT_RUN)),
        "time": f"{result.duration_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": TOOL_NAME, **counts})
    attributes = {"name": TOOL_NAME, "timestamp": result.started_at, **counts}
    suite = ET.SubElement(root, "testsuite", attributes)
    properties = ET.SubElement(suite, "properties")
    settings = result.settings
    for name, value in (
        ("seed", settings.seed),
        ("edition", result.edition.edition.value),
        ("edition_reason", result.edition.reason),
        ("profile", settings.profile),
        ("strict", str(settings.strict).lower()),
        ("read_only", str(settings.read_only).lower()),
        ("max_requests", settings.max_requests),
        ("target", result.target.name),
        ("base_url", result.target.base_url),
        ("embedded", str(result.target.embedded).lower()),
        ("faults", ",".join(result.target.faults)),
        ("tool_version", result.tool_version),
        ("requests_sent", result.requests_sent),
        ("rerun", result.rerun),
        ("limits", "; ".join(str(limit) for limit in result.limits)),
        ("exit_code", result.exit_code),
        *(
            [
                ("baseline", comparison.baseline.source),
                ("baseline_exit_code", comparison.exit_code),
            ]
            if comparison is not None
            else []
        ),
    ):
        ET.SubElement(properties, "property", name=name, value=printable(str(value)))
    suite.extend(cases)
    out_lines = [
        f"seed={settings.seed} profile={settings.profile}",
        *(f"limit of the target: {limit}" for limit in result.limits),
        *result.notes,
    ]
    ET.SubElement(suite, "system-out").text = printable("\n".join(out_lines))
    failed_restores = result.restore_failed
    if failed_restores:
        lines = [f"{len(failed_restores)} conversation(s) NOT restored: restore by hand"]
        for record in failed_restores:
            lines.append(f"{record.conversation_id}: {record.message}")
            original = json.dumps(record.original_metadata, ensure_ascii=False)
            lines.append(f"  original metadata: {original}")
            if record.manual_fix:
                lines.append(f"  fix: {record.manual_fix}")
        ET.SubElement(suite, "system-err").text = printable("\n".join(lines))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(
    result: RunResult,
    path: Path,
    secrets: Iterable[str] = (),
    comparison: Comparison | None = None,
) -> Path:
    secrets = tuple(secrets)
    scrubbed = scrub_comparison(comparison, secrets) if comparison is not None else None
    return write_text(path, render_junit(scrub_result(result, secrets), scrubbed), secrets)
