"""Text out: no value the suite prints is ever read as markup, in any output.

A target's answer may hold `[null, null]`, `[bold]`, `[/]` or `:smile:`; the terminal
(rich), summary.md (markdown), report.html and junit.xml must show it as it is. Each
output is judged by reading it back as its reader would: the terminal's text, markdown
rendered by markdown-it (the renderer rich itself ships), HTML parsed, XML parsed.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

import conformance.cli
from conformance.cli._comparison import print_comparison
from conformance.cli._matrix import MatrixReporter, print_matrix
from conformance.cli._terminal import print_result
from conformance.cli._text import plain_console
from conformance.model import Baseline, Column, Matrix, compare
from conformance.model._results import Finding, Level, Outcome, RestoreRecord, RunResult
from conformance.reports import render_changes_markdown, render_html, render_junit
from conformance.reports._common import one_line, table_rows
from conformance.reports._markdown import render_summary_markdown

from .test_reports import _check, _exchange, _run

#: Every way rich, markdown or HTML could bend a value.
HOSTILE = (
    '"list": [null, null] [bold]b[/] [/] [red on blue]x[/red on blue] :smile: '
    "[link=https://e.x]l[/link] *em* _u_ `c` <i>i</i> &amp; \\[esc]"
)
#: What must be seen of it (markdown and HTML collapse nothing here but runs of spaces).
SEEN = [
    '"list": [null, null]',
    "[bold]b[/] [/]",
    "[red on blue]x[/red on blue]",
    ":smile:",
    "[link=https://e.x]l[/link]",
    "*em* _u_ `c`",
    "<i>i</i> &amp;",
    "\\[esc]",
]


def _hostile_result(hostile: str = HOSTILE) -> RunResult:
    failed = _check(
        "META-REPLACE",
        "metadata",
        Outcome.FAILED,
        reason=f"the answer held {hostile}",
        findings=[
            Finding(
                f"the answer held {hostile}",
                _exchange(status=200, response_body='{"metadata": {"list": [null, null]}}'),
            )
        ],
    )
    passed = _check("AUTH-MISSING-REJECTED", "auth", Outcome.PASSED)
    not_applicable = _check(
        "WEBHOOK-STATE-AFTER-PATCH",
        "webhook",
        Outcome.NOT_APPLICABLE,
        level=Level.ADVISORY,
        reason=f"no webhook: {hostile}",
    )
    restore = [
        RestoreRecord("conv_x", False, f"could not: {hostile}", {"k": [None, None]}, "curl x")
    ]
    result = _run(
        [failed, passed, not_applicable],
        restore=restore,
        notes=[f"note {hostile}"],
        rerun=f"agentphone-conformance run --target '{hostile}'",
    )
    return replace(result, target=replace(result.target, name=f"name {hostile}"))


def _seen_in(text: str, where: str) -> None:
    flat = re.sub(r"\s+", " ", text)
    for piece in SEEN:
        assert piece in flat, f"{where} bent {piece!r}"


def _terminal(print_it) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    print_it(plain_console(file=buffer, width=2000))
    return buffer.getvalue()


def test_the_terminal_prints_every_value_as_it_is() -> None:
    result = _hostile_result()
    out = _terminal(lambda console: print_result(console, result, {}))
    for line in ("the answer held", "no webhook:", "could not:", "note ", "rerun:", "name "):
        shown = next(x for x in out.splitlines() if line in x)
        _seen_in(shown, f"the terminal's {line!r} line")


def test_the_comparison_in_the_terminal_prints_every_value_as_it_is() -> None:
    before = _run([_check("META-REPLACE", "metadata", Outcome.PASSED)])
    comparison = compare(Baseline(source=f"base {HOSTILE}", report=before), _hostile_result())
    for short in (True, False):
        out = _terminal(lambda console, s=short: print_comparison(console, comparison, short=s))
        regressed = next(x for x in out.splitlines() if "META-REPLACE" in x)
        _seen_in(regressed, "the comparison's regression line")
    text, tags = _md(render_changes_markdown(comparison))
    _seen_in(text, "the comparison's markdown")
    plain = compare(Baseline(source="base", report=before), _hostile_result("plain words"))
    assert tags == _md(render_changes_markdown(plain))[1]  # no value became an element


def test_the_matrix_in_the_terminal_prints_every_value_as_it_is() -> None:
    result = _hostile_result()
    column = Column(name=f"vendor {HOSTILE}", slug="vendor", source="x.toml", result=result)
    matrix = Matrix(columns=[column], mode="merge", tool_version="0", started_at="2026-01-01")
    out = _terminal(lambda console: print_matrix(console, matrix, {}))
    _seen_in(next(x for x in out.splitlines() if "vendor" in x), "the matrix's target row")
    progress = _terminal(lambda console: MatrixReporter(console).started(f"t {HOSTILE}"))
    _seen_in(progress, "the matrix's progress line")


def test_run_prints_a_finding_that_holds_a_list_of_nulls(tmp_path: Path) -> None:
    """End to end: the command's own console, a real finding holding JSON arrays."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "conformance"),
            *("run", "--emulator-fault", "storage-arrays-deduplicated"),
            *("--check", "ROUNDTRIP-METADATA", "--report-dir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert '["a", "b", 1, null]' in done.stdout


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_text(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts), parser.tags


def _md(markdown: str) -> tuple[str, list[str]]:
    """What a reader sees of `markdown`, rendered as GitHub would (CommonMark, tables)."""
    return _html_text(MarkdownIt("commonmark").enable("table").render(markdown))


def _md_text(markdown: str) -> str:
    return _md(markdown)[0]


def test_summary_md_shows_every_value_as_it_is() -> None:
    text, tags = _md(render_summary_markdown(_hostile_result()))
    _seen_in(text, "summary.md")
    assert tags == _md(render_summary_markdown(_hostile_result("plain words")))[1]


def test_report_html_shows_every_value_as_it_is() -> None:
    text, tags = _html_text(render_html(_hostile_result()))
    _seen_in(text, "report.html")
    assert tags == _html_text(render_html(_hostile_result("plain words")))[1]


def test_junit_shows_every_value_as_it_is() -> None:
    root = ET.fromstring(render_junit(_hostile_result()))
    failure = next(root.iter("failure"))
    _seen_in(failure.get("message", "") + (failure.text or ""), "junit.xml")


@pytest.mark.parametrize("path", sorted(Path(conformance.cli.__file__).parent.glob("*.py")))
def test_every_console_is_made_plain(path: Path) -> None:
    """No console reads markup: each is made by plain_console, style comes from Text
    pieces, and no progress column parses its description."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "rich.markup":
            pytest.fail(f"{path.name} escapes markup by hand: use _text's consoles")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "Console" and path.name != "_text.py":
                pytest.fail(f"{path.name}:{node.lineno} makes a Console: use plain_console")
            if node.func.id == "TextColumn":
                markup = {k.arg: k.value for k in node.keywords}.get("markup")
                assert isinstance(markup, ast.Constant) and markup.value is False, path.name


# --- rows that share a reason ------------------------------------------------------------

WEBHOOKS = "opt-in: point a test account's webhook at --webhook-listen (README, Webhooks)"


def _not_run_result() -> RunResult:
    checks = [
        _check("WEBHOOK-SIGNED", "webhook", Outcome.NOT_APPLICABLE, reason=WEBHOOKS),
        _check("AUTH-MISSING-REJECTED", "auth", Outcome.PASSED),
        _check("WEBHOOK-ID-UNIQUE", "webhook", Outcome.NOT_APPLICABLE, reason=WEBHOOKS),
        _check("LIST-PAGES", "semantics", Outcome.NOT_APPLICABLE, reason="no list"),
        _check("WEBHOOK-PAYLOAD-SHAPE", "webhook", Outcome.SKIPPED, reason=WEBHOOKS),
        _check(
            "WEBHOOK-STATE-AFTER-PATCH",
            "webhook",
            Outcome.NOT_APPLICABLE,
            level=Level.ADVISORY,
            reason=WEBHOOKS,
        ),
    ]
    return _run(checks)


def test_checks_that_did_not_run_for_one_reason_share_one_row() -> None:
    result = _not_run_result()
    grouped = [[r.check.id for r in row] for row in table_rows(result)]
    assert grouped == [
        ["WEBHOOK-SIGNED", "WEBHOOK-ID-UNIQUE", "WEBHOOK-STATE-AFTER-PATCH"],
        ["AUTH-MISSING-REJECTED"],
        ["LIST-PAGES"],
        ["WEBHOOK-PAYLOAD-SHAPE"],  # skipped, not the same outcome: a row of its own
    ]
    summary = render_summary_markdown(result)
    rows = [x for x in summary.splitlines() if "point a test account" in x]
    assert len(rows) == 2  # the not-applicable three, the skipped one
    assert all(c in rows[0] for c in ("`WEBHOOK-SIGNED`", "`WEBHOOK-ID-UNIQUE`"))
    assert "| required, advisory |" in rows[0]
    out = _terminal(lambda console: print_result(console, result, {}))
    assert out.count("point a test account") == 2
    for check in ("WEBHOOK-SIGNED", "WEBHOOK-ID-UNIQUE", "WEBHOOK-STATE-AFTER-PATCH"):
        assert check in out
    # junit keeps a testcase per check: CI tools count them
    names = [case.get("name") for case in ET.fromstring(render_junit(result)).iter("testcase")]
    assert len(names) == len(result.checks)


@pytest.mark.parametrize("limit", [20, 40, 61, 160])
def test_a_long_reason_is_cut_between_words(limit: int) -> None:
    text = "webhook checks are opt-in against a target the suite did not start, " * 4
    cut = one_line(text, limit)
    assert len(cut) <= limit and cut.endswith("…")
    kept = cut[:-1].split(" ")
    assert kept == text.split(" ")[: len(kept)]  # whole words, in order
    assert one_line("short words", limit) == "short words"


def test_one_word_longer_than_the_limit_is_still_cut() -> None:
    assert one_line("x" * 50, 10) == "x" * 9 + "…"


def test_a_long_json_value_is_cut_after_a_whole_member() -> None:
    from conformance.checks.semantics import _short

    value = {"conformance_old": 1, "conformance_shared": "new", "nested": {"n": 2}, "list": ["x"]}
    cut = _short(value, 60)
    assert cut.endswith(" …") and len(cut) <= 62
    assert cut[:-2].endswith(",") and '"list": ["' not in cut  # no member cut in half
    assert _short({"a": 1}) == '{"a": 1}'
    assert _short("y" * 100, 20) == '"' + "y" * 19 + " …"  # one string: cut anywhere


def test_the_count_line_says_which_failures_do_not_gate() -> None:
    advisory = _check("AUTH-WWW-AUTHENTICATE", "auth", Outcome.FAILED, level=Level.ADVISORY)
    required = _check("META-REPLACE", "metadata", Outcome.FAILED)
    passed = _check("META-NULL-CLEARS", "metadata", Outcome.PASSED)
    for checks, words in [
        ([advisory, passed], "1 passed, 1 failed (advisory)"),
        ([advisory, required], "2 failed (1 advisory)"),
        ([required], "1 failed"),
    ]:
        out = _terminal(lambda console, c=checks: print_result(console, _run(c), {}))
        line = next(x for x in out.splitlines() if x.startswith("seed "))
        assert line.endswith(words), line
