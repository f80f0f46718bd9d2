"""The report writers, on hand-made results: junit.xml, report.json, summary.md, report.html.

`realistic_result()` is a run with every outcome, a required and an advisory failure whose
exchanges carry markup, pipes, unicode, control characters and a 50 KB body, a failed
restore, and a credential deliberately left where upstream redaction should have removed it.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import conformance.reports
from conformance.model._results import (
    CheckInfo,
    CheckResult,
    Exchange,
    Finding,
    Level,
    Outcome,
    RestoreRecord,
    RunResult,
    RunSettings,
    TargetInfo,
)
from conformance.reports import (
    REDACTED,
    load_report,
    render_summary_markdown,
    report_schema,
    verdict,
    write_html,
    write_json,
    write_junit,
    write_markdown,
    write_reports,
)
from conformance.reports._markdown import MAX_BODY, MAX_CHARS

SEED = 424242
BASE_URL = "https://api.agentphone.example"
LEAKED = "sk_live_9f8e7d6c5b4a3928"  # a key upstream redaction "missed"
ODD_SECRET = "p@ss<&>\"'|wörd"  # one that HTML, JSON and markdown each escape differently
XSS = "<script>alert(1)</script>"
CONV = "conv_7Hq2|x"


def _exchange(
    *,
    status: int | None = 422,
    request_body: str | None = '{"metadata": null}',
    response_body: str | None = '{"error": "bad"}',
    authorization: str = "Bearer ${AGENTPHONE_API_KEY}",
) -> Exchange:
    url = f"{BASE_URL}/v1/conversations/{CONV}"
    return Exchange(
        method="PATCH",
        url=url,
        request_headers={"Authorization": authorization, "Content-Type": "application/json"},
        request_body=request_body,
        status=status,
        response_headers={} if status is None else {"content-type": "text/html; charset=utf-8"},
        response_body=response_body,
        elapsed_ms=123.4,
        curl=(
            f"curl -i -X PATCH '{url}' -H 'Authorization: Bearer '\"${{AGENTPHONE_API_KEY}}\"'' "
            f"--data-binary '{request_body or ''}'"
        ),
    )


def _check(
    check_id: str,
    family: str,
    outcome: Outcome,
    level: Level = Level.REQUIRED,
    reason: str = "",
    findings: list[Finding] | None = None,
) -> CheckResult:
    info = CheckInfo(
        id=check_id,
        family=family,
        level=level,
        requirement=f"The target honours {check_id.lower()} as the seed page describes.",
        source="seed page, PATCH /v1/conversations/{conversation_id}",
    )
    return CheckResult(info, outcome, reason, findings or [], exchanges=3, duration_s=0.0421)


def _settings(strict: bool = False) -> RunSettings:
    return RunSettings(
        seed=SEED,
        profile="ci",
        max_requests=200,
        rate_limit=5.0,
        max_response_time=2.0,
        read_only=False,
        strict=strict,
    )


def _run(checks: list[CheckResult], **changes: Any) -> RunResult:
    result = RunResult(
        tool_version="0.1.0",
        target=TargetInfo(
            name="staging | eu 🇪🇺",
            base_url=BASE_URL,
            embedded=False,
            conversation_ids=(CONV, "conv_bare"),
            second_account=False,
        ),
        settings=_settings(),
        started_at="2025-11-25T13:48:00Z",
        duration_s=12.3456,
        requests_sent=181,
        checks=checks,
    )
    return replace(result, **changes)


def big_body() -> str:
    """50 KB of HTML with the leaked key straddling the 2 KB cut of summary.md."""
    head = "<html><body>" + "x" * (MAX_BODY - 12 - 5)
    body = head + LEAKED + " | ünïcödé 🎉 " + XSS
    return body + "y" * (50 * 1024 - len(body))


def realistic_result() -> RunResult:
    required_failure = _check(
        "META-NULL-CLEARS",
        "metadata",
        Outcome.FAILED,
        reason="PATCH with metadata: null answered 500 | expected 200 and metadata cleared",
        findings=[
            Finding(
                f"the answer to metadata: null was a 500 echoing {XSS} (ünïcödé 🎉)",
                _exchange(
                    status=500,
                    response_body=f'{{"detail": "{XSS}", "pipe": "a|b", "emoji": "🎉"}}',
                    authorization=f"Bearer {LEAKED}",
                ),
            ),
            Finding(
                "a second PATCH left the old metadata in place\x00\x1b[31m",
                _exchange(status=200, response_body='{"metadata": {"crm_id": "A|B"}}'),
            ),
            Finding("no exchange recorded for this one"),
        ],
    )
    advisory_failure = _check(
        "RESP-CONTENT-TYPE-JSON",
        "response",
        Outcome.FAILED,
        level=Level.ADVISORY,
        reason="Content-Type was text/html | not application/json",
        findings=[
            Finding(
                f"error body served as HTML: {XSS}",
                _exchange(
                    status=404,
                    request_body=f'{{"metadata": {{"k": "{ODD_SECRET}"}}}}',
                    response_body=big_body(),
                ),
            )
        ],
    )
    error = _check(
        "IDEM-REPEAT-SAME",
        "idempotency",
        Outcome.ERROR,
        reason="connection reset by peer after 2 s",
        findings=[Finding("no answer", _exchange(status=None, response_body=None))],
    )
    checks = [
        _check("AUTH-MISSING-REJECTED", "auth", Outcome.PASSED),
        _check(
            "AUTH-OTHER-ACCOUNT-404",
            "auth",
            Outcome.NOT_APPLICABLE,
            reason="needs a second account (--second-key)",
        ),
        required_failure,
        _check("META-MERGE-SHALLOW", "metadata", Outcome.PASSED),
        advisory_failure,
        _check(
            "RESP-TIME-BUDGET",
            "response",
            Outcome.SKIPPED,
            level=Level.ADVISORY,
            reason="request budget spent",
        ),
        error,
        _check("ERR-404-PROBLEM-JSON", "errors", Outcome.PASSED, level=Level.ADVISORY),
    ]
    restore = [
        RestoreRecord("conv_bare", True, "metadata put back (1 PATCH)", {}, None),
        RestoreRecord(
            CONV,
            False,
            "the restoring PATCH answered 503 <b>twice</b>",
            original_metadata={"crm_id": "A|B", "note": "<b>ü</b> 🎉", "nested": {"n": [1, None]}},
            manual_fix=(
                f"curl -X PATCH '{BASE_URL}/v1/conversations/{CONV}' "
                f"-H 'Authorization: Bearer {LEAKED}' "
                '--data-binary \'{"metadata": {"crm_id": "A|B"}}\''
            ),
        ),
    ]
    notes = ["request budget (200) spent after 181 requests", f"backed off 2.0 s on 429 {XSS}"]
    return _run(checks, restore=restore, notes=notes)


def clean_result() -> RunResult:
    checks = [
        _check("AUTH-MISSING-REJECTED", "auth", Outcome.PASSED),
        _check("META-NULL-CLEARS", "metadata", Outcome.PASSED),
        _check("ERR-404-PROBLEM-JSON", "errors", Outcome.PASSED, level=Level.ADVISORY),
    ]
    return _run(checks, restore=[RestoreRecord("conv_bare", True, "restored", {"a": 1}, None)])


def _failed(result: RunResult) -> list[CheckResult]:
    return [r for r in result.checks if r.outcome is Outcome.FAILED]


# --- report.json and its schema -------------------------------------------------------------


def test_report_json_validates_and_round_trips(tmp_path: Path) -> None:
    result = realistic_result()
    path = write_json(result, tmp_path / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    validator = Draft202012Validator(
        report_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    assert list(validator.iter_errors(data)) == []
    assert data["exit_code"] == 1
    assert data["settings"]["seed"] == SEED
    assert "🎉" in path.read_text(encoding="utf-8")  # ensure_ascii=False
    assert load_report(path).to_dict() == result.to_dict()


# Members added to format 1 since its first release: a report written before them still loads
# (a baseline from an older run), so they are the only ones that may be absent.
ADDED_SINCE_FORMAT_1 = {
    "report": {"edition", "deadline_reached", "other_writers", "rerun", "rerun_all", "limits"},
    "target": {"emulator_edition"},
    "settings": {"edition", "deadline", "max_answer_bytes", "no_concurrency"},
    "check_info": {"edition"},
    "check_result": {"confirmation", "replay_note", "cause", "caused_by", "same_cause", "history"},
    "finding": {"steps", "assumes"},
    "restore_record": {"kept"},
    "summary": {"not-implemented"},
}


def test_schema_is_draft_2020_12_and_closed() -> None:
    schema = report_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    closed = {
        "report": schema,
        "summary": schema["properties"]["summary"],
        **schema["$defs"],
    }
    for name, sub in closed.items():
        if sub.get("type") == "object" and "properties" in sub:
            assert sub["additionalProperties"] is False
            optional = ADDED_SINCE_FORMAT_1.get(name, set())
            assert set(sub["required"]) == set(sub["properties"]) - optional, name
    assert schema["$defs"]["check_result"]["additionalProperties"] is False


def test_a_report_from_before_the_later_members_still_loads(tmp_path: Path) -> None:
    data = realistic_result().to_dict()
    del data["edition"], data["deadline_reached"], data["other_writers"]
    del data["rerun"], data["rerun_all"]
    del data["target"]["emulator_edition"], data["settings"]["edition"]
    del data["settings"]["deadline"], data["settings"]["max_answer_bytes"]
    del data["summary"]["not-implemented"]
    for check in data["checks"]:
        del check["check"]["edition"], check["confirmation"]
    (tmp_path / "old.json").write_text(json.dumps(data), encoding="utf-8")
    old = load_report(tmp_path / "old.json")  # validates against the schema
    assert old.edition.reason == "not recorded (an older report)"
    assert all(r.confirmation is None for r in old.checks)


def test_schema_is_package_data() -> None:
    shipped = Path(conformance.reports.__file__).parent.parent / "schemas" / "report.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == report_schema()


def _corrupt(data: dict[str, Any], how: str) -> Any:
    if how == "missing field":
        del data["started_at"]
    elif how == "wrong outcome":
        data["checks"][0]["outcome"] = "sort-of-passed"
    elif how == "wrong level":
        data["checks"][0]["check"]["level"] = "optional"
    elif how == "extra top-level key":
        data["surprise"] = True
    elif how == "extra check key":
        data["checks"][0]["severity"] = "high"
    elif how == "missing exchange field":
        del data["checks"][2]["findings"][0]["exchange"]["curl"]
    elif how == "exit code out of range":
        data["exit_code"] = 7
    elif how == "naive timestamp":
        data["started_at"] = "2025-11-25T13:48:00"
    elif how == "summary disagrees":
        data["summary"]["passed"] += 1
    elif how == "newer format":
        data["format"] = 2
    elif how == "not an object":
        return [data]
    return data


@pytest.mark.parametrize(
    "how",
    [
        "missing field",
        "wrong outcome",
        "wrong level",
        "extra top-level key",
        "extra check key",
        "missing exchange field",
        "exit code out of range",
        "naive timestamp",
        "summary disagrees",
        "newer format",
        "not an object",
    ],
)
def test_load_report_rejects_corrupted(tmp_path: Path, how: str) -> None:
    data = _corrupt(realistic_result().to_dict(), how)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"report\.json: not an agentphone-conformance report \("):
        load_report(path)


def test_load_report_rejects_non_json(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text("<testsuites/>", encoding="utf-8")
    with pytest.raises(ValueError, match=r"not an agentphone-conformance report .*not UTF-8 JSON"):
        load_report(path)


def test_load_report_names_the_bad_field(tmp_path: Path) -> None:
    data = _corrupt(realistic_result().to_dict(), "wrong outcome")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"\$\.checks\[0\]\.outcome"):
        load_report(path)


# --- junit.xml ------------------------------------------------------------------------------


def _junit(result: RunResult, tmp_path: Path) -> ET.Element:
    return ET.parse(write_junit(result, tmp_path / "junit.xml")).getroot()


def _counts(suite: ET.Element) -> dict[str, int]:
    cases = suite.findall("testcase")
    return {
        "tests": len(cases),
        "failures": sum(len(c.findall("failure")) for c in cases),
        "errors": sum(len(c.findall("error")) for c in cases),
        "skipped": sum(len(c.findall("skipped")) for c in cases),
    }


def _assert_consistent(root: ET.Element, result: RunResult) -> ET.Element:
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "agentphone-conformance"
    counts = _counts(suite)
    for name, value in counts.items():
        assert int(suite.get(name, "-1")) == value, name
        assert int(root.get(name, "-1")) == value, name
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == [r.check.id for r in result.checks]
    assert len(set(names)) == len(names)
    for case, r in zip(suite.findall("testcase"), result.checks, strict=True):
        assert case.get("classname") == r.check.family
    # The policy: JUnit agrees with the exit code.
    assert counts["failures"] == len(result.gate_failures)
    assert counts["errors"] == result.count(Outcome.ERROR)
    assert (counts["failures"] + counts["errors"] > 0) == (result.exit_code != 0)
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["seed"] == str(SEED)
    assert properties["profile"] == "ci"
    assert properties["base_url"] == BASE_URL
    assert properties["tool_version"] == "0.1.0"
    return suite


def test_junit_one_testcase_per_check_and_counts_agree_with_exit_code(tmp_path: Path) -> None:
    result = realistic_result()
    suite = _assert_consistent(_junit(result, tmp_path), result)
    assert _counts(suite) == {"tests": 8, "failures": 1, "errors": 1, "skipped": 2}
    cases = {c.get("name"): c for c in suite.findall("testcase")}

    failure = cases["META-NULL-CLEARS"].find("failure")
    assert failure is not None
    assert failure.get("type") == "required"
    assert "500" in (failure.get("message") or "")
    text = failure.text or ""
    assert f"PATCH {BASE_URL}/v1/conversations/{CONV} -> 500" in text
    assert "curl -i -X PATCH" in text
    assert "\\x00" in text  # a control character XML cannot carry, spelled out

    advisory = cases["RESP-CONTENT-TYPE-JSON"]
    assert advisory.find("failure") is None and advisory.find("skipped") is None
    out = advisory.find("system-out")
    assert out is not None and out.text is not None
    assert out.text.startswith("WARNING")
    assert "does not fail the gate unless --strict" in out.text

    error = cases["IDEM-REPEAT-SAME"].find("error")
    assert error is not None and "connection reset" in (error.get("message") or "")
    skipped = cases["AUTH-OTHER-ACCOUNT-404"].find("skipped")
    assert skipped is not None and "second account" in (skipped.get("message") or "")
    err = suite.find("system-err")
    assert err is not None and CONV in (err.text or "")


def test_junit_strict_reports_advisory_failures_as_failures(tmp_path: Path) -> None:
    result = replace(realistic_result(), settings=_settings(strict=True))
    suite = _assert_consistent(_junit(result, tmp_path), result)
    assert _counts(suite)["failures"] == 2
    case = next(c for c in suite.findall("testcase") if c.get("name") == "RESP-CONTENT-TYPE-JSON")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "advisory"
    assert "--strict" in (failure.text or "")


def test_junit_errors_only_matches_exit_code_3(tmp_path: Path) -> None:
    result = realistic_result()
    result.checks = [r for r in result.checks if r.outcome is not Outcome.FAILED]
    assert result.exit_code == 3
    suite = _assert_consistent(_junit(result, tmp_path), result)
    assert _counts(suite)["failures"] == 0 and _counts(suite)["errors"] == 1


def test_advisory_only_failure_is_green(tmp_path: Path) -> None:
    result = realistic_result()
    result.checks = [
        r
        for r in result.checks
        if r.outcome is not Outcome.ERROR and r.check.id != "META-NULL-CLEARS"
    ]
    result.restore = [r for r in result.restore if r.restored]
    assert result.exit_code == 0
    suite = _assert_consistent(_junit(result, tmp_path), result)
    assert _counts(suite)["failures"] == 0
    assert str(verdict(result)) == "✅ conformant (1 advisory warning)"
    strict = replace(result, settings=_settings(strict=True))
    assert str(verdict(strict)) == "❌ 1 advisory check failed (--strict)"


# --- summary.md -----------------------------------------------------------------------------


def _outside_fences(markdown: str) -> str:
    """The markdown with fenced code blocks (any fence length) removed."""
    kept: list[str] = []
    fence = ""
    for line in markdown.splitlines():
        match = re.match(r"\s*(`{3,})", line)
        if fence:
            if match and match.group(1) == fence and line.strip() == fence:
                fence = ""
        elif match:
            fence = match.group(1)
        else:
            kept.append(line)
    return "\n".join(kept)


def test_summary_leads_with_verdict_and_shows_what_to_reproduce() -> None:
    result = realistic_result()
    text = render_summary_markdown(result)
    first = text.splitlines()[0]
    assert first == "## ❌ 1 required check failed; 1 errored"
    assert str(SEED) in text.split("\n\n")[1]  # in the header line under the verdict
    for r in _failed(result):
        assert r.check.id in text
        exchange = r.findings[0].exchange
        assert exchange is not None
        assert exchange.curl in text
    assert "IDEM-REPEAT-SAME" in text and "connection reset by peer" in text
    assert "12.3 s" in text and "181" in text
    assert len(text) < MAX_CHARS
    assert "first 2 KB shown" in text  # the 50 KB body is cut
    assert "y" * 3000 not in text


def test_summary_markdown_is_clean() -> None:
    text = render_summary_markdown(realistic_result())
    prose = _outside_fences(text)
    assert "\\<script\\>" in prose
    assert not re.search(r"(?<!\\)<script", prose)  # markup outside code blocks is escaped
    rows = [line for line in prose.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 8  # header and one row per check
    widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
    assert widths == {6}  # every `|` inside a cell is escaped
    assert "staging \\| eu" in text
    assert f"`PATCH {BASE_URL}/v1/conversations/{CONV} -> 500`" in text


def test_summary_restore_failure_is_loud() -> None:
    result = realistic_result()
    text = render_summary_markdown(result)
    assert "> [!CAUTION]" in text.split("| Check |")[0]  # before the table too
    restore = text.split("### Restore")[1]
    assert "NOT restored" in restore
    assert f"`{CONV}`" in restore  # a code span outside a table: `|` left alone
    record = result.restore_failed[0]
    assert record.manual_fix is not None and record.manual_fix in restore
    assert '"crm_id": "A|B"' in restore  # the original metadata, to put back by hand
    assert "request budget (200) spent" in text.split("### Notes")[1]


def test_summary_stays_under_a_pr_comment_limit() -> None:
    findings = [
        Finding(f"finding {n}", _exchange(response_body="z" * 10_000 + XSS)) for n in range(9)
    ]
    checks = [
        _check(f"BULK-{n}", "bulk", Outcome.FAILED, reason="broken", findings=findings)
        for n in range(60)
    ]
    text = render_summary_markdown(_run(checks))
    assert len(text) < 65_536
    assert "left out for length" in text
    assert text.startswith("## ❌ 60 required checks failed")
    assert "### Restore" in text


# --- report.html ----------------------------------------------------------------------------


class _Structure(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"] or "")
        if attributes.get("href"):
            self.hrefs.append(attributes["href"] or "")
        if tag in ("script", "iframe", "object", "embed", "link", "img"):
            self.problems.append(f"<{tag}>")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    result = realistic_result()
    text = write_html(result, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert "@import" not in text and "url(" not in text
    assert BASE_URL in text  # as text
    parser = _Structure()
    parser.feed(text)
    parser.close()
    assert parser.problems == []
    assert parser.stack == []  # every element closed: injected markup broke nothing
    for href in parser.hrefs:
        assert href.startswith("#") and href[1:] in parser.ids, href


def test_html_shows_every_check_the_seed_and_the_details(tmp_path: Path) -> None:
    result = realistic_result()
    text = write_html(result, tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"<dd>{SEED}</dd>" in text
    for r in result.checks:
        assert r.check.id in text
        assert f'title="{r.check.id}: ' in text  # its cell in the grid
    assert text.count('class="tile k-') == len(result.checks)
    assert 'id="check-META-NULL-CLEARS"' in text
    assert 'href="#check-META-NULL-CLEARS"' in text  # the grid cell links to the details
    assert 'class="tile k-failed-advisory"' in text and 'class="tile k-error"' in text
    assert "truncated: first 16 KB" in text  # the 50 KB body
    assert "NOT restored" in text and 'id="restore"' in text
    assert "&quot;crm_id&quot;: &quot;A|B&quot;" in text  # original metadata to put back
    assert "no answer (network error)" in text


# --- secrets, write_reports, a clean run -----------------------------------------------------


def test_secrets_never_reach_any_report(tmp_path: Path) -> None:
    result = realistic_result()
    before = copy.deepcopy(result.to_dict())
    paths = write_reports(result, tmp_path / "out", secrets=[LEAKED, ODD_SECRET, ""])
    assert result.to_dict() == before  # the caller's result is left alone
    escaped = {ODD_SECRET.replace("<", "&lt;"), json.dumps(ODD_SECRET)[1:-1]}
    for kind, path in paths.items():
        text = path.read_text(encoding="utf-8")
        assert LEAKED not in text, kind
        assert LEAKED[:12] not in text, kind  # not even half of it, cut by truncation
        for spelling in {ODD_SECRET, *escaped}:
            assert spelling not in text, (kind, spelling)
        assert REDACTED in text, kind
    loaded = load_report(paths["json"])  # still a valid report
    assert loaded.checks[2].findings[0].exchange is not None
    assert loaded.checks[2].findings[0].exchange.request_headers["Authorization"] == (
        f"Bearer {REDACTED}"
    )


def test_write_reports_writes_all_four(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "reports"
    paths = write_reports(realistic_result(), directory)
    assert set(paths) == {"junit", "json", "markdown", "html"}
    assert {p.name for p in paths.values()} == {
        "junit.xml",
        "report.json",
        "summary.md",
        "report.html",
    }
    for path in paths.values():
        assert path.parent == directory
        assert str(SEED) in path.read_text(encoding="utf-8")  # every report shows the seed


def test_clean_run_is_conformant(tmp_path: Path) -> None:
    result = clean_result()
    assert result.exit_code == 0
    paths = write_reports(result, tmp_path)
    summary = paths["markdown"].read_text(encoding="utf-8")
    assert summary.splitlines()[0] == "## ✅ conformant"
    assert "NOT restored" not in summary and "[!CAUTION]" not in summary
    suite = _assert_consistent(ET.parse(paths["junit"]).getroot(), result)
    assert _counts(suite) == {"tests": 3, "failures": 0, "errors": 0, "skipped": 0}
    html = paths["html"].read_text(encoding="utf-8")
    assert '<header class="v-ok">' in html
    assert "</svg> conformant</h1>" in html and 'aria-label="ok"' in html  # a mark, no emoji
    assert "<title>conformant - " in html and "✅" not in html
    assert load_report(paths["json"]).to_dict() == result.to_dict()


def test_write_markdown_and_a_run_without_checks(tmp_path: Path) -> None:
    result = _run([])
    text = write_markdown(result, tmp_path / "s.md").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("## ❔ no violations")
    assert "The run touched no conversation." in text
    _assert_consistent(_junit(result, tmp_path), result)


# --- the package's shape ---------------------------------------------------------------------


def test_exported_members() -> None:
    for name in conformance.reports.__all__:
        assert hasattr(conformance.reports, name), name


def test_writers_never_import_the_cli() -> None:
    package = Path(conformance.reports.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"]
            for name in names:
                assert not re.search(r"(^|\.)cli$|^click|^rich", name), (module.name, name)
