"""Plain result objects: what the runner produces and every report writer reads.

Nothing here knows about HTTP clients, checks' code or the CLI. Everything in a result is
already redacted: credentials never reach these objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "REPORT_FORMAT",
    "CheckInfo",
    "CheckResult",
    "Confirmation",
    "Edition",
    "EditionJudged",
    "Exchange",
    "Finding",
    "Level",
    "Limit",
    "Outcome",
    "RestoreRecord",
    "RunResult",
    "RunSettings",
    "TargetInfo",
]

REPORT_FORMAT = 1  # bump when report.json changes incompatibly


class Level(StrEnum):
    REQUIRED = "required"  # a failure fails the gate
    ADVISORY = "advisory"  # reported; fails the gate only with --strict


class Edition(StrEnum):
    """An edition of the contract: the seed page, or the live API with what the vendor
    added since (README, "Contract editions")."""

    SEED = "seed"
    CURRENT = "current"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not-applicable"  # the target or the options give it nothing to check
    NOT_IMPLEMENTED = "not-implemented"  # a later edition's requirement, of a target that
    # does not implement that edition: never failed, never counted as passed
    SKIPPED = "skipped"  # it could apply but was not run (read-only, request budget spent)
    ERROR = "error"  # the harness or the network failed: never counted as the target's fault


@dataclass(frozen=True)
class CheckInfo:
    id: str  # stable and semantic, e.g. META-NULL-CLEARS
    family: str
    level: Level
    requirement: str  # one sentence
    source: str  # where the requirement comes from
    edition: Edition = Edition.SEED  # the first edition of the contract that requires it

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "level": self.level.value, "edition": self.edition.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckInfo:
        edition = Edition(data.get("edition", Edition.SEED.value))
        return cls(**{**data, "level": Level(data["level"]), "edition": edition})


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, redacted, with a curl command that reproduces it."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None  # None: no answer (network error)
    response_headers: dict[str, str]
    response_body: str | None
    elapsed_ms: float
    curl: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Exchange:
        return cls(**data)


@dataclass(frozen=True)
class Finding:
    """One way the target broke a requirement, with the exchange that shows it, and how to
    see it again: `steps`, the requests that led to it in order (set-up first, the one
    that shows it last), from the state `assumes` says. No steps: the exchange alone does."""

    message: str
    exchange: Exchange | None = None
    steps: tuple[Exchange, ...] = ()
    assumes: str = ""
    cause: str = ""  # what broke, in words another check's finding may share (not written)

    @property
    def reproduction(self) -> tuple[Exchange, ...]:
        """The requests that show it, in order: the steps, or the exchange alone."""
        if self.steps:
            return self.steps
        return (self.exchange,) if self.exchange is not None and self.exchange.status else ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "exchange": self.exchange.to_dict() if self.exchange else None,
            "steps": [step.to_dict() for step in self.steps],
            "assumes": self.assumes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        exchange = data.get("exchange")
        return cls(
            data["message"],
            Exchange.from_dict(exchange) if exchange else None,
            tuple(Exchange.from_dict(step) for step in data.get("steps", ())),
            data.get("assumes", ""),
        )


class Confirmation(StrEnum):
    """Whether a failure reproduced when it was replayed (compare schemathesis's replay)."""

    CONFIRMED = "confirmed"  # it failed again
    FLAKY = "flaky"  # it passed the second time: still a failure, but an inconsistent one
    NOT_REPLAYED = "not-replayed"  # could not be replayed: `CheckResult.replay_note` says why


@dataclass(frozen=True)
class HistoryOp:
    """One operation of a history of requests sent at the same time (the consistency
    checks'): who sent it, what it wrote or showed, when (milliseconds since the history
    began: sent, answered), its status, and whether the check found it at fault."""

    lane: str  # "writer 1", "reader 2", "start", "after"
    kind: str  # "write" | "read"
    shows: str  # the write it sent, or the write a read showed ("torn": a mixture)
    call_ms: float
    ret_ms: float
    status: int | None
    bad: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "lane": self.lane,
            "kind": self.kind,
            "shows": self.shows,
            "call_ms": round(self.call_ms, 3),
            "ret_ms": round(self.ret_ms, 3),
            "status": self.status,
            "bad": self.bad,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryOp:
        return cls(
            data["lane"],
            data["kind"],
            data["shows"],
            data["call_ms"],
            data["ret_ms"],
            data.get("status"),
            bool(data.get("bad", False)),
        )


@dataclass
class CheckResult:
    check: CheckInfo
    outcome: Outcome
    reason: str = ""  # why not-applicable / skipped / error; a one-line summary when failed
    findings: list[Finding] = field(default_factory=list)
    exchanges: int = 0  # how many exchanges this check looked at
    duration_s: float = 0.0
    confirmation: Confirmation | None = None  # for a failure: did the replay fail too?
    replay_note: str = ""  # why a failure was not replayed
    # Root causes: a failure that one cause explains, which another check's findings show
    # first, is `caused_by` that check (and says the `cause`); that check lists the ones it
    # explains as `same_cause`. The causes of every failure, and how many had none: how the
    # run finds them (not written: the cause and the grouping are).
    cause: str = ""
    caused_by: str = ""
    same_cause: tuple[str, ...] = ()
    causes: frozenset[str] = frozenset()
    uncaused: int = 0
    # a failed consistency check: the history it judged, its faulty operations marked
    history: tuple[HistoryOp, ...] = ()

    def gates(self, strict: bool) -> bool:
        """Does this result fail the gate?"""
        if self.outcome is not Outcome.FAILED:
            return False
        return strict or self.check.level is Level.REQUIRED

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check.to_dict(),
            "outcome": self.outcome.value,
            "reason": self.reason,
            "findings": [f.to_dict() for f in self.findings],
            "exchanges": self.exchanges,
            "duration_s": round(self.duration_s, 4),
            "confirmation": self.confirmation.value if self.confirmation else None,
            "replay_note": self.replay_note,
            "cause": self.cause,
            "caused_by": self.caused_by,
            "same_cause": list(self.same_cause),
            **({"history": [op.to_dict() for op in self.history]} if self.history else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            check=CheckInfo.from_dict(data["check"]),
            outcome=Outcome(data["outcome"]),
            reason=data.get("reason", ""),
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            exchanges=data.get("exchanges", 0),
            duration_s=data.get("duration_s", 0.0),
            confirmation=Confirmation(data["confirmation"]) if data.get("confirmation") else None,
            replay_note=data.get("replay_note", ""),
            cause=data.get("cause", ""),
            caused_by=data.get("caused_by", ""),
            same_cause=tuple(data.get("same_cause", ())),
            history=tuple(HistoryOp.from_dict(op) for op in data.get("history", ())),
        )


@dataclass(frozen=True)
class Limit:
    """A limit of the target that the run found: what it refused cleanly (a documented 4xx,
    nothing stored) where the contract names no limit. A fact to report, not a failure."""

    what: str  # the quantity or kind of value: "metadata size", "nesting depth", "U+0000"
    refused: str  # the smallest refused: "a body of 16,421 bytes"
    status: int  # how it was refused
    accepted: str = ""  # the largest accepted, when the run found one: "a body of 16,380 bytes"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limit:
        return cls(**data)

    def __str__(self) -> str:
        accepted = f"; accepted {self.accepted}" if self.accepted else ""
        return f"{self.what}: refused {self.refused} ({self.status}){accepted}"


@dataclass(frozen=True)
class RestoreRecord:
    """What became of one conversation the run touched."""

    conversation_id: str
    restored: bool
    message: str  # what happened, for people
    original_metadata: Any = None  # what it held before the run (put it back by hand if not)
    manual_fix: str | None = None  # a redacted curl command that puts it back
    kept: bool = False  # it holds another client's value, left in place (restored counts it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestoreRecord:
        return cls(**data)


@dataclass(frozen=True)
class TargetInfo:
    name: str
    base_url: str
    embedded: bool  # the in-process emulator
    faults: tuple[str, ...] = ()  # emulator faults switched on, if embedded
    conversation_ids: tuple[str, ...] = ()
    second_account: bool = False
    emulator_edition: str | None = None  # the edition the embedded emulator served

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"] = list(self.faults)
        data["conversation_ids"] = list(self.conversation_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetInfo:
        return cls(
            **{
                **data,
                "faults": tuple(data.get("faults", ())),
                "conversation_ids": tuple(data.get("conversation_ids", ())),
            }
        )


@dataclass(frozen=True)
class RunSettings:
    seed: int
    profile: str
    max_requests: int
    rate_limit: float | None
    max_response_time: float
    read_only: bool
    strict: bool
    edition: str = "auto"  # as asked: auto, seed or current
    deadline: float | None = None  # seconds for the whole run, if limited
    max_answer_bytes: int | None = None  # None: not recorded (an older report)
    no_concurrency: bool = False  # never two requests at once (no consistency checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        return cls(**data)


@dataclass(frozen=True)
class EditionJudged:
    """Which edition of the contract a run judged, and why."""

    edition: Edition
    reason: str  # "pinned with --edition seed", "its answers carry groupName", ...

    def to_dict(self) -> dict[str, Any]:
        return {"edition": self.edition.value, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EditionJudged:
        return cls(Edition(data["edition"]), data["reason"])


@dataclass
class RunResult:
    tool_version: str
    target: TargetInfo
    settings: RunSettings
    started_at: str  # RFC 3339, UTC
    duration_s: float
    requests_sent: int
    checks: list[CheckResult]
    restore: list[RestoreRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # harness-side remarks (budget, back-off)
    interrupted: bool = False  # stopped by Ctrl-C / SIGTERM; restores still ran
    edition: EditionJudged = EditionJudged(Edition.SEED, "not recorded (an older report)")
    deadline_reached: bool = False  # --deadline passed: the checks after it did not run
    other_writers: tuple[str, ...] = ()  # conversations another client wrote during the run
    rerun: str = ""  # the command that runs it again, exactly ("" when not from a command)
    rerun_all: str = ""  # the same without --check: the reports add one check to it
    # where its report.json is, as the command named it (for the reproduce hints; not
    # written: a report read back names itself)
    report_json: str = field(default="report.json", compare=False)
    limits: list[Limit] = field(default_factory=list)  # what the target refused cleanly

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.checks if result.outcome is outcome)

    @property
    def gate_failures(self) -> list[CheckResult]:
        return [r for r in self.checks if r.gates(self.settings.strict)]

    @property
    def restore_failed(self) -> list[RestoreRecord]:
        return [r for r in self.restore if not r.restored]

    @property
    def exit_code(self) -> int:
        """0 clean, 1 violations, 3 when checks errored, a restore failed, the --deadline
        passed or another client wrote a conversation of the run, and nothing else failed;
        130 when interrupted."""
        if self.interrupted:
            return 130
        if self.gate_failures:
            return 1
        if (
            any(r.outcome is Outcome.ERROR for r in self.checks)
            or self.restore_failed
            or self.deadline_reached
            or self.other_writers
        ):
            return 3
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "tool": {"name": "agentphone-conformance", "version": self.tool_version},
            "target": self.target.to_dict(),
            "settings": self.settings.to_dict(),
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "requests_sent": self.requests_sent,
            "exit_code": self.exit_code,
            "summary": {outcome.value: self.count(outcome) for outcome in Outcome},
            "checks": [r.to_dict() for r in self.checks],
            "restore": [r.to_dict() for r in self.restore],
            "notes": list(self.notes),
            "interrupted": self.interrupted,
            "edition": self.edition.to_dict(),
            "deadline_reached": self.deadline_reached,
            "other_writers": list(self.other_writers),
            "rerun": self.rerun,
            "rerun_all": self.rerun_all,
            "limits": [limit.to_dict() for limit in self.limits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        result = cls(
            tool_version=data["tool"]["version"],
            target=TargetInfo.from_dict(data["target"]),
            settings=RunSettings.from_dict(data["settings"]),
            started_at=data["started_at"],
            duration_s=data["duration_s"],
            requests_sent=data["requests_sent"],
            checks=[CheckResult.from_dict(c) for c in data["checks"]],
            restore=[RestoreRecord.from_dict(r) for r in data.get("restore", [])],
            notes=list(data.get("notes", [])),
            interrupted=bool(data.get("interrupted", False)),
            deadline_reached=bool(data.get("deadline_reached", False)),
            other_writers=tuple(data.get("other_writers", ())),
            rerun=data.get("rerun", ""),
            rerun_all=data.get("rerun_all", ""),
            limits=[Limit.from_dict(limit) for limit in data.get("limits", [])],
        )
        if "edition" in data:  # a report from before the editions: the default
            result.edition = EditionJudged.from_dict(data["edition"])
        return result
