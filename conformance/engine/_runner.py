"""One conformance run: snapshot, generated traffic, every check, restore - always restore.

The runner emits plain result objects (`RunResult`); it prints nothing and writes no file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import schemathesis
from schemathesis import GenerationMode

from .. import __version__
from ..checks import PROFILES, REGISTRY, Abort, Check, Context, Verdict, run_generated, same_json
from ..checks._context import MAX_FINDINGS_KEPT
from ..core._errors import ExitCode, HarnessError
from ..core._http import BudgetExhausted, Client, Sent, TargetUnreachable, curl_command, redact
from ..core._spec import load_spec
from ..core._target import Account, Target
from ..model._results import (
    CheckInfo,
    CheckResult,
    Finding,
    Outcome,
    RestoreRecord,
    RunResult,
    RunSettings,
    TargetInfo,
)

__all__ = ["RunOptions", "run"]

Progress = Callable[[str, int, int], None]  # (what is running, done, total)


@dataclass(frozen=True)
class RunOptions:
    seed: int
    profile: str = "quick"
    max_requests: int | None = None  # None: the profile's default
    rate_limit: float | None = None
    timeout: float = 10.0
    max_response_time: float = 1.0
    read_only: bool = False
    strict: bool = False
    only: tuple[str, ...] = ()  # check IDs to run; empty: all


@dataclass
class _Tally:
    """A response check's running score over every answer of the run."""

    evaluated: int = 0
    failures: int = 0
    findings: list[Finding] = field(default_factory=list)


def _schema() -> Any:
    config = schemathesis.Config.from_dict({})
    return schemathesis.openapi.from_dict(load_spec(), config=config)


def run(
    target: Target,
    options: RunOptions,
    progress: Progress | None = None,
    transport: Any = None,
) -> RunResult:
    profile = PROFILES[options.profile]
    max_requests = options.max_requests or profile.max_requests
    client = Client(
        target.base_url,
        target.secrets,
        max_requests=max_requests,
        rate_limit=options.rate_limit,
        timeout=options.timeout,
        transport=transport,
    )
    ctx = Context(
        target=target,
        client=client,
        schema=_schema(),
        profile=profile,
        seed=options.seed,
        read_only=options.read_only,
        max_response_time=options.max_response_time,
    )
    selected = [c for c in REGISTRY.values() if not options.only or c.id in options.only]
    response_checks = [c for c in selected if c.response is not None]
    tallies = {c.id: _Tally() for c in response_checks}

    def observe(sent: Sent) -> None:
        if sent.status == 429:
            return  # rate limiting is never a violation
        for check in response_checks:
            assert check.response is not None
            verdict = check.response(ctx, sent)
            if verdict is Verdict.NOT_APPLICABLE:
                continue
            tally = tallies[check.id]
            tally.evaluated += 1
            if isinstance(verdict, str):
                tally.failures += 1
                if len(tally.findings) < MAX_FINDINGS_KEPT:
                    tally.findings.append(Finding(verdict, sent.exchange))

    client.observers.append(observe)
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    results: list[CheckResult] = []
    restore: list[RestoreRecord] = []
    snapshot: dict[tuple[str, str], Any] = {}
    interrupted = False
    try:
        snapshot = _snapshot(ctx)
        scenarios = [c for c in selected if c.scenario is not None]
        total = len(scenarios) + 1
        if progress:
            progress("generated requests", 0, total)
        unreachable = _explore(ctx)
        for index, check in enumerate(scenarios, start=1):
            if progress:
                progress(check.id, index, total)
            if unreachable:
                results.append(
                    CheckResult(
                        check.info,
                        Outcome.ERROR,
                        f"not run: the target stopped answering ({unreachable})",
                    )
                )
                continue
            if interrupted:
                results.append(CheckResult(check.info, Outcome.SKIPPED, "not run: interrupted"))
                continue
            try:
                result = _run_scenario(ctx, check)
            except KeyboardInterrupt:
                interrupted = True
                result = CheckResult(check.info, Outcome.SKIPPED, "not run: interrupted")
            if result.outcome is Outcome.ERROR and result.reason.startswith("target unreachable"):
                unreachable = result.reason
            results.append(result)
    except KeyboardInterrupt:
        interrupted = True  # during the snapshot or the generated requests
    finally:
        if snapshot:
            restore = _restore(ctx, snapshot)
        client.close()
    ran = {r.check.id for r in results}
    for check in selected:
        if check.scenario is not None and check.id not in ran:
            results.append(CheckResult(check.info, Outcome.SKIPPED, "not run: interrupted"))
    for check in response_checks:
        results.append(_response_result(check.info, tallies[check.id]))
    _merge_elsewhere(results, ctx.elsewhere)
    results = [_redacted(r, target.secrets) for r in results]
    order = {check_id: i for i, check_id in enumerate(REGISTRY)}
    results.sort(key=lambda r: order[r.check.id])
    notes = list(ctx.notes)
    if interrupted:
        notes.append(
            "interrupted: the checks after it did not run; what the run touched was restored first"
        )
    if client.backoffs:
        notes.append(
            f"the target answered 429 {len(client.backoffs)} times; the run waited "
            f"{sum(client.backoffs):.1f} s in all, as Retry-After asked"
        )
    if any(r.reason.startswith("request budget spent") for r in results):
        notes.append(
            f"the request budget ({max_requests}) ran out: raise --max-requests to run every check"
        )
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
        settings=RunSettings(
            seed=options.seed,
            profile=options.profile,
            max_requests=max_requests,
            rate_limit=options.rate_limit,
            max_response_time=options.max_response_time,
            read_only=options.read_only,
            strict=options.strict,
        ),
        started_at=started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.monotonic() - clock,
        requests_sent=client.sent,
        checks=results,
        restore=restore,
        notes=notes,
        interrupted=interrupted,
    )


def _accounts(target: Target) -> list[Account]:
    return [target.primary] + ([target.second] if target.second else [])


def _snapshot(ctx: Context) -> dict[tuple[str, str], Any]:
    """Read every conversation the run may touch; any problem makes the target unusable."""
    snapshot: dict[tuple[str, str], Any] = {}
    for account in _accounts(ctx.target):
        for conversation_id in account.conversation_ids:
            try:
                sent = ctx.get(conversation_id, account=account)
            except TargetUnreachable as exc:
                raise HarnessError(
                    f"the target at {ctx.target.base_url} is unreachable ({exc})",
                    "check the URL, the network and that the service is up",
                    ExitCode.TARGET_UNUSABLE,
                ) from None
            if sent.status in (401, 403):
                raise HarnessError(
                    f"the key in {account.key_env} was refused ({sent.status})",
                    f"export a valid API key in {account.key_env}",
                    ExitCode.TARGET_UNUSABLE,
                )
            if sent.status == 404:
                raise HarnessError(
                    f"conversation {conversation_id} does not exist for the key in "
                    f"{account.key_env} (404)",
                    "pass the id of an existing conversation of that account",
                    ExitCode.TARGET_UNUSABLE,
                )
            body = sent.json_body
            if sent.status != 200 or not isinstance(body, dict) or "metadata" not in body:
                raise HarnessError(
                    f"cannot snapshot conversation {conversation_id}: GET answered "
                    f"{sent.status} without a metadata field",
                    "the suite will not write what it cannot restore; fix the target or use "
                    "--read-only",
                    ExitCode.TARGET_UNUSABLE,
                )
            snapshot[(account.key_env, conversation_id)] = body["metadata"]
    return snapshot


def _explore(ctx: Context) -> str | None:
    """Generated positive requests for both operations; returns why the target stopped
    answering, if it did."""
    methods = ["GET"] if ctx.read_only else ["GET", "PATCH"]
    try:
        for method in methods:
            run_generated(ctx, method, GenerationMode.POSITIVE)
    except BudgetExhausted:
        return None
    except TargetUnreachable as exc:
        return str(exc)
    return None


def _guard_reason(ctx: Context, check: Check) -> tuple[Outcome, str] | None:
    for guard, skipped in check.guards:
        reason = guard(ctx)
        if reason:
            return (Outcome.SKIPPED if skipped else Outcome.NOT_APPLICABLE), reason
    return None


def _run_scenario(ctx: Context, check: Check) -> CheckResult:
    guarded = _guard_reason(ctx, check)
    if guarded:
        return CheckResult(check.info, guarded[0], guarded[1])
    assert check.scenario is not None
    ctx.findings, ctx.failure_count, ctx.last_sent = [], 0, None
    sent_before, clock = ctx.client.sent, time.monotonic()
    outcome, reason = Outcome.PASSED, ""
    try:
        check.scenario(ctx)
    except Abort:
        pass
    except BudgetExhausted:
        outcome, reason = (
            Outcome.SKIPPED,
            f"request budget spent (--max-requests {ctx.client.max_requests})",
        )
    except TargetUnreachable as exc:
        outcome, reason = Outcome.ERROR, f"target unreachable: {exc}"
    except Exception as exc:  # a bug of ours: never the target's fault
        outcome, reason = Outcome.ERROR, f"internal error: {type(exc).__name__}: {exc}"
    if ctx.failure_count:
        outcome = Outcome.FAILED
        reason = ctx.findings[0].message + (
            f" (and {ctx.failure_count - 1} more)" if ctx.failure_count > 1 else ""
        )
    return CheckResult(
        check.info,
        outcome,
        reason,
        list(ctx.findings),
        exchanges=ctx.client.sent - sent_before,
        duration_s=time.monotonic() - clock,
    )


def _response_result(info: CheckInfo, tally: _Tally) -> CheckResult:
    if tally.failures:
        more = f" (and {tally.failures - 1} more)" if tally.failures > 1 else ""
        return CheckResult(
            info, Outcome.FAILED, tally.findings[0].message + more, tally.findings, tally.evaluated
        )
    if tally.evaluated:
        return CheckResult(info, Outcome.PASSED, f"{tally.evaluated} answers", [], tally.evaluated)
    return CheckResult(info, Outcome.NOT_APPLICABLE, "no answer of this run was one it judges")


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


def _restore(ctx: Context, snapshot: dict[tuple[str, str], Any]) -> list[RestoreRecord]:
    """Put back every conversation's metadata; verify with a GET; say loudly what failed."""
    by_env = {a.key_env: a for a in _accounts(ctx.target)}
    records = []
    for (key_env, conversation_id), original in snapshot.items():
        account = by_env[key_env]
        records.append(_restore_one(ctx, account, conversation_id, original))
    return records


def _restore_one(
    ctx: Context, account: Account, conversation_id: str, original: Any
) -> RestoreRecord:
    path = f"/v1/conversations/{conversation_id}"
    bearer = ctx.bearer(account)

    def current() -> Any:
        sent = ctx.client.send("GET", path, authorization=bearer, reserved=True)
        body = sent.json_body
        return body.get("metadata", "<absent>") if isinstance(body, dict) else "<unreadable>"

    def put(metadata: Any) -> None:
        ctx.client.send(
            "PATCH", path, authorization=bearer, json_body={"metadata": metadata}, reserved=True
        )

    try:
        if same_json(current(), original):
            return RestoreRecord(conversation_id, True, "unchanged")
        if ctx.read_only:
            return _unrestored(
                ctx,
                account,
                conversation_id,
                original,
                "changed during a read-only run (by someone else?): not written",
            )
        put(original)
        if same_json(current(), original):
            return RestoreRecord(conversation_id, True, "restored")
        put(None)  # a target that merges needs a clean slate first
        put(original)
        if same_json(current(), original):
            return RestoreRecord(conversation_id, True, "restored (after clearing it first)")
        return _unrestored(
            ctx,
            account,
            conversation_id,
            original,
            "RESTORE FAILED: the target does not store what it is sent back",
        )
    except (TargetUnreachable, BudgetExhausted) as exc:
        return _unrestored(ctx, account, conversation_id, original, f"RESTORE FAILED: {exc}")


def _unrestored(
    ctx: Context, account: Account, conversation_id: str, original: Any, message: str
) -> RestoreRecord:
    body = json.dumps({"metadata": original}, ensure_ascii=False).encode("utf-8")
    fix = curl_command(
        "PATCH",
        f"{ctx.target.base_url}/v1/conversations/{conversation_id}",
        {"Authorization": ctx.bearer(account), "Content-Type": "application/json"},
        body,
        ctx.target.secrets,
    )
    return RestoreRecord(conversation_id, False, message, original, fix)
