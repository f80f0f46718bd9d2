"""matrix.html: the matrix as one self-contained page (inline CSS, no script, no external
resource), in report.html's colours.

A colour grid at a glance; a failed or errored cell links to its details further down
(the reason, the first finding's request, status and curl command, and a relative link
into that target's own report.html). Everything from the runs is escaped, and the same
Content-Security-Policy as report.html forbids scripts and remote loads.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Final
from urllib.parse import quote

from ...model import CheckResult, Column, Matrix, Outcome, Status
from .._common import (
    KINDS,
    TOOL_NAME,
    edition_line,
    format_duration,
    printable,
    relative_link,
    request_line,
    truncate_bytes,
)
from .._html_style import CSS, page
from .._marks import headline_html, mark
from .._output import write_text
from ._common import (
    CELL_KINDS,
    cell_kind,
    column_counts,
    column_verdict,
    failing_checks,
    first_finding,
    matrix_verdict,
    scrub_matrix,
)

__all__ = ["render_matrix_html", "write_matrix_html"]

MAX_CURL: Final = 8 * 1024
#: A target's status, as a chip: the colour of the cell kind it resembles.
_STATUS_KIND: Final = {
    Status.OK: "passed",
    Status.FAIL: "failed-required",
    Status.INCONCLUSIVE: "error",
    Status.UNUSABLE: "unusable",
}

_MATRIX_CSS: Final = """
.scroll { overflow-x: auto; padding-bottom: 4px; }
table.matrix { width: auto; border-collapse: separate; border-spacing: 3px; margin: 0 -3px; }
table.matrix th, table.matrix td { border: 0; padding: 0; background: none; }
table.matrix thead th { position: sticky; top: 0; z-index: 1; background: #fff;
  vertical-align: bottom; padding: 4px 4px 6px; font-weight: 600; }
table.matrix thead th.col { width: 136px; min-width: 136px; max-width: 136px;
  text-align: center; overflow-wrap: anywhere; line-height: 1.3; }
table.matrix thead th.col a { color: var(--fg); text-decoration: none; }
table.matrix thead th.col a:hover { text-decoration: underline; }
table.matrix thead th.col .chip { margin-top: 4px; font-size: 11px; padding: 1px 8px; }
table.matrix th.check { text-align: left; padding: 0 12px 0 0; font-weight: normal;
  white-space: nowrap; vertical-align: middle; }
table.matrix td.level { color: var(--muted); padding: 0 12px 0 0; font-size: 12.5px;
  vertical-align: middle; }
table.matrix tr.fam th { text-align: left; padding: 14px 0 4px; font-size: 13px;
  color: var(--muted); text-transform: uppercase; letter-spacing: .04em;
  border-bottom: 1px solid var(--line); }
table.matrix tbody tr:hover th.check code { text-decoration: underline; }
td.cell { background: var(--k) !important; border-radius: 4px; text-align: center;
  font: 600 12px/1 var(--mono); }
td.cell > a, td.cell > span { display: block; padding: 7px 10px; color: #fff;
  text-decoration: none; }
td.cell > a:hover, td.cell > a:focus { outline: 2px solid var(--fg); outline-offset: 1px;
  border-radius: 4px; }
td.cell.k-absent { background: repeating-linear-gradient(135deg, #eaeef2 0 5px, #f6f8fa 5px 10px)
  !important; }
td.cell.k-absent > a, td.cell.k-absent > span { color: var(--muted); }
table.matrix tfoot th, table.matrix tfoot td { padding: 3px 4px; font-size: 12.5px; }
table.matrix tfoot tr:first-child th, table.matrix tfoot tr:first-child td {
  border-top: 1px solid var(--line); padding-top: 8px; }
table.matrix tfoot th { text-align: left; font-weight: normal; color: var(--muted);
  white-space: nowrap; }
table.matrix tfoot td { text-align: center; font-variant-numeric: tabular-nums; }
table.matrix tfoot td.zero { color: var(--line); }
table.targets td { vertical-align: middle; }
table.targets td .chip { margin: 1px 2px 1px 0; }
table.targets td.name { font-weight: 600; white-space: normal; overflow-wrap: anywhere;
  min-width: 240px; max-width: 360px; }
table.targets td.name .label { display: block; font-weight: normal; font-size: 12.5px; }
details.target { margin: 0 0 20px; }
details.target > summary { cursor: pointer; font-size: 16px; font-weight: 600;
  padding: 6px 0; list-style-position: outside; margin-left: 18px; }
details.target > summary .chip { font-size: 12px; margin-left: 6px; vertical-align: 1px; }
details.target > summary .label { font-weight: normal; font-size: 13px; margin-left: 6px; }
.check.cellinfo { padding: 10px 14px; margin: 8px 0 10px; }
.check.cellinfo h4 { margin: 8px 0 4px; font-size: 13px; }
.problem { border: 1px solid var(--line); border-left: 6px solid var(--k); border-radius: 6px;
  padding: 10px 14px; margin: 8px 0; }
:target { scroll-margin-top: 90px; }
"""


def _e(value: object) -> str:
    return escape(printable(str(value)), quote=True)


def _cell_id(column: Column, check_id: str) -> str:
    return f"c-{column.slug}-{quote(check_id, safe='')}"


def _chip(key: str, text: str, mark_key: str | None = None) -> str:
    """A chip in the colour of `key`, with the mark of `mark_key` (`key`'s if None)."""
    return f'<span class="chip k-{key}">{mark(mark_key or key)} {_e(text)}</span>'


def _status_chip(column: Column, text: str | None = None) -> str:
    status = column.status
    return _chip(_STATUS_KIND[status], text or status.value, status.value)


def _header(matrix: Matrix) -> str:
    overall = matrix_verdict(matrix)
    meta = [
        ("Targets", str(len(matrix.columns))),
        ("Mode", "merged reports" if matrix.mode == "merge" else "run here"),
    ]
    if matrix.seed is not None:
        meta.append(("Seed", str(matrix.seed)))
    meta.append(("Strict", "yes" if matrix.strict else "no"))
    if matrix.mode == "run":
        meta.append(("Duration", format_duration(matrix.duration_s)))
    meta += [
        ("Started", matrix.started_at),
        ("Exit code", str(matrix.exit_code)),
    ]
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in meta)
    counts = "".join(
        _chip(_STATUS_KIND[status], f"{n} {status.value}", status.value)
        for status in Status
        if (n := matrix.count(status))
    )
    return (
        f'<header class="v-{overall.status}"><div><h1>{headline_html(overall)}</h1>'
        f'<dl class="meta">{items}</dl><div class="counts">{counts}</div></div></header>'
    )


def _report_link(column: Column, out_dir: Path | None, fragment: str = "") -> str | None:
    link = relative_link(column.reports.get("html"), out_dir)
    return None if link is None else link + fragment


def _targets(matrix: Matrix, out_dir: Path | None) -> str:
    rows = []
    for column in matrix.columns:
        counts = column_counts(column)
        if column.result is not None:
            chips = "".join(_chip(key, f"{n} {KINDS[key][0]}") for key, n in counts.items() if n)
        else:
            assert column.problem is not None
            chips = f'<span class="label">What to do: {_e(column.problem.hint)}</span>'
        link = _report_link(column, out_dir)
        report = f'<a href="{_e(link)}">report.html</a>' if link else ""
        edition = (
            f'<br><span class="label">edition judged: {_e(edition_line(column.result))}</span>'
            + "".join(
                f'<br><span class="label">limit: {_e(str(limit))}</span>'
                for limit in column.result.limits
            )
            if column.result is not None
            else ""
        )
        divergences = ""
        if matrix.reference:
            if column.divergences is not None:
                decided, open_ = column.divergences
                divergences = f"<td>{decided} decided · {open_} open</td>"
            else:
                divergences = f'<td><span class="label">{_e(column.compared or "—")}</span></td>'
        rows.append(
            f'<tr id="t-{column.slug}"><td class="name">{_e(column.name)}'
            f'<span class="label">{_e(column.source)}</span></td>'
            f"<td>{_status_chip(column)}</td><td>{_e(column_verdict(column).headline)}{edition}</td>"
            f"<td>{chips}</td><td>{report}</td>{divergences}</tr>"
        )
    head = "<th>Divergences from the reference</th>" if matrix.reference else ""
    return (
        "<table class=targets><thead><tr><th>Target</th><th>Status</th><th>Verdict</th>"
        f"<th>Checks</th><th>Report</th>{head}</tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def _cell(column: Column, cell: CheckResult | None, check_id: str) -> str:
    key = cell_kind(cell)
    label, _, short = CELL_KINDS[key]
    reason = cell.reason if cell is not None else (str(column.problem) if column.problem else "")
    title = f"{check_id} on {column.name}: {label}" + (f" - {reason}" if reason else "")
    attrs = f'title="{_e(title[:400])}"'
    shown = f"{mark(key)} {_e(short)}"
    if cell is not None and cell.outcome in (Outcome.FAILED, Outcome.ERROR):
        inner = f'<a href="#{_cell_id(column, check_id)}" {attrs}>{shown}</a>'
    elif column.problem is not None:
        inner = f'<a href="#t-{column.slug}" {attrs}>{shown}</a>'
    else:
        inner = f"<span {attrs}>{shown}</span>"
    return f'<td class="cell k-{key}">{inner}</td>'


def _grid(matrix: Matrix) -> str:
    columns = matrix.columns
    heads = "".join(
        f'<th class="col" scope="col"><a href="#t-{c.slug}">{_e(c.name)}</a><br>'
        f"{_status_chip(c)}</th>"
        for c in columns
    )
    body = []
    for family, rows in matrix.families():
        body.append(f'<tr class="fam"><th colspan="{len(columns) + 2}">{_e(family)}</th></tr>')
        for row in rows:
            check = row.check
            cells = "".join(
                _cell(column, cell, check.id)
                for column, cell in zip(columns, row.cells, strict=True)
            )
            body.append(
                f'<tr><th class="check" scope="row" title="{_e(check.requirement)}">'
                f"<code>{_e(check.id)}</code></th>"
                f'<td class="level">{_e(check.level.value)}</td>{cells}</tr>'
            )
    totals = [column_counts(c) if c.result else None for c in columns]
    foot = []
    for key, (label, _) in KINDS.items():
        if not any(t and t[key] for t in totals):
            continue
        tds = "".join(
            "<td>—</td>"
            if t is None
            else f'<td class="{"zero" if not t[key] else ""}">{t[key]}</td>'
            for t in totals
        )
        foot.append(f'<tr><th colspan="2">{mark(key)} {_e(label)}</th>{tds}</tr>')
    legend = "".join(
        f'<span class="k-{key}">{mark(key)} {_e(label)}</span>'
        for key, (label, _, _) in CELL_KINDS.items()
    )
    return (
        f'<div class="legend">{legend}</div>\n<div class="scroll"><table class="matrix">'
        f'<thead><tr><th scope="col">Check</th><th scope="col">Level</th>{heads}</tr></thead>'
        f"<tbody>\n" + "\n".join(body) + "\n</tbody><tfoot>" + "".join(foot) + "</tfoot>"
        "</table></div>"
    )


def _pre(text: str) -> str:
    shown, cut = truncate_bytes(text, MAX_CURL)
    note = '<p class="note">truncated: the full command is in report.json</p>' if cut else ""
    return f"<pre>{_e(shown)}</pre>{note}"


def _cell_details(column: Column, cell: CheckResult, out_dir: Path | None) -> str:
    info = cell.check
    key = cell_kind(cell)
    parts = [
        f'<div class="check cellinfo k-{key}" id="{_cell_id(column, info.id)}">',
        f"<h3>{_chip(key, CELL_KINDS[key][0])} <code>{_e(info.id)}</code> "
        f'<span class="label">{_e(info.family)} · {_e(info.level.value)}</span></h3>',
        f'<p><span class="label">Requirement:</span> {_e(info.requirement)}</p>',
    ]
    if cell.reason:
        parts.append(f'<p><span class="label">Reason:</span> {_e(cell.reason)}</p>')
    if cell.outcome is Outcome.ERROR:
        parts.append('<p class="note">The harness or the network failed, not the target.</p>')
    finding = first_finding(cell)
    if finding is not None:
        parts.append(f"<h4>First finding (of {len(cell.findings)})</h4>")
        if not cell.reason.startswith(finding.message):
            parts.append(f"<p>{_e(finding.message)}</p>")
        exchange = finding.exchange
        if exchange is not None:
            parts.append(
                f"<p><code>{_e(request_line(exchange))}</code> "
                f'<span class="label">in {exchange.elapsed_ms:.0f} ms</span></p>'
                f"<h4>Reproduce</h4>{_pre(exchange.curl)}"
            )
    link = _report_link(column, out_dir, f"#check-{quote(info.id, safe='')}")
    if link:
        parts.append(f'<p><a href="{_e(link)}">Every finding and exchange in report.html</a></p>')
    parts.append("</div>")
    return "\n".join(parts)


def _details(matrix: Matrix, out_dir: Path | None) -> str:
    blocks = []
    for column in matrix.columns:
        link = _report_link(column, out_dir)
        report = f' <a class="label" href="{_e(link)}">report.html</a>' if link else ""
        summary = (
            f"<summary>{_e(column.name)} {_status_chip(column)}"
            f'<span class="label">{_e(column_verdict(column).headline)}</span>{report}</summary>'
        )
        if column.problem is not None:
            blocks.append(
                f'<details class="target" open>{summary}<div class="problem k-unusable">'
                f"<p><strong>{_e(column.problem.message)}</strong></p>"
                f'<p><span class="label">What to do:</span> {_e(column.problem.hint)}</p>'
                f'<p class="note">{_e(column.source)}</p></div></details>'
            )
            continue
        bad = failing_checks(column)
        if not bad:
            continue
        inner = "\n".join(_cell_details(column, r, out_dir) for r in bad)
        blocks.append(f'<details class="target" open>{summary}\n{inner}\n</details>')
    if not blocks:
        return ""
    return (
        '<section id="details"><h2>Failures, errors and unusable targets</h2>\n'
        + "\n".join(blocks)
        + "</section>"
    )


def render_matrix_html(matrix: Matrix, out_dir: Path | None = None) -> str:
    """The page; links to each target's report.html are relative to `out_dir`."""
    sections = [
        f'<section id="targets"><h2>Targets</h2>\n{_targets(matrix, out_dir)}\n</section>',
        f'<section id="grid"><h2>Matrix</h2>\n{_grid(matrix)}\n</section>',
        _details(matrix, out_dir),
    ]
    title = f"{matrix_verdict(matrix).headline} - {TOOL_NAME} compatibility matrix"
    main = "\n".join(s for s in sections if s)
    footer = (
        f"{_e(TOOL_NAME)} {_e(matrix.tool_version)} · compatibility matrix · every target's\n"
        "full record is in its own report"
    )
    return page(printable(title), CSS + _MATRIX_CSS, _header(matrix), main, footer)


def write_matrix_html(matrix: Matrix, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    text = render_matrix_html(scrub_matrix(matrix, secrets), path.parent)
    return write_text(path, text, secrets)
