"""What every differential report says the same way: the headline, a group's title."""

from __future__ import annotations

from ...model import KINDS, DifferentialResult, DivergenceGroup

__all__ = ["group_title", "headline", "side_line"]


def headline(result: DifferentialResult) -> str:
    """One line: what the exit code means."""
    if result.decided:
        sides = sorted({d.breaks for d in result.decided})
        return (
            f"DIVERGES WHERE THE CONTRACT DECIDES: {len(result.decided)} divergence(s), the "
            f"{' and the '.join(sides)} breaking it"
        )
    if result.unrestored and not result.decided and not result.candidate.failed:
        return f"INCONCLUSIVE: {result.unrestored[0]}"
    if result.candidate.failed:
        return (
            f"THE CANDIDATE BREAKS THE CONTRACT: its own run fails "
            f"{', '.join(result.candidate.failed)} (see candidate/)"
        )
    if result.divergences or result.dropped:
        total = len(result.divergences) + result.dropped
        return f"FIDELITY GAP: {total} divergence(s), each where the contract leaves it open"
    return f"FAITHFUL: no divergence in {result.compared} requests compared"


def group_title(group: DivergenceGroup) -> str:
    if group.kind in ("status", "media-type"):
        return f"{KINDS.get(group.kind, group.kind)} ({group.member}), {group.request}"
    where = f" of `{group.member}`" if group.member else ""
    return f"{KINDS.get(group.kind, group.kind)}{where}, {group.request}"


def side_line(result: DifferentialResult, side: str) -> str:
    run = result.reference if side == "reference" else result.candidate
    failed = ", ".join(run.failed) if run.failed else "no required check failed"
    return f"{run.name} ({run.base_url}), {run.edition} edition: exit {run.exit_code}; {failed}"
