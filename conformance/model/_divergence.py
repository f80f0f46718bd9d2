"""Differential conformance: where a candidate answers differently from a reference.

The same requests went to both (and twice to the reference: what differs between its own
two answers is *noise*, never a divergence). A `Divergence` is one place where the candidate's
answer differs from the reference's, as the contract compares answers; it is *decided* when
the contract settles which side is right (then that side breaks it), *open* when the contract
leaves it to the server (then it is a fidelity gap of the candidate).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ._results import Exchange

__all__ = [
    "DIFFERENTIAL_FORMAT",
    "KINDS",
    "DifferentialResult",
    "Divergence",
    "DivergenceGroup",
    "SideRun",
]

DIFFERENTIAL_FORMAT = "agentphone-conformance/differential/1"

# What differs, in the order a report shows it.
KINDS = {
    "status": "the status",
    "media-type": "the media type",
    "presence": "a member's presence",
    "type": "a member's type",
    "value": "a member's value",
    "state": "the state after a write (what a later GET shows)",
}


@dataclass(frozen=True)
class Divergence:
    """One difference between the two answers to the same request. `member` is a path in
    the answer (`metadata.tags[2]`), "" for the status or media type; `reference` and
    `candidate` the two values as short JSON text; `decided` names what settles it (a check
    or a rule of the fragment) and `breaks` the side that breaks the contract ("" when open);
    `steps` the request sequence that produced it (the write that set the state, then this
    request), as curl commands against the reference."""

    kind: str
    request: str  # "PATCH /v1/conversations/{conversation_id}"
    member: str
    reference: str
    candidate: str
    decided: str
    breaks: str
    exchanges: tuple[Exchange, Exchange]  # the reference's, the candidate's
    steps: tuple[str, ...] = ()

    @property
    def group(self) -> tuple[str, str, str, bool]:
        """What it is grouped by: its kind, request, member (positions and metadata keys
        generalised) - with both values when they are few (a status, a media type, a
        header's presence, an error body's kind) - and whether it is decided."""
        member = _pattern(self.member)
        if self.kind in ("status", "media-type") or self.member.startswith("("):
            member = f"{member} {self.reference} vs {self.candidate}".strip()
        return (self.kind, self.request, member, bool(self.decided))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exchanges"] = [e.to_dict() for e in self.exchanges]
        data["steps"] = list(self.steps)
        return data


def _pattern(member: str) -> str:
    """A member as its group names it: array positions and metadata keys generalised."""
    member = re.sub(r"\[\d+\]", "[]", member)
    if member.startswith("metadata.") or member.startswith("metadata["):
        return "metadata..."
    return member


@dataclass(frozen=True)
class DivergenceGroup:
    """Divergences of one kind, request and member pattern: their number and the first."""

    kind: str
    request: str
    member: str
    decided: bool
    count: int
    first: Divergence

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "request": self.request,
            "member": self.member,
            "decided": self.decided,
            "count": self.count,
            "first": self.first.to_dict(),
        }


@dataclass(frozen=True)
class SideRun:
    """What the suite's own run found on one side: its exit code and failed checks."""

    name: str
    base_url: str
    exit_code: int
    failed: tuple[str, ...]  # required checks that failed
    edition: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = list(self.failed)
        return data


@dataclass
class DifferentialResult:
    reference: SideRun
    candidate: SideRun
    candidate_embedded: bool
    seed: int
    profile: str
    started_at: str
    duration_s: float
    compared: int = 0  # requests whose answers were compared
    divergences: list[Divergence] = field(default_factory=list)  # the first MAX_KEPT
    dropped: int = 0  # divergences past MAX_KEPT, counted only
    noise: dict[str, int] = field(default_factory=dict)  # member -> requests it moved on
    left_out: dict[str, int] = field(default_factory=dict)  # why -> how many not compared
    seeded_from: str = ""  # what the candidate was seeded with
    rerun: str = ""
    unrestored: list[str] = field(default_factory=list)  # the candidate's, not put back

    MAX_KEPT = 300

    @property
    def decided(self) -> list[Divergence]:
        return [d for d in self.divergences if d.decided]

    @property
    def open(self) -> list[Divergence]:
        return [d for d in self.divergences if not d.decided]

    @property
    def exit_code(self) -> int:
        """1: a divergence the contract decides, or the candidate's own run failed a
        required check; 3: nothing failed but a conversation of the candidate could not be
        put back; 4: divergences only where it is silent (a fidelity gap); 0: none."""
        if self.decided or self.candidate.failed:
            return 1
        if self.unrestored:
            return 3  # inconclusive, as a run whose restore failed
        return 4 if self.divergences or self.dropped else 0

    def groups(self) -> list[DivergenceGroup]:
        found: dict[tuple[str, str, str, bool], list[Divergence]] = {}
        for divergence in self.divergences:
            found.setdefault(divergence.group, []).append(divergence)
        order = list(KINDS)
        return sorted(
            (
                DivergenceGroup(kind, request, member, decided, len(items), items[0])
                for (kind, request, member, decided), items in found.items()
            ),
            key=lambda g: (not g.decided, order.index(g.kind), g.request, g.member),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": DIFFERENTIAL_FORMAT,
            "reference": self.reference.to_dict(),
            "candidate": self.candidate.to_dict(),
            "candidate_embedded": self.candidate_embedded,
            "seeded_from": self.seeded_from,
            "seed": self.seed,
            "profile": self.profile,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "exit_code": self.exit_code,
            "compared": self.compared,
            "summary": {
                "divergences": len(self.divergences) + self.dropped,
                "decided": len(self.decided),
                "open": len(self.open),
                "not_kept": self.dropped,
            },
            "groups": [g.to_dict() for g in self.groups()],
            "noise": dict(sorted(self.noise.items())),
            "left_out": dict(sorted(self.left_out.items())),
            "rerun": self.rerun,
            "unrestored": list(self.unrestored),
        }
