"""differential.md: the comparison as GitHub-flavoured markdown.

The headline first; both sides' own verdicts; then every group of divergences (the decided
ones first): what differs, how often, both values side by side, the rule or check that
decides it, and the request sequence that produced the first one, as curl commands."""

from __future__ import annotations

from ...model import DifferentialResult
from .._markdown import md_code, md_text
from ._common import group_title, headline, side_line

__all__ = ["render_differential_markdown"]

MAX_GROUPS = 60


def render_differential_markdown(result: DifferentialResult) -> str:
    lines = [f"## {md_text(headline(result))}", ""]
    lines += [f"- **{md_text(line)}**" for line in result.unrestored]
    if result.unrestored:
        lines.append("")
    lines += [
        f"Differential run: seed {md_code(str(result.seed))} · profile "
        f"{md_code(result.profile)} · {result.compared} requests compared · "
        f"{result.duration_s:.1f} s",
        "",
        f"- **Reference**: {md_text(side_line(result, 'reference'))}",
        f"- **Candidate**: {md_text(side_line(result, 'candidate'))}",
    ]
    if result.seeded_from:
        lines.append(f"- **Candidate's state**: {md_text(result.seeded_from)}")
    lines.append("")
    groups = result.groups()
    if groups:
        lines += [
            "| What differs | Count | Reference | Candidate | Decided by |",
            "|---|---:|---|---|---|",
        ]
        for group in groups[:MAX_GROUPS]:
            first = group.first
            decided = (
                f"{md_text(first.decided, 120)} (the {first.breaks} breaks it)"
                if group.decided
                else "open: a fidelity gap"
            )
            lines.append(
                f"| {md_text(group_title(group), 200)} | {group.count} | "
                f"{md_code(first.reference, in_table=True)} | "
                f"{md_code(first.candidate, in_table=True)} | {decided} |"
            )
        if len(groups) > MAX_GROUPS:
            lines.append(f"\n{len(groups) - MAX_GROUPS} more groups: see differential.json")
        lines.append("")
        lines.append("### How to see each again")
        lines.append("")
        for group in groups[:MAX_GROUPS]:
            lines.append(f"**{md_text(group_title(group), 200)}** (the first of {group.count})")
            lines.append("")
            lines.append("```sh")
            lines.append("# the reference: the write that set the state, then the request")
            lines += [step.replace("```", "` ` `") for step in group.first.steps]
            gone = (
                " (the embedded emulator: gone with the run)" if result.candidate_embedded else ""
            )
            lines.append(f"# the same request, as the candidate got it{gone}")
            lines.append(group.first.exchanges[1].curl.replace("```", "` ` `"))
            lines.append("```")
            lines.append("")
    if result.dropped:
        lines.append(
            f"{result.dropped} more divergences were counted, not kept (the report keeps the "
            f"first {result.MAX_KEPT}): their groups may be missing above."
        )
        lines.append("")
    if result.noise:
        noise = ", ".join(f"{md_code(k)} ({v})" for k, v in sorted(result.noise.items()))
        lines += [
            "**Noise** (what differed between the reference's own two answers to a request, "
            f"never a divergence): {noise}",
            "",
        ]
    if result.left_out:
        lines.append("**Left out**:")
        lines += [f"- {md_text(why)} ({n})" for why, n in sorted(result.left_out.items())]
        lines.append("")
    lines += [f"Run it again: {md_code(result.rerun)}", ""]
    return "\n".join(lines)
