"""badge.svg: the run's verdict as a small badge for a README - "conformant", "N failing",
"inconclusive" or "not testable" - in the flat style people know from CI badges.

Self-contained: no font, image or script from outside; the text is fitted with
`textLength`, so it keeps its width whatever font the viewer has.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Final

from ..model import RunResult
from ._common import verdict
from ._output import write_text

__all__ = ["BADGE_COLOURS", "badge_for", "render_badge", "write_badge"]

LABEL: Final = "AgentPhone conformance"
BADGE_COLOURS: Final = {
    "ok": "#2e7d32",
    "fail": "#c62828",
    "inconclusive": "#e65100",
    "untestable": "#616161",
}
_CHAR_PX = 6.6  # the average advance of an 11 px sans-serif character
_PAD = 6


def _width(text: str) -> int:
    return round(len(text) * _CHAR_PX) + 2 * _PAD


def render_badge(message: str, status: str, label: str = LABEL) -> str:
    """The badge: `label` on grey, `message` on the colour of `status` (a BADGE_COLOURS key)."""
    left, right = _width(label), _width(message)
    total = left + right
    colour = BADGE_COLOURS[status]
    label_e, message_e = escape(label), escape(message)
    text_left, text_right = left - 2 * _PAD, right - 2 * _PAD
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label_e}: {message_e}">'
        f"<title>{label_e}: {message_e}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14" textLength="{text_left}" lengthAdjust="spacingAndGlyphs">'
        f"{label_e}</text>"
        f'<text x="{left + right / 2}" y="14" textLength="{text_right}" '
        f'lengthAdjust="spacingAndGlyphs">{message_e}</text></g></svg>\n'
    )


def badge_for(result: RunResult | None) -> tuple[str, str]:
    """(message, status) for a run; None: the target could not be tested at all."""
    if result is None:
        return "not testable", "untestable"
    status = verdict(result).status
    if status == "fail":
        return f"{len(result.gate_failures)} failing", "fail"
    if status == "inconclusive":
        return "inconclusive", "inconclusive"
    return "conformant", "ok"


def write_badge(result: RunResult | None, path: Path) -> Path:
    message, status = badge_for(result)
    return write_text(path, render_badge(message, status), ())
