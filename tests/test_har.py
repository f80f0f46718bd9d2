"""`--har` and `--badge`: every exchange of a run as HAR 1.2 (judged by the HAR schemas of
the npm package har-schema, which nobody here wrote), bounded and redacted; the verdict as a
self-contained SVG badge; both per target in `matrix`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

from conformance.core import GivenOptions, TargetSpec
from conformance.jobs import Job, execute, run_options
from conformance.model import Journal, redact
from conformance.model import _journal as journal_module
from conformance.model._results import Exchange
from conformance.reports._badge import badge_for, render_badge

from .conftest import KEY_1, KEY_2, run_cli
from .test_hostile import leaks

HAR_SCHEMAS = Path(__file__).parent / "data" / "har-schema"


def har_validator() -> Draft6Validator:
    resources = [
        (path.name + "#", Resource.from_contents(json.loads(path.read_text()), DRAFT6))
        for path in HAR_SCHEMAS.glob("*.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = json.loads((HAR_SCHEMAS / "har.json").read_text())
    return Draft6Validator(schema, registry=registry, format_checker=FormatChecker())


def _run(tmp_path: Path, *faults: str, **given: Any) -> tuple[Any, dict[str, Path]]:
    job = Job(
        TargetSpec(faults=faults),
        run_options(GivenOptions(seed=2, **given)),
        har=tmp_path / "run.har",
        badge=tmp_path / "badge.svg",
    )
    return execute(job, tmp_path / "reports")


def test_a_run_s_har_is_valid_har_1_2_with_a_page_per_part_of_the_run(tmp_path: Path) -> None:
    result, written = _run(tmp_path)
    assert written["har"] == tmp_path / "run.har" and written["badge"] == tmp_path / "badge.svg"
    har = json.loads((tmp_path / "run.har").read_text(encoding="utf-8"))
    errors = sorted(har_validator().iter_errors(har), key=str)
    assert not errors, errors[0]
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "agentphone-conformance"
    assert len(log["entries"]) == result.requests_sent  # every request, the reserved included
    pages = [page["id"] for page in log["pages"]]
    assert pages[:3] == ["snapshot", "webhooks", "generated"] and pages[-1] == "restore"
    assert {"META-REPLACE", "WEBHOOK-STATE-AFTER-PATCH"} <= set(pages)
    assert {entry["pageref"] for entry in log["entries"]} == set(pages)
    replace = next(p for p in log["pages"] if p["id"] == "META-REPLACE")
    assert replace["title"].startswith("META-REPLACE: An object in metadata replaces")
    patch = next(e for e in log["entries"] if e["request"]["method"] == "PATCH")
    assert patch["request"]["postData"]["mimeType"] == "application/json"
    assert patch["response"]["content"]["mimeType"] == "application/json"
    text = (tmp_path / "run.har").read_text(encoding="utf-8")
    assert not leaks({"run.har": text}, KEY_1) and not leaks({"run.har": text}, KEY_2)
    assert "whsec_" not in text  # the run's webhook secret, learnt mid-run, is scrubbed too
    assert "Bearer [REDACTED]" in text


def test_an_unreachable_target_s_har_shows_the_request_that_got_no_answer(
    tmp_path: Path,
) -> None:
    har, badge = tmp_path / "run.har", tmp_path / "badge.svg"
    done = run_cli(
        "run",
        "--base-url",
        "http://127.0.0.1:9",
        "--conversation-id",
        "conv_1",
        "--har",
        str(har),
        "--badge",
        str(badge),
        "--report-dir",
        str(tmp_path / "reports"),
        env={"AGENTPHONE_API_KEY": KEY_1},
    )
    assert done.returncode == 3, done.stdout + done.stderr
    log = json.loads(har.read_text(encoding="utf-8"))["log"]
    assert not sorted(har_validator().iter_errors({"log": log}), key=str)
    (entry,) = log["entries"]
    assert entry["response"]["status"] == 0 and "Connection refused" in entry["response"]["_error"]
    assert entry["request"]["url"] == "http://127.0.0.1:9/v1/conversations/conv_1"
    assert "could not be tested" in log["comment"]
    assert KEY_1 not in har.read_text(encoding="utf-8")
    assert "not testable" in badge.read_text(encoding="utf-8")


def _exchange(body: str) -> Exchange:
    return Exchange("GET", "http://t/x", {}, body, 200, {}, body, 1.0, "curl http://t/x")


def test_the_journal_is_bounded_in_entries_and_in_bodies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal_module, "MAX_JOURNAL_ENTRIES", 5)
    monkeypatch.setattr(journal_module, "MAX_JOURNAL_BYTES", 100)
    journal = Journal()
    for _ in range(8):
        journal.add("2026-01-01T00:00:00.000Z", _exchange("x" * 20), "HTTP/1.1")
    assert len(journal.entries) == 5 and journal.dropped == 3
    kept = [e.exchange.response_body for e in journal.entries]
    assert kept[:2] == ["x" * 20] * 2  # 2 x (20 + 20) bytes fit in 100
    assert kept[2:] == [journal_module.BODY_NOT_KEPT] * 3 and journal.bodies_dropped == 3


def test_a_secret_learnt_mid_run_is_scrubbed_from_the_journal() -> None:
    journal = Journal()
    journal.add("2026-01-01T00:00:00.000Z", _exchange('{"secret": "whsec_abc123"}'), "HTTP/1.1")
    journal.scrub(["whsec_abc123"])
    assert journal.entries[0].exchange.response_body == redact(
        '{"secret": "whsec_abc123"}', ["whsec_abc123"]
    )
    assert "whsec_abc123" not in json.dumps(journal.entries[0].exchange.to_dict())


@pytest.mark.parametrize(
    ("faults", "message", "colour"),
    [
        ((), "conformant", "#2e7d32"),
        (("semantics-null-ignored",), "failing", "#c62828"),
    ],
)
def test_the_badge_says_the_verdict(
    tmp_path: Path, faults: tuple[str, ...], message: str, colour: str
) -> None:
    result, _ = _run(tmp_path, *faults)
    svg = (tmp_path / "badge.svg").read_text(encoding="utf-8")
    root = ET.fromstring(svg)  # well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert message in svg and colour in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing from outside
    if faults:
        assert f"{len(result.gate_failures)} failing" in svg


def test_the_badge_s_other_states() -> None:
    assert badge_for(None) == ("not testable", "untestable")
    svg = render_badge("3 failing <&>", "fail", label="vendor & co")
    ET.fromstring(svg)  # escaped: still well-formed
    assert "vendor &amp; co" in svg


def test_the_matrix_writes_a_har_and_a_badge_per_target(tmp_path: Path) -> None:
    target = tmp_path / "faulty.toml"
    target.write_text('name = "faulty"\n[emulator]\nfaults = ["semantics-null-ignored"]\n')
    done = run_cli(
        "matrix",
        str(target),
        "--har",
        "--badges",
        "--report-dir",
        str(tmp_path / "out"),
        "--seed",
        "3",
        "--profile",
        "quick",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    for slug, message in (("emulator", "conformant"), ("faulty", "failing")):
        directory = tmp_path / "out" / "targets" / slug
        assert json.loads((directory / "run.har").read_text())["log"]["entries"]
        assert message in (directory / "badge.svg").read_text()
    merged = run_cli("matrix", "--merge", str(tmp_path / "out"), "--har")
    assert merged.returncode == 2 and "--har given with --merge" in merged.stderr
