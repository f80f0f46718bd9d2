"""The marks the HTML pages show beside an outcome, a verdict or a change: small inline SVG
drawn with paths, so they render with any font (an emoji needs an emoji font, which a
headless browser or many desktops lack, and then shows an empty box).

Each mark is self-contained (no reference to anything outside it, so the pages' CSP has
nothing to allow), sized in em so it follows the text, labelled for screen readers, and
coloured as report.html colours its kind. A mark is a coloured shape with a white glyph and
a thin white rim, so it reads the same on the page and inside a chip of its own colour.
The markdown reports keep their emoji: GitHub draws those as images.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Final

from ..model import Change
from ._changes import CHANGES
from ._common import KINDS, Headline, printable
from ._html_style import COLOURS

__all__ = ["MARKS", "headline_html", "mark"]

_GLYPH: Final = (
    'fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"'
)
_DOT: Final = '<circle cx="8" cy="11.9" r="1.05" fill="#fff"/>'

# The white glyphs drawn on a disc (viewBox 0 0 16 16).
_CHECK: Final = f'<path d="M4.7 8.3 7 10.6l4.3-4.8" {_GLYPH}/>'
_CROSS: Final = f'<path d="m5.4 5.4 5.2 5.2m0-5.2-5.2 5.2" {_GLYPH}/>'
_SKIP: Final = (
    '<path d="M4.3 5.2v5.6L8 8zm3.9 0v5.6L11.9 8z" fill="#fff" stroke="#fff" '
    'stroke-width=".8" stroke-linejoin="round"/>'
)
_BOLT: Final = '<path d="M9.3 2.9 4.9 8.9h3l-1.1 4.2 4.5-6H8.2z" fill="#fff"/>'
_QUESTION: Final = (
    f'<path d="M6.1 5.6a1.95 1.95 0 1 1 2.7 1.8c-.5.2-.8.6-.8 1.2v.2" {_GLYPH}/>{_DOT}'
)
_STOP: Final = '<rect x="5.2" y="5.2" width="5.6" height="5.6" rx=".8" fill="#fff"/>'
_BAR: Final = '<path d="M4.4 8h7.2" fill="none" stroke="#fff" stroke-width="2.6"/>'
_CLOCK: Final = f'<path d="M8 4.4V8l2.4 1.6" {_GLYPH}/>'
_PEOPLE: Final = (
    '<circle cx="6" cy="6.1" r="1.75" fill="#fff"/><circle cx="10.6" cy="6.6" r="1.45" '
    'fill="#fff"/><path d="M2.8 11.9a3.2 3.2 0 0 1 6.4 0zm7.2 0h3.2a2.6 2.6 0 0 0-4-2.2 '
    '4 4 0 0 1 .8 2.2z" fill="#fff"/>'
)
_REPEAT: Final = (
    f'<path d="M11.3 9.2a3.5 3.5 0 1 1-.9-3.6" {_GLYPH}/>'
    '<path d="m11.9 3.4-.1 3.5-3.4-.4z" fill="#fff"/>'
)
_PLUS: Final = f'<path d="M8 4.6v6.8M4.6 8h6.8" {_GLYPH}/>'


def _disc(glyph: str) -> Callable[[str], str]:
    def draw(colour: str) -> str:
        return (
            f'<circle cx="8" cy="8" r="7.3" fill="{colour}" stroke="#fff" '
            f'stroke-width="1.2"/>{glyph}'
        )

    return draw


def _triangle(colour: str) -> str:
    return (
        f'<path d="M8 1 15.5 14.6H.5z" fill="{colour}" stroke="#fff" stroke-width="1.2" '
        f'stroke-linejoin="round"/><path d="M8 6v3.8" {_GLYPH}/>{_DOT}'
    )


def _ring(colour: str) -> str:
    return f'<circle cx="8" cy="8" r="5.9" fill="#fff" stroke="{colour}" stroke-width="2.2"/>'


def _square(colour: str) -> str:
    return (
        f'<rect x="3" y="3" width="10" height="10" rx="1.6" fill="#fff" '
        f'stroke="{colour}" stroke-width="2.2"/>'
    )


def _dashed(colour: str) -> str:
    return (
        f'<circle cx="8" cy="8" r="6.1" fill="#fff" stroke="{colour}" stroke-width="1.8" '
        f'stroke-dasharray="2.6 1.8"/><path d="M5.2 8h5.6" fill="none" stroke="{colour}" '
        'stroke-width="2" stroke-linecap="round"/>'
    )


_PASSED: Final = COLOURS["passed"]
_FAILED: Final = COLOURS["failed-required"]
_ADVISORY: Final = COLOURS["failed-advisory"]
_ERROR: Final = COLOURS["error"]  # the purple of an inconclusive verdict too
_SKIPPED: Final = COLOURS["skipped"]
_GREY: Final = COLOURS["not-implemented"]

#: Every mark: key -> (what a screen reader says, colour, drawing). The keys are those of
#: KINDS, of the matrix's cell kinds ("absent"), of a Headline's mark (a verdict's status,
#: or a finer reason an inconclusive one gives) and of CHANGES (a comparison's kinds).
MARKS: Final[dict[str, tuple[str, str, Callable[[str], str]]]] = {
    # outcomes (KINDS)
    "passed": (KINDS["passed"][0], _PASSED, _disc(_CHECK)),
    "failed-required": (KINDS["failed-required"][0], _FAILED, _disc(_CROSS)),
    "failed-advisory": (KINDS["failed-advisory"][0], _ADVISORY, _triangle),
    "not-applicable": (KINDS["not-applicable"][0], COLOURS["not-applicable"], _ring),
    "not-implemented": (KINDS["not-implemented"][0], _GREY, _square),
    "skipped": (KINDS["skipped"][0], _SKIPPED, _disc(_SKIP)),
    "error": (KINDS["error"][0], _ERROR, _disc(_BOLT)),
    # a matrix cell whose check did not run for that target
    "absent": ("not run", COLOURS["absent"], _dashed),
    # verdicts (Headline.status, or Headline.mark where it is finer)
    "ok": ("ok", _PASSED, _disc(_CHECK)),
    "fail": ("failed", _FAILED, _disc(_CROSS)),
    "inconclusive": ("inconclusive", _ERROR, _disc(_QUESTION)),
    "interrupted": ("interrupted", _ERROR, _disc(_STOP)),
    "errored": ("errored", _ERROR, _disc(_BOLT)),
    "other-writers": ("another client wrote", _ERROR, _disc(_PEOPLE)),
    "deadline": ("deadline passed", _ERROR, _disc(_CLOCK)),
    "nothing-ran": ("nothing ran", _GREY, _disc(_QUESTION)),
    "unusable": ("unusable", COLOURS["unusable"], _disc(_BAR)),
    # changes since a baseline (CHANGES)
    Change.REGRESSED.value: (CHANGES[Change.REGRESSED][1], _FAILED, _disc(_CROSS)),
    Change.FIXED.value: (CHANGES[Change.FIXED][1], _PASSED, _disc(_CHECK)),
    Change.STILL_FAILING.value: (CHANGES[Change.STILL_FAILING][1], _GREY, _disc(_REPEAT)),
    Change.NOT_RUN.value: (CHANGES[Change.NOT_RUN][1], _SKIPPED, _disc(_SKIP)),
    Change.WARNING.value: (CHANGES[Change.WARNING][1], _ADVISORY, _triangle),
    Change.NEW.value: (CHANGES[Change.NEW][1], _SKIPPED, _disc(_PLUS)),
}


def mark(key: str) -> str:
    """The mark of `key` (a MARKS key) as inline SVG, one em and a bit square, sitting on
    the text's baseline like a capital letter."""
    label, colour, draw = MARKS[key]
    return (
        '<svg class="mark" viewBox="0 0 16 16" width="1.15em" height="1.15em" role="img" '
        f'aria-label="{escape(label, quote=True)}" style="vertical-align:-.2em">'
        f"{draw(colour)}</svg>"
    )


def headline_html(headline: Headline) -> str:
    """A verdict for a page: its mark, then its sentence (escaped)."""
    text = escape(printable(headline.headline), quote=True)
    return f"{mark(headline.mark or headline.status)} {text}"
