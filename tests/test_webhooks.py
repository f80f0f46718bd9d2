"""The webhook checks: on by default against the embedded emulator, opt-in and hands-off
against any other target (a trigger command, or a wait), and the receiver's bounds."""

from __future__ import annotations

import http.client
import json
import re
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.core import GivenOptions, Receiver, WebhookSetup, resolve, signature_of
from conformance.core._receiver import MAX_DELIVERIES
from conformance.emulator import Emulator
from conformance.engine import run
from conformance.jobs import embedded_target
from conformance.model._results import Outcome
from conformance.reports import load_report

from .conftest import run_cli

KEPT = 256 * 1024  # what the receivers of these tests keep of a body
WEBHOOK_CHECKS = (
    "WEBHOOK-STATE-AFTER-PATCH",
    "WEBHOOK-SIGNED",
    "WEBHOOK-ID-UNIQUE",
    "WEBHOOK-ACCOUNT-ISOLATION",
    "WEBHOOK-PAYLOAD-SHAPE",
)
TRIGGER = f"{sys.executable} {Path(__file__).parents[1] / 'bench' / 'trigger.py'}"
SECRET_ENV = "VENDOR_WEBHOOK_SECRET"


def _outcomes(result: Any) -> dict[str, Outcome]:
    return {r.check.id: r.outcome for r in result.checks if r.check.id in WEBHOOK_CHECKS}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_default_run_judges_the_deliveries_it_caused() -> None:
    with Emulator() as emulator:
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=2)))
        registered = httpx.get(
            f"{emulator.base_url}/v1/webhooks",
            headers={"Authorization": f"Bearer {emulator.describe()['accounts'][0]['api_key']}"},
        ).json()
    assert set(_outcomes(result).values()) == {Outcome.PASSED}
    reasons = {r.check.id: r.reason for r in result.checks}
    assert reasons["WEBHOOK-STATE-AFTER-PATCH"] == "3 deliveries judged"
    assert reasons["WEBHOOK-SIGNED"].endswith("deliveries judged")
    assert registered is None  # the run removed the webhook it registered


@pytest.mark.parametrize(
    ("max_bytes", "outcome"), [(8 * 1024 * 1024, Outcome.PASSED), (4096, Outcome.NOT_APPLICABLE)]
)
def test_large_deliveries_are_judged_whole_or_not_at_all(max_bytes: int, outcome: Outcome) -> None:
    """A PATCH that merges grows the metadata to megabytes (ROUNDTRIP-METADATA's values pile
    up), and every delivery carries it: judged whole when it fits --max-answer-bytes, else
    not judged - never "no delivery came"."""
    checks = ("ROUNDTRIP-METADATA", "WEBHOOK-STATE-AFTER-PATCH", "WEBHOOK-SIGNED")
    given = GivenOptions(seed=4, checks=checks, max_answer_bytes=max_bytes)
    with Emulator(faults=["semantics-merge-not-replace"]) as emulator:
        result = run(embedded_target(emulator), resolve(given))
    outcomes = {r.check.id: r.outcome for r in result.checks}
    assert outcomes["ROUNDTRIP-METADATA"] is Outcome.FAILED  # the fault, caught where it lives
    state = next(r for r in result.checks if r.check.id == "WEBHOOK-STATE-AFTER-PATCH")
    assert state.outcome is outcome, state.reason
    if outcome is Outcome.NOT_APPLICABLE:  # the answers to its GETs, or the deliveries
        assert re.search(r"^not judged: .* larger than .*4096 bytes", state.reason or ""), state
    assert outcomes["WEBHOOK-SIGNED"] in {outcome, Outcome.PASSED}  # never failed


def test_a_read_only_run_skips_them_against_the_emulator() -> None:
    with Emulator() as emulator:
        result = run(embedded_target(emulator), resolve(GivenOptions(seed=2, read_only=True)))
    assert set(_outcomes(result).values()) == {Outcome.SKIPPED}
    assert "registers a webhook" in {r.check.id: r.reason for r in result.checks}["WEBHOOK-SIGNED"]


def _external(emulator: Emulator, tmp_path: Path, *flags: str, **env: str) -> Any:
    """A run against the emulator as an external target whose test account's webhook the
    test itself pointed at the receiver's port - as a user would; the suite registers none."""
    first, second = emulator.describe()["accounts"]
    port = _free_port()
    registered = httpx.post(
        f"{emulator.base_url}/v1/webhooks",
        json={"url": f"http://127.0.0.1:{port}/hook"},
        headers={"Authorization": f"Bearer {first['api_key']}"},
    ).json()
    result = run_cli(
        "run",
        "--base-url",
        emulator.base_url,
        "--conversation-id",
        first["conversation_ids"][0],
        "--second-conversation-id",
        second["conversation_ids"][0],
        "--webhook-listen",
        f"127.0.0.1:{port}",
        "--report-dir",
        str(tmp_path),
        "--seed",
        "4",
        *flags,
        env={
            "AGENTPHONE_API_KEY": first["api_key"],
            "AGENTPHONE_SECOND_API_KEY": second["api_key"],
            SECRET_ENV: registered["secret"],
            "TRIGGER_BASE_URL": emulator.base_url,
            "TRIGGER_KEY_PRIMARY": first["api_key"],
            "TRIGGER_KEY_SECOND": second["api_key"],
            **env,
        },
    )
    return result, registered


def test_an_external_target_with_a_trigger_command(tmp_path: Path) -> None:
    with Emulator() as emulator:
        result, registered = _external(
            emulator, tmp_path, "--webhook-secret-env", SECRET_ENV, "--webhook-trigger", TRIGGER
        )
        webhook = httpx.get(
            f"{emulator.base_url}/v1/webhooks",
            headers={"Authorization": f"Bearer {emulator.describe()['accounts'][0]['api_key']}"},
        ).json()
    assert result.returncode == 0, result.stdout + result.stderr
    report = load_report(tmp_path / "report.json")
    assert set(_outcomes(report).values()) == {Outcome.PASSED}
    assert webhook == registered  # the suite never touched the account's webhook
    assert report.rerun is not None  # the same webhook setup; its secret stays in its variable
    assert f"--webhook-secret-env {SECRET_ENV} --webhook-trigger" in report.rerun
    for name in ("report.json", "summary.md", "junit.xml", "report.html"):
        assert registered["secret"] not in (tmp_path / name).read_text(encoding="utf-8")
    assert registered["secret"] not in result.stdout + result.stderr


def test_an_external_target_whose_deliveries_are_signed_wrongly(tmp_path: Path) -> None:
    with Emulator(faults=["webhook-signature-wrong-bytes"]) as emulator:
        result, registered = _external(
            emulator, tmp_path, "--webhook-secret-env", SECRET_ENV, "--webhook-trigger", TRIGGER
        )
    assert result.returncode == 1, result.stdout + result.stderr
    report = load_report(tmp_path / "report.json")
    failed = {r.check.id for r in report.checks if r.outcome is Outcome.FAILED}
    assert failed == {"WEBHOOK-SIGNED"}
    signed = next(r for r in report.checks if r.check.id == "WEBHOOK-SIGNED")
    exchange = signed.findings[0].exchange
    assert exchange is not None and exchange.method == "POST"
    assert "x-webhook-signature" in exchange.request_headers
    assert registered["secret"] not in json.dumps(exchange.to_dict())


def test_a_failing_trigger_is_an_error_never_a_failure(tmp_path: Path) -> None:
    with Emulator() as emulator:
        result, _ = _external(
            emulator,
            tmp_path,
            "--webhook-secret-env",
            SECRET_ENV,
            "--webhook-trigger",
            TRIGGER,
            "--check",
            "WEBHOOK-STATE-AFTER-PATCH",
            TRIGGER_FAIL="1",
        )
    assert result.returncode == 3, result.stdout + result.stderr
    report = load_report(tmp_path / "report.json")
    state = next(r for r in report.checks if r.check.id == "WEBHOOK-STATE-AFTER-PATCH")
    assert state.outcome is Outcome.ERROR
    assert "the webhook trigger exited with status 1" in state.reason


def test_without_setup_they_are_not_applicable_with_the_steps(tmp_path: Path) -> None:
    with Emulator() as emulator:
        result, _ = _external(emulator, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = load_report(tmp_path / "report.json")
    assert set(_outcomes(report).values()) == {Outcome.NOT_APPLICABLE}
    reason = next(r.reason for r in report.checks if r.check.id == "WEBHOOK-SIGNED")
    for step in ("--webhook-secret-env", "--webhook-trigger", "--webhook-wait", "never registers"):
        assert step in reason


def test_the_wait_mode_asks_for_a_message_and_judges_its_delivery() -> None:
    """`--webhook-wait`: the run says which conversation to send a message to; a person
    (here: a thread reading the run's progress lines) sends one."""
    with Emulator() as emulator:
        port = _free_port()
        first = emulator.describe()["accounts"][0]
        secret = httpx.post(
            f"{emulator.base_url}/v1/webhooks",
            json={"url": f"http://127.0.0.1:{port}/hook"},
            headers={"Authorization": f"Bearer {first['api_key']}"},
        ).json()["secret"]
        embedded = embedded_target(emulator)
        setup = WebhookSetup(listen=f"127.0.0.1:{port}", secret=secret, wait=10)
        target = replace(embedded, name="by hand", embedded=False, webhooks=setup)
        asked: list[str] = []

        def progress(line: str, done: int, total: int) -> None:
            if line.startswith("webhooks: send a message to conversation "):
                asked.append(line)
                conversation = line.split()[6]
                threading.Timer(0.3, emulator.arrive, [conversation]).start()

        checks = frozenset({"WEBHOOK-STATE-AFTER-PATCH", "WEBHOOK-SIGNED"})
        result = run(target, resolve(GivenOptions(seed=1, checks=checks)), progress)
    assert len(asked) == 3 and "waiting up to 10 s" in asked[0]
    assert _outcomes(result) == dict.fromkeys(checks, Outcome.PASSED)


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        (("--webhook-secret-env", SECRET_ENV, "--webhook-wait", "60"), {}, "is not set"),
        (("--webhook-secret-env", SECRET_ENV), {SECRET_ENV: "whsec_x"}, "not how a message"),
        (("--webhook-listen", "nowhere"), {}, "is not HOST:PORT"),
        (("--webhook-wait", "0"), {}, "out of range"),
        (("--webhook-public-url", "ftp://x"), {}, "is not an http(s) URL"),
    ],
)
def test_bad_webhook_options_are_one_line_usage_errors(
    flags: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    result = run_cli(
        "run",
        "--base-url",
        "http://127.0.0.1:9",
        "--conversation-id",
        "conv_1",
        *flags,
        env={"AGENTPHONE_API_KEY": "k" * 20, **env},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_listen_address_in_use_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("run", "--webhook-listen", f"127.0.0.1:{port}", "--seed", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- the receiver -------------------------------------------------------------------------


def _post(receiver: Receiver, body: bytes, headers: dict[str, str]) -> int:
    host, port = receiver.url.split("//")[1].split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/webhook", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_receiver_records_and_verifies_a_signed_delivery() -> None:
    body = b'{"event":"agent.message","data":{"conversationId":"c1","messageId":"m1"}}'
    timestamp = str(int(time.time()))
    signature = signature_of("whsec_1", timestamp, body)
    with Receiver() as receiver:
        status = _post(
            receiver,
            body,
            {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": signature},
        )
        delivery = receiver.wait_for(lambda d: True, 0, 5)
    assert status == 200 and delivery is not None
    assert (delivery.conversation_id, delivery.message_id) == ("c1", "m1")
    assert delivery.signed_by("whsec_1") and not delivery.signed_by("whsec_2")


def test_the_receiver_reads_chunked_bodies_and_cuts_large_ones() -> None:
    big = b"x" * (KEPT + 10)
    with Receiver(max_bytes=KEPT) as receiver:

        def chunks() -> Any:
            yield b'{"a":'
            yield b"1}"

        host, port = receiver.url.split("//")[1].split("/")[0].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/hook", body=chunks(), encode_chunked=True)
        assert connection.getresponse().status == 200
        connection.close()
        _post(receiver, big, {})
        _post(receiver, b"{}", {"Content-Length": "nonsense"})
        assert receiver.wait_for(lambda d: d.seq == 3, 0, 5) is not None
        chunked, cut, odd = receiver.since(0)
    assert chunked.payload == {"a": 1} and chunked.complete
    assert not cut.complete and len(cut.body) == KEPT and cut.payload is None
    assert odd.body == b""


def test_a_delivery_larger_than_is_kept_is_still_judged_by_its_whole_body() -> None:
    big = b'{"pad":"' + b"x" * (KEPT * 2) + b'"}'
    timestamp = str(int(time.time()))
    headers = {"X-Webhook-Timestamp": timestamp}
    with Receiver(max_bytes=KEPT) as receiver:
        receiver.secrets = ("whsec_1",)
        _post(
            receiver,
            big,
            {**headers, "X-Webhook-Signature": signature_of("whsec_1", timestamp, big)},
        )
        _post(
            receiver,
            big,
            {**headers, "X-Webhook-Signature": signature_of("whsec_1", timestamp, big[:-1])},
        )
        assert receiver.wait_for(lambda d: d.seq == 2, 0, 10) is not None
        signed, wrong = receiver.since(0)
    assert not signed.complete and len(signed.body) == KEPT and signed.size == len(big)
    assert signed.signed_by("whsec_1") is True and wrong.signed_by("whsec_1") is False
    assert signed.signed_by("whsec_2") is None  # not a secret it was told: cannot be told


def test_the_receiver_keeps_a_bounded_number_of_deliveries() -> None:
    with Receiver() as receiver:
        for _ in range(MAX_DELIVERIES + 3):
            _post(receiver, b"{}", {})
        assert receiver.count == MAX_DELIVERIES and receiver.dropped == 3
