"""One pytest test per conformance check. Options: --agentphone-args="..." (see the plugin)."""

from __future__ import annotations

import pytest

from conformance.checks import REGISTRY
from conformance.model import Outcome, RunResult


def _explain(result: RunResult, check_id: str) -> str:
    checked = next(r for r in result.checks if r.check.id == check_id)
    lines = [f"{check_id}: {checked.check.requirement} ({checked.check.source})", checked.reason]
    for finding in checked.findings:
        lines.append(f"- {finding.message}")
        if finding.exchange is not None:
            lines.append(f"  reproduce: {finding.exchange.curl}")
    return "\n".join(lines)


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_conformance(check_id: str, agentphone_conformance_result: RunResult) -> None:
    result = agentphone_conformance_result
    checked = next((r for r in result.checks if r.check.id == check_id), None)
    if checked is None:
        pytest.skip("not selected (--check)")
    if checked.outcome in (Outcome.NOT_APPLICABLE, Outcome.SKIPPED):
        pytest.skip(checked.reason)
    if checked.outcome is Outcome.ERROR:
        raise RuntimeError(f"harness error, not the target's fault: {checked.reason}")
    if checked.gates(result.settings.strict):
        pytest.fail(_explain(result, check_id), pytrace=False)
