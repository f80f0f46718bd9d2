"""history.html: the history as one self-contained page (inline CSS and SVG, no script, no
external resource), in report.html's colours.

Per target: the latest verdict, what its latest run changed, each check's failing
stretches in words ("failing since run 2, fixed in run 3"), a chart of every run's
outcomes and failures (inline SVG), and the timeline: checks down, runs across (oldest
first), a coloured cell with a letter and a title per outcome. Each run's column is
labelled with its date, seed and tool version, and links to its report.html when that
sits beside its report.json. Everything from the reports is escaped, and the same
Content-Security-Policy as report.html forbids scripts and remote loads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Final
from urllib.parse import quote

from ...model import CheckLine, CheckResult, History, HistoryRun, Outcome, Timeline
from .._common import KINDS, TOOL_NAME, edition_line, plural, printable, relative_link
from .._html_style import COLOURS, CSS, page
from .._marks import headline_html, mark
from .._output import write_text
from ._common import (
    CELL_KINDS,
    cell_kind,
    history_verdict,
    latest_changes,
    line_words,
    run_counts,
    run_verdict,
    run_when,
    scrub_history,
    stretch_words,
    timeline_verdict,
)

__all__ = ["render_history_html", "write_history_html"]

OPEN_RUNS: Final = 20  # a target's table of runs starts open up to this many runs
_STATUS_KIND: Final = {"ok": "passed", "fail": "failed-required", "inconclusive": "error"}

_HISTORY_CSS: Final = """
.k-absent { --k: #afb8c1; }
.scroll { overflow-x: auto; padding-bottom: 6px; }
section.target { margin: 0 0 40px; }
section.target > h2 .chip { font-size: 12px; margin-left: 8px; vertical-align: 2px; }
section.target > h2 .where { font-weight: normal; font-size: 14px; color: var(--muted);
  margin-left: 8px; }
ul.since { margin: 4px 0 12px; padding-left: 20px; }
ul.since li { margin: 3px 0; }
ul.since code { font-weight: 600; }
.level { color: var(--muted); font-size: 12.5px; }
.legend span.sw::before { content: ""; display: inline-block; width: 12px; height: 12px;
  border-radius: 3px; background: var(--k); margin-right: 6px; vertical-align: -1px; }
.legend span.k-absent::before { background: repeating-linear-gradient(135deg, #afb8c1 0 2px,
  #eaeef2 2px 4px); }
.legend span.chg::before { background: #fff; box-shadow: inset 3px 0 0 #1f2328;
  border: 1px solid var(--line); }
.legend b { font: 700 11px/1 var(--mono); margin-right: 4px; color: var(--fg); }
svg.chart { display: block; width: 100%; max-width: 980px; height: auto; margin: 4px 0 8px; }
svg.chart text { font-size: 11px; fill: #59636e; }
svg.chart text.n { font-size: 10px; fill: #1f2328; }
svg.chart text.t { font-size: 12px; font-weight: 600; fill: #1f2328; }
table.timeline { width: auto; border-collapse: separate; border-spacing: 2px; margin: 0 -2px; }
table.timeline th, table.timeline td { border: 0; padding: 0; background: none; }
table.timeline thead th { vertical-align: bottom; background: #fff; }
table.timeline th.run { width: 22px; min-width: 22px; max-width: 22px; padding-bottom: 4px; }
table.timeline th.run div { writing-mode: vertical-rl; transform: rotate(180deg);
  white-space: nowrap; font: 11px/22px var(--mono); text-align: left; margin: 0 auto; }
table.timeline th.run a { color: var(--fg); text-decoration: none; }
table.timeline th.run a:hover { text-decoration: underline; color: #0969da; }
table.timeline th.run.latest div { font-weight: 700; }
table.timeline th.check { text-align: left; padding: 0 10px 0 0; font-weight: normal;
  white-space: nowrap; vertical-align: middle; font-size: 12.5px; }
table.timeline td.level { color: var(--muted); padding: 0 10px 0 0; font-size: 12px;
  vertical-align: middle; white-space: nowrap; }
table.timeline tr.fam th { text-align: left; padding: 10px 0 3px; font-size: 12px;
  color: var(--muted); text-transform: uppercase; letter-spacing: .04em;
  border-bottom: 1px solid var(--line); }
table.timeline tr.verdicts th { font-weight: 600; font-size: 12.5px; text-align: left;
  vertical-align: middle; }
table.timeline tr.verdicts td { text-align: center; vertical-align: middle; height: 22px; }
table.timeline td.c { background: var(--k); border-radius: 3px; text-align: center;
  color: #fff; font: 700 11px/20px var(--mono); height: 20px; }
table.timeline td.c a { display: block; color: #fff; text-decoration: none; }
table.timeline td.c a:hover, table.timeline td.c a:focus { outline: 2px solid var(--fg);
  outline-offset: 1px; border-radius: 3px; }
table.timeline td.c.k-absent { background: repeating-linear-gradient(135deg, #eaeef2 0 4px,
  #f6f8fa 4px 8px); color: var(--muted); font-weight: 400; }
table.timeline td.c.chg { box-shadow: inset 3px 0 0 rgba(31, 35, 40, .75); }
table.timeline tbody tr:hover th.check code { text-decoration: underline; }
table.runs td { vertical-align: middle; }
table.runs td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.runs td.verdict { white-space: normal; min-width: 220px; }
details.runs > summary { cursor: pointer; font-weight: 600; margin: 8px 0; }
.skipped { border: 1px solid var(--line); border-left: 6px solid #bf8700; border-radius: 6px;
  padding: 8px 14px; margin: 16px 0 0; }
.skipped ul { margin: 4px 0; }
"""


def _e(value: object) -> str:
    return escape(printable(str(value)), quote=True)


def _chip(key: str, text: str) -> str:
    return f'<span class="chip k-{key}">{_e(text)}</span>'


def _status_chip(status: str, text: str) -> str:
    return _chip(_STATUS_KIND.get(status, "error"), text)


def _run_title(run: HistoryRun) -> str:
    result = run.result
    return (
        f"run {run.number} · {run_when(run)} · seed {result.settings.seed} · {result.tool_version}"
    )


def _report_link(run: HistoryRun, out_dir: Path | None, fragment: str = "") -> str | None:
    link = relative_link(run.html, out_dir)
    return None if link is None else link + fragment


def _header(history: History) -> str:
    overall = history_verdict(history)
    runs = [run for t in history.timelines for run in t.runs]
    oldest = min(runs, key=lambda r: r.result.started_at)
    newest = max(runs, key=lambda r: r.result.started_at)
    meta = [
        ("Targets", str(len(history.timelines))),
        ("Runs", str(history.runs)),
        ("Oldest run", run_when(oldest)),
        ("Newest run", run_when(newest)),
    ]
    if history.last:
        meta.append(("Kept", f"the newest {history.last} runs of each target"))
    meta.append(("Drawn", history.generated_at))
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in meta)
    skipped = ""
    if history.skipped:
        listed = "".join(
            f"<li><code>{_e(s.path)}</code>: {_e(s.reason)}</li>" for s in history.skipped
        )
        skipped = (
            f'<div class="skipped"><strong>{plural(len(history.skipped), "file")} left out'
            f"</strong> (found in a directory: not readable reports, or copies of a run "
            f"already read):<ul>{listed}</ul></div>"
        )
    return (
        f'<header class="v-{overall.status}"><div><h1>{headline_html(overall)}</h1>'
        f'<dl class="meta">{items}</dl>{skipped}</div></header>'
    )


def _targets(history: History) -> str:
    if len(history.timelines) < 2:
        return ""
    rows = []
    for t in history.timelines:
        headline = timeline_verdict(t)
        failing = sum(1 for line in t.lines if line.failing_now is not None)
        rows.append(
            f'<tr><td><a href="#t-{t.slug}">{_e(t.name)}</a></td>'
            f"<td>{_status_chip(headline.status, headline.status)}</td>"
            f"<td>{_e(headline.headline)}</td><td>{len(t.runs)}</td><td>{failing}</td></tr>"
        )
    return (
        '<section id="targets"><h2>Targets</h2><table><thead><tr><th>Target</th>'
        "<th>Latest</th><th>Latest verdict</th><th>Runs</th><th>Checks failing now</th></tr>"
        "</thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table></section>"
    )


def _check_ref(line: CheckLine) -> str:
    return (
        f'<code>{_e(line.check.id)}</code> <span class="level">{_e(line.check.level.value)}</span>'
    )


def _ids(lines: list[CheckLine], limit: int = 8) -> str:
    shown = ", ".join(f"<code>{_e(line.check.id)}</code>" for line in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def _changes(timeline: Timeline) -> str:
    previous = timeline.previous
    latest = timeline.latest
    if previous is None:
        return "<p>The only run of this target: nothing to compare it with yet.</p>"
    head = f"<h3>Run {latest.number} against run {previous.number}</h3>"
    changes = latest_changes(timeline)
    if not changes:
        return f"{head}<p>No check changed.</p>"
    items = [f"<li>newly failing: {_check_ref(line)}</li>" for line in changes.newly_failing]
    items += [f"<li>fixed: {_check_ref(line)}</li>" for line in changes.fixed]
    items += [
        f"<li>changed: {_check_ref(line)} {_e(CELL_KINDS[cell_kind(before)][0])} -&gt; "
        f"{_e(CELL_KINDS[cell_kind(after)][0])}</li>"
        for line, before, after in changes.changed
    ]
    if changes.dropped:
        items.append(
            f"<li>not run in run {latest.number}: {plural(len(changes.dropped), 'check')} "
            f"({_ids(changes.dropped)})</li>"
        )
    if changes.added:
        items.append(
            f"<li>new in run {latest.number}: {plural(len(changes.added), 'check')} "
            f"({_ids(changes.added)})</li>"
        )
    return f'{head}<ul class="since">{"".join(items)}</ul>'


def _since(timeline: Timeline) -> str:
    now = [(line, s) for line in timeline.lines if (s := line.failing_now) is not None]
    before = [line for line in timeline.lines if line.stretches and line.failing_now is None]
    parts = ["<h3>Since when</h3>"]
    if not now and not before:
        return parts[0] + f"<p>No check failed in any of these {len(timeline.runs)} runs.</p>"
    if now:
        items = "".join(
            f"<li>{_check_ref(line)}: {_e(stretch_words(timeline, s))}</li>" for line, s in now
        )
        parts.append(f'<p>Failing in the latest run:</p><ul class="since">{items}</ul>')
    else:
        parts.append("<p>No check is failing in the latest run.</p>")
    if before:
        items = "".join(
            f"<li>{_check_ref(line)}: {_e(line_words(timeline, line))}</li>" for line in before
        )
        parts.append(f'<p>Failed earlier:</p><ul class="since">{items}</ul>')
    return "".join(parts)


# --- the chart -----------------------------------------------------------------------------

_CHART_W: Final = 960  # at most; fewer runs draw a narrower chart
_MIN_W: Final = 440
_SLOT: Final = 40.0  # at most, per run
_LEFT: Final = 46
_RIGHT: Final = 14
_TOP: Final = 22  # the first panel's title above its plot
_H1: Final = 130  # checks per run by outcome
_GAP: Final = 46
_H2: Final = 80  # failures per run
_BOTTOM: Final = 36
_FAILED: Final = ("failed-required", "failed-advisory")


def _gridline(left: float, right: float, y: float, value: int) -> str:
    return (
        f'<line x1="{left}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d1d9e0" '
        f'stroke-width="1"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
    )


def _bars(x: float, bar: float, bottom: float, scale: float, parts: list[tuple[str, int]]) -> str:
    """A stacked bar from `bottom` up: one rect per (kind, count), `scale` px per count."""
    out = []
    for key, count in parts:
        if not count:
            continue
        h = count * scale
        bottom -= h
        out.append(
            f'<rect x="{x:.1f}" y="{bottom:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{COLOURS[key]}"/>'
        )
    return "".join(out)


def _chart(timeline: Timeline) -> str:
    """Two panels of bars, a bar per run: every check by outcome, and the failures alone
    (required, advisory) on a scale of their own. Each bar's title says its counts."""
    runs = timeline.runs
    n = len(runs)
    counts = [run_counts(run) for run in runs]
    failures = [sum(c[k] for k in _FAILED) for c in counts]
    top_total = max(max(sum(c.values()) for c in counts), 1)
    top_failed = max(max(failures), 1)
    slot = min(_SLOT, (_CHART_W - _LEFT - _RIGHT) / n)
    width = max(_MIN_W, _LEFT + slot * n + _RIGHT)
    right = _LEFT + slot * n
    bar = max(1.0, slot * 0.72)
    y1, y2 = _TOP, _TOP + _H1 + _GAP
    height = y2 + _H2 + _BOTTOM
    scale1 = _H1 / top_total
    scale2 = _H2 * 0.8 / top_failed  # room above the highest bar for its number
    out = [
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height}" style="max-width:{width:.0f}px" '
        f'role="img" aria-label="Checks per run by outcome, and failures per run, of '
        f'{_e(timeline.name)}">',
        f'<text class="t" x="0" y="{y1 - 8}">Checks per run, by outcome</text>',
        f'<text class="t" x="0" y="{y2 - 8}">Failures per run (required, advisory)</text>',
    ]
    out += [_gridline(_LEFT, right, y1 + _H1 - f * _H1, round(top_total * f)) for f in (0, 0.5, 1)]
    ticks = {0, top_failed} | ({top_failed // 2} if top_failed >= 4 else set())
    out += [_gridline(_LEFT, right, y2 + _H2 - v * scale2, v) for v in sorted(ticks)]
    label_every = max(1, math.ceil(n / 24))
    for index, (run, count, failed) in enumerate(zip(runs, counts, failures, strict=True)):
        x = _LEFT + index * slot + (slot - bar) / 2
        centre = x + bar / 2
        said = ", ".join(f"{count[k]} {KINDS[k][0]}" for k in KINDS if count[k])
        out.append(f"<g><title>{_e(_run_title(run))}: {_e(said or 'no checks')}</title>")
        out.append(_bars(x, bar, y1 + _H1, scale1, [(k, count[k]) for k in KINDS]))
        out.append(_bars(x, bar, y2 + _H2, scale2, [(k, count[k]) for k in _FAILED]))
        if failed and n <= 60:
            y = y2 + _H2 - failed * scale2 - 3
            out.append(
                f'<text class="n" x="{centre:.1f}" y="{y:.1f}" text-anchor="middle">{failed}</text>'
            )
        if index % label_every == 0 or index == n - 1:
            out.append(
                f'<text x="{centre:.1f}" y="{y2 + _H2 + 14}" text-anchor="middle">'
                f"{run.number}</text>"
            )
        out.append("</g>")
    out.append(
        f'<text x="{_LEFT}" y="{height - 4}">run {runs[0].number}: {_e(run_when(runs[0]))}</text>'
    )
    if n > 1:
        out.append(
            f'<text x="{width - _RIGHT:.0f}" y="{height - 4}" text-anchor="end">'
            f"run {runs[-1].number}: {_e(run_when(runs[-1]))}</text>"
        )
    out.append("</svg>")
    legend = "".join(
        f'<span class="sw k-{key}">{_e(label)}</span>' for key, (label, _) in KINDS.items()
    )
    return f'<div class="legend">{legend}</div>' + "".join(out)


# --- the timeline --------------------------------------------------------------------------


def _state(cell: CheckResult | None) -> str:
    return cell_kind(cell)


def _cell(
    timeline: Timeline,
    line: CheckLine,
    index: int,
    links: list[str | None],
) -> str:
    cell = line.cells[index]
    run = timeline.runs[index]
    key = cell_kind(cell)
    label, letter = CELL_KINDS[key]
    title = f"{line.check.id} in run {run.number} ({run_when(run)}): {label}"
    if cell is not None and cell.reason:
        title += f" - {cell.reason}"
    changed = index > 0 and _state(line.cells[index - 1]) != key
    classes = f"c k-{key}" + (" chg" if changed else "")
    link = links[index]
    if link is not None and cell is not None and cell.outcome in (Outcome.FAILED, Outcome.ERROR):
        inner = f'<a href="{_e(link)}#check-{quote(line.check.id, safe="")}">{letter}</a>'
    else:
        inner = letter
    return f'<td class="{classes}" title="{_e(title[:400])}">{inner}</td>'


def _timeline(timeline: Timeline, out_dir: Path | None) -> str:
    runs = timeline.runs
    links = [_report_link(run, out_dir) for run in runs]
    heads = []
    for run, link in zip(runs, links, strict=True):
        text = _e(_run_title(run))
        shown = f'<a href="{_e(link)}">{text}</a>' if link else text
        latest = " latest" if run is timeline.latest else ""
        heads.append(f'<th class="run{latest}" scope="col" title="{text}"><div>{shown}</div></th>')
    verdicts = "".join(
        f'<td title="{_e(_run_title(run))}: {_e(run_verdict(run).headline)}">'
        f"{mark(run_verdict(run).mark or run_verdict(run).status)}</td>"
        for run in runs
    )
    body = [f'<tr class="verdicts"><th colspan="2">verdict</th>{verdicts}</tr>']
    families: dict[str, list[CheckLine]] = {}
    for line in timeline.lines:
        families.setdefault(line.check.family, []).append(line)
    for family, lines in families.items():
        body.append(f'<tr class="fam"><th colspan="{len(runs) + 2}">{_e(family)}</th></tr>')
        for line in lines:
            words = line_words(timeline, line)
            title = line.check.requirement + (f" - {words}" if words else "")
            cells = "".join(_cell(timeline, line, i, links) for i in range(len(runs)))
            body.append(
                f'<tr><th class="check" scope="row" title="{_e(title)}">'
                f"<code>{_e(line.check.id)}</code></th>"
                f'<td class="level">{_e(line.check.level.value)}</td>{cells}</tr>'
            )
    legend = "".join(
        f'<span class="sw k-{key}"><b>{_e(letter)}</b>{_e(label)}</span>'
        for key, (label, letter) in CELL_KINDS.items()
    )
    legend += '<span class="sw chg">changed since the run before</span>'
    older = (
        f'<p class="note">{timeline.left_out} older runs left out (--last).</p>'
        if timeline.left_out
        else ""
    )
    return (
        f'<div class="legend">{legend}</div>{older}\n<div class="scroll"><table class="timeline">'
        f'<thead><tr><th scope="col"></th><th scope="col"></th>{"".join(heads)}</tr></thead>'
        "<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>"
    )


def _runs(timeline: Timeline, out_dir: Path | None) -> str:
    rows = []
    for run in reversed(timeline.runs):
        result = run.result
        counts = run_counts(run)
        headline = run_verdict(run)
        link = _report_link(run, out_dir)
        report = f'<a href="{_e(link)}">report.html</a>' if link else "-"
        other = sum(n for k, n in counts.items() if k not in ("passed", *_FAILED))
        faults = ", ".join(result.target.faults) or "-"
        rows.append(
            f'<tr><td class="num">{run.number}</td><td>{_e(run_when(run))}</td>'
            f'<td class="num">{_e(result.settings.seed)}</td><td>{_e(result.tool_version)}</td>'
            f"<td>{_e(result.settings.profile)}</td><td>{_e(edition_line(result))}</td>"
            f"<td>{_e(faults)}</td>"
            f'<td class="verdict">{headline_html(headline)}</td>'
            f'<td class="num">{counts["passed"]}</td>'
            f'<td class="num">{counts["failed-required"]}</td>'
            f'<td class="num">{counts["failed-advisory"]}</td><td class="num">{other}</td>'
            f"<td>{report}</td></tr>"
        )
    table = (
        '<table class="runs"><thead><tr><th>Run</th><th>Started</th><th>Seed</th>'
        "<th>Version</th><th>Profile</th><th>Edition judged</th><th>Emulator faults</th>"
        "<th>Verdict</th><th>Passed</th><th>Failed (required)</th><th>Failed (advisory)</th>"
        "<th>Other</th><th>Report</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )
    opened = " open" if len(timeline.runs) <= OPEN_RUNS else ""
    return (
        f'<details class="runs"{opened}><summary>Every run, newest first '
        f"({len(timeline.runs)})</summary>{table}</details>"
    )


def _target(timeline: Timeline, out_dir: Path | None) -> str:
    headline = timeline_verdict(timeline)
    latest = timeline.latest
    where = "embedded emulator (loopback)" if timeline.embedded else timeline.base_url
    link = _report_link(latest, out_dir)
    report = f' <a href="{_e(link)}">report.html</a>' if link else ""
    return (
        f'<section class="target" id="t-{timeline.slug}">'
        f"<h2>{_e(timeline.name)}{_status_chip(headline.status, headline.status)}"
        f'<span class="where">{_e(where)}</span></h2>'
        f"<p><strong>Latest:</strong> {headline_html(headline)} "
        f'<span class="label">({_e(_run_title(latest))})</span>{report}</p>\n'
        f"{_changes(timeline)}\n{_since(timeline)}\n"
        f"<h3>Outcomes over time</h3>\n{_chart(timeline)}\n"
        f"<h3>Timeline: checks down, runs across (oldest first)</h3>\n"
        f"{_timeline(timeline, out_dir)}\n"
        f"<h3>Runs</h3>\n{_runs(timeline, out_dir)}</section>"
    )


def render_history_html(history: History, out_dir: Path | None = None) -> str:
    """The page; links to each run's report.html are relative to `out_dir`."""
    sections = [_targets(history), *(_target(t, out_dir) for t in history.timelines)]
    title = f"{history_verdict(history).headline} - {TOOL_NAME} history"
    main = "\n".join(s for s in sections if s)
    footer = (
        f"{_e(TOOL_NAME)} {_e(history.tool_version)} · history of "
        f"{history.runs} runs · every run's full record is in its own report"
    )
    return page(printable(title), CSS + _HISTORY_CSS, _header(history), main, footer)


def write_history_html(history: History, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    text = render_history_html(scrub_history(history, secrets), path.parent)
    return write_text(path, text, secrets)
