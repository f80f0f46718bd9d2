"""summary.md: GitHub-flavoured markdown for CI job summaries and PR comments.

The verdict is the first line; with a baseline, the changes since it come first (their
verdict is the gate's), then the run's own report. PR comments hold 65,536 characters,
so findings are capped, bodies cut to 2 KB and, past a budget, further failure sections
are left to report.html; the restore status and the notes are always kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..model import (
    Change,
    CheckChange,
    CheckResult,
    Comparison,
    Exchange,
    Outcome,
    RestoreRecord,
    RunResult,
    scrub_result,
)
from ._changes import (
    CHANGES,
    also_failed,
    baseline_description,
    comparison_verdict,
    explain_change,
    scrub_comparison,
    transition,
    ways_back,
)
from ._common import (
    ALONE,
    KINDS,
    TOOL_NAME,
    edition_line,
    format_duration,
    format_size,
    kind,
    levels,
    one_line,
    plural,
    printable,
    replayed,
    reproduction_script,
    request_line,
    rerun_check,
    same_cause_line,
    table_rows,
    truncate_bytes,
    verdict,
)
from ._output import write_text

__all__ = ["render_changes_markdown", "render_summary_markdown", "write_markdown"]

MAX_FINDINGS: Final = 3  # per failed check
MAX_BODY: Final = 2 * 1024
MAX_CURL: Final = 4 * 1024
MAX_CHARS: Final = 60_000  # under GitHub's 65,536-character limit on a comment

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def md_text(text: str, limit: int = 400) -> str:
    """Inline text, on one line, shown literally: markdown and HTML characters escaped
    (`|` too, so it is safe in a table cell)."""
    return _SPECIAL.sub(r"\\\1", printable(one_line(text, limit)))


def md_code(text: str, in_table: bool = False) -> str:
    """An inline code span. In a table cell `|` must be escaped even inside one; anywhere
    else the backslash would show."""
    flat = printable(one_line(text, 400))
    if in_table:
        flat = flat.replace("|", "\\|")
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def fenced(text: str, language: str = "") -> str:
    """A fenced code block that the text cannot close early."""
    text = printable(text)
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _body_block(label: str, body: str | None) -> list[str]:
    if not body:
        return []
    shown, cut = truncate_bytes(body, MAX_BODY)
    note = f", first {MAX_BODY // 1024} KB shown; full body in report.json" if cut else ""
    try:
        json.loads(body)
        language = "json"
    except ValueError:
        language = ""
    return [
        f"<details><summary>{label} ({format_size(body)}{note})</summary>",
        "",
        fenced(shown + ("\n[... truncated]" if cut else ""), language),
        "",
        "</details>",
        "",
    ]


def _exchange(exchange: Exchange, steps: int = 0) -> list[str]:
    curl, cut = truncate_bytes(exchange.curl, MAX_CURL)
    lines = [f"{md_code(request_line(exchange))} ({exchange.elapsed_ms:.0f} ms)", ""]
    if steps > 1:
        lines += [f"_{ALONE}:_", ""]
    lines += [fenced(curl, "sh"), ""]
    if cut:
        lines += [f"_curl command truncated ({format_size(exchange.curl)}): see report.json_", ""]
    lines += _body_block("Request body", exchange.request_body)
    lines += _body_block("Response body", exchange.response_body)
    return lines


def _failure_section(result: CheckResult, run: RunResult) -> str:
    info = result.check
    label, emoji = KINDS[kind(result)]
    lines = [
        f"### {emoji} {md_code(info.id)} {md_text(label)}",
        "",
        f"**Requirement:** {md_text(info.requirement)}  ",
        f"**Source:** {md_text(info.source)}  ",
        f"**Family:** {md_text(info.family)}",
        "",
    ]
    if result.reason:
        lines += [f"**Reason:** {md_text(result.reason)}", ""]
    if result.same_cause:
        also = ", ".join(md_code(check) for check in result.same_cause)
        lines += [
            f"**Also failed by the same cause:** {also} ({md_text(result.cause, 300)})",
            "",
        ]
    if replayed(result):
        lines += [f"**Replayed:** {md_text(replayed(result) or '')}", ""]
    again = rerun_check(run, info.id)
    if again:
        lines += ["**Rerun this check alone:**", "", fenced(again, "sh"), ""]
    for number, finding in enumerate(result.findings[:MAX_FINDINGS], 1):
        lines += [f"**Finding {number}:** {md_text(finding.message)}", ""]
        if finding.exchange is not None:
            lines += _exchange(finding.exchange, len(finding.steps))
        script = reproduction_script(finding, info.id, number, run.report_json)
        if script is not None:
            steps = plural(len(finding.steps), "request")
            lines += [f"**Reproduce it: {steps}, in order:**", "", fenced(script, "sh"), ""]
    hidden = len(result.findings) - MAX_FINDINGS
    if hidden > 0:
        lines += [f"_... and {hidden} more findings: see report.html_", ""]
    return "\n".join(lines)


def _restore_record(record: RestoreRecord) -> list[str]:
    original = json.dumps(record.original_metadata, indent=2, ensure_ascii=False)
    lines = [
        f"- **{md_code(record.conversation_id)}**: {md_text(record.message)}",
        "",
        "  Its metadata before the run:",
        "",
        "  " + fenced(original, "json").replace("\n", "\n  "),
        "",
    ]
    if record.manual_fix:
        lines += [
            "  Put it back with:",
            "",
            "  " + fenced(record.manual_fix, "sh").replace("\n", "\n  "),
            "",
        ]
    return lines


def _restore_section(result: RunResult) -> list[str]:
    lines = ["### Restore", ""]
    failed = result.restore_failed
    if failed:
        lines += [
            "> [!CAUTION]",
            f"> **{len(failed)} conversation(s) NOT restored.** The run changed "
            "them and could not put them back: restore them by hand, as below.",
            "",
        ]
        for record in failed:
            lines += _restore_record(record)
    ok = [r for r in result.restore if r.restored]
    unchanged = sum(1 for r in ok if r.message == "unchanged")
    kept = sum(1 for r in ok if r.kept)
    written = len(ok) - unchanged - kept
    if not result.restore:
        lines += ["The run touched no conversation.", ""]
    elif ok:
        parts = [
            f"{written} changed by the run and put back" if written else "",
            f"{unchanged} left as they were" if unchanged else "",
            f"{kept} kept another client's value" if kept else "",
        ]
        lines += [
            f"✅ Of {len(result.restore)} conversation(s): {', '.join(p for p in parts if p)}.",
            "",
        ]
    return lines


def _why(comparison: Comparison, change: CheckChange) -> str:
    return " - ".join(filter(None, [explain_change(change), also_failed(comparison, change)]))


def render_changes_markdown(comparison: Comparison) -> str:
    """The "Changes since baseline" section: its verdict (the gate's) as a level-2 heading,
    then one table per kind of change, then the notes."""
    verdict = comparison_verdict(comparison)
    lines = [
        f"## {verdict.emoji} Changes since baseline: {md_text(verdict.headline)}",
        "",
        f"**Baseline:** {md_text(baseline_description(comparison.baseline))} · "
        f"**Gate exit code:** {comparison.exit_code}"
        f"{' · **strict**' if comparison.strict else ''}",
        "",
    ]
    for change, (title, _, emoji) in CHANGES.items():
        rows = comparison.of(change)
        if not rows:
            continue
        count = str(len(rows))
        causes = len(comparison.regression_causes)
        if change is Change.REGRESSED and causes < len(rows):
            count = f"{plural(causes, 'cause')} ({len(rows)} checks)"
        lines += [
            f"### {emoji} {title}: {count}",
            "",
            "| Check | Level | Baseline → now | Why |",
            "|---|---|---|---|",
            *(
                f"| {md_code(c.check, in_table=True)} | {c.level or '-'} "
                f"| {transition(c, '→')} "
                f"| {md_text(_why(comparison, c), 400)} |"
                for c in rows
            ),
            "",
        ]
        if change is Change.REGRESSED:
            for c, back in ways_back(comparison):
                also = " (and the checks it explains)" if comparison.explained_by(c) else ""
                head = f"**The way back to {md_code(c.check)}{also}:**"
                lines += [head, "", fenced("\n".join(back), "sh"), ""]
    if not comparison.changes:
        lines += ["Nothing changed: every check ended as it did in the baseline.", ""]
    lines += [f"- _Note:_ {md_text(note, 500)}" for note in comparison.notes]
    if comparison.notes:
        lines.append("")
    return "\n".join(lines)


def render_summary_markdown(result: RunResult, comparison: Comparison | None = None) -> str:
    """summary.md; with `comparison`, the changes since the baseline lead."""
    if comparison is not None:
        changes = render_changes_markdown(comparison) + "\n---\n\n"
        return changes + _render_summary(result, MAX_CHARS - len(changes))
    return _render_summary(result, MAX_CHARS)


def _summary_head(result: RunResult) -> list[str]:
    """The verdict, the run's settings and the counts per outcome."""
    settings, target = result.settings, result.target
    counts = " · ".join(
        f"{sum(1 for r in result.checks if kind(r) == key)} {emoji} {label}"
        for key, (label, emoji) in KINDS.items()
        if any(kind(r) == key for r in result.checks)
    )
    head = [
        f"## {verdict(result)}",
        "",
        f"**Target:** {md_text(target.name)} ({md_code(target.base_url)}"
        f"{', in-process' if target.embedded else ''}) · "
        f"**Seed:** {md_code(str(settings.seed))} · **Profile:** {md_code(settings.profile)}"
        f"{' · **strict**' if settings.strict else ''}"
        f"{' · **read-only**' if settings.read_only else ''} · "
        f"**Requests sent:** {result.requests_sent} · "
        f"**Duration:** {format_duration(result.duration_s)}",
        "",
        f"**Edition judged:** {md_text(edition_line(result))}",
        "",
    ]
    if target.faults:
        head += [f"**Emulator faults on:** {', '.join(md_code(f) for f in target.faults)}", ""]
    head += [f"{len(result.checks)} checks: {counts}" if result.checks else "No checks ran.", ""]
    if result.restore_failed:
        head += [
            f"> [!CAUTION]\n> {len(result.restore_failed)} conversation(s) were NOT restored: "
            "see **Restore** below.",
            "",
        ]
    return head


def _checks_table(result: RunResult) -> list[str]:
    table = ["| Check | Family | Level | Outcome | Reason |", "|---|---|---|---|---|"]
    for row in table_rows(result):  # checks that did not run for one reason: one row
        r = row[0]
        label, emoji = KINDS[kind(r)]
        ids = ", ".join(md_code(c.check.id, in_table=True) for c in row)
        families = ", ".join(dict.fromkeys(c.check.family for c in row))
        reason = same_cause_line(r) or r.reason or plural(r.exchanges, "request")
        table.append(
            f"| {ids} | {md_text(families)} | {levels(row)} | {emoji} {label} "
            f"| {md_text(reason, 160 if len(row) == 1 else 400)} |"
        )
    return [*table, ""]


def _summary_tail(result: RunResult) -> list[str]:
    """Errors, restores, notes and the footer."""
    tail: list[str] = []
    errors = [r for r in result.checks if r.outcome is Outcome.ERROR]
    if errors:
        tail += [
            "### 💥 Errors (the harness or the network: not the target's fault)",
            "",
            *(f"- {md_code(r.check.id)}: {md_text(r.reason or 'no reason given')}" for r in errors),
            "",
        ]
    if result.exit_code != 0 and result.rerun:
        tail += ["### Rerun", "", "The same run, exactly (keys from the variables it names):"]
        tail += ["", fenced(result.rerun, "sh"), ""]
    tail += _restore_section(result)
    if result.limits:
        tail += [
            "### Limits of the target",
            "",
            "What it refused cleanly (a documented 4xx, nothing stored) where the contract "
            "names no limit: facts, not failures.",
            "",
            *(f"- {md_text(str(limit), 300)}" for limit in result.limits),
            "",
        ]
    if result.notes:
        tail += ["### Notes", "", *(f"- {md_text(n, 1000)}" for n in result.notes), ""]
    return [
        *tail,
        f"<sub>{TOOL_NAME} {md_text(result.tool_version)} · started "
        f"{md_text(result.started_at)} · seed {result.settings.seed} · exit code "
        f"{result.exit_code}</sub>",
        "",
    ]


def _failure_sections(result: RunResult, budget: int) -> list[str]:
    """A section per failed check, gating ones first, while they fit in `budget` characters."""
    failed = [r for r in result.checks if r.outcome is Outcome.FAILED and not r.caused_by]
    failed.sort(key=lambda r: not r.gates(result.settings.strict))  # one section a cause
    sections: list[str] = []
    for number, r in enumerate(failed):
        section = _failure_section(r, result)
        if len(section) + 1 > budget - 200:
            left = ", ".join(md_code(x.check.id) for x in failed[number:])
            sections.append(f"_Details of {left} left out for length: see report.html._\n")
            break
        sections.append(section)
        budget -= len(section) + 1
    return sections


def _render_summary(result: RunResult, max_chars: int) -> str:
    head, table, tail = _summary_head(result), _checks_table(result), _summary_tail(result)
    budget = max_chars - sum(len(line) + 1 for line in head + table + tail)
    return "\n".join([*head, *table, *_failure_sections(result, budget), *tail])


def write_markdown(
    result: RunResult,
    path: Path,
    secrets: Iterable[str] = (),
    comparison: Comparison | None = None,
) -> Path:
    secrets = tuple(secrets)
    scrubbed = scrub_comparison(comparison, secrets) if comparison is not None else None
    return write_text(
        path, render_summary_markdown(scrub_result(result, secrets), scrubbed), secrets
    )
