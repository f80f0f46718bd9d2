"""`agentphone-conformance history`: three real runs of the embedded emulator (a fault off,
on, off) drawn as one history, through the real CLI - the change at the right run in
history.json (valid against its schema), history.md and history.html, and the page in a
headless browser; then the rules on synthetic reports: stretches of failures, check sets
that differ between versions of the suite, grouping by target, --last, hundreds of runs,
and bad input (exit 2, one line).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import conformance
from conformance.cli import cli
from conformance.core import GivenOptions, TargetSpec
from conformance.emulator import FAULTS
from conformance.jobs import Job, execute, load_history, run_options
from conformance.model import (
    CheckInfo,
    CheckResult,
    History,
    HistoryRun,
    Level,
    Outcome,
    RunResult,
    RunSettings,
    TargetInfo,
    build_history,
)
from conformance.reports import (
    history_schema,
    history_to_dict,
    render_history_html,
    render_history_markdown,
    write_history,
    write_json,
)

from ._browser import browser, pixels, png_size, screenshot
from .conftest import run_cli

SCHEMA = Path(conformance.__file__).parent / "schemas" / "history.schema.json"
FAULT = "semantics-null-ignored"
CHECK = "META-NULL-CLEARS"
KEY = "sk_live_history_test_0123456789"

# Code points that are emoji or make the character before them one (as tests/test_html_marks
# says): pictographs, dingbats, symbols and arrows with an emoji presentation, selectors.
EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"
    "\u2600-\u27bf"
    "\u2b00-\u2bff"
    "\u2300-\u23ff"
    "\u25a0-\u25ff"
    "\u2190-\u21ff\u2900-\u297f"
    "\u3030\u303d\u3297\u3299\u00a9\u00ae\u203c\u2049\u2122\u2139\u24c2"
    "\u200d\ufe0e\ufe0f\u20e3"
    "\U000e0000-\U000e007f"
    "]"
)
# Anything that would load from elsewhere: a src/href/action/srcset/xlink:href to a URL with
# a scheme or a protocol-relative one, a CSS url() or @import.
EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|srcset|xlink:href|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//))"""
    r"""|url\s*\(|@import""",
    re.I,
)


def validate(data: Any) -> None:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)


class _Text(HTMLParser):
    """The text a person reads, and each element's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


def parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


# --- three real runs: the fault off, on, off ----------------------------------------------


@dataclass(frozen=True)
class Drawn:
    runs: Path  # run1/, run2/, run3/: each a report directory; out beside them
    out: Path
    stdout: str
    stderr: str
    returncode: int

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "history.json").read_text("utf-8"))
        return data

    def md(self) -> str:
        return (self.out / "history.md").read_text("utf-8")

    def html(self) -> str:
        return (self.out / "history.html").read_text("utf-8")


def _save_runs(runs: Path) -> None:
    for number, faults in enumerate(((), (FAULT,), ()), start=1):
        job = Job(TargetSpec(faults=faults), run_options(GivenOptions(seed=number)))
        result, _ = execute(job, runs / f"run{number}")
        assert result.exit_code == (1 if faults else 0), result.exit_code


@pytest.fixture(scope="session")
def saved_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs of the embedded emulator - without the fault, with it, without - saved as
    `run` saves them (run1/, run2/, run3/). Under xdist the workers share one set: the first
    to get here makes it, under a lock, the others wait for it."""
    worker = getattr(request.config, "workerinput", None)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): each worker makes its own
        worker = None
    if worker is None:
        runs = tmp_path_factory.mktemp("history-runs")
        _save_runs(runs)
        return runs
    runs = tmp_path_factory.getbasetemp().parent / "history-runs"  # this session's, shared
    runs.mkdir(exist_ok=True)
    with (runs / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (runs / ".done").exists():
                _save_runs(runs)
                (runs / ".done").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return runs


@pytest.fixture(scope="module")
def drawn(saved_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Drawn:
    """`history` over the runs' directory, through the real command line, into a directory
    beside them (so the links to their report.html read ../runN/report.html)."""
    out = saved_runs / f"history-{tmp_path_factory.getbasetemp().name}"
    proc = run_cli("history", str(saved_runs), "--out", str(out), timeout=120)
    return Drawn(saved_runs, out, proc.stdout, proc.stderr, proc.returncode)


def test_the_runs_share_one_target_whatever_the_faults(drawn: Drawn) -> None:
    reports = [json.loads((drawn.runs / f"run{n}" / "report.json").read_text()) for n in (1, 2, 3)]
    assert {r["target"]["name"] for r in reports} == {"embedded emulator"}
    assert [r["target"]["faults"] for r in reports] == [[], [FAULT], []]
    # Each run's emulator listened on a port of its own: the base URL is no target's name.
    assert len({r["target"]["base_url"] for r in reports}) == 3
    assert drawn.returncode == 0, drawn.stderr
    [target] = drawn.json()["targets"]
    assert target["embedded"] and [r["seed"] for r in target["runs"]] == [1, 2, 3]


def test_history_json_says_failing_since_run_2_fixed_in_run_3(drawn: Drawn) -> None:
    data = drawn.json()
    validate(data)
    assert history_schema() == json.loads(SCHEMA.read_text("utf-8"))
    assert data["format"] == 1 and data["runs"] == 3 and data["skipped"] == []
    [target] = data["targets"]
    assert [r["status"] for r in target["runs"]] == ["ok", "fail", "ok"]
    assert [r["faults"] for r in target["runs"]] == [[], [FAULT], []]
    assert target["latest"] == {"run": 3, "status": "ok", "headline": "conformant"}
    for run in target["runs"]:
        assert run["report_html"] == f"../run{run['number']}/report.html"
        assert run["report_json"] == f"../run{run['number']}/report.json"
    checks = {c["id"]: c for c in target["checks"]}
    for check_id in FAULTS[FAULT].trips:
        check = checks[check_id]
        assert check["outcomes"] == ["passed", "failed-required", "passed"]
        assert check["stretches"] == [
            {"since": 2, "last_failed": 2, "fixed_in": 3, "from_start": False}
        ]
        assert check["failing_now"] is False
        assert check["since_when"].startswith("failing since run 2 (")
        assert ", fixed in run 3 (" in check["since_when"]
    assert (
        checks["META-REPLACE"]["stretches"] == [] and checks["META-REPLACE"]["since_when"] is None
    )
    changes = target["changes"]
    assert changes["from_run"] == 2 and changes["to_run"] == 3
    assert set(FAULTS[FAULT].trips) <= set(changes["fixed"]) and changes["newly_failing"] == []
    assert {"id": CHECK, "before": "failed-required", "after": "passed"} in changes["changed"]


def test_history_md_states_the_change_and_since_when(drawn: Drawn) -> None:
    md = drawn.md()
    assert md.startswith("## History: embedded emulator: conformant in the latest of 3 runs")
    assert "**Run 3 against run 2:**" in md
    assert f"- fixed: `{CHECK}` (required)" in md
    [line] = [x for x in md.splitlines() if x.startswith(f"- `{CHECK}`")]
    assert "failing since run 2 (" in line and "fixed in run 3 (" in line
    assert "| 2 |" in md and "FAIL" in md
    assert not EMOJI.search(md)


def test_history_html_states_the_change_and_draws_the_timeline(drawn: Drawn) -> None:
    html = drawn.html()
    page = parse(html)
    assert f"fixed: {CHECK} required" in page.text
    assert f"{CHECK} required: failing since run 2 (" in page.text
    assert "fixed in run 3 (" in page.text
    # The timeline's row of the check: passed, failed (required), passed, as cells with text.
    [row] = re.findall(rf"<tr><th class=\"check\"[^>]*><code>{CHECK}</code>.*?</tr>", html)
    cells = re.findall(r'<td class="c (k-[a-z-]+)[^"]*" title="([^"]*)">', row)
    assert [c[0] for c in cells] == ["k-passed", "k-failed-required", "k-passed"]
    assert all(f"{CHECK} in run {n} (" in title for n, (_, title) in enumerate(cells, 1))
    # Each run's column: its date, seed and version, linked to its report.html.
    heads = [
        attrs for tag, attrs in page.elements if tag == "th" and "run" in str(attrs.get("class"))
    ]
    assert len(heads) == 3
    for number, attrs in enumerate(heads, start=1):
        title = str(attrs["title"])
        assert title.startswith(f"run {number} · 20") and f"seed {number}" in title
        assert conformance.__version__ in title
        assert f'href="../run{number}/report.html"' in html
    assert '<svg class="chart"' in html and "Failures per run" in page.text


def test_the_page_is_self_contained_and_has_no_emoji(drawn: Drawn) -> None:
    html = drawn.html()
    assert 'http-equiv="Content-Security-Policy"' in html and "default-src 'none'" in html
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "<img" not in html.lower() and "<iframe" not in html.lower()
    assert not EMOJI.search(html), EMOJI.search(html)


def test_the_terminal_says_where_the_history_is(drawn: Drawn) -> None:
    assert "embedded emulator (3 runs): latest conformant" in drawn.stdout
    assert str(drawn.out / "history.html") in drawn.stdout
    assert drawn.stderr == ""


needs_browser = pytest.mark.skipif(
    browser() is None, reason="no headless Chromium: the page cannot be rendered here"
)


def _near(pixel: tuple[int, int, int], colour: str, tolerance: int = 12) -> bool:
    rgb = (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))
    return max(abs(a - b) for a, b in zip(pixel, rgb, strict=True)) <= tolerance


@needs_browser
def test_the_page_renders_in_a_browser(drawn: Drawn, tmp_path: Path) -> None:
    """Headless Chromium draws the page: not blank, and the top 1400 px (the verdict, the
    change, the chart, the start of the timeline) show the passed green and failed red."""
    png = tmp_path / "history.png"
    assert screenshot(drawn.out / "history.html", png, width=1280, height=1400)
    assert png_size(png) == (1280, 1400)
    every = pixels(png)  # decoded once: pure Python, a few seconds
    assert len(set(every[:: len(every) // 5000])) >= 40  # text, chart, cells: not blank
    assert sum(1 for p in every if _near(p, "#1a7f37")) > 2000
    assert sum(1 for p in every if _near(p, "#cf222e")) > 200


# --- synthetic reports: the rules -----------------------------------------------------------


def info(check_id: str, level: Level = Level.REQUIRED, family: str = "semantics") -> CheckInfo:
    return CheckInfo(check_id, family, level, f"{check_id} holds.", "the seed page")


def result(
    started_at: str,
    outcomes: dict[str, Outcome],
    *,
    name: str = "vendor-x",
    base_url: str = "https://api.vendor-x.example",
    embedded: bool = False,
    version: str = "0.1.0",
    seed: int = 1,
    levels: dict[str, Level] | None = None,
) -> RunResult:
    levels = levels or {}
    return RunResult(
        tool_version=version,
        target=TargetInfo(name, base_url, embedded),
        settings=RunSettings(seed, "quick", 400, None, 1.0, False, False),
        started_at=started_at,
        duration_s=1.0,
        requests_sent=10,
        checks=[
            CheckResult(
                info(check_id, levels.get(check_id, Level.REQUIRED)),
                outcome,
                reason="it did not" if outcome is Outcome.FAILED else "",
            )
            for check_id, outcome in outcomes.items()
        ],
    )


def when(n: int) -> str:
    return f"2026-01-{1 + n // 24:02d}T{n % 24:02d}:00:00Z"


def history_of(*results: RunResult, last: int | None = None) -> History:
    runs = [HistoryRun(r, Path(f"r{n}/report.json")) for n, r in enumerate(results)]
    return build_history(runs, tool_version="9.9", generated_at=when(0), last=last)


P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED


def test_runs_are_ordered_by_start_not_by_the_order_given() -> None:
    history = history_of(result(when(3), {"A": P}, seed=3), result(when(1), {"A": F}, seed=1))
    [timeline] = history.timelines
    assert [r.result.settings.seed for r in timeline.runs] == [1, 3]
    assert [r.number for r in timeline.runs] == [1, 2]
    assert [line.check.id for line in timeline.fixed()] == ["A"]


def test_runs_not_judging_a_check_neither_start_nor_end_a_stretch() -> None:
    history = history_of(
        *(
            result(when(n), {"A": o, "B": b})
            for n, (o, b) in enumerate([(F, P), (E, F), (F, S), (P, E), (F, F)], start=1)
        )
    )
    [timeline] = history.timelines
    lines = {line.check.id: line for line in timeline.lines}
    a, b = lines["A"].stretches, lines["B"].stretches
    assert [(s.since, s.last_failed, s.fixed_in, s.from_start) for s in a] == [
        (1, 3, 4, True),
        (5, 5, None, False),
    ]
    assert [(s.since, s.last_failed, s.fixed_in, s.from_start) for s in b] == [(2, 5, None, False)]
    data = history_to_dict(history)
    validate(data)
    words = {c["id"]: c["since_when"] for c in data["targets"][0]["checks"]}
    assert words["A"].startswith("failing since run 5 (2026-01-01 05:00 UTC), the latest run;")
    assert "failing since run 1 (2026-01-01 01:00 UTC) or earlier" in words["A"]
    assert "fixed in run 4 (2026-01-01 04:00 UTC)" in words["A"]
    assert lines["A"].failing_now is not None and lines["B"].failing_now is not None


def test_a_stretch_not_judged_since_says_so() -> None:
    history = history_of(
        result(when(1), {"A": P}), result(when(2), {"A": F}), result(when(3), {"A": E})
    )
    [timeline] = history.timelines
    [line] = timeline.lines
    assert line.failing_now is None
    [check] = history_to_dict(history)["targets"][0]["checks"]
    assert check["since_when"] == (
        "failing since run 2 (2026-01-01 02:00 UTC), last failed in run 2; not judged since "
        "(error, skipped or not run)"
    )


def test_check_sets_that_differ_between_versions_are_not_run_there(tmp_path: Path) -> None:
    old = result(when(1), {"A": P, "B": P}, version="0.1.0")
    new = result(when(2), {"A": P, "B": F, "C": F}, version="0.2.0")
    newest = result(when(3), {"A": P, "C": P}, version="0.3.0")
    history = history_of(old, new, newest)
    data = history_to_dict(history)
    validate(data)
    [target] = data["targets"]
    outcomes = {c["id"]: c["outcomes"] for c in target["checks"]}
    assert outcomes == {
        "A": ["passed", "passed", "passed"],
        "C": ["absent", "failed-required", "passed"],
        "B": ["passed", "failed-required", "absent"],
    }
    assert [r["tool_version"] for r in target["runs"]] == ["0.1.0", "0.2.0", "0.3.0"]
    assert target["changes"]["fixed"] == ["C"]
    assert {"id": "B", "before": "failed-required", "after": "absent"} in target["changes"][
        "changed"
    ]
    md = render_history_markdown(history)
    assert "- fixed: `C` (required)" in md and "- not run in run 3: 1 check (`B`)" in md
    html = render_history_html(history)
    assert html.count('class="c k-absent') == 2 and not EMOJI.search(html)


def test_targets_are_a_name_and_base_url_and_the_emulator_is_its_name() -> None:
    history = history_of(
        result(when(1), {"A": P}, name="emulator", base_url="http://127.0.0.1:4001", embedded=True),
        result(when(2), {"A": F}, name="emulator", base_url="http://127.0.0.1:4002", embedded=True),
        result(when(1), {"A": P}, name="vendor-x", base_url="https://a.example"),
        result(when(2), {"A": P}, name="vendor-x", base_url="https://b.example"),
    )
    data = history_to_dict(history)
    validate(data)
    names = [(t["name"], t["base_url"], len(t["runs"]), t["slug"]) for t in data["targets"]]
    assert names == [
        ("emulator", "http://127.0.0.1:4002", 2, "emulator"),
        ("vendor-x", "https://a.example", 1, "vendor-x"),
        ("vendor-x", "https://b.example", 1, "vendor-x-2"),
    ]
    assert data["verdict"]["status"] == "fail"
    assert data["verdict"]["headline"].startswith("1 of 3 targets not conformant")


def test_hundreds_of_runs(tmp_path: Path) -> None:
    """200 small reports of two targets (100 runs each), versions of the suite with
    different check sets among them: read, drawn and kept, all of it; --last on them."""
    reports = tmp_path / "nightly"
    checks = [f"CHECK-{n}" for n in range(8)]
    for n in range(100):
        for target in ("vendor-a", "vendor-b"):
            outcomes = {c: F if (n // 20 + i) % 5 == 0 else P for i, c in enumerate(checks)}
            if n % 25 == 7:  # an older suite now and then: a check it did not have
                del outcomes["CHECK-7"]
            r = result(when(n), outcomes, name=target, seed=n, version=f"0.{n // 25}.0")
            write_json(r, reports / f"{n:03d}-{target}" / "report.json")
    history = load_history([reports])
    assert [len(t.runs) for t in history.timelines] == [100, 100]
    written = write_history(history, tmp_path / "out")
    data = json.loads(written["json"].read_text("utf-8"))
    validate(data)
    assert data["runs"] == 200
    stretches = data["targets"][0]["checks"][0]["stretches"]
    assert stretches[0] == {"since": 1, "last_failed": 20, "fixed_in": 21, "from_start": True}
    assert data["targets"][0]["checks"][-1]["outcomes"][7] == "absent"
    html = written["html"].read_text("utf-8")
    assert html.count('class="c k-') == 2 * 100 * 8 and not EMOJI.search(html)
    assert len(html) < 3_000_000
    assert len(written["markdown"].read_text("utf-8")) < 60_000
    runs = [run for timeline in history.timelines for run in timeline.runs]
    kept = build_history(runs, tool_version="9.9", generated_at=when(0), last=30)
    assert [len(t.runs) for t in kept.timelines] == [30, 30]
    assert [t.left_out for t in kept.timelines] == [70, 70]
    assert kept.timelines[0].runs[0].result.settings.seed == 70
    assert [r.number for r in kept.timelines[0].runs] == list(range(1, 31))
    kept_data = history_to_dict(kept)
    validate(kept_data)
    assert kept_data["last"] == 30 and kept_data["targets"][0]["left_out"] == 70


def test_last_through_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for n, outcome in enumerate((F, P, F), start=1):
        write_json(result(when(n), {"A": outcome}, seed=n), tmp_path / f"r{n}" / "report.json")
    code, out, err = history_cli(capsys, tmp_path, "--last", "2", "--out", tmp_path / "out")
    assert code == 0 and err == ""
    assert "vendor-x (2 runs): latest 1 required check failed" in out
    data = json.loads((tmp_path / "out" / "history.json").read_text("utf-8"))
    validate(data)
    [target] = data["targets"]
    assert data["last"] == 2 and target["left_out"] == 1
    assert [r["seed"] for r in target["runs"]] == [2, 3]
    assert target["changes"]["newly_failing"] == ["A"]
    md = (tmp_path / "out" / "history.md").read_text("utf-8")
    assert "- newly failing: `A` (required)" in md
    assert "- `A` (required): failing since run 2 (2026-01-01 03:00 UTC), the latest run" in md


def test_the_same_run_found_twice_counts_once(tmp_path: Path) -> None:
    r = result(when(1), {"A": P})
    write_json(r, tmp_path / "a" / "report.json")
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    history = load_history([tmp_path, tmp_path / "a" / "report.json"])
    assert history.runs == 1
    assert [s.reason.startswith("the same run as") for s in history.skipped] == [True]


def test_secrets_are_scrubbed_from_every_file(tmp_path: Path) -> None:
    r = result(when(1), {"A": F}, name=f"vendor {KEY}")
    r.checks[0].reason = f"the answer echoed {KEY}"
    history = history_of(r)
    written = write_history(history, tmp_path, secrets=[KEY])
    for path in written.values():
        text = path.read_text("utf-8")
        assert KEY not in text and "REDACTED" in text, path.name


def test_markup_from_a_report_is_escaped() -> None:
    r = result(when(1), {"A": F}, name="<script>alert(1)</script>")
    r.checks[0].reason = '"><img src=x onerror=alert(1)>'
    html = render_history_html(history_of(r))
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- bad input: exit 2, one line ------------------------------------------------------------


def history_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        cli.main(args=["history", *map(str, args)], prog_name="agentphone-conformance")
    captured = capsys.readouterr()
    code = exited.value.code
    return code if isinstance(code, int) else 1, captured.out, captured.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good" / "report.json"
    write_json(result(when(1), {"A": P}), path)
    return path


def test_no_report_given(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = history_cli(capsys, "--out", tmp_path / "out")
    assert code == 2 and one_line(err).startswith("error: no report given - ")


def test_a_path_that_does_not_exist(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = history_cli(capsys, tmp_path / "nope.json", "--out", tmp_path / "out")
    assert code == 2 and "no such file or directory" in one_line(err)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b'{"format": 99}', "report format 99"),
        (b'{"format": 1, "checks": []}', "not an agentphone-conformance report"),
    ],
    ids=["truncated", "binary", "other-format", "invalid"],
)
def test_a_named_file_that_is_not_a_report_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, good: Path, content: bytes, needle: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code, _, err = history_cli(capsys, good, bad, "--out", tmp_path / "out")
    line = one_line(err)
    assert code == 2 and str(bad) in line and needle in line
    assert not (tmp_path / "out" / "history.json").exists()


def test_a_bad_file_found_in_a_directory_is_a_warning_that_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, good: Path
) -> None:
    bad = tmp_path / "good" / "older" / "report.json"
    bad.parent.mkdir()
    bad.write_text('{"format": 99}', encoding="utf-8")
    code, out, err = history_cli(capsys, tmp_path / "good", "--out", tmp_path / "out")
    assert "vendor-x (1 runs): latest conformant" in out
    assert code == 0, err
    assert one_line(err).startswith(f"warning: left out {bad}: ") and "format 99" in err
    data = json.loads((tmp_path / "out" / "history.json").read_text("utf-8"))
    validate(data)
    assert [s["path"] for s in data["skipped"]] == ["../good/older/report.json"]
    assert data["runs"] == 1
    assert "1 file left out" in (tmp_path / "out" / "history.html").read_text("utf-8")


def test_no_readable_report_in_a_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    (empty / "x").mkdir(parents=True)
    (empty / "x" / "report.json").write_text("[]", encoding="utf-8")
    code, _, err = history_cli(capsys, empty, "--out", tmp_path / "out")
    assert code == 2 and "no readable report found in" in one_line(err)


def test_an_unwritable_out_is_refused_before_anything_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    code, _, err = history_cli(capsys, tmp_path / "nope.json", "--out", blocker / "out")
    line = one_line(err)
    assert code == 2 and "cannot write to" in line and "--out" in line


def test_bad_input_through_the_real_command_line(tmp_path: Path) -> None:
    proc = run_cli("history", str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_line(proc.stderr).startswith("error: no such file or directory: ")


def test_last_must_be_positive(capsys: pytest.CaptureFixture[str], good: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(args=["history", str(good), "--last", "0"], prog_name="agentphone-conformance")
    assert exited.value.code == 2


def test_the_model_keeps_no_evidence() -> None:
    r = result(when(1), {"A": F})
    r = replace(r, notes=["a note"])
    [timeline] = history_of(r).timelines
    kept = timeline.runs[0].result
    assert kept.notes == [] and all(c.findings == [] for c in kept.checks)
