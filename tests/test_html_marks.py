"""The marks of report.html and matrix.html: no emoji anywhere in either page (an emoji needs
a font a headless browser or many desktops lack, and then shows an empty box), every mark
well-formed SVG with a label, and - with Chromium installed - the pages and each mark
rendered in a real browser with no emoji font: not blank, and each mark in its colour.
"""

from __future__ import annotations

import json
import random
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import replace
from html import escape
from pathlib import Path

import pytest

from conformance.core import GivenOptions, TargetSpec
from conformance.jobs import Job, execute, run_options
from conformance.model import (
    Change,
    CheckInfo,
    CheckResult,
    Column,
    Exchange,
    Finding,
    Level,
    Matrix,
    Outcome,
    Problem,
    RestoreRecord,
    RunResult,
    RunSettings,
    Status,
    TargetInfo,
)
from conformance.reports import column_verdict, matrix_verdict, render_html, verdict
from conformance.reports._changes import CHANGES
from conformance.reports._common import KINDS, Headline
from conformance.reports._marks import MARKS, mark
from conformance.reports.matrix._common import CELL_KINDS
from conformance.reports.matrix._html import render_matrix_html

from ._browser import browser, distinct_colours, pixels, png_size, screenshot

# Code points that are emoji, or turn the character before them into one: the pictograph
# blocks, dingbats and miscellaneous symbols, arrows and shapes with an emoji presentation,
# the media-control and clock symbols, regional indicators (flags), keycaps, the ZWJ and
# variation selectors, and tag characters (subdivision flags).
EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # mahjong .. symbols and pictographs extended-A (flags too)
    "\u2600-\u27bf"  # miscellaneous symbols, dingbats (✅ ❌ ⚠ ⚪ ⛔ ...)
    "\u2b00-\u2bff"  # arrows and shapes (⬜ ⭐ ⬛ ...)
    "\u2300-\u23ff"  # technical: ⌚ ⌛ ⏩-⏺ (⏭ ⏹ ⏱), ⏏
    "\u25a0-\u25ff"  # geometric shapes (▪ ▶ ◀ ◻ ◼ ...)
    "\u2190-\u21ff\u2900-\u297f"  # arrows (↔ ↩ ⤴ ...)
    "\u203c\u2049\u2122\u2139\u24c2\u3030\u303d\u3297\u3299"
    "\u200d\u20e3\ufe0e\ufe0f"  # joiner, keycap, variation selectors
    "\U000e0020-\U000e007f"  # tags
    "]"
)


def emoji_in(text: str) -> list[str]:
    return sorted(set(EMOJI.findall(text)))


# --- runs and matrices with every kind of outcome ---------------------------------------------


def _check(
    check_id: str,
    outcome: Outcome,
    level: Level = Level.REQUIRED,
    reason: str = "",
    family: str = "semantics",
) -> CheckResult:
    exchange = Exchange(
        method="PATCH",
        url="https://api.example/v1/conversations/conv_1",
        request_headers={"Content-Type": "application/json"},
        request_body='{"metadata": null}',
        status=500 if outcome is Outcome.FAILED else None,
        response_headers={},
        response_body='{"error": "boom"}' if outcome is Outcome.FAILED else None,
        elapsed_ms=12.0,
        curl="curl -i -X PATCH 'https://api.example/v1/conversations/conv_1'",
    )
    findings = [Finding(f"{check_id} went wrong", exchange)] if reason else []
    info = CheckInfo(check_id, family, level, f"{check_id} holds.", "seed page")
    return CheckResult(info, outcome, reason, findings, exchanges=1)


def every_outcome_checks() -> list[CheckResult]:
    return [
        _check("AUTH-MISSING-REJECTED", Outcome.PASSED, family="auth"),
        _check("META-NULL-CLEARS", Outcome.FAILED, reason="answered 500"),
        _check("RESP-CONTENT-TYPE", Outcome.FAILED, Level.ADVISORY, "text/html", "response"),
        _check("AUTH-CROSS-TENANT", Outcome.NOT_APPLICABLE, reason="one account", family="auth"),
        _check("GROUP-NAME", Outcome.NOT_IMPLEMENTED, reason="a later edition"),
        _check("ROBUST-TIME", Outcome.SKIPPED, Level.ADVISORY, "budget spent", "robustness"),
        _check("IDEM-REPEAT", Outcome.ERROR, reason="connection reset"),
    ]


def _run(checks: list[CheckResult], name: str = "vendor-x", **changes: object) -> RunResult:
    result = RunResult(
        tool_version="0.1.0",
        target=TargetInfo(name, "https://api.example", embedded=False),
        settings=RunSettings(1, "quick", 400, None, 1.0, read_only=False, strict=False),
        started_at="2025-11-25T13:48:00Z",
        duration_s=3.2,
        requests_sent=40,
        checks=checks,
    )
    return replace(result, **changes)  # type: ignore[arg-type]


def _restores(failed: bool) -> list[RestoreRecord]:
    kept = RestoreRecord("conv_1", True, "put back", {"a": 1})
    lost = RestoreRecord("conv_2", False, "answered 503", {"b": 2}, "curl -X PATCH ...")
    return [kept, lost] if failed else [kept]


def every_run() -> dict[str, RunResult]:
    """A run for each verdict a report can give, between them every outcome."""
    checks = every_outcome_checks()
    passed = [c for c in checks if c.outcome is Outcome.PASSED]
    advisory = [c for c in checks if c.check.level is Level.ADVISORY]
    errored = [c for c in checks if c.outcome is not Outcome.FAILED]
    return {
        "everything": _run(checks, restore=_restores(failed=True), notes=["budget spent"]),
        "interrupted": _run(checks[:3], interrupted=True),
        "errored": _run(errored, restore=_restores(failed=False)),
        "restore-failed": _run(passed, restore=_restores(failed=True)),
        "other-writers": _run(passed, other_writers=("conv_1",)),
        "deadline": _run(passed, deadline_reached=True),
        "advisory-warning": _run(passed + advisory[:1]),
        "strict": _run(advisory, settings=replace(_run([]).settings, strict=True)),
        "nothing-ran": _run([]),
        "conformant": _run(passed, restore=_restores(failed=False)),
    }


def every_matrix(extra: tuple[Column, ...] = ()) -> dict[str, Matrix]:
    """Matrices with every cell kind (absent cells included) and every overall verdict."""
    runs = every_run()
    full = Column("vendor-x", "vendor-x", "x.toml", runs["everything"])
    clean = Column("clean", "clean", "clean.toml", runs["conformant"])  # most cells absent
    stopped = Column("stopped", "stopped", "stopped.toml", runs["interrupted"])
    gone = Column("gone", "gone", "gone.toml", problem=Problem("unreachable", "start it"))
    errored = Column("flaky", "flaky", "flaky.toml", runs["errored"])

    def matrix(*columns: Column, interrupted: bool = False) -> Matrix:
        return Matrix(
            list(columns), "run", "0.1.0", "2025-11-25T13:48:00Z", 9.5, 1, False, interrupted
        )

    return {
        "everything": matrix(full, clean, stopped, gone, errored, *extra),
        "interrupted": matrix(full, clean, interrupted=True),
        "inconclusive": matrix(clean, gone),
        "one-ok": matrix(clean),
        "all-ok": matrix(clean, replace(clean, name="clean 2", slug="clean-2")),
    }


@pytest.fixture(scope="module")
def emulator_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """A real run against the embedded emulator with two faults on: failures and passes,
    with the generated and edge-case data (emoji included) its exchanges carry."""
    out = tmp_path_factory.mktemp("emulator-run")
    faults = ("semantics-null-ignored", "shape-wrong-type")
    checks = ("META-NULL-CLEARS", "META-REPLACE", "ROBUST-EDGE-VALUES", "SHAPE-SCHEMA")
    options = run_options(GivenOptions(seed=1, checks=checks))
    result, paths = execute(Job(TargetSpec(faults=faults), options), out)
    assert {r.outcome for r in result.checks} == {Outcome.PASSED, Outcome.FAILED}
    return result, paths["html"]


# --- (1) no emoji in the pages ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(every_run()))
def test_report_html_has_no_emoji_whatever_the_verdict(name: str) -> None:
    result = every_run()[name]
    page = render_html(result)
    assert emoji_in(page) == []
    headline = verdict(result)
    title = re.search(r"<title>(.*)</title>", page)
    assert title is not None  # text only: the sentence, the tool, the target
    assert title.group(1) == escape(f"{headline.headline} - agentphone-conformance - vendor-x")
    h1 = re.search(r"<h1>(<svg .*</svg>) (.*)</h1>", page)
    assert h1 is not None  # the mark, then the sentence
    assert h1.group(2) == escape(headline.headline, quote=True)
    assert h1.group(1) == mark(headline.mark or headline.status)


def test_report_html_marks_every_outcome_where_it_is_shown() -> None:
    result = every_run()["everything"]
    page = render_html(result)
    for key, (label, _) in KINDS.items():
        # the legend, a count chip, a tile and a row for each of the seven kinds
        assert page.count(f'aria-label="{label}"') >= 4, key
    assert page.count("<svg ") == page.count("</svg>")
    assert 'aria-label="warning"' in page  # the restore alert
    assert "NOT restored" in page and "Restored:" in page


@pytest.mark.parametrize("name", list(every_matrix()))
def test_matrix_html_has_no_emoji_whatever_the_verdict(name: str) -> None:
    matrix = every_matrix()[name]
    page = render_matrix_html(matrix)
    assert emoji_in(page) == []
    title = re.search(r"<title>(.*)</title>", page)
    assert title is not None
    assert title.group(1).startswith(escape(matrix_verdict(matrix).headline) + " - ")


def test_matrix_html_marks_every_cell_kind_and_status() -> None:
    matrix = every_matrix()["everything"]
    page = render_matrix_html(matrix)
    for key, (label, _, _) in CELL_KINDS.items():
        assert f'<td class="cell k-{key}">' in page, key
        assert f'aria-label="{label}"' in page, key
    for status in Status:
        assert f'aria-label="{MARKS[status.value][0]}"' in page, status
    cells = re.findall(r'<td class="cell k-[a-z-]+">(.*?)</td>', page)
    assert cells and all("<svg " in cell for cell in cells)


def test_a_real_run_shows_no_emoji_but_those_its_data_holds(
    emulator_run: tuple[RunResult, Path],
) -> None:
    """The target's own data is shown as it is (an edge-value check sends emoji); nothing
    else on the page is an emoji."""
    result, html = emulator_run
    data = json.dumps(result.to_dict(), ensure_ascii=False)
    column = Column("emulator", "emulator", "embedded", result)
    for page in (
        html.read_text(encoding="utf-8"),
        render_matrix_html(every_matrix((column,))["everything"]),
    ):
        assert set(emoji_in(page)) <= set(emoji_in(data))
        for emoji in {e for _, e in KINDS.values()} | {e for _, e, _ in CELL_KINDS.values()}:
            assert emoji not in page or emoji in data, emoji


# --- (2) the marks themselves ----------------------------------------------------------------


def _headline_marks() -> set[str]:
    runs, matrices = every_run(), every_matrix()
    headlines: list[Headline] = [verdict(r) for r in runs.values()]
    headlines += [matrix_verdict(m) for m in matrices.values()]
    headlines += [column_verdict(c) for m in matrices.values() for c in m.columns]
    return {h.mark or h.status for h in headlines}


def test_every_kind_status_change_and_verdict_has_a_mark() -> None:
    wanted = set(KINDS) | set(CELL_KINDS) | {s.value for s in Status} | {c.value for c in Change}
    wanted |= {"interrupted", "errored", "other-writers", "deadline", "nothing-ran"}
    assert wanted <= set(MARKS), wanted - set(MARKS)
    assert _headline_marks() <= set(MARKS)
    assert _headline_marks() >= {"ok", "fail", "inconclusive", "interrupted", "unusable"}
    assert set(CHANGES) <= set(MARKS)


@pytest.mark.parametrize("key", list(MARKS))
def test_each_mark_is_small_well_formed_labelled_svg(key: str) -> None:
    svg = mark(key)
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == "svg"
    assert root.get("role") == "img" and root.get("aria-label") == MARKS[key][0]
    assert root.get("width", "").endswith("em") and root.get("height", "").endswith("em")
    assert root.get("viewBox") == "0 0 16 16"
    assert len(root) >= 1  # something is drawn
    assert svg.isascii() and emoji_in(svg) == []
    assert len(svg) < 800
    for element in root.iter():
        for name, value in element.attrib.items():
            assert "href" not in name and "url(" not in value, (key, name, value)
        assert element.tag in {"svg", "circle", "path", "rect"}, element.tag
    assert MARKS[key][1].lower() in svg.lower()  # drawn in its colour


def test_marks_are_told_apart_by_shape_not_only_colour() -> None:
    """Two keys with different meanings either differ in drawing or are synonyms."""
    synonyms = [
        {"passed", "ok", "fixed"},
        {"failed-required", "fail", "regressed"},
        {"failed-advisory", "warning"},
        {"skipped", "not-run"},
        {"error", "errored"},
    ]
    drawings: dict[str, set[str]] = {}
    for key, (_, colour, draw) in MARKS.items():
        drawings.setdefault(draw(colour), set()).add(key)
    for keys in drawings.values():
        assert len(keys) == 1 or keys in synonyms, keys


# --- the PNG reader the browser tests use ----------------------------------------------------


def _png(width: int, height: int, channels: int, rows: list[bytes], filters: list[int]) -> bytes:
    """An 8-bit RGB(A) PNG with each row filtered by the given type (0-4)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = bytearray()
    previous = bytes(width * channels)
    for row, kind in zip(rows, filters, strict=True):
        out = bytearray()
        for i, value in enumerate(row):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            paeth = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            predicted = [0, left, up, (left + up) // 2, paeth][kind]
            out.append((value - predicted) & 0xFF)
        raw += bytes([kind]) + out
        previous = row
    colour_type = {3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [3, 4])
def test_the_png_reader_undoes_every_filter(tmp_path: Path, channels: int) -> None:
    rng = random.Random(channels)
    width, height = 7, 10
    rows = [bytes(rng.randrange(256) for _ in range(width * channels)) for _ in range(height)]
    filters = [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]
    path = tmp_path / "t.png"
    path.write_bytes(_png(width, height, channels, rows, filters))
    assert png_size(path) == (width, height)
    expected = [tuple(row[i : i + 3]) for row in rows for i in range(0, width * channels, channels)]
    assert pixels(path) == expected
    assert distinct_colours(path) == len(set(expected))


# --- (3) in a real browser, with no emoji font -----------------------------------------------

needs_browser = pytest.mark.skipif(
    browser() is None,
    reason="no headless Chromium (/usr/bin/chromium, or chromium, chromium-browser or "
    "google-chrome on PATH): the pages cannot be rendered here",
)


@needs_browser
@pytest.mark.parametrize("page", ["report", "matrix"])
def test_the_pages_render_in_a_browser(tmp_path: Path, page: str) -> None:
    html = tmp_path / f"{page}.html"
    if page == "report":
        html.write_text(render_html(every_run()["everything"]), encoding="utf-8")
    else:
        html.write_text(render_matrix_html(every_matrix()["everything"]), encoding="utf-8")
    png = tmp_path / f"{page}.png"
    assert screenshot(html, png, width=1280, height=1400)
    assert png_size(png) == (1280, 1400)
    assert distinct_colours(png) >= 40  # text, chips, marks: not a blank page


CELL = 128  # px: each mark drawn 96 px high-ish in a cell of its own
COLUMNS = 6


def _gallery(keys: list[str]) -> str:
    cells = "".join(
        f'<div style="position:absolute;left:{(n % COLUMNS) * CELL}px;'
        f"top:{(n // COLUMNS) * CELL}px;width:{CELL}px;height:{CELL}px;font-size:96px;"
        f'line-height:1;display:flex;align-items:center;justify-content:center">'
        f"{mark(key)}</div>"
        for n, key in enumerate(keys)
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin:0;background:#fff">{cells}</body></html>'
    )


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@needs_browser
def test_each_mark_renders_in_its_colour_without_an_emoji_font(tmp_path: Path) -> None:
    keys = list(MARKS)
    html, png = tmp_path / "marks.html", tmp_path / "marks.png"
    html.write_text(_gallery(keys), encoding="utf-8")
    rows = -(-len(keys) // COLUMNS)
    assert screenshot(html, png, width=COLUMNS * CELL, height=rows * CELL)
    width, _ = png_size(png)
    every = pixels(png)
    regions: dict[str, list[tuple[int, int, int]]] = {}
    for n, key in enumerate(keys):
        x0, y0 = (n % COLUMNS) * CELL, (n // COLUMNS) * CELL
        regions[key] = [every[(y0 + y) * width + x0 + x] for y in range(CELL) for x in range(CELL)]
    for key, region in regions.items():
        target = _rgb(MARKS[key][1])
        near = sum(
            1 for p in region if max(abs(a - b) for a, b in zip(p, target, strict=True)) <= 24
        )
        assert near >= 600, (key, MARKS[key][1], near)  # the mark is there, in its colour
        white = sum(1 for p in region if min(p) >= 245)
        assert white < len(region), key
    # marks drawn differently look different on screen too
    for a in keys:
        for b in keys:
            if a < b and mark(a).split(">", 1)[1] != mark(b).split(">", 1)[1]:
                assert regions[a] != regions[b], (a, b)
