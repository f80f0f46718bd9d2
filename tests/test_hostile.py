"""Hostile targets: the suite ends by itself, within its deadline, in bounded memory, with
the documented exit code and one clear line, and no credential in any encoding anywhere.

Each run is the real command line in a fresh process against a server of `tests/hostile`
(loopback only): a 400 MB answer, compression bombs, an answer that drips or stalls, a reset,
HTML, redirects, and a server that echoes the key in eight encodings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.emulator import App, Request

from .conftest import run_cli
from .hostile import (
    ECHO_ENCODINGS,
    HOSTILE,
    Exchange,
    HostileServer,
    RecordedRequest,
    encode_secret,
)

KEY = "ape_live_hostile_0123456789abcdef"
TIMEOUT = 3.0  # --timeout: seconds for a whole answer
MAX_RSS_MB = 400
ROWS = [name for name in HOSTILE if not name.startswith("echo-") and name != "slow-conformant"]


def spellings(secret: str) -> dict[str, str]:
    """Every way the key (and the whole header value) may have been written down."""
    return {
        f"{what} as {encoding}": encode_secret(value, encoding)
        for what, value in (("the key", secret), ("the header", f"Bearer {secret}"))
        for encoding in ECHO_ENCODINGS
        if encoding != "base64-offset"  # its base64 is of a longer text: checked as base64
    }


def leaks(texts: dict[str, str], secret: str) -> list[str]:
    found = []
    for where, text in texts.items():
        for how, spelled in spellings(secret).items():
            if spelled in text:
                found.append(f"{how} in {where}")
    return found


def written_files(directory: Path) -> dict[str, str]:
    return {
        str(p): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# The suite's process, run by a process of its own that writes the suite's peak memory
# (its RUSAGE_CHILDREN, kB on Linux) to a file: this test process's own RUSAGE_CHILDREN also
# counts every other child it ever waited for (a browser, another test's server).
MEASURED = (
    "import os, resource, subprocess, sys\n"
    "code = subprocess.call([sys.executable, *sys.argv[1:]])\n"
    "with open(os.environ['PEAK_RSS_FILE'], 'w') as out:\n"
    "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def peak_rss_mb(measured: Path) -> float:
    return int(measured.read_text()) / 1024


def suite(base_url: str, report_dir: Path, *extra: str) -> tuple[Any, float, float]:
    """The run's answer, its seconds, and its peak memory in MB."""
    measured = report_dir.parent / "peak-rss"
    argv = ["--base-url", base_url, "--conversation-id", "conv_a1", "--seed", "1"]
    argv += ["--report-dir", str(report_dir), "--timeout", str(TIMEOUT), *extra]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_")}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, "-m", "conformance", "run", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, "AGENTPHONE_API_KEY": KEY, "PEAK_RSS_FILE": str(measured)},
        check=False,
    )
    return done, time.monotonic() - start, peak_rss_mb(measured)


@pytest.mark.parametrize("name", ROWS)
def test_a_hostile_target_costs_a_deadline_a_bounded_memory_and_one_clear_line(
    name: str, tmp_path: Path
) -> None:
    har = tmp_path / "run.har"
    with HOSTILE[name]() as server:
        done, seconds, peak_mb = suite(server.base_url, tmp_path / "reports", "--har", str(har))
        requests = list(server.requests)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output  # cannot test: never blamed as a violation (1)
    assert "Traceback" not in output
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")], output
    assert seconds < TIMEOUT + 15, seconds  # the answer's deadline, plus the start-up
    assert peak_mb < MAX_RSS_MB, peak_mb
    assert not leaks({"output": output, **written_files(tmp_path)}, KEY)
    # the HAR holds what the target answered, each body cut at 64 KiB: bounded too
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    assert entries and har.stat().st_size < 1024 * 1024
    if name.startswith("redirect-off-host"):
        assert len(requests) == 1  # not followed: the key never goes to another origin
    if name == "redirect-same-host":  # followed, within the origin, to its 404
        assert [r.path for r in requests] == ["/v1/conversations/conv_a1", "/v1/elsewhere"]


@pytest.mark.parametrize("encoding", ECHO_ENCODINGS)
def test_a_target_that_refuses_and_echoes_the_key_leaks_it_nowhere(
    encoding: str, tmp_path: Path
) -> None:
    with HOSTILE[f"echo-{encoding}"]() as server:
        done, _, _ = suite(
            server.base_url,
            tmp_path / "reports",
            "--har",
            str(tmp_path / "run.har"),
            "--badge",
            str(tmp_path / "badge.svg"),
        )
    output = done.stdout + done.stderr
    assert done.returncode == 3 and "was refused (401)" in output, output
    files = written_files(tmp_path)
    assert not leaks({"output": output, **files}, KEY)
    assert "could not be tested" in files[str(tmp_path / "run.har")]  # what it answered
    assert ">not testable</text>" in files[str(tmp_path / "badge.svg")]


def echoing_emulator(app: App, encoding: str) -> Any:
    """The emulator, answering as usual, but with the Authorization it was sent echoed in
    `encoding` in a header, a cookie and the body of every answer."""

    def behaviour(exchange: Exchange, request: RecordedRequest) -> bool:
        answer = app.handle(
            Request(request.method, request.path, request.query, request.headers, request.body)
        )
        presented = request.headers.get("authorization", "")
        echoed = encode_secret(presented, encoding)
        token = encode_secret(presented.partition(" ")[2] or presented, encoding)
        headers = [
            *((k, v) for k, v in answer.headers.items() if k.lower() != "content-length"),
            ("X-Debug-Auth", echoed),
            ("Set-Cookie", f"session={token}; Path=/; HttpOnly"),
        ]
        body = answer.body
        if body.endswith(b"}"):  # a JSON object: one more member, the echo
            body = body[:-1] + f', "debug": {json.dumps(token)}}}'.encode()
        return exchange.send_response(request, answer.status, headers, body)

    return behaviour


@pytest.mark.parametrize("encoding", ECHO_ENCODINGS)
def test_a_target_that_serves_and_echoes_the_key_is_caught_and_leaks_it_nowhere(
    encoding: str, tmp_path: Path
) -> None:
    app = App()
    key, ids = (
        app.state.accounts[0].api_key,
        [c.id for c in app.state.conversations_of(app.state.accounts[0])],
    )
    server = HostileServer(echoing_emulator(app, encoding), max_body=4 * 1024 * 1024)
    with server:
        done = run_cli(
            "run",
            "--base-url",
            server.base_url,
            *(a for cid in ids for a in ("--conversation-id", cid)),
            "--report-dir",
            str(tmp_path / "reports"),
            "--seed",
            "2",
            "--check",
            "AUTH-NO-CREDENTIAL-ECHO",
            "--check",
            "META-PERSISTED",
            "--har",
            str(tmp_path / "reports" / "run.har"),
            env={"AGENTPHONE_API_KEY": key},
            timeout=120,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # the echo is a finding: AUTH-NO-CREDENTIAL-ECHO
    assert "AUTH-NO-CREDENTIAL-ECHO" in output and "Traceback" not in output
    files = written_files(tmp_path)
    assert {Path(p).name for p in files} >= {"report.json", "summary.md", "report.html", "run.har"}
    assert not leaks({"output": output, **files}, key)
    assert "[REDACTED]" in files[str(tmp_path / "reports" / "report.json")]


def test_our_own_bad_input_is_one_line_and_a_usage_error(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    for args, needle in (
        (("run", "--max-requests", "1"), "--max-requests 1 is too small"),
        (("run", "--report-dir", str(blocked / "reports")), "cannot write to"),
        (("run", "--har", str(blocked / "run.har")), "cannot write to"),
        (("run", "--badge", str(blocked / "badge.svg")), "cannot write to"),
        (("selftest", "--report-dir", str(blocked / "reports")), "cannot write to"),
        (("matrix", "--report-dir", str(blocked / "reports")), "cannot write to"),
        (("run", "--deadline", "0"), "--deadline must be at least 1"),
        (("run", "--max-answer-bytes", "10"), "--max-answer-bytes must be at least 1024"),
    ):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], lines
        assert not (blocked / "reports").exists()


@pytest.mark.parametrize(
    "conversation_id", ["conv_a1?x=1", "conv_a1#frag", "../conversations/conv_a1"]
)
def test_an_id_is_one_path_segment_whatever_it_holds(conversation_id: str, tmp_path: Path) -> None:
    with HOSTILE["slow-conformant"]() as server:
        done = run_cli(
            "run",
            "--base-url",
            server.base_url,
            "--conversation-id",
            conversation_id,
            "--report-dir",
            str(tmp_path),
            env={"AGENTPHONE_API_KEY": KEY},
        )
        (request,) = server.requests
    assert done.returncode == 3, done.stderr  # the target says it does not exist: cannot test
    assert "does not exist" in done.stderr and done.stderr.count("\n") == 1
    assert request.path.count("/") == 3 and request.query == ""  # /v1/conversations/<one>


def test_a_failing_run_says_how_to_run_it_again(tmp_path: Path) -> None:
    done = run_cli(
        "run", "--emulator-fault", "semantics-null-ignored", "--seed", "5",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 1
    again = (
        "agentphone-conformance run --emulator-fault semantics-null-ignored --seed 5 "
        f"--profile quick --report-dir {tmp_path}"
    )
    assert f"rerun: {again}" in done.stdout
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert again in summary and f"{again} --check META-NULL-CLEARS" in summary
    again = again.split(" --report-dir")[0]
    rerun = subprocess.run(
        [sys.executable, "-m", "conformance", *again.split()[1:], "--check", "META-NULL-CLEARS",
         "--report-dir", str(tmp_path / "again")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert rerun.returncode == 1 and "META-NULL-CLEARS" in rerun.stdout
