"""One conformance run: snapshot, generated traffic, every check, restore - always restore.

The runner emits plain result objects (`RunResult`); it prints nothing and writes no file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import schemathesis
from schemathesis import GenerationMode

from .. import __version__
from ..checks import (
    MAX_FINDINGS_KEPT,
    REGISTRY,
    Abort,
    Check,
    Context,
    RunContext,
    Verdict,
    run_generated,
)
from ..core import BudgetExhausted, Client, RunOptions, Sent, Target, TargetUnreachable, load_spec
from ..model import (
    CheckInfo,
    CheckResult,
    Finding,
    Outcome,
    RestoreRecord,
    RunResult,
    TargetInfo,
    redact,
)
from ._snapshot import Snapshot, restore, take_snapshot

__all__ = ["Progress", "run"]

Progress = Callable[[str, int, int], None]  # (what is running, done, total)


def _schema() -> Any:
    config = schemathesis.Config.from_dict({})
    return schemathesis.openapi.from_dict(load_spec(), config=config)


@dataclass
class _Tally:
    """A response check's running score over every answer of the run."""

    evaluated: int = 0
    failures: int = 0
    findings: list[Finding] = field(default_factory=list)


class _Observer:
    """Judges every answer of the run with the response checks, whoever sent the request."""

    def __init__(self, run: RunContext, checks: Sequence[Check]) -> None:
        self.run = run
        self.checks = [c for c in checks if c.response is not None]
        self.tallies = {c.id: _Tally() for c in self.checks}

    def __call__(self, sent: Sent) -> None:
        if sent.status == 429:
            return  # rate limiting is never a violation
        for check in self.checks:
            assert check.response is not None
            verdict = check.response(self.run, sent)
            if verdict is Verdict.NOT_APPLICABLE:
                continue
            tally = self.tallies[check.id]
            tally.evaluated += 1
            if isinstance(verdict, str):
                tally.failures += 1
                if len(tally.findings) < MAX_FINDINGS_KEPT:
                    tally.findings.append(Finding(verdict, sent.exchange))

    def results(self) -> list[CheckResult]:
        return [_tally_result(c.info, self.tallies[c.id]) for c in self.checks]


@dataclass
class _Scenarios:
    """What became of the scenario checks."""

    results: list[CheckResult] = field(default_factory=list)
    interrupted: bool = False


def run(
    target: Target,
    options: RunOptions,
    progress: Progress | None = None,
    transport: Any = None,
) -> RunResult:
    client = Client(
        target.base_url,
        target.secrets,
        max_requests=options.max_requests,
        rate_limit=options.rate_limit,
        timeout=options.timeout,
        transport=transport,
    )
    context = RunContext(target=target, client=client, schema=_schema(), options=options)
    selected = [c for c in REGISTRY.values() if not options.checks or c.id in options.checks]
    observer = _Observer(context, selected)
    client.observers.append(observer)
    started_at, clock = datetime.now(UTC), time.monotonic()
    done = _Scenarios()
    snapshot: Snapshot = {}
    restored: list[RestoreRecord] = []
    try:
        snapshot = take_snapshot(context)
        _run_scenarios(context, [c for c in selected if c.scenario is not None], progress, done)
    except KeyboardInterrupt:
        done.interrupted = True  # during the snapshot or the generated requests
    finally:
        if snapshot:
            restored = restore(context, snapshot)
        client.close()
    results = _complete(context, selected, done, observer)
    return RunResult(
        tool_version=__version__,
        target=TargetInfo(
            name=target.name,
            base_url=target.base_url,
            embedded=target.embedded,
            faults=target.faults,
            conversation_ids=target.primary.conversation_ids,
            second_account=target.second is not None,
        ),
        settings=options.settings(),
        started_at=started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.monotonic() - clock,
        requests_sent=client.sent,
        checks=results,
        restore=restored,
        notes=_notes(context, done),
        interrupted=done.interrupted,
    )


def _run_scenarios(
    context: RunContext, scenarios: Sequence[Check], progress: Progress | None, done: _Scenarios
) -> None:
    """Generated traffic first, then each scenario check in order; a target that stops
    answering turns the rest into errors, an interrupt into skips."""
    total = len(scenarios) + 1
    if progress:
        progress("generated requests", 0, total)
    unreachable = _explore(context)
    for index, check in enumerate(scenarios, start=1):
        if progress:
            progress(check.id, index, total)
        if unreachable is not None:
            reason = f"not run: the target stopped answering ({unreachable})"
            done.results.append(CheckResult(check.info, Outcome.ERROR, reason))
            continue
        if done.interrupted:
            done.results.append(CheckResult(check.info, Outcome.SKIPPED, "not run: interrupted"))
            continue
        try:
            result, unreachable = _run_scenario(context, check)
        except KeyboardInterrupt:
            done.interrupted = True
            result = CheckResult(check.info, Outcome.SKIPPED, "not run: interrupted")
        done.results.append(result)


def _explore(context: RunContext) -> TargetUnreachable | None:
    """Generated positive requests for both operations; why the target stopped answering,
    if it did."""
    methods = ["GET"] if context.read_only else ["GET", "PATCH"]
    explorer = Context(context)
    try:
        for method in methods:
            run_generated(explorer, method, GenerationMode.POSITIVE)
    except BudgetExhausted:
        return None
    except TargetUnreachable as exc:
        return exc
    return None


def _guard_reason(context: RunContext, check: Check) -> tuple[Outcome, str] | None:
    for guard, skipped in check.guards:
        reason = guard(context)
        if reason:
            return (Outcome.SKIPPED if skipped else Outcome.NOT_APPLICABLE), reason
    return None


def _run_scenario(
    context: RunContext, check: Check
) -> tuple[CheckResult, TargetUnreachable | None]:
    """One scenario check in a context of its own; and the target's silence, if it fell."""
    guarded = _guard_reason(context, check)
    if guarded:
        return CheckResult(check.info, guarded[0], guarded[1]), None
    assert check.scenario is not None
    ctx, clock = Context(context), time.monotonic()
    outcome, reason, unreachable = Outcome.PASSED, "", None
    try:
        check.scenario(ctx)
    except Abort:
        pass
    except BudgetExhausted:
        outcome = Outcome.SKIPPED
        reason = f"request budget spent (--max-requests {context.options.max_requests})"
    except TargetUnreachable as exc:
        outcome, reason, unreachable = Outcome.ERROR, f"target unreachable: {exc}", exc
    except Exception as exc:  # a bug of ours: never the target's fault
        outcome, reason = Outcome.ERROR, f"internal error: {type(exc).__name__}: {exc}"
    if ctx.failure_count:
        outcome = Outcome.FAILED
        reason = ctx.findings[0].message + _more(ctx.failure_count)
    result = CheckResult(
        check.info,
        outcome,
        reason,
        list(ctx.findings),
        exchanges=len(ctx.exchanges),
        duration_s=time.monotonic() - clock,
    )
    return result, unreachable


def _more(failures: int) -> str:
    return f" (and {failures - 1} more)" if failures > 1 else ""


def _tally_result(info: CheckInfo, tally: _Tally) -> CheckResult:
    if tally.failures:
        reason = tally.findings[0].message + _more(tally.failures)
        return CheckResult(info, Outcome.FAILED, reason, tally.findings, tally.evaluated)
    if tally.evaluated:
        return CheckResult(info, Outcome.PASSED, f"{tally.evaluated} answers", [], tally.evaluated)
    return CheckResult(info, Outcome.NOT_APPLICABLE, "no answer of this run was one it judges")


def _complete(
    context: RunContext, selected: Sequence[Check], done: _Scenarios, observer: _Observer
) -> list[CheckResult]:
    """Every selected check's result, redacted, in the registry's order."""
    results = list(done.results)
    ran = {r.check.id for r in results}
    for check in selected:
        if check.scenario is not None and check.id not in ran:
            results.append(CheckResult(check.info, Outcome.SKIPPED, "not run: interrupted"))
    results += observer.results()
    _merge_elsewhere(results, context.elsewhere)
    secrets = context.target.secrets
    results = [_redacted(r, secrets) for r in results]
    order = {check_id: i for i, check_id in enumerate(REGISTRY)}
    return sorted(results, key=lambda r: order[r.check.id])


def _notes(context: RunContext, done: _Scenarios) -> list[str]:
    notes = list(context.notes)
    client = context.client
    if done.interrupted:
        notes.append(
            "interrupted: the checks after it did not run; what the run touched was restored first"
        )
    if client.backoffs:
        notes.append(
            f"the target answered 429 {len(client.backoffs)} times; the run waited "
            f"{sum(client.backoffs):.1f} s in all, as Retry-After asked"
        )
    if client.exhausted:
        notes.append(
            f"the request budget ({client.max_requests}) ran out: raise --max-requests to run "
            "every check"
        )
    return notes


def _redacted(result: CheckResult, secrets: dict[str, str]) -> CheckResult:
    """Messages quote answers (a schema error shows the offending value): scrub them too."""
    result.reason = redact(result.reason, secrets)
    result.findings = [replace(f, message=redact(f.message, secrets)) for f in result.findings]
    return result


def _merge_elsewhere(results: list[CheckResult], elsewhere: dict[str, list[Finding]]) -> None:
    for result in results:
        found = elsewhere.get(result.check.id)
        if not found or result.outcome in (Outcome.SKIPPED, Outcome.NOT_APPLICABLE):
            continue
        if result.outcome is not Outcome.FAILED:
            result.outcome, result.reason = Outcome.FAILED, found[0].message
        room = MAX_FINDINGS_KEPT - len(result.findings)
        result.findings.extend(found[: max(room, 0)])
