"""A consistency check's history as a picture: one lane per client, each operation a bar
from the moment it was sent to the moment its answer came, the operations the check found
at fault marked. Inline SVG, no script: it draws in any browser and in a saved page."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from ..model import HistoryOp

__all__ = ["history_svg"]

LEFT: Final = 92  # the lane names
WIDTH: Final = 960  # the whole picture
LANE: Final = 28  # one lane's height
BAR: Final = 16  # a bar's height
TOP: Final = 24  # the time axis
_FILL: Final = {"write": "#54aeff", "read": "#d0d7de"}
_BAD: Final = "#cf222e"


def _lanes(history: Sequence[HistoryOp]) -> list[str]:
    """start, the writers, the readers, after: in that order, then any other."""
    named = list(dict.fromkeys(op.lane for op in history))

    def rank(lane: str) -> tuple[int, str]:
        order = ("start", "writer", "reader", "after")
        first = next((i for i, word in enumerate(order) if lane.startswith(word)), len(order))
        return first, lane.zfill(12)

    return sorted(named, key=rank)


def _ticks(end: float) -> list[float]:
    """Round moments along the axis, about eight of them."""
    step = 1.0
    while end / step > 8:
        step *= 5 if str(step)[0] == "2" else 2
    return [i * step for i in range(int(end // step) + 1)]


def history_svg(history: Sequence[HistoryOp], title: str = "") -> str:
    """The history drawn (an empty string for none)."""
    if not history:
        return ""
    lanes = _lanes(history)
    end = max(op.ret_ms for op in history) or 1.0
    scale = (WIDTH - LEFT - 16) / end
    height = TOP + LANE * len(lanes) + 8

    def x(ms: float) -> float:
        return LEFT + ms * scale

    parts = [
        f'<svg class="history" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title or "history of requests sent at the same time")}" '
        'font-family="sans-serif" font-size="11">'
    ]
    for tick in _ticks(end):
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{TOP - 6}" x2="{x(tick):.1f}" y2="{height - 8}" '
            'stroke="#eaeef2"/>'
            f'<text x="{x(tick):.1f}" y="{TOP - 10}" text-anchor="middle" fill="#59636e">'
            f"{tick:g} ms</text>"
        )
    for row, lane in enumerate(lanes):
        y = TOP + row * LANE
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + BAR - 3}" text-anchor="end" fill="#1f2328">'
            f"{escape(lane)}</text>"
        )
        for op in (o for o in history if o.lane == lane):
            left, right = x(op.call_ms), max(x(op.ret_ms), x(op.call_ms) + 2)
            fill = _BAD if op.bad else _FILL.get(op.kind, "#d0d7de")
            stroke = ' stroke="#82071e" stroke-width="2"' if op.bad else ""
            tip = (
                f"{lane}: {op.kind} {op.shows} (answered {op.status}) from {op.call_ms:.1f} "
                f"to {op.ret_ms:.1f} ms{' - at fault' if op.bad else ''}"
            )
            parts.append(
                f'<g class="op{" bad" if op.bad else ""}"><title>{escape(tip)}</title>'
                f'<rect x="{left:.1f}" y="{y}" width="{right - left:.1f}" height="{BAR}" '
                f'rx="3" fill="{fill}"{stroke}/>'
            )
            if right - left >= 8 * len(op.shows) or op.bad:
                colour = "#fff" if op.bad else "#1f2328"
                parts.append(
                    f'<text x="{left + 3:.1f}" y="{y + BAR - 4}" fill="{colour}">'
                    f"{escape(op.shows)}</text>"
                )
            parts.append("</g>")
    parts.append("</svg>")
    legend = (
        '<p class="note">Each bar: one request, from when it was sent to when its answer '
        "came; blue a write (named by the document it sent), grey a read (named by the "
        "document it showed), red what the check found at fault. Hover a bar for its "
        "details.</p>"
    )
    return "".join(parts) + legend
