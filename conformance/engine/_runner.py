"""One conformance run: snapshot, generated traffic, every check, restore - always restore.

The runner emits plain result objects (`RunResult`); it prints nothing and writes no file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import schemathesis
import schemathesis.specs.openapi.schemas  # loaded at start-up, not on a run's clock
from schemathesis import GenerationMode

from .. import __version__
from ..checks import (
    EXPLORATION_JUDGES,
    MAX_FINDINGS_KEPT,
    REGISTRY,
    Abort,
    Check,
    Context,
    Elsewhere,
    Judge,
    NotApplicable,
    OtherWriter,
    RunContext,
    Snapshot,
    Verdict,
    answer_cause,
    conversation_path,
    run_generated,
)
from ..core import (
    BudgetExhausted,
    Client,
    DeadlineReached,
    Dropped,
    HarnessError,
    RunOptions,
    Sent,
    Target,
    TargetUnreachable,
    Throttled,
    load_spec,
)
from ..model import (
    CheckInfo,
    CheckResult,
    Confirmation,
    Edition,
    EditionJudged,
    Finding,
    Journal,
    Outcome,
    RestoreRecord,
    RunResult,
    TargetInfo,
    redact,
)
from ._replay import Evidence, replay_all
from ._snapshot import judge_edition, restore, settle, take_snapshot
from ._webhooks import webhook_session
from ._writers import OtherWriters, live_use

__all__ = ["Progress", "run"]

Progress = Callable[[str, int, int], None]  # (what is running, done, total)
_LIVE = (
    "another client may write it during the run; the suite never writes over a value it did "
    "not write, but cannot see one it overwrote before reading it: test a dedicated "
    "conversation"
)


def _sections(journal: Journal | None) -> Callable[[str], None]:
    """Tells the journal (if any) which part of the run sends from now on."""

    def begin(name: str) -> None:
        if journal is not None:
            at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            journal.begin(name, at)

    return begin


def _announcing(progress: Progress | None, section: Callable[[str], None]) -> Progress:
    """The run's progress, which also names each step's section in the journal."""

    def step(what: str, done: int, total: int) -> None:
        section("generated" if what == "generated requests" else what)
        if progress:
            progress(what, done, total)

    return step


def _announcer(progress: Progress | None) -> Callable[[str], None]:
    """A line for the user, through the run's progress (a bar, or one line per step)."""
    return (lambda line: progress(line, 0, 1)) if progress else (lambda line: None)


def _other_writer(context: RunContext) -> str:
    conversations = ", ".join(context.others)
    return (
        f"another client wrote {conversations} during the run (a value neither the run nor the "
        "target's answers to it ever held): the suite stopped writing there and leaves that "
        "value in place"
    )


_PAST_DEADLINE = "not run: the run's --deadline had passed"

# A request that gets no answer (no complete one within --timeout, or no connection) while the
# target answers the next one costs its check a verdict, not the run: the run goes on. At the
# MAX_SILENT-th such request it stops (each costs a whole --timeout), the rest errors.
MAX_SILENT = 3


def schema_for(edition: Edition) -> Any:
    """The fragment as schemathesis loads it, for one edition of the contract."""
    config = schemathesis.Config.from_dict({})
    return schemathesis.openapi.from_dict(load_spec(edition), config=config)


@dataclass
class _Tally:
    """A response check's running score over every answer of the run."""

    evaluated: int = 0
    failures: int = 0
    findings: list[Finding] = field(default_factory=list)
    first: Sent | None = None  # the first answer it failed: replayed to confirm
    causes: set[str] = field(default_factory=set)  # the answers it failed, in words


class _Observer:
    """Judges every answer of the run with the response checks, whoever sent the request.
    Until the edition is judged (the snapshot's answers show it), answers wait."""

    def __init__(self, run: RunContext, checks: Sequence[Check]) -> None:
        self.run = run
        self.checks = [c for c in checks if c.response is not None]
        self.tallies = {c.id: _Tally() for c in self.checks}
        self.waiting: list[Sent] | None = []

    def __call__(self, sent: Sent) -> None:
        if self.waiting is not None:
            self.waiting.append(sent)
            return
        self.judge(sent)

    def edition_judged(self) -> None:
        waiting, self.waiting = self.waiting or [], None
        for sent in waiting:
            self.judge(sent)

    def judge(self, sent: Sent) -> None:
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
                cause = answer_cause(sent.exchange)
                if any(f.cause == cause and f.message == verdict for f in tally.findings):
                    continue  # the same answer judged again: one finding
                tally.failures += 1
                tally.causes.add(cause)
                tally.first = tally.first or sent
                if len(tally.findings) < MAX_FINDINGS_KEPT:
                    tally.findings.append(Finding(verdict, sent.exchange, cause=cause))

    def results(self) -> list[CheckResult]:
        return [_tally_result(c.info, self.tallies[c.id]) for c in self.checks]

    def evidence(self) -> dict[str, Evidence]:
        """How to see each response check's failure again: its first failing request."""
        return {
            check.id: Evidence(sent=first, judge=self._judge(check))
            for check in self.checks
            if (first := self.tallies[check.id].first) is not None
        }

    def _judge(self, check: Check) -> Judge:
        response = check.response
        assert response is not None
        return lambda again: isinstance(response(self.run, again), str)


@dataclass
class _Scenarios:
    """What became of the scenario checks."""

    results: list[CheckResult] = field(default_factory=list)
    interrupted: bool = False
    elsewhere: dict[str, list[Elsewhere]] = field(default_factory=dict)  # findings for checks
    # other than the one whose request showed them
    evidence: dict[str, Evidence] = field(default_factory=dict)  # how to see a failure again
    confirmed: dict[str, tuple[Confirmation, str]] = field(default_factory=dict)
    unreplayed: str = ""  # why the replays did not run at all
    silent: list[str] = field(default_factory=list)  # requests that got no answer, the run
    # going on (the target answered the next one)
    landed: int = 0  # checks not judged: a write that got no answer was stored during them

    def record(self, ctx: Context) -> None:
        for check_id, found in ctx.elsewhere.items():
            self.elsewhere.setdefault(check_id, []).extend(found)


def smallest_budget(target: Target, scenarios: int) -> int:
    """The fewest requests a run can do anything with: the snapshot (each conversation
    given, each witness, a page of each account's list) and one request per check."""
    accounts = [target.primary] + ([target.second] if target.second else [])
    snapshot = sum(len(a.conversation_ids) + 1 for a in accounts) + len(target.witness_ids)
    return snapshot + scenarios


def run(
    target: Target,
    options: RunOptions,
    progress: Progress | None = None,
    transport: Any = None,
    journal: Journal | None = None,
    mirror: Callable[[Client], Any] | None = None,
) -> RunResult:
    """One run against `target`. `journal`: where every exchange goes, for a HAR;
    `mirror`: makes what also sends every request elsewhere (`Client.mirror`), given the
    run's client (differential runs)."""
    selected = [c for c in REGISTRY.values() if not options.checks or c.id in options.checks]
    smallest = smallest_budget(target, sum(1 for c in selected if c.scenario is not None))
    if options.max_requests < smallest:
        raise HarnessError(
            f"--max-requests {options.max_requests} is too small: the snapshot and the checks "
            f"need at least {smallest} requests",
            f"give --max-requests {smallest} or more (the {options.profile.name} profile's "
            f"default is {options.profile.max_requests})",
        )
    started_at, clock = datetime.now(UTC), time.monotonic()
    client = Client(
        target.base_url,
        target.secrets,
        max_requests=options.max_requests,
        rate_limit=options.rate_limit,
        timeout=options.timeout,
        max_answer_bytes=options.max_answer_bytes,
        run_deadline=None if options.deadline is None else clock + options.deadline,
        transport=transport if transport is not None else target.transport,
        journal=journal,
    )
    if mirror is not None:
        client.mirror = mirror(client)
    context = RunContext(target=target, client=client, options=options)
    section = _sections(journal)
    writers = OtherWriters(context)
    observer = _Observer(context, selected)
    client.observers.append(observer)
    done = _Scenarios()
    snapshot: Snapshot | None = None
    restored: list[RestoreRecord] = []
    edition = EditionJudged(Edition.CURRENT, "not judged: the target could not be read")
    try:
        section("snapshot")
        snapshot = context.snapshot = take_snapshot(context)
        writers.watch(snapshot)
        client.ours = writers.ours  # a write refused for its If-Match: whose value is there?
        for sign in live_use(snapshot, datetime.now(UTC)):
            context.notes.append(f"{sign}: {_LIVE}")
            if progress:
                progress(f"warning: {sign}: {_LIVE}", 0, 1)
        edition = judge_edition(options.edition, snapshot)
        context.edition, context.schema = edition.edition, schema_for(edition.edition)
        observer.edition_judged()
        scenarios = [c for c in selected if c.scenario is not None]
        scenarios.sort(key=lambda check: check.at_end)  # stable: registry order otherwise
        section("webhooks")
        wanted = any(check.info.family == "webhook" for check in scenarios)
        with webhook_session(context, _announcer(progress), wanted):
            _run_scenarios(context, scenarios, _announcing(progress, section), done, writers)
            if done.interrupted:
                done.unreplayed = "the run was interrupted"
            elif client.deadline_passed():
                done.unreplayed = "the --deadline had passed"
            elif writers.count or context.others:
                done.unreplayed = "another client wrote a conversation of the run"
            else:
                section("replays")
                context.concurrent = None  # a consistency check replayed sends a new history
                done.confirmed = replay_all(context, _failures(done, observer))
            section("webhooks")
    except KeyboardInterrupt:
        done.interrupted = True  # during the snapshot or the generated requests
    finally:
        if snapshot is not None:
            section("restore")
            settled, uncertain = settle(context, snapshot, writers.landed)
            if settled:
                context.notes.append(settled)
            restored = restore(context, snapshot, writers.ours, uncertain)
        client.close()
        if journal is not None and client.secrets != target.secrets:
            journal.scrub(set(client.secrets) - set(target.secrets))  # learnt during the run
    results = _complete(context, selected, done, observer)
    return RunResult(
        tool_version=__version__,
        target=TargetInfo(
            name=target.name,
            base_url=target.base_url,
            embedded=target.embedded,
            faults=target.faults,
            emulator_edition=target.emulator_edition,
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
        edition=edition,
        deadline_reached=client.deadline_passed(),
        other_writers=tuple(context.others),
        limits=list(context.limits.values()),
    )


def _run_scenarios(
    context: RunContext,
    scenarios: Sequence[Check],
    progress: Progress | None,
    done: _Scenarios,
    writers: OtherWriters,
) -> None:
    """Generated traffic first, then each scenario check in order; a target that stops
    answering turns the rest into errors, an interrupt into skips."""
    total = len(scenarios) + 1
    if progress:
        progress("generated requests", 0, total)
    unreachable = _explore(context, done)
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
        if context.client.deadline_passed():
            done.results.append(CheckResult(check.info, Outcome.SKIPPED, _PAST_DEADLINE))
            continue
        seen, landed = writers.count + len(context.others), len(writers.landed)
        history = context.concurrent
        try:
            result, unreachable = _run_scenario(context, check, done)
            if writers.count + len(context.others) > seen:  # someone else's write: not judged
                result.outcome, result.findings = Outcome.ERROR, []
                result.reason = f"not judged: {_other_writer(context)}"
                done.evidence.pop(check.id, None)
            elif len(writers.landed) > landed:  # a write of ours stored late: not judged
                result.outcome, result.findings = Outcome.ERROR, []
                result.reason = f"not judged: {_LANDED} ({writers.landed[-1]})"
                done.evidence.pop(check.id, None)
                done.landed += 1
                if context.concurrent is not history:  # a history with the late write in it:
                    context.concurrent = None  # the next consistency check sends its own
        except KeyboardInterrupt:
            done.interrupted = True
            result = CheckResult(check.info, Outcome.SKIPPED, "not run: interrupted")
        done.results.append(result)


def _explore(context: RunContext, done: _Scenarios) -> TargetUnreachable | None:
    """Generated positive requests for both operations; why the target stopped answering,
    if it did."""
    chosen = [REGISTRY[check_id] for check_id in context.options.checks]
    if chosen and not any(c.response or c.id in EXPLORATION_JUDGES for c in chosen):
        return None  # only checks chosen (--check) that would not judge the traffic
    methods = ["GET"] if context.read_only else ["GET", "PATCH"]
    explorer = Context(context)
    try:
        for method in methods:  # a request without an answer ends that method's traffic
            try:
                run_generated(explorer, method, GenerationMode.POSITIVE)
            except Dropped as exc:
                if not _answers_still(context):
                    return exc
                _crashed_on(explorer, exc, check_id="ROBUST-NO-5XX")
            except TargetUnreachable as exc:
                if not _goes_on(context, done, exc):
                    return exc
    except (BudgetExhausted, Throttled, OtherWriter):
        pass
    finally:
        done.record(explorer)
    return None


def _goes_on(context: RunContext, done: _Scenarios, silence: TargetUnreachable) -> bool:
    """A request got no answer: does the run go on? Yes while the target answers another
    request, up to MAX_SILENT such requests in a run."""
    if len(done.silent) + 1 >= MAX_SILENT or not _answers_still(context):
        return False
    done.silent.append(str(silence))
    return True


def _answers_still(context: RunContext) -> bool:
    """Does the target answer at all (any status), a request away from whatever the last
    one touched? A GET of an id that cannot exist: it names nothing a crash could be about."""
    try:
        context.client.send(
            "GET",
            conversation_path(context.unknown_id()),
            authorization=context.bearer(context.target.primary),
            reserved=True,
            observed=False,
        )
    except TargetUnreachable:
        return False
    except Throttled:
        return True  # 429 again and again: an answer all the same
    return True


def _crashed_on(ctx: Context, dropped: Dropped, check_id: str | None = None) -> None:
    """The target closed the connection without answering a request, and answers others: it
    crashed on that one. A finding of the check that sent it (or `check_id`'s), and of
    ROBUST-NO-5XX, which no answer at all breaks as a 5xx does."""
    finding = Finding(
        f"the target closed the connection without answering: it crashed on this request "
        f"({dropped})",
        dropped.exchange,
    )
    if check_id is None:
        ctx.fail(finding.message, dropped.exchange)
    else:
        ctx.elsewhere.setdefault(check_id, []).append(Elsewhere(finding))
    if check_id != "ROBUST-NO-5XX":
        ctx.elsewhere.setdefault("ROBUST-NO-5XX", []).append(Elsewhere(finding))


def _guard_reason(context: RunContext, check: Check) -> tuple[Outcome, str] | None:
    if check.info.edition is Edition.CURRENT and context.edition is Edition.SEED:
        return Outcome.NOT_IMPLEMENTED, (
            "the target implements the seed edition, which does not have this requirement "
            "(--edition current judges it anyway)"
        )
    for guard, skipped in check.guards:
        reason = guard(context)
        if reason:
            return (Outcome.SKIPPED if skipped else Outcome.NOT_APPLICABLE), reason
    return None


def _run_scenario(
    context: RunContext, check: Check, done: _Scenarios
) -> tuple[CheckResult, TargetUnreachable | None]:
    """One scenario check in a context of its own; and the target's silence, if it fell."""
    guarded = _guard_reason(context, check)
    if guarded:
        return CheckResult(check.info, guarded[0], guarded[1]), None
    assert check.scenario is not None
    ctx, clock = Context(context), time.monotonic()
    outcome, reason = Outcome.PASSED, ""
    unreachable: TargetUnreachable | None = None
    try:
        check.scenario(ctx)
    except Abort:
        pass
    except NotApplicable as exc:
        outcome, reason = Outcome.NOT_APPLICABLE, str(exc)
    except OtherWriter as exc:
        outcome, reason = Outcome.SKIPPED, f"not run further: {exc} (the suite stopped writing)"
    except DeadlineReached:
        outcome, reason = Outcome.SKIPPED, _PAST_DEADLINE
    except BudgetExhausted:
        outcome = Outcome.SKIPPED
        reason = f"request budget spent (--max-requests {context.options.max_requests})"
    except Dropped as exc:  # no answer to one request: a crash on it, if the target is up
        if _answers_still(context):
            _crashed_on(ctx, exc)
        else:
            outcome, reason, unreachable = Outcome.ERROR, f"target unreachable: {exc}", exc
    except TargetUnreachable as exc:
        outcome, reason = Outcome.ERROR, f"target unreachable: {exc}"
        if _goes_on(context, done, exc):
            reason = f"not judged: no answer to one request ({exc}); {_WENT_ON}"
        else:
            unreachable = exc
    except Throttled as exc:
        outcome, reason = Outcome.ERROR, f"throttled: {exc}"
    except HarnessError as exc:  # the suite's own setup (a webhook trigger): never the target's
        outcome, reason = Outcome.ERROR, f"{exc.message} ({exc.hint})"
    except Exception as exc:  # a bug of ours: never the target's fault
        outcome, reason = Outcome.ERROR, f"internal error: {type(exc).__name__}: {exc}"
    finally:
        done.record(ctx)
    if outcome is Outcome.PASSED:
        reason = ctx.detail
    if ctx.failure_count:
        outcome = Outcome.FAILED
        reason = ctx.findings[0].message + _more(ctx.failure_count)
        done.evidence[check.id] = Evidence(scenario=check)
    result = CheckResult(
        check.info,
        outcome,
        reason,
        list(ctx.findings),
        exchanges=len(ctx.exchanges),
        duration_s=time.monotonic() - clock,
        causes=frozenset(ctx.causes),
        uncaused=ctx.uncaused,
        history=ctx.history if ctx.failure_count else (),
    )
    return result, unreachable


def _more(failures: int) -> str:
    """How many more failures the reason's first stands for, and how many the report keeps."""
    if failures <= 1:
        return ""
    kept = min(failures, MAX_FINDINGS_KEPT)
    return f" (and {failures - 1} more; the report keeps {kept})"


def _tally_result(info: CheckInfo, tally: _Tally) -> CheckResult:
    if tally.failures:
        reason = tally.findings[0].message + _more(tally.failures)
        return CheckResult(
            info,
            Outcome.FAILED,
            reason,
            tally.findings,
            tally.evaluated,
            causes=frozenset(tally.causes),
        )
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
    _merge_elsewhere(results, done.elsewhere)
    order = {check_id: i for i, check_id in enumerate(REGISTRY)}
    results.sort(key=lambda r: order[r.check.id])
    _group_causes(results, {c.id for c in selected if c.response is not None})
    for result in results:
        if result.outcome is Outcome.FAILED:
            why = done.unreplayed or "nothing to send again for it"
            result.confirmation, result.replay_note = done.confirmed.get(
                result.check.id, (Confirmation.NOT_REPLAYED, why)
            )
    secrets = context.client.secrets  # the target's, and any the run was given since
    results = [_redacted(r, secrets) for r in results]
    order = {check_id: i for i, check_id in enumerate(REGISTRY)}
    return sorted(results, key=lambda r: order[r.check.id])


_WENT_ON = "the target answered the next request, so the run went on"
_LANDED = (
    "a write of the run that got no answer (past --timeout, or its connection dropped) was "
    "stored late, during this check"
)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _notes(context: RunContext, done: _Scenarios) -> list[str]:
    notes = list(dict.fromkeys(context.notes))  # a replayed check says it once
    if done.silent:
        notes.insert(
            0,
            f"{_count(len(done.silent), 'request')} got no answer ({done.silent[0]}); "
            f"{_WENT_ON} (the checks that sent them are errors; at {MAX_SILENT} such requests "
            "a run stops)",
        )
    if done.landed:
        notes.append(f"{_count(done.landed, 'check')} not judged: {_LANDED}")
    if context.others:
        notes.append(_other_writer(context))
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
    if client.deadline_passed():
        notes.append(
            f"the run's --deadline ({context.options.deadline:g} s) passed: the checks after "
            "it did not run; what the run touched was restored"
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
    result.replay_note = redact(result.replay_note, secrets)
    result.cause = redact(result.cause, secrets)
    result.findings = [replace(f, message=redact(f.message, secrets)) for f in result.findings]
    return result


_NOT_JUDGED = (Outcome.SKIPPED, Outcome.NOT_APPLICABLE, Outcome.NOT_IMPLEMENTED)


def _in_words(causes: AbstractSet[str]) -> str:
    """A cause, or the first of several and how many more, at most about 300 characters."""
    first, *more = sorted(causes)
    if len(first) > 280:
        first = first[:279] + "…"
    return first + (f" (and {len(more)} more)" if more else "")


def _group_causes(results: list[CheckResult], judges: AbstractSet[str] = frozenset()) -> None:
    """One cause, one lead: a failed check every failure of which names a cause that an
    earlier failed check also shows is `caused_by` that one, which lists it as
    `same_cause`. Earlier: the registry's order, scenario checks before the response checks
    (`judges`) - a check that knows what its request meant says more of a crash than one
    that judged the answer alone. A check with a failure of no cause stands alone."""
    leads: list[CheckResult] = []
    for result in sorted(results, key=lambda r: r.check.id in judges):  # stable
        if result.outcome is not Outcome.FAILED:
            continue
        lead = next(
            (
                r
                for r in leads
                if result.causes and not result.uncaused and result.causes <= r.causes
            ),
            None,
        )
        if lead is None:
            leads.append(result)
            continue
        shared = _in_words(result.causes)
        result.caused_by, result.cause = lead.check.id, shared
        lead.same_cause = (*lead.same_cause, result.check.id)
        lead.cause = lead.cause or shared


def _merge_elsewhere(results: list[CheckResult], elsewhere: Mapping[str, list[Elsewhere]]) -> None:
    for result in results:
        found = [e.finding for e in elsewhere.get(result.check.id, [])]
        if not found or result.outcome in _NOT_JUDGED:
            continue
        causes = {f.cause for f in found if f.cause}
        result.causes = result.causes | causes
        result.uncaused += sum(1 for f in found if not f.cause)
        if result.outcome is not Outcome.FAILED:
            result.outcome, result.reason = Outcome.FAILED, found[0].message
        room = MAX_FINDINGS_KEPT - len(result.findings)
        result.findings.extend(found[: max(room, 0)])


def _failures(done: _Scenarios, observer: _Observer) -> dict[str, Evidence]:
    """Every check that failed so far, and how to see its failure again: a scenario that
    failed on its own runs again; otherwise its first failing answer is sent again."""
    failures = dict(observer.evidence())
    for check_id, found in done.elsewhere.items():
        first = next((e for e in found if e.sent is not None and e.judge is not None), None)
        if first is not None and check_id not in failures:
            failures[check_id] = Evidence(sent=first.sent, judge=first.judge)
    failures.update(done.evidence)  # a scenario's own failure: run it again, whole
    not_judged = {r.check.id for r in done.results if r.outcome in _NOT_JUDGED}
    order = {check_id: i for i, check_id in enumerate(REGISTRY)}
    return {
        check_id: failures[check_id]
        for check_id in sorted(failures, key=order.__getitem__)
        if check_id not in not_judged
    }
