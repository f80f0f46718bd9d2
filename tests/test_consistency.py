"""Consistency under concurrency: the emulator's three faults each caught by exactly the
checks they name, on every seed; conformant servers that serialize writes with a lock,
write slowly, or copy on write are clean; a history is bounded, honours the switches
(--no-concurrency, --read-only, the budget) and is drawn when a check fails; 429s during
the history are waited out, never a failure.

And conditional writes: against a target that serves ETags every write of the suite carries
If-Match (the history's racing writers aside), so another client's write is never
overwritten; a 412 is that client's write, left in place.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from conformance.core import GivenOptions, TargetSpec
from conformance.emulator import App, Emulator
from conformance.emulator._app import Request
from conformance.jobs import Job, execute, run_options
from conformance.model import Outcome, RunResult
from conformance.reports import report_schema

from .conftest import run_cli
from .realistic._middleware import capture, respond
from .servers import serve
from .servers.seed_app import create_app

CONSISTENCY = (
    "CONSISTENCY-ATOMIC-REPLACE",
    "CONSISTENCY-READ-YOUR-WRITES",
    "CONSISTENCY-MONOTONIC-READS",
    "CONSISTENCY-LINEARIZABLE",
)
TRIPS = {
    "consistency-torn-write": {"CONSISTENCY-ATOMIC-REPLACE", "CONSISTENCY-LINEARIZABLE"},
    "consistency-stale-replica": {"CONSISTENCY-READ-YOUR-WRITES", "CONSISTENCY-LINEARIZABLE"},
    "consistency-flapping-replicas": {
        "CONSISTENCY-MONOTONIC-READS",
        "CONSISTENCY-READ-YOUR-WRITES",
        "CONSISTENCY-LINEARIZABLE",
    },
    "consistency-worker-caches": {"CONSISTENCY-READ-YOUR-WRITES", "CONSISTENCY-LINEARIZABLE"},
}


def _run(tmp_path: Path, faults: tuple[str, ...] = (), seed: int = 1, **options: Any) -> RunResult:
    given = GivenOptions(seed=seed, checks=CONSISTENCY, **options)
    result, _ = execute(Job(TargetSpec(faults=faults), run_options(given)), tmp_path)
    return result


def _outcomes(result: RunResult) -> dict[str, Outcome]:
    return {r.check.id: r.outcome for r in result.checks}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("fault", sorted(TRIPS))
def test_each_fault_trips_exactly_its_checks_on_every_seed(
    tmp_path: Path, fault: str, seed: int
) -> None:
    outcomes = _outcomes(_run(tmp_path, (fault,), seed))
    failed = {check for check, outcome in outcomes.items() if outcome is Outcome.FAILED}
    assert failed == TRIPS[fault], outcomes
    assert all(o in (Outcome.PASSED, Outcome.FAILED) for o in outcomes.values()), outcomes


@pytest.mark.parametrize("seed", range(1, 11))
def test_the_conformant_emulator_is_clean_on_ten_seeds(tmp_path: Path, seed: int) -> None:
    outcomes = _outcomes(_run(tmp_path, seed=seed))
    assert set(outcomes.values()) == {Outcome.PASSED}, outcomes


def test_a_failed_check_draws_its_history_and_report_json_holds_it(tmp_path: Path) -> None:
    result = _run(tmp_path, ("consistency-stale-replica",))
    ryw = next(r for r in result.checks if r.check.id == "CONSISTENCY-READ-YOUR-WRITES")
    assert ryw.outcome is Outcome.FAILED and ryw.history
    lanes = {op.lane for op in ryw.history}
    assert {"start", "writer 1", "reader 1", "after"} <= lanes
    assert any(op.bad and op.kind == "read" for op in ryw.history)
    assert all(op.call_ms <= op.ret_ms for op in ryw.history)
    passed = next(r for r in result.checks if r.check.id == "CONSISTENCY-ATOMIC-REPLACE")
    assert passed.outcome is Outcome.PASSED and not passed.history  # drawn when failed
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    Draft202012Validator(report_schema()).validate(data)
    drawn = next(c for c in data["checks"] if c["check"]["id"] == ryw.check.id)["history"]
    assert len(drawn) == len(ryw.history)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<svg class="history"' in html and "writer 1" in html


def test_a_history_is_bounded_and_every_request_is_in_the_budget(tmp_path: Path) -> None:
    from conformance.checks._concurrent import sizes_for

    result = _run(tmp_path)
    most = sizes_for("quick").most_requests
    recorded = next(r for r in result.checks if r.check.id == "CONSISTENCY-ATOMIC-REPLACE")
    assert 0 < recorded.exchanges <= most
    assert result.requests_sent <= result.settings.max_requests


def test_the_switches_turn_it_off(tmp_path: Path) -> None:
    off = _run(tmp_path / "off", no_concurrency=True)
    assert set(_outcomes(off).values()) == {Outcome.NOT_APPLICABLE}
    assert all("--no-concurrency" in r.reason for r in off.checks)
    read_only = _run(tmp_path / "ro", read_only=True)
    assert set(_outcomes(read_only).values()) == {Outcome.SKIPPED}
    small = _run(tmp_path / "small", max_requests=30)
    reasons = {r.reason for r in small.checks}
    assert set(_outcomes(small).values()) == {Outcome.SKIPPED}, reasons
    assert all("budget" in reason for reason in reasons)


def test_throttling_during_the_history_is_waited_out(tmp_path: Path) -> None:
    with Emulator(throttle_every=5) as emulator:
        first = emulator.state.describe()[0]
        done = run_cli(
            *("run", "--base-url", emulator.base_url),
            *("--conversation-id", first["conversation_ids"][0], "--seed", "3"),
            *(a for check in CONSISTENCY for a in ("--check", check)),
            *("--report-dir", str(tmp_path)),
            env={"AGENTPHONE_API_KEY": first["api_key"]},
        )
    assert done.returncode == 0, done.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert {c["outcome"] for c in report["checks"]} == {"passed"}


@pytest.mark.parametrize(
    "options",
    [{}, {"write_delay": 0.25}, {"write_delay": 0.25, "hold_lock_while_writing": False}],
    ids=["lock", "slow-writes-under-a-lock", "slow-copy-on-write"],
)
def test_atomic_servers_written_apart_are_clean(tmp_path: Path, options: dict[str, Any]) -> None:
    app = create_app(**options)
    key, ids = app.state.accounts[0]
    with serve(app) as server:
        for seed in (1, 2):
            done = run_cli(
                *("run", "--base-url", server.base_url, "--conversation-id", ids[0]),
                *("--seed", str(seed), "--report-dir", str(tmp_path / str(seed))),
                *(a for check in CONSISTENCY for a in ("--check", check)),
                env={"AGENTPHONE_API_KEY": key},
                timeout=180,
            )
            assert done.returncode == 0, done.stdout


class _MixedAnswers:
    """A PATCH's answer shows its document mixed with the one written before (a cache of the
    answer built from two rows); storage and GETs stay whole."""

    def __init__(self, app: Any) -> None:
        self.app, self.before = app, None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "PATCH":
            await self.app(scope, receive, send)
            return
        answer = await capture(self.app, scope, receive)
        body = json.loads(answer.body) if answer.status == 200 else None
        if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
            written = body["metadata"]
            if isinstance(self.before, dict):
                body["metadata"] = {**self.before, **dict(list(written.items())[:2])}
            self.before = written
            answer = answer.replaced(json.dumps(body).encode())
        await respond(send, answer)


def test_a_patch_answer_that_mixes_documents_fails_atomic_replace(tmp_path: Path) -> None:
    app = create_app()
    key, ids = app.state.accounts[0]
    with serve(_MixedAnswers(app)) as server:
        done = run_cli(
            *("run", "--base-url", server.base_url, "--conversation-id", ids[0]),
            *("--report-dir", str(tmp_path), "--check", "CONSISTENCY-ATOMIC-REPLACE"),
            env={"AGENTPHONE_API_KEY": key},
            timeout=120,
        )
    assert done.returncode == 1, done.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (check,) = [c for c in report["checks"] if c["check"]["id"] == "CONSISTENCY-ATOMIC-REPLACE"]
    assert "PATCH showed a mixture of documents" in json.dumps(check["findings"]), check


# --- the emulator's faults, on their own --------------------------------------------------------


def _patch(app: App, cid: str, key: str, metadata: Any, connection: str = "w") -> Any:
    body = json.dumps({"metadata": metadata}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return app.handle(Request("PATCH", f"/v1/conversations/{cid}", "", headers, body, connection))


def _get(app: App, cid: str, key: str, connection: str, if_match: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    return app.handle(Request("GET", f"/v1/conversations/{cid}", "", headers, b"", connection))


def _first(app: App) -> tuple[str, str]:
    account = app.state.accounts[0]
    return account.api_key, app.state.conversations_of(account)[0].id


def test_a_stale_replica_serves_connections_that_never_wrote() -> None:
    app = App(faults=frozenset({"consistency-stale-replica"}))
    key, cid = _first(app)
    before = _get(app, cid, key, "reader").json()["metadata"]
    assert _patch(app, cid, key, {"x": 1}).status == 200
    assert _get(app, cid, key, "w").json()["metadata"] == {"x": 1}  # sticky: it wrote
    assert _get(app, cid, key, "reader").json()["metadata"] == before  # 150 ms behind
    time.sleep(0.2)
    assert _get(app, cid, key, "reader").json()["metadata"] == {"x": 1}  # caught up


def test_flapping_replicas_alternate_for_a_reader() -> None:
    app = App(faults=frozenset({"consistency-flapping-replicas"}))
    key, cid = _first(app)
    before = _get(app, cid, key, "setup").json()["metadata"]  # this reader's first: primary
    _patch(app, cid, key, {"x": 1})
    seen = [_get(app, cid, key, "reader").json()["metadata"] for _ in range(4)]
    assert seen == [{"x": 1}, before, {"x": 1}, before]


def test_a_torn_write_is_seen_in_part_by_a_read_at_the_same_time() -> None:
    app = App(faults=frozenset({"consistency-torn-write"}))
    key, cid = _first(app)
    document = {f"k{i}": i for i in range(8)}
    writer = threading.Thread(target=_patch, args=(app, cid, key, document))
    seen = []
    writer.start()
    while writer.is_alive():
        seen.append(_get(app, cid, key, "reader").json()["metadata"])
    writer.join()
    parts = [s for s in seen if isinstance(s, dict) and s and set(s) < set(document)]
    assert parts, seen  # some read saw a part of the document
    assert _get(app, cid, key, "reader").json()["metadata"] == document  # then all of it


def test_the_in_process_transport_names_each_client_s_connection() -> None:
    from conformance.core import Client

    with Emulator(faults=["consistency-stale-replica"]) as emulator:
        key, cid = _first(emulator.app)
        root = Client(
            emulator.base_url, {}, max_requests=50, timeout=5, max_answer_bytes=10**7,
            transport=emulator.transport(),
        )  # fmt: skip
        lane = root.lane()
        path = f"/v1/conversations/{cid}"
        auth = f"Bearer {key}"
        before = lane.send("GET", path, authorization=auth).json_body["metadata"]
        root.send("PATCH", path, authorization=auth, json_body={"metadata": {"y": 2}})
        assert root.send("GET", path, authorization=auth).json_body["metadata"] == {"y": 2}
        assert lane.send("GET", path, authorization=auth).json_body["metadata"] == before
        assert root.sent == 4  # the lane spent the root's budget
        lane.close()
        root.close()


# --- conditional writes ---------------------------------------------------------------------------


def test_the_emulator_honours_if_match() -> None:
    app = App(etags=True)
    key, cid = _first(app)
    tag = _get(app, cid, key, "c").headers["ETag"]
    stale = _patch_if(app, cid, key, {"a": 1}, '"not-it"')
    assert stale.status == 412 and _get(app, cid, key, "c").headers["ETag"] == tag
    assert _patch_if(app, cid, key, {"a": 1}, f"W/{tag}").status == 412  # weak never matches
    written = _patch_if(app, cid, key, {"a": 1}, tag)
    assert written.status == 200 and written.headers["ETag"] != tag
    assert written.headers["ETag"] == _get(app, cid, key, "c").headers["ETag"]
    assert _patch_if(app, cid, key, {"a": 2}, "*").status == 200


def _patch_if(app: App, cid: str, key: str, metadata: Any, tag: str) -> Any:
    body = json.dumps({"metadata": metadata}).encode()
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "If-Match": tag,
    }
    return app.handle(Request("PATCH", f"/v1/conversations/{cid}", "", headers, body, "c"))


def test_every_write_carries_if_match_against_a_target_with_etags(tmp_path: Path) -> None:
    with Emulator(etags=True) as emulator:
        first = emulator.state.describe()[0]
        done = run_cli(
            *("run", "--base-url", emulator.base_url),
            *("--conversation-id", first["conversation_ids"][0], "--seed", "2"),
            *("--report-dir", str(tmp_path), "--har", str(tmp_path / "run.har")),
            env={"AGENTPHONE_API_KEY": first["api_key"]},
        )
    assert done.returncode == 0, done.stdout
    entries = json.loads((tmp_path / "run.har").read_text(encoding="utf-8"))["log"]["entries"]
    patches = [e for e in entries if e["request"]["method"] == "PATCH"]
    conditional = [
        e for e in patches if any(h["name"].lower() == "if-match" for h in e["request"]["headers"])
    ]
    racing = [e for e in patches if '"conformance": "consistency"' in _body(e)]
    racing = [e for e in racing if '"write": "S-' not in _body(e)]  # the history's writers
    assert racing and not any(e in conditional for e in racing)
    unconditional = [e for e in patches if e not in conditional and e not in racing]
    # the rest: first writes of a conversation before its tag was known, other accounts' and
    # unknown ids' (probes that change nothing), and writes whose tag an earlier one dropped
    assert len(conditional) > len(patches) // 2, (len(conditional), len(patches))
    assert not any(e["response"]["status"] == 412 for e in patches)
    restores = [e for e in conditional if e["pageref"].startswith("restore")]
    assert restores, {e["pageref"] for e in conditional}
    assert unconditional is not None


def _body(entry: dict[str, Any]) -> str:
    return str((entry["request"].get("postData") or {}).get("text", ""))


def test_another_client_s_write_is_never_overwritten_with_etags(tmp_path: Path) -> None:
    """Another client writes the writable conversation in the middle of the run: the
    suite's next write carries the old If-Match, is refused 412, and the other client's
    value stays - the run inconclusive (exit 3), no finding against the target."""
    with Emulator(etags=True) as emulator:
        first = emulator.state.describe()[0]
        cid = first["conversation_ids"][0]
        theirs = {"written": "by another client"}
        url = f"{emulator.base_url}/v1/conversations/{cid}"
        headers = {"Authorization": f"Bearer {first['api_key']}"}

        original = httpx.get(url, headers=headers, timeout=5).json()["metadata"]

        def other_client() -> None:
            for _ in range(600):  # once the run has written there (at most 30 s)
                if httpx.get(url, headers=headers, timeout=5).json()["metadata"] != original:
                    httpx.patch(url, headers=headers, json={"metadata": theirs}, timeout=5)
                    return
                time.sleep(0.05)

        writer = threading.Thread(target=other_client)
        writer.start()
        done = run_cli(
            *("run", "--base-url", emulator.base_url, "--conversation-id", cid, "--seed", "4"),
            *("--rate-limit", "150", "--report-dir", str(tmp_path)),
            env={"AGENTPHONE_API_KEY": first["api_key"]},
        )
        writer.join()
        held = httpx.get(url, headers=headers, timeout=5).json()["metadata"]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert done.returncode == 3, done.stdout
    assert report["other_writers"] == [cid]
    assert held == theirs
    assert not any(c["outcome"] == "failed" for c in report["checks"]), done.stdout


def test_a_412_is_someone_else_s_write_unless_the_value_is_the_run_s() -> None:
    """The client's side: a write refused for its If-Match reads the conversation again; a
    value the run put there (the tag moved for another reason: a message arrived) is
    written over once with the new tag; anyone else's is ConditionFailed."""
    from conformance.core import Client, ConditionFailed

    with Emulator(etags=True) as emulator:
        first = emulator.state.describe()[0]
        path = f"/v1/conversations/{first['conversation_ids'][0]}"
        auth = f"Bearer {first['api_key']}"
        client = Client(emulator.base_url, {}, max_requests=50, timeout=5, max_answer_bytes=10**7)
        client.send("GET", path, authorization=auth)
        emulator.arrive(first["conversation_ids"][0])  # the tag moves, the metadata does not
        moved = client.send("PATCH", path, authorization=auth, json_body={"metadata": {"n": 1}})
        assert moved.status == 200  # read again, written again with the new tag
        httpx.patch(
            f"{emulator.base_url}{path}",
            headers={"Authorization": auth},
            json={"metadata": {"theirs": True}},
            timeout=5,
        )
        client.ours = lambda metadata: metadata != {"theirs": True}
        with pytest.raises(ConditionFailed) as refused:
            client.send("PATCH", path, authorization=auth, json_body={"metadata": {"n": 2}})
        assert refused.value.metadata == {"theirs": True}
        held = client.send("GET", path, authorization=auth).json_body["metadata"]
        assert held == {"theirs": True}
        client.close()


# --- the picture, in a real browser ---------------------------------------------------------

from ._browser import browser, pixels, png_size, screenshot  # noqa: E402


def _near(png: Path, colour: str, tolerance: int = 24) -> int:
    target = (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))
    return sum(
        1
        for p in pixels(png)
        if max(abs(a - b) for a, b in zip(p, target, strict=True)) <= tolerance
    )


@pytest.mark.skipif(browser() is None, reason="no headless Chromium: the page cannot be rendered")
def test_report_html_draws_a_failing_history_in_a_browser(tmp_path: Path) -> None:
    """A real failing run's report.html, screenshotted whole in headless Chromium: the
    writes' bars are there in their blue, and the faulty reads add red that the same page
    without the history lacks."""
    from dataclasses import replace

    from conformance.reports import render_html

    result = _run(tmp_path / "run", ("consistency-stale-replica",))
    drawn, bare = tmp_path / "drawn.html", tmp_path / "bare.html"
    drawn.write_text(render_html(result), encoding="utf-8")
    without = replace(result, checks=[replace(r, history=()) for r in result.checks])
    bare.write_text(render_html(without), encoding="utf-8")
    shots = {}
    for page in (drawn, bare):
        png = page.with_suffix(".png")
        assert screenshot(page, png, width=1280, height=9000)
        assert png_size(png) == (1280, 9000)
        shots[page.stem] = png
    assert _near(shots["drawn"], "#54aeff") - _near(shots["bare"], "#54aeff") > 300  # writes
    assert _near(shots["drawn"], "#cf222e") - _near(shots["bare"], "#cf222e") > 100
