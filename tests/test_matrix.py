"""`agentphone-conformance matrix`, end to end through the real CLI: the emulator and two
faulty emulators side by side, --merge of report.json files, a bad merge file, an
unreachable target as an unusable column; plus the scheduling rule (targets that share a
conversation never run together) and the CI examples.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

import conformance
from conformance.core import GivenOptions, resolve
from conformance.core._target import TargetSpec, load_target_file
from conformance.emulator import FAULTS
from conformance.jobs import Job
from conformance.jobs.matrix._job import MatrixTarget, conflict_groups
from conformance.reports import matrix_schema

from .conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(conformance.__file__).parent / "schemas" / "matrix.schema.json"
NULL_FAULT = "semantics-null-ignored"
SHAPE_FAULT = "shape-wrong-type"
MARKUP = "<script>alert(1)</script>"
KEY = "sk_live_matrix_test_0123456789"


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("matrix", *map(str, args), env={**(env or {}), "COLUMNS": "200"}, timeout=90)


def write_target(path: Path, name: str, *faults: str) -> Path:
    listed = ", ".join(json.dumps(f) for f in faults)
    path.write_text(f"name = {json.dumps(name)}\n\n[emulator]\nfaults = [{listed}]\n")
    return path


@dataclass(frozen=True)
class Run:
    proc: subprocess.CompletedProcess[str]
    out: Path

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "matrix.json").read_text("utf-8"))
        return data

    def column(self, name: str) -> tuple[int, dict[str, Any]]:
        targets = self.json()["targets"]
        index = next(i for i, t in enumerate(targets) if t["name"] == name)
        return index, targets[index]


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The emulator plus two faulty ones; one named with markup (escaping)."""
    base = tmp_path_factory.mktemp("matrix")
    null = write_target(base / "null.toml", "null-ignored", NULL_FAULT)
    shape = write_target(base / "shape.toml", f"shape {MARKUP}", SHAPE_FAULT)
    out = base / "out"
    proc = cli(null, shape, "--report-dir", out, "--seed", "3", "--jobs", "3")
    return Run(proc, out)


def validate(data: Any) -> None:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)


# --- three targets, run here ---------------------------------------------------------------


def test_three_targets_write_every_report_and_exit_1(three: Run) -> None:
    assert three.proc.returncode == 1, three.proc.stderr
    for name in ("matrix.md", "matrix.json", "matrix.html"):
        assert (three.out / name).is_file()
    slugs = [t["slug"] for t in three.json()["targets"]]
    assert slugs == ["emulator", "null-ignored", "shape-script-alert-1-script"]
    for slug in slugs:
        for report in ("report.json", "report.html", "summary.md", "junit.xml"):
            assert (three.out / "targets" / slug / report).is_file()
    assert "2 of 3 targets not conformant" in three.proc.stdout


def test_matrix_json_validates_against_its_schema(three: Run) -> None:
    data = three.json()
    validate(data)
    assert matrix_schema() == json.loads(SCHEMA.read_text("utf-8"))
    assert data["mode"] == "run" and data["seed"] == 3 and data["exit_code"] == 1
    assert [t["status"] for t in data["targets"]] == ["ok", "fail", "fail"]
    assert data["targets"][1]["reports"]["html"] == "targets/null-ignored/report.html"


@pytest.mark.parametrize(
    ("name", "fault"), [("null-ignored", NULL_FAULT), (f"shape {MARKUP}", SHAPE_FAULT)]
)
def test_faulty_columns_fail_the_checks_their_fault_trips(
    three: Run, name: str, fault: str
) -> None:
    index, target = three.column(name)
    rows = {row["id"]: row for row in three.json()["checks"]}
    for check_id in FAULTS[fault].trips:
        cell = rows[check_id]["cells"][index]
        assert cell["outcome"] == "failed", (check_id, cell)
        assert check_id in target["run"]["gate_failures"]
        assert cell["first_finding"]["curl"].startswith("curl ")
        assert rows[check_id]["cells"][0]["outcome"] == "passed"  # the clean emulator
        line = next(
            x
            for x in (three.out / "matrix.md").read_text("utf-8").splitlines()
            if x.startswith(f"| `{check_id}` |")
        )
        assert line.split("|")[index + 3].strip() == "❌"


def test_markdown_starts_with_the_verdict(three: Run) -> None:
    text = (three.out / "matrix.md").read_text("utf-8")
    assert text.startswith("## ❌ 2 of 3 targets not conformant")
    assert "<script>" not in text  # markup in a name is escaped


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for key, value in attrs:
            if key in ("href", "src", "action", "srcset") and value is not None:
                self.urls.append(value)
            if key == "id" and value:
                self.ids.add(value)


def test_html_is_self_contained_escaped_and_links_to_the_reports(three: Run) -> None:
    html = (three.out / "matrix.html").read_text("utf-8")
    parser = _Links()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert MARKUP not in html
    assert "default-src 'none'" in html
    for url in parser.urls:
        if url.startswith("#"):
            assert url[1:] in parser.ids, url
        else:
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I), url  # relative only
            assert (three.out / url.split("#")[0]).is_file(), url
    index, _ = three.column("null-ignored")
    assert f'href="#c-null-ignored-{FAULTS[NULL_FAULT].trips[0]}"' in html
    assert f"targets/null-ignored/report.html#check-{FAULTS[NULL_FAULT].trips[0]}" in html
    assert index == 1


# --- merge ------------------------------------------------------------------------------------


def test_merge_two_reports_from_elsewhere(three: Run, tmp_path: Path) -> None:
    first = three.out / "targets" / "emulator" / "report.json"
    second = three.out / "targets" / "null-ignored" / "report.json"
    proc = cli("--merge", first, second, first, "--report-dir", tmp_path)
    assert proc.returncode == 1, proc.stderr
    data = json.loads((tmp_path / "matrix.json").read_text("utf-8"))
    validate(data)
    assert data["mode"] == "merge" and data["seed"] is None
    assert [t["name"] for t in data["targets"]] == ["emulator", "null-ignored", "emulator (2)"]
    assert len({t["slug"] for t in data["targets"]}) == 3
    html = (tmp_path / "matrix.html").read_text("utf-8")
    link = os.path.relpath(second.with_name("report.html"), tmp_path)
    assert f'href="{Path(link).as_posix()}"' in html
    assert not (tmp_path / "targets").exists()  # nothing ran


def test_a_bad_merge_file_is_one_line_and_exit_2(three: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "checks": []}')
    good = three.out / "targets" / "emulator" / "report.json"
    proc = cli("--merge", good, bad, "--report-dir", tmp_path / "out")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "bad.json" in proc.stderr and "not an agentphone-conformance report" in proc.stderr
    assert not (tmp_path / "out" / "matrix.json").exists()
    missing = cli("--merge", tmp_path / "absent.json", "--report-dir", tmp_path / "out")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_run_options_with_merge_are_a_usage_error(three: Run, tmp_path: Path) -> None:
    good = three.out / "targets" / "emulator" / "report.json"
    proc = cli("--merge", good, "--seed", "1", "--report-dir", tmp_path)
    assert proc.returncode == 2 and "--seed given with --merge" in proc.stderr


# --- an unusable target -----------------------------------------------------------------------


def test_an_unreachable_target_is_an_unusable_column_and_the_rest_run(tmp_path: Path) -> None:
    down = tmp_path / "down.toml"
    down.write_text(
        'name = "down & <out>"\nbase_url = "http://127.0.0.1:9"\n'
        'api_key_env = "MATRIX_TEST_KEY"\nconversation_ids = ["conv_1"]\n'
    )
    out = tmp_path / "out"
    proc = cli(
        down, "--report-dir", out, "--seed", "1", "--jobs", "1", env={"MATRIX_TEST_KEY": KEY}
    )
    assert proc.returncode == 3, proc.stderr  # nothing failed, one target unusable
    data = json.loads((out / "matrix.json").read_text("utf-8"))
    validate(data)
    emulator, gone = data["targets"]
    assert emulator["status"] == "ok" and emulator["run"]["summary"]["passed"] > 0
    assert gone["status"] == "unusable" and gone["run"] is None
    assert "unreachable" in gone["problem"]["message"]
    assert all(row["cells"][1] is None for row in data["checks"])
    html = (out / "matrix.html").read_text("utf-8")
    assert "down &amp; &lt;out&gt;" in html and "unreachable" in html
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text("utf-8", errors="replace"), path
    assert KEY not in proc.stdout + proc.stderr


# --- scheduling and examples ------------------------------------------------------------------


def _target(slug: str, base_url: str | None = None, *ids: str, second: str = "") -> MatrixTarget:
    spec = TargetSpec(
        name=slug,
        base_url=base_url,
        conversation_ids=ids,
        second_conversation_ids=(second,) if second else (),
    )
    return MatrixTarget(slug, slug, slug, Job(spec, resolve(GivenOptions(seed=1))))


def test_targets_that_share_a_conversation_never_run_together() -> None:
    targets = [
        _target("emulator"),
        _target("a", "https://api.example", "c1", "c2"),
        _target("b", "https://API.example/", "c2"),  # same host, one id shared with a
        _target("c", "https://api.example", "c3"),  # same host, other conversations
        _target("d", "https://other.example", "c1"),
        _target("e", "https://api.example", "c9", second="c3"),  # a second account's id
        _target("emulator-2"),
    ]
    groups = [[t.slug for t in group] for group in conflict_groups(targets)]
    assert groups == [["emulator"], ["a", "b"], ["c", "e"], ["d"], ["emulator-2"]]


def test_ci_examples_parse_and_use_the_commands() -> None:
    github = yaml.safe_load((ROOT / "examples/ci/github-actions.yml").read_text("utf-8"))
    jobs = github["jobs"]
    include = jobs["conformance"]["strategy"]["matrix"]["include"]
    assert len(include) >= 2 and all("vendor" in entry for entry in include)
    # each vendor job runs the suite through this repository's action, which uploads the reports
    (action,) = [
        s for s in jobs["conformance"]["steps"] if "agentphone-conformance@" in str(s.get("uses"))
    ]
    assert action["with"]["target"] and action["with"]["report-dir"]
    merge = " ".join(str(step.get("run", "")) for step in jobs["matrix"]["steps"])
    assert jobs["matrix"]["needs"] == "conformance"
    assert "matrix --merge" in merge and "GITHUB_STEP_SUMMARY" in merge
    gitlab = yaml.safe_load((ROOT / "examples/ci/gitlab-ci.yml").read_text("utf-8"))
    assert gitlab["conformance"]["parallel"]["matrix"][0]["VENDOR"]
    assert "matrix --merge" in " ".join(gitlab["compatibility-matrix"]["script"])
    assert gitlab["compatibility-matrix"]["stage"] == gitlab["stages"][-1]


def test_example_target_files_load() -> None:
    paths = sorted((ROOT / "examples/targets").glob("*.toml"))
    assert {p.name for p in paths} >= {
        "emulator-null-ignored.toml",
        "emulator-shape.toml",
        "vendor.example.toml",
    }
    for path in paths:
        spec = load_target_file(path)
        assert all(fault in FAULTS for fault in spec.faults)
    vendor = load_target_file(ROOT / "examples/targets/vendor.example.toml")
    assert vendor.base_url and vendor.key_env != "AGENTPHONE_API_KEY"
