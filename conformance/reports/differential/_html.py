"""differential.html: the comparison as one self-contained page (no script), in
report.html's colours: the headline, both sides' verdicts, every group of divergences with
the first one's two answers side by side and the requests that produced it."""

from __future__ import annotations

import json
from html import escape

from ...model import DifferentialResult, DivergenceGroup, Exchange
from .._common import printable, request_line, truncate_bytes
from .._html_style import CSS, page
from ._common import group_title, headline, side_line

__all__ = ["render_differential_html"]

MAX_GROUPS = 60
MAX_BODY = 8 * 1024


def _e(text: str) -> str:
    return escape(printable(text), quote=True)


def _pretty(text: str) -> str:
    """A JSON body indented (what differs is easier to find); anything else as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def _answer(title: str, exchange: Exchange) -> str:
    body, cut = truncate_bytes(_pretty(exchange.response_body or ""), MAX_BODY)
    more = '<p class="note">(cut here)</p>' if cut else ""
    return f"<div><h5>{_e(title)}: {_e(str(exchange.status))}</h5><pre>{_e(body)}</pre>{more}</div>"


def _group(index: int, group: DivergenceGroup) -> str:
    first = group.first
    kind = "failed-required" if group.decided else "failed-advisory"
    decided = (
        f"{_e(first.decided)} (the {_e(first.breaks)} breaks it)"
        if group.decided
        else "open: the contract leaves it to the server (a fidelity gap of the candidate)"
    )
    steps = "\n".join(first.steps)
    reference, candidate = first.exchanges
    return (
        f'<section class="check k-{kind}" id="d{index}">'
        f"<h3>{_e(group_title(group).replace('`', ''))}</h3>"
        f'<p><span class="label">How many:</span> {group.count} · '
        f'<span class="label">Reference:</span> <code>{_e(first.reference)}</code> · '
        f'<span class="label">Candidate:</span> <code>{_e(first.candidate)}</code></p>'
        f'<p><span class="label">Decided by:</span> {decided}</p>'
        f'<p><span class="label">Request:</span> <code>{_e(request_line(reference))}</code></p>'
        f'<div class="exchange">{_answer("The reference answered", reference)}'
        f"{_answer('The candidate answered', candidate)}</div>"
        f"<h5>The requests that produced it</h5><pre>{_e(steps)}</pre>"
        "</section>"
    )


def render_differential_html(result: DifferentialResult) -> str:
    groups = result.groups()
    rows = "".join(
        f'<tr><td><a href="#d{i}">{_e(group_title(g).replace("`", ""))}</a></td>'
        f"<td>{g.count}</td><td><code>{_e(g.first.reference)}</code></td>"
        f"<td><code>{_e(g.first.candidate)}</code></td>"
        f"<td>{'decided: the ' + _e(g.first.breaks) if g.decided else 'open'}</td></tr>"
        for i, g in enumerate(groups[:MAX_GROUPS])
    )
    table = (
        "<table><thead><tr><th>What differs</th><th>Count</th><th>Reference</th>"
        f"<th>Candidate</th><th>Contract</th></tr></thead><tbody>{rows}</tbody></table>"
        if groups
        else ""
    )
    noise = ", ".join(f"{_e(k)} ({v})" for k, v in sorted(result.noise.items()))
    left = "".join(f"<li>{_e(why)} ({n})</li>" for why, n in sorted(result.left_out.items()))
    header = (
        f"<header><h1>{_e(headline(result))}</h1>"
        f"<p>Differential run · seed {result.seed} · profile {_e(result.profile)} · "
        f"{result.compared} requests compared · {result.duration_s:.1f} s</p></header>"
    )
    restore = "".join(f'<p class="restore-failed">{_e(line)}</p>' for line in result.unrestored)
    main = (
        restore + f"<p><b>Reference:</b> {_e(side_line(result, 'reference'))}</p>"
        f"<p><b>Candidate:</b> {_e(side_line(result, 'candidate'))}</p>"
        + (
            f"<p><b>Candidate's state:</b> {_e(result.seeded_from)}</p>"
            if result.seeded_from
            else ""
        )
        + table
        + (f"<p><b>Noise</b> (never a divergence): {noise}</p>" if noise else "")
        + (f"<p><b>Left out</b></p><ul>{left}</ul>" if left else "")
        + "".join(_group(i, g) for i, g in enumerate(groups[:MAX_GROUPS]))
    )
    footer = f"<footer>Run it again: <code>{_e(result.rerun)}</code></footer>"
    return page(headline(result), CSS, header, main, footer)
