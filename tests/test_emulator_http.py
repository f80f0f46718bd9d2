"""The emulator over real sockets, embedded and as the `emulator` command."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from conformance.emulator import Emulator

from .conftest import BUSY, KEY_1, run_cli


def _raw(base_url: str, payload: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received:
                break
        return received


def test_embedded_emulator_serves_keep_alive_requests(emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {KEY_1}"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=5) as client:
        answers = [
            client.patch(f"/v1/conversations/{BUSY}", json={"metadata": {"n": n}}) for n in range(5)
        ]
        assert [a.json()["metadata"] for a in answers] == [{"n": n} for n in range(5)]
        assert client.get(f"/v1/conversations/{BUSY}").json()["metadata"] == {"n": 4}
    assert emulator.state.conversations[BUSY].metadata == {"n": 4}


def test_chunked_request_bodies_are_read(emulator: Emulator) -> None:
    def chunks() -> object:
        yield b'{"metadata": '
        yield b'{"chunked": true}}'

    response = httpx.patch(
        f"{emulator.base_url}/v1/conversations/{BUSY}",
        content=chunks(),  # type: ignore[arg-type]
        headers={"Authorization": f"Bearer {KEY_1}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["metadata"] == {"chunked": True}


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"BREW /v1/conversations/x HTTP/1.1", b"HTTP/1.1 405 "),  # the stdlib would say 501
        # The stdlib answers these in HTTP/0.9 style: an error page with no status line.
        (b"GET /v1/conversations HTTP/2.0", b"Error code: 400"),  # the stdlib would say 505
        (b"GARBAGE", b"Error code: 400"),
    ],
)
def test_odd_requests_never_get_a_5xx(
    emulator: Emulator, request_line: bytes, status: bytes
) -> None:
    answer = _raw(emulator.base_url, request_line + b"\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status in answer


def test_two_emulators_have_separate_state_and_stop_frees_the_port() -> None:
    with Emulator() as one, Emulator(faults=["semantics-null-ignored"]) as two:
        assert one.base_url != two.base_url
        for running in (one, two):
            httpx.patch(
                f"{running.base_url}/v1/conversations/{BUSY}",
                json={"metadata": None},
                headers={"Authorization": f"Bearer {KEY_1}"},
            )
        assert one.state.conversations[BUSY].metadata is None
        assert two.state.conversations[BUSY].metadata is not None
        url = one.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_describe_prints_one_json_line() -> None:
    result = run_cli("emulator", "--describe", "--port", "9911")
    assert result.returncode == 0
    (line,) = result.stdout.splitlines()
    described = json.loads(line)
    assert described["base_url"] == "http://127.0.0.1:9911"
    first, second = described["accounts"]
    assert first["api_key"] == KEY_1 and len(first["conversation_ids"]) == 2
    assert len(second["conversation_ids"]) == 2


def test_faults_lists_every_fault_with_what_it_trips() -> None:
    result = run_cli("faults", "--json")
    faults = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(faults) >= 20
    assert all(f["name"] and f["description"] and f["trips"] for f in faults)
    human = run_cli("faults")
    assert all(f["name"] in human.stdout for f in faults)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("emulator", "--fault", "no-such-fault"), "unknown fault 'no-such-fault'"),
        (("emulator", "--port", "99999"), "99999"),
    ],
)
def test_bad_emulator_options_exit_2_with_one_line(args: tuple[str, ...], needle: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_one_line_and_exit_2(emulator: Emulator) -> None:
    port = emulator.base_url.rsplit(":", 1)[1]
    result = run_cli("emulator", "--port", port)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_emulator_command_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance",
            "emulator",
            "--port",
            "0",
            "--fault",
            "shape-wrong-type",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split(" on ")[1].split(" ")[0]
        assert "shape-wrong-type" in first
        body = httpx.get(
            f"{url}/v1/conversations/{BUSY}",
            headers={"Authorization": f"Bearer {KEY_1}"},
            timeout=5,
        ).json()
        assert body["messageCount"] == "3"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "stopped." in out and "Traceback" not in err


# (method, path, headers, body): each answered alike over a socket and in-process.
SAME_EITHER_WAY: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("GET", f"/v1/conversations/{BUSY}?message_limit=2", {}, None),
    ("GET", "/v1/conversations?limit=1&offset=1", {}, None),
    ("GET", "/v1/conversations/conv%2F..%2Fx", {}, None),  # one path segment, never a route
    ("GET", f"/v1/conversations/{BUSY}?message_limit=abc", {}, None),
    ("PATCH", f"/v1/conversations/{BUSY}", {}, b'{"metadata": {"k": "v"}}'),
    ("PATCH", f"/v1/conversations/{BUSY}", {}, b'{"metadata": 1}'),
    ("PATCH", f"/v1/conversations/{BUSY}", {"Content-Type": "text/plain"}, b"x"),
    ("PATCH", f"/v1/conversations/{BUSY}", {"Authorization": "Bearer nope"}, b"{}"),
    ("DELETE", f"/v1/conversations/{BUSY}", {}, None),
    ("HEAD", f"/v1/conversations/{BUSY}", {}, None),
    ("BREW", f"/v1/conversations/{BUSY}", {}, None),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), SAME_EITHER_WAY)
def test_the_in_process_transport_answers_as_the_server_does(
    method: str, path: str, headers: dict[str, str], body: bytes | None
) -> None:
    """`Emulator.transport()` (how a run reaches the embedded emulator) and the HTTP server
    hand the same request to the app alike and answer alike: status, headers, body, and the
    state it leaves."""
    sent = {"Authorization": f"Bearer {KEY_1}", "Content-Type": "application/json", **headers}
    answers, states = [], []
    for in_process in (False, True):
        with Emulator() as emulator:
            transport = emulator.transport() if in_process else None
            with httpx.Client(base_url=emulator.base_url, transport=transport) as client:
                answer = client.request(method, path, headers=sent, content=body)
            answers.append(answer)
            states.append(emulator.state.conversations[BUSY].metadata)
    socket_answer, direct = answers
    assert direct.status_code == socket_answer.status_code
    assert direct.content == socket_answer.content
    kept = ("content-type", "content-length", "allow", "www-authenticate", "retry-after")
    for name in kept:
        assert direct.headers.get(name) == socket_answer.headers.get(name), name
    assert states[0] == states[1]
