"""report.html: one self-contained page (inline CSS, no script, no external resource).

Everything from the run is escaped (bodies may hold markup), and a Content-Security-Policy
forbids scripts and remote loads, so even a slip cannot run code or call out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Final
from urllib.parse import quote

from ..model import (
    REPORT_FORMAT,
    CheckResult,
    Exchange,
    Outcome,
    RestoreRecord,
    RunResult,
    scrub_result,
)
from ._common import (
    ALONE,
    KINDS,
    TOOL_NAME,
    edition_line,
    format_duration,
    format_size,
    kind,
    plural,
    printable,
    replayed,
    reproduction_script,
    request_line,
    truncate_bytes,
    verdict,
)
from ._history_svg import history_svg
from ._html_style import CSS, page
from ._marks import headline_html, mark
from ._output import write_text

__all__ = ["render_html", "write_html"]

MAX_FINDINGS: Final = 20  # per check
MAX_BODY: Final = 16 * 1024
_WIDE: Final = ("Target", "Base URL", "Emulator faults", "Edition judged", "Rerun")


def _e(value: object) -> str:
    return escape(printable(str(value)), quote=True)


def _anchor(result: CheckResult) -> str:
    """The element a tile links to: the check's details if it has any, else its row."""
    prefix = "check" if result.outcome in (Outcome.FAILED, Outcome.ERROR) else "row"
    return f"{prefix}-{quote(result.check.id, safe='')}"


def _id_anchor(check_id: str) -> str:
    """A failed check's details, by its ID."""
    return f"check-{quote(check_id, safe='')}"


def _chip(key: str, text: str | None = None) -> str:
    label = KINDS[key][0]
    shown = _e(text if text is not None else label)
    return f'<span class="chip k-{key}">{mark(key)} {shown}</span>'


def _pre(text: str | None, what: str) -> str:
    if text is None:
        return f'<p class="note">no {_e(what)}</p>'
    if text == "":
        return f'<p class="note">empty {_e(what)}</p>'
    shown, cut = truncate_bytes(text, MAX_BODY)
    note = (
        f'<p class="note">{_e(what.capitalize())} truncated: first {MAX_BODY // 1024} KB of '
        f"{format_size(text)} shown; the full text is in report.json.</p>"
        if cut
        else ""
    )
    return f"<pre>{_e(shown)}</pre>{note}"


def _headers(headers: dict[str, str]) -> str:
    if not headers:
        return '<p class="note">no headers</p>'
    return "<pre>" + _e("\n".join(f"{k}: {v}" for k, v in headers.items())) + "</pre>"


def _exchange(exchange: Exchange, steps: int = 0) -> str:
    """An exchange side by side; `steps`: how many requests reproduce its finding (its own
    curl command alone is then not the reproduction)."""
    status = "no answer (network error)" if exchange.status is None else str(exchange.status)
    took = f'<span class="label">in {exchange.elapsed_ms:.0f} ms</span>'
    return f"""<div class="exchange">
<div><h5>Request</h5><pre>{_e(exchange.method)} {_e(exchange.url)}</pre>
<h5>Headers</h5>{_headers(exchange.request_headers)}
<h5>Body</h5>{_pre(exchange.request_body, "request body")}</div>
<div><h5>Answer</h5><pre>{_e(status)} {took}</pre>
<h5>Headers</h5>{_headers(exchange.response_headers)}
<h5>Body</h5>{_pre(exchange.response_body, "response body")}</div>
</div>
<h5>{_e(ALONE if steps > 1 else "Reproduce")}</h5>{_pre(exchange.curl, "curl command")}"""


def _details(result: CheckResult, report: str = "report.json") -> str:
    info = result.check
    key = kind(result)
    parts = [
        f'<section class="check k-{key}" id="{_anchor(result)}">',
        f"<h3>{_chip(key)} <code>{_e(info.id)}</code> "
        f'<span class="label">{_e(info.family)} · {_e(info.level.value)}</span></h3>',
        f'<p><span class="label">Requirement:</span> {_e(info.requirement)}</p>',
        f'<p><span class="label">Source:</span> {_e(info.source)}</p>',
    ]
    if result.reason:
        parts.append(f'<p><span class="label">Reason:</span> {_e(result.reason)}</p>')
    if result.same_cause:
        also = ", ".join(
            f'<a href="#{_e(_id_anchor(c))}"><code>{_e(c)}</code></a>' for c in result.same_cause
        )
        parts.append(
            f'<p><span class="label">Also failed by the same cause:</span> {also} '
            f"({_e(result.cause)})</p>"
        )
    if result.caused_by:
        parts.append(
            f'<p><span class="label">The same cause as</span> <a href="#'
            f'{_e(_id_anchor(result.caused_by))}"><code>{_e(result.caused_by)}</code></a>: '
            f"{_e(result.cause)}</p>"
        )
    if replayed(result):
        parts.append(f'<p><span class="label">Replayed:</span> {_e(replayed(result))}</p>')
    if result.history:
        parts.append(
            "<h4>The history it judged</h4>"
            f'<div class="history-frame">{history_svg(result.history, info.id)}</div>'
        )
    if result.outcome is Outcome.ERROR:
        parts.append('<p class="note">The harness or the network failed, not the target.</p>')
    total = len(result.findings)
    for number, finding in enumerate(result.findings[:MAX_FINDINGS], 1):
        heading = f"<h4>Finding {number} of {total}</h4>"
        parts.append(f'<div class="finding">{heading}<p>{_e(finding.message)}</p>')
        if finding.exchange is not None:
            parts.append(
                f"<p><code>{_e(request_line(finding.exchange))}</code></p>"
                + _exchange(finding.exchange, len(finding.steps))
            )
        script = reproduction_script(finding, info.id, number, report)
        if script is not None:
            steps = plural(len(finding.steps), "request")
            parts.append(f"<h5>Reproduce it: {_e(steps)}, in order</h5><pre>{_e(script)}</pre>")
        parts.append("</div>")
    if total > MAX_FINDINGS:
        parts.append(f'<p class="note">{total - MAX_FINDINGS} more findings in report.json.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _grid(result: RunResult) -> str:
    families: dict[str, list[CheckResult]] = {}
    for r in result.checks:
        families.setdefault(r.check.family, []).append(r)
    legend = "".join(
        f'<span class="k-{k}">{mark(k)} {_e(label)}</span>' for k, (label, _) in KINDS.items()
    )
    rows = []
    for family, checks in families.items():
        tiles = "".join(
            f'<a class="tile k-{kind(r)}" href="#{_anchor(r)}" '
            f'title="{_e(r.check.id)}: {_e(KINDS[kind(r)][0])}">{mark(kind(r))} '
            f"{_e(r.check.id)}</a>"
            for r in checks
        )
        rows.append(
            f'<div class="family"><div>{_e(family)}</div><div class="tiles">{tiles}</div></div>'
        )
    return f'<div class="legend">{legend}</div>\n' + "\n".join(rows)


def _table(result: RunResult) -> str:
    rows = []
    for r in result.checks:
        key = kind(r)
        check_id = f"<code>{_e(r.check.id)}</code>"
        if r.outcome in (Outcome.FAILED, Outcome.ERROR):
            check_id = f'<a href="#{_anchor(r)}">{check_id}</a>'
        row_id = f"row-{quote(r.check.id, safe='')}"
        rows.append(
            f'<tr id="{row_id}"><td>{check_id}</td><td>{_e(r.check.family)}</td>'
            f"<td>{_e(r.check.level.value)}</td><td>{_chip(key)}</td>"
            f'<td class="reason">{_e(r.reason or r.check.requirement)}</td></tr>'
        )
    return (
        "<table><thead><tr><th>Check</th><th>Family</th><th>Level</th><th>Outcome</th>"
        "<th>Reason (or requirement)</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def _restore_record(record: RestoreRecord) -> str:
    original = json.dumps(record.original_metadata, indent=2, ensure_ascii=False)
    fix = _pre(record.manual_fix, "fix command") if record.manual_fix else ""
    return (
        f'<div class="restore-failed"><h3>Not restored: <code>{_e(record.conversation_id)}'
        f"</code></h3><p>{_e(record.message)}</p><h5>Its metadata before the run</h5>"
        f"{_pre(original, 'original metadata')}"
        + (f"<h5>Put it back with</h5>{fix}" if fix else "")
        + "</div>"
    )


def _restore(result: RunResult) -> str:
    failed = result.restore_failed
    parts = ['<section id="restore"><h2>Restore</h2>']
    parts += [_restore_record(r) for r in failed]
    if not result.restore:
        parts.append("<p>The run changed no conversation.</p>")
    elif len(failed) < len(result.restore):
        restored = ", ".join(
            f"<code>{_e(r.conversation_id)}</code>" for r in result.restore if r.restored
        )
        parts.append(f"<p>{mark('ok')} Restored: {restored}.</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _header(result: RunResult) -> str:
    settings, target = result.settings, result.target
    meta = [
        ("Target", target.name + (" (in-process)" if target.embedded else "")),
        ("Base URL", target.base_url),
        ("Seed", str(settings.seed)),
        ("Edition judged", edition_line(result)),
        ("Profile", settings.profile),
        ("Strict", "yes" if settings.strict else "no"),
        ("Read-only", "yes" if settings.read_only else "no"),
        ("Requests sent", f"{result.requests_sent} of {settings.max_requests}"),
        ("Duration", format_duration(result.duration_s)),
        ("Started", result.started_at),
        ("Exit code", str(result.exit_code)),
    ]
    if target.faults:
        meta.append(("Emulator faults", ", ".join(target.faults)))
    if result.exit_code != 0 and result.rerun:
        meta.append(("Rerun", result.rerun))
    items = "".join(
        f"<div{' class=wide' if k in _WIDE else ''}><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>"
        for k, v in meta
    )
    counts = "".join(
        _chip(key, f"{n} {label}")
        for key, (label, _) in KINDS.items()
        if (n := sum(1 for r in result.checks if kind(r) == key))
    )
    alert = ""
    headline = verdict(result)
    if result.restore_failed:
        alert = (
            f'<div class="alert">{mark("warning")} {len(result.restore_failed)} '
            "conversation(s) were NOT "
            'restored: <a href="#restore">restore them by hand</a>.</div>'
        )
    return (
        f'<header class="v-{headline.status}"><div><h1>{headline_html(headline)}</h1>'
        f'<dl class="meta">{items}</dl><div class="counts">{counts}</div>{alert}</div></header>'
    )


def render_html(result: RunResult) -> str:
    failed = [r for r in result.checks if r.outcome is Outcome.FAILED]
    failed.sort(key=lambda r: not r.gates(result.settings.strict))
    errors = [r for r in result.checks if r.outcome is Outcome.ERROR]
    sections = [
        f'<section id="grid"><h2>At a glance</h2>{_grid(result)}</section>',
        f'<section id="checks"><h2>All {len(result.checks)} checks</h2>\n{_table(result)}\n'
        "</section>",
    ]
    if failed:
        body = "\n".join(_details(r, result.report_json) for r in failed)
        sections.append(f'<section id="failures"><h2>Failures</h2>\n{body}</section>')
    if errors:
        body = "\n".join(_details(r, result.report_json) for r in errors)
        sections.append(f'<section id="errors"><h2>Errors</h2>\n{body}</section>')
    sections.append(_restore(result))
    if result.limits:
        limits = "".join(f"<li>{_e(str(limit))}</li>" for limit in result.limits)
        sections.append(
            '<section id="limits"><h2>Limits of the target</h2><p>What it refused cleanly (a '
            "documented 4xx, nothing stored) where the contract names no limit: facts, not "
            f"failures.</p><ul>{limits}</ul></section>"
        )
    if result.notes:
        notes = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
        sections.append(f'<section id="notes"><h2>Notes</h2><ul>{notes}</ul></section>')
    title = f"{verdict(result).headline} - {TOOL_NAME} - {result.target.name}"
    main = "\n".join(sections)
    footer = (
        f"{_e(TOOL_NAME)} {_e(result.tool_version)} · seed {_e(result.settings.seed)} ·\n"
        f"report format {REPORT_FORMAT} · the full record of every exchange is in report.json"
    )
    return page(printable(title), CSS, _header(result), main, footer)


def write_html(result: RunResult, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    return write_text(path, render_html(scrub_result(result, secrets)), secrets)
