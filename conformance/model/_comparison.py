"""A run compared with a baseline: what regressed, what got fixed, what still fails.

A baseline is either an earlier run (its report.json) or an accepted-failures file. Its
*known failures* are the checks that failed in that run (any level), or the accepted
entries that apply to this run's target. Against them, each check of the new run is:

- regressed: it fails the gate and is not a known failure (or its acceptance expired);
- still failing: it fails and is a known failure - it does not fail the gate;
- fixed: a known failure that now passed;
- not run: a known failure that did not run to completion (skipped, error, not
  applicable, absent): never counted as fixed;
- warning: an advisory failure that is not known and does not gate (no --strict);
- new: a check the baseline report does not have (reports only: an accepted-failures file
  lists failures, not checks).

Pure data, no I/O: reading baseline files is `jobs/_baseline`, rendering is `reports`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any, Final

from ._results import CheckResult, Outcome, RunResult, TargetInfo

__all__ = [
    "COMPARISON_FORMAT",
    "AcceptedFailure",
    "Baseline",
    "Change",
    "CheckChange",
    "Comparison",
    "compare",
    "run_date",
]

COMPARISON_FORMAT: Final = 1  # bump when comparison.json changes incompatibly
REPORT_KIND: Final = "report"
ACCEPTED_KIND: Final = "accepted-failures"
BASELINE_FAILED: Final = "failed in the baseline run"


class Change(StrEnum):
    REGRESSED = "regressed"  # fails the gate: the only kind that does
    FIXED = "fixed"
    STILL_FAILING = "still-failing"  # a known failure, accepted
    NOT_RUN = "not-run"  # a known failure that did not run to completion
    WARNING = "warning"  # an advisory failure, not known, not gating
    NEW = "new"  # a check the baseline report does not have (and no other change)


@dataclass(frozen=True)
class AcceptedFailure:
    """One entry of an accepted-failures file."""

    check: str  # a check ID, exactly
    reason: str  # why the failure is accepted: never empty
    target: str | None = None  # a glob on the target's name or base URL; None: any target
    expires: date | None = None  # the last day the acceptance holds

    def applies_to(self, target: TargetInfo) -> bool:
        if self.target is None:
            return True
        return fnmatchcase(target.name, self.target) or fnmatchcase(target.base_url, self.target)

    def expired(self, on: date) -> bool:
        return self.expires is not None and on > self.expires

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"check": self.check, "reason": self.reason}
        if self.target is not None:
            data["target"] = self.target
        if self.expires is not None:
            data["expires"] = self.expires.isoformat()
        return data


@dataclass(frozen=True)
class Baseline:
    """What a run is compared with: an earlier run, or a list of accepted failures."""

    source: str  # where it came from (a path), for messages
    report: RunResult | None = None
    accepted: tuple[AcceptedFailure, ...] = ()
    description: str = ""

    @property
    def kind(self) -> str:
        return REPORT_KIND if self.report is not None else ACCEPTED_KIND

    def info(self) -> dict[str, Any]:
        report = self.report
        return {
            "source": self.source,
            "kind": self.kind,
            "description": self.description,
            "started_at": report.started_at if report else None,
            "target": report.target.name if report else None,
        }


@dataclass(frozen=True)
class CheckChange:
    check: str
    change: Change
    level: str | None  # required | advisory; None: unknown (an accepted check not run)
    before: str | None  # the baseline's outcome, "accepted", or None (not in the baseline)
    after: str | None  # this run's outcome, or None (not in this run)
    detail: str = ""  # this run's reason (the failure's summary, why it did not run)
    accepted_reason: str | None = None  # why it was a known failure
    expires: date | None = None  # when that acceptance ends (accepted-failures files)
    expired: bool = False  # that acceptance has ended: the failure counts again
    new: bool = False  # the baseline report has no such check
    # a failure's way back: the command that runs this check again, and its first finding's
    # requests in order (curl commands) with the state they assume
    rerun: str = ""
    reproduce: tuple[str, ...] = ()
    assumes: str = ""
    # a failure another failure of this run explains: that check, and the cause in words
    caused_by: str = ""
    cause: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "change": self.change.value,
            "level": self.level,
            "before": self.before,
            "after": self.after,
            "detail": self.detail,
            "accepted_reason": self.accepted_reason,
            "expires": self.expires.isoformat() if self.expires else None,
            "expired": self.expired,
            "new": self.new,
            "rerun": self.rerun,
            "reproduce": list(self.reproduce),
            "assumes": self.assumes,
            "caused_by": self.caused_by,
            "cause": self.cause,
        }


@dataclass(frozen=True)
class Comparison:
    baseline: Baseline
    target: str  # the new run's target name
    started_at: str  # when the new run started
    strict: bool  # advisory failures gate
    changes: tuple[CheckChange, ...]
    interrupted: bool = False  # the new run was stopped early
    inconclusive: bool = False  # the new run had errored checks or failed restores
    notes: tuple[str, ...] = field(default_factory=tuple)

    def of(self, change: Change) -> list[CheckChange]:
        return [c for c in self.changes if c.change is change]

    @property
    def regressions(self) -> list[CheckChange]:
        return self.of(Change.REGRESSED)

    @property
    def regression_causes(self) -> list[CheckChange]:
        """The regressions no other regression explains: one per cause, each leading the
        regressions `explained_by` it."""
        regressed = {c.check for c in self.regressions}
        return [c for c in self.regressions if c.caused_by not in regressed]

    def explained_by(self, lead: CheckChange) -> list[CheckChange]:
        """The regressions that failed by the same cause as `lead`."""
        return [c for c in self.regressions if c.caused_by == lead.check]

    @property
    def fixed(self) -> list[CheckChange]:
        return self.of(Change.FIXED)

    @property
    def still_failing(self) -> list[CheckChange]:
        return self.of(Change.STILL_FAILING)

    @property
    def not_run(self) -> list[CheckChange]:
        return self.of(Change.NOT_RUN)

    @property
    def warnings(self) -> list[CheckChange]:
        return self.of(Change.WARNING)

    @property
    def new_checks(self) -> list[CheckChange]:
        """Every check the baseline report lacks, whatever else changed."""
        return [c for c in self.changes if c.new]

    @property
    def exit_code(self) -> int:
        """The gate with a baseline: 130 interrupted, 1 a regression, 3 inconclusive (checks
        errored or a restore failed, nothing regressed), else 0 - accepted failures do not
        count."""
        if self.interrupted:
            return 130
        if self.regressions:
            return 1
        if self.inconclusive:
            return 3
        return 0

    def to_dict(self) -> dict[str, Any]:
        summary = {change.value: len(self.of(change)) for change in Change}
        return {
            "format": COMPARISON_FORMAT,
            "baseline": self.baseline.info(),
            "target": self.target,
            "started_at": self.started_at,
            "strict": self.strict,
            "exit_code": self.exit_code,
            "summary": {
                **summary,
                "new_checks": len(self.new_checks),
                "regression_causes": len(self.regression_causes),
            },
            "changes": [c.to_dict() for c in self.changes],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Known:
    reason: str
    expires: date | None = None
    expired: bool = False


def run_date(result: RunResult) -> date:
    """The (UTC) day the run started: expiry dates are judged against it."""
    try:
        started = datetime.fromisoformat(result.started_at)
    except ValueError:
        return datetime.now(UTC).date()
    if started.tzinfo is not None:
        started = started.astimezone(UTC)
    return started.date()


def _known_failures(
    baseline: Baseline, result: RunResult, on: date, notes: list[str]
) -> dict[str, _Known]:
    if baseline.report is not None:
        return {
            r.check.id: _Known(BASELINE_FAILED)
            for r in baseline.report.checks
            if r.outcome is Outcome.FAILED
        }
    known: dict[str, _Known] = {}
    elsewhere = 0
    for entry in baseline.accepted:
        if not entry.applies_to(result.target):
            elsewhere += 1
        elif entry.check not in known:  # the first entry that applies wins
            known[entry.check] = _Known(entry.reason, entry.expires, entry.expired(on))
    if elsewhere:
        notes.append(f"{elsewhere} accepted failure(s) apply to other targets and were ignored")
    for check, found in known.items():
        if found.expired:
            notes.append(
                f"the acceptance of {check} expired on {found.expires}: fix it, or renew "
                "the entry with a new date and reason"
            )
    return known


def _way_back(r: CheckResult, rerun_all: str) -> dict[str, Any]:
    """A failure's rerun line and its first finding's reproduction, for the comparison."""
    if r.outcome is not Outcome.FAILED:
        return {}
    first = r.findings[0] if r.findings else None
    return {
        "rerun": f"{rerun_all} --check {r.check.id}" if rerun_all else "",
        "reproduce": tuple(e.curl for e in first.reproduction) if first else (),
        "assumes": first.assumes if first else "",
        "caused_by": r.caused_by,
        "cause": r.cause,
    }


def _known_for(r: CheckResult, known: dict[str, _Known]) -> _Known | None:
    """A check's known failure: its own, or - failing by the same cause as a check the
    baseline knows failing - that one's (an accepted failure accepts its cause, and every
    check the cause explains)."""
    own = known.get(r.check.id)
    lead = known.get(r.caused_by) if r.outcome is Outcome.FAILED and r.caused_by else None
    if own is not None or lead is None:
        return own
    reason = f"the same cause as {r.caused_by}, a known failure ({lead.reason})"
    return _Known(reason, lead.expires, lead.expired)


def _change(
    r: CheckResult,
    prior: CheckResult | None,
    known: _Known | None,
    strict: bool,
    *,
    new: bool,
    rerun_all: str = "",
) -> CheckChange | None:
    """How one check of the new run compares, or None when nothing worth reporting changed."""
    before = prior.outcome.value if prior else ("accepted" if known else None)
    accepted = known is not None and not known.expired

    def entry(change: Change) -> CheckChange:
        return CheckChange(
            check=r.check.id,
            change=change,
            level=r.check.level.value,
            before=before,
            after=r.outcome.value,
            detail=r.reason,
            accepted_reason=known.reason if known else None,
            expires=known.expires if known else None,
            expired=known.expired if known else False,
            new=new,
            **_way_back(r, rerun_all),
        )

    if r.outcome is Outcome.FAILED:
        if accepted:
            return entry(Change.STILL_FAILING)
        return entry(Change.REGRESSED if r.gates(strict) else Change.WARNING)
    if known is not None:
        return entry(Change.FIXED if r.outcome is Outcome.PASSED else Change.NOT_RUN)
    return entry(Change.NEW) if new else None


def compare(
    baseline: Baseline, result: RunResult, *, strict: bool | None = None, on: date | None = None
) -> Comparison:
    """Compare `result` with `baseline`.

    `strict` (default: the run's own setting) makes advisory failures gate; `on` (default:
    the day the run started) is the day expiry dates are judged against, so comparing the
    same two files always gives the same answer.
    """
    strict = result.settings.strict if strict is None else strict
    on = run_date(result) if on is None else on
    notes: list[str] = []
    known = _known_failures(baseline, result, on, notes)
    report = baseline.report
    before = {r.check.id: r for r in report.checks} if report is not None else {}
    changes: list[CheckChange] = []
    for r in result.checks:
        prior = before.get(r.check.id)
        new = report is not None and prior is None
        change = _change(
            r, prior, _known_for(r, known), strict, new=new, rerun_all=result.rerun_all
        )
        if change is not None:
            changes.append(change)
    seen = {r.check.id for r in result.checks}
    for check, entry in known.items():
        if check not in seen:
            prior = before.get(check)
            changes.append(
                CheckChange(
                    check=check,
                    change=Change.NOT_RUN,
                    level=prior.check.level.value if prior else None,
                    before=prior.outcome.value if prior else "accepted",
                    after=None,
                    detail="not in this run",
                    accepted_reason=entry.reason,
                    expires=entry.expires,
                    expired=entry.expired,
                )
            )
    if report is not None:
        gone = [check for check in before if check not in seen and check not in known]
        if gone:
            notes.append(
                f"{len(gone)} check(s) of the baseline are not in this run "
                f"({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''})"
            )
        if report.target.name != result.target.name:
            notes.append(
                f"the baseline ran against '{report.target.name}', this run against "
                f"'{result.target.name}'"
            )
        if report.interrupted:
            notes.append("the baseline run was interrupted: checks it did not run are not known")
    if result.interrupted:
        notes.append("this run was interrupted: checks it did not run are not compared")
    return Comparison(
        baseline=baseline,
        target=result.target.name,
        started_at=result.started_at,
        strict=strict,
        changes=tuple(changes),
        interrupted=result.interrupted,
        inconclusive=result.count(Outcome.ERROR) > 0 or bool(result.restore_failed),
        notes=tuple(notes),
    )
