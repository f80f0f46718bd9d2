"""The hostile servers of tests/hostile do what they say, and stop when told.

Every client here is bounded: raw sockets with time-outs reading a capped number of
bytes, or httpx streaming with tight time-outs and stopping after a few KB.
"""

from __future__ import annotations

import base64
import itertools
import json
import resource
import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import brotli
import httpx
import pytest

from tests.hostile import (
    ECHO_ENCODINGS,
    HOSTILE,
    HostileServer,
    bomb_payload,
    drip,
    drip_headers,
    echo_credentials,
    html,
    huge_json,
    redirect_off_host,
    redirect_same_host,
    reset,
    slow_conformant,
    stall,
)
from tests.hostile.behaviours import _build_bomb

KEY = "sk_live_4f9a0c2e7b1d8e6f"
ODD_KEY = "sk~~~?/+= %q'z"  # every encoding of it differs (base64 has + / =)
PATH = "/v1/conversations/conv_123"
LIMITS = httpx.Timeout(3.0)
MB = 1 << 20


@contextmanager
def serving(server: HostileServer) -> Iterator[HostileServer]:
    """Run ``server``; afterwards it must have stopped promptly and raised nothing."""
    with server:
        yield server
    assert server.errors == []
    assert not [t for t in threading.enumerate() if t.name.startswith(server.name + "-")]


@contextmanager
def connect(server: HostileServer, timeout: float = 2.0) -> Iterator[socket.socket]:
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        yield sock
    finally:
        sock.close()


def send_get(sock: socket.socket, path: str = PATH, key: str = KEY) -> None:
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        "Accept: application/json\r\n\r\n".encode()
    )


def read_head(sock: socket.socket, limit: int = 16384) -> tuple[str, dict[str, str], bytes]:
    """Status line, headers (lower-cased names) and the body bytes read past them."""
    data = b""
    while b"\r\n\r\n" not in data:
        assert len(data) < limit, "no end of headers"
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    return status, headers, rest


def read_for(sock: socket.socket, seconds: float, limit: int = 65536) -> tuple[bytes, list[float]]:
    """What arrives within ``seconds`` (at most ``limit`` bytes), and when each piece did."""
    data, times = b"", []
    deadline = time.monotonic() + seconds
    while len(data) < limit and (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(65536, limit - len(data)))
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
        times.append(time.monotonic())
    return data, times


def inflate(encoding: str, payload: bytes, max_out: int, step: int = 16 * MB) -> Iterator[bytes]:
    """Decompress ``payload`` in pieces of at most ``step`` bytes, stopping after about
    ``max_out`` bytes (the stream is checked to its end when it fits)."""
    out = 0
    if encoding == "br":
        d = brotli.Decompressor()
        data = payload
        while out < max_out and not d.is_finished():
            piece = d.process(data, output_buffer_limit=step)
            data = b""
            out += len(piece)
            yield piece
        return
    z = zlib.decompressobj({"gzip": 31, "deflate": 15}[encoding])
    data = payload
    while out < max_out and not z.eof:
        piece = z.decompress(data, step)
        data = z.unconsumed_tail
        out += len(piece)
        yield piece
        assert piece or data, "truncated stream"
    if z.eof:
        assert z.unused_data == b""


# ---- huge JSON -----------------------------------------------------------------------------


def test_huge_json_declares_400_mb_and_starts_with_json() -> None:
    with serving(huge_json()) as server, connect(server) as sock:
        send_get(sock)
        status, headers, body = read_head(sock)
        assert status == "HTTP/1.1 200 OK"
        assert headers["content-length"] == "400000000"
        assert headers["content-type"] == "application/json"
        data, _ = read_for(sock, 2.0, limit=MB)
        body += data
        assert body.startswith(b'{"metadata": {"x": "aaaa')
        assert len(body) >= 512 * 1024
        (request,) = server.wait_for_requests(1)
        assert (request.method, request.path) == ("GET", PATH)
        assert request.headers["authorization"] == f"Bearer {KEY}"


def test_huge_json_small_instance_is_exact_valid_json() -> None:
    with serving(huge_json(total_bytes=1_000_003)) as server:
        response = httpx.get(server.url(PATH), timeout=LIMITS)
    assert response.status_code == 200
    assert len(response.content) == 1_000_003
    assert set(json.loads(response.content)["metadata"]["x"]) == {"a"}


def test_huge_json_memory_stays_flat() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with serving(huge_json()) as server, connect(server) as sock:
        send_get(sock)
        read_head(sock)
        received = 0
        while received < 10 * MB:
            chunk = sock.recv(256 * 1024)
            assert chunk
            received += len(chunk)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    assert (after - before) * scale < 64 * MB


# ---- compression bombs ----------------------------------------------------------------------

BOMBS = [("gzip-bomb", "gzip"), ("deflate-bomb", "deflate"), ("brotli-bomb", "br")]


@pytest.mark.parametrize(("name", "encoding"), BOMBS)
def test_bomb_is_small_on_the_wire_and_inflates_to_json(name: str, encoding: str) -> None:
    with serving(HOSTILE[name]()) as server:
        with httpx.stream("GET", server.url(PATH), timeout=LIMITS) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            assert response.headers["content-encoding"] == encoding
            size = int(response.headers["content-length"])
            assert size < 2 * MB
            payload = b""
            for chunk in response.iter_raw():
                payload += chunk
                assert len(payload) <= size
        assert len(payload) == size
    first = b"".join(inflate(encoding, payload, 4 * MB, step=4 * MB))
    assert 4 * MB <= len(first) <= 16 * MB  # brotli's limit is soft; and far more to come
    assert first.startswith(b'{"metadata": {"x": "aaaa')
    assert set(first[20:]) == {ord("a")}
    if encoding == "gzip":  # the gzip trailer states the inflated size (mod 2**32)
        assert struct.unpack("<I", payload[-4:])[0] == 1_000_000_000


def test_bomb_payloads_are_cached() -> None:
    for encoding in ("gzip", "deflate", "br"):
        assert bomb_payload(encoding) is bomb_payload(encoding)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_bomb_inflates_exactly_and_checks_out(encoding: str) -> None:
    """A smaller bomb built the same way (extrapolated repeats, computed CRC / Adler)
    inflates to the announced bytes, trailer checks included, and equals the honest
    chunk-by-chunk compression."""
    size = 48 * MB + 12345
    payload = bomb_payload(encoding, size)
    total, head, tail = 0, b"", b""
    for piece in inflate(encoding, payload, size + 1):
        head = head or piece[:64]
        tail = (tail + piece)[-64:]
        total += len(piece)
    assert total == size
    assert head.startswith(b'{"metadata": {"x": "aaa')
    assert tail.endswith(b'aaa"}}')
    small = 3 * MB + 7
    assert _build_bomb(encoding, small) == _build_bomb(encoding, small, extrapolate=False)


# ---- slow, silent, rude ---------------------------------------------------------------------


def test_drip_sends_headers_then_a_byte_per_interval() -> None:
    with serving(drip(interval=0.2)) as server, connect(server) as sock:
        send_get(sock)
        sock.settimeout(0.5)
        status, headers, body = read_head(sock)
        assert status == "HTTP/1.1 200 OK"
        assert headers["content-length"] == "1000"
        assert headers["content-type"] == "application/json"
        assert body == b""
        data, times = read_for(sock, 1.1)
        assert 3 <= len(data) <= 7, data
        assert data == b'{"metadata": {"x": "'[: len(data)]
        assert all(b - a > 0.1 for a, b in itertools.pairwise(times))


def test_drip_headers_sends_a_byte_per_interval() -> None:
    with serving(drip_headers(interval=0.2)) as server, connect(server) as sock:
        send_get(sock)
        data, _ = read_for(sock, 1.1)
        assert 3 <= len(data) <= 8, data
        assert data == b"HTTP/1.1 200 OK\r\n"[: len(data)]


def test_stall_answers_nothing() -> None:
    with serving(stall()) as server, connect(server) as sock:
        send_get(sock)
        assert len(server.wait_for_requests(1)) == 1
        data, _ = read_for(sock, 1.0)
        assert data == b""


def test_reset_aborts_the_connection() -> None:
    with serving(reset()) as server:
        with connect(server) as sock:
            send_get(sock)
            sock.settimeout(2.0)
            with pytest.raises(ConnectionResetError):
                sock.recv(1024)
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(server.url(PATH), timeout=LIMITS)
        assert len(server.requests) == 2


# ---- HTML, redirects --------------------------------------------------------------------------


def test_html_page() -> None:
    with serving(html()) as server:
        response = httpx.post(server.url("/v1/anything"), json={"a": 1}, timeout=LIMITS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith("<!DOCTYPE html>")
    assert server.requests[0].body == b'{"a":1}'


@pytest.mark.parametrize("status", [302, 307, 308])
def test_redirect_off_host(status: int) -> None:
    with serving(redirect_off_host(status=status)) as server:
        response = httpx.get(server.url(PATH), timeout=LIMITS, follow_redirects=False)
    assert response.status_code == status
    assert response.headers["location"] == "http://198.51.100.7/v1/stolen"
    assert urlsplit(response.headers["location"]).hostname == "198.51.100.7"
    assert [r.path for r in server.requests] == [PATH]


def test_redirect_same_host() -> None:
    with serving(redirect_same_host()) as server, httpx.Client(timeout=LIMITS) as client:
        first = client.get(server.url(PATH))
        assert first.status_code == 307
        assert first.headers["location"] == "/v1/elsewhere"
        followed = client.get(server.url(PATH), follow_redirects=True)
        assert followed.status_code == 404
        assert followed.json()["error"]["code"] == "not_found"
        assert [r.status_code for r in followed.history] == [307]
    assert [r.path for r in server.requests] == [PATH, PATH, "/v1/elsewhere"]


# ---- credential echo -----------------------------------------------------------------------------


def expected(value: str, encoding: str) -> str:
    raw = value.encode()
    return {
        "plain": value,
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "percent": quote(value, safe=""),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "json-escaped": json.dumps(value),
        "base64-offset": base64.b64encode(b"user=" + raw).decode(),
    }[encoding]


@pytest.mark.parametrize("key", [KEY, ODD_KEY])
@pytest.mark.parametrize("encoding", ECHO_ENCODINGS)
def test_echo_credentials(encoding: str, key: str) -> None:
    auth = f"Bearer {key}"
    with serving(echo_credentials(encoding)) as server:
        response = httpx.get(server.url(PATH), headers={"Authorization": auth}, timeout=LIMITS)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    for value in (auth, key):
        assert expected(value, encoding) in response.content.decode()
    assert response.headers["x-debug-auth"] == expected(auth, encoding)
    assert response.headers["x-debug-token"] == expected(key, encoding)
    cookies = response.headers.get_list("set-cookie")
    assert cookies == [
        f"debug_auth={expected(auth, encoding)}; Path=/",
        f"session={expected(key, encoding)}; Path=/; HttpOnly",
    ]
    body = response.json()["error"]
    decoded = json.loads if encoding == "json-escaped" else (lambda s: s)
    assert body["authorization"] == decoded(expected(auth, encoding))
    assert body["token"] == decoded(expected(key, encoding))


def test_echo_encodings_are_distinct() -> None:
    values = {expected(ODD_KEY, e) for e in ECHO_ENCODINGS}
    assert len(values) == len(ECHO_ENCODINGS)
    for key in (KEY, ODD_KEY):  # the offset really moves the alignment
        assert base64.b64encode(key.encode()).decode()[:-4] not in expected(key, "base64-offset")


# ---- slow but conformant, recording, registry, shutdown ----------------------------------


def test_slow_conformant_keeps_alive() -> None:
    with serving(slow_conformant(delay=0.3)) as server, httpx.Client(timeout=LIMITS) as client:
        started = time.monotonic()
        for _ in range(2):
            response = client.get(server.url(PATH))
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
        assert time.monotonic() - started >= 0.6
    assert server.connections == 1


def test_requests_are_recorded_within_bounds() -> None:
    with serving(html()) as server, httpx.Client(timeout=LIMITS) as client:
        for i in range(203):
            client.get(server.url(f"/r/{i}?q=1"))
        assert len(server.requests) == 200
        assert server.requests_dropped == 3
    with serving(html()) as server, httpx.Client(timeout=LIMITS) as client:
        client.put(server.url("/big"), content=b"x" * (100 * 1024))
        client.post(server.url("/chunked"), content=iter([b"y" * 50_000] * 3))
    big, chunked = server.requests
    assert (big.method, big.path, len(big.body), big.body_size) == ("PUT", "/big", 65536, 102400)
    assert big.body_truncated
    assert (chunked.path, len(chunked.body), chunked.body_size) == ("/chunked", 65536, 150_000)
    assert chunked.headers["transfer-encoding"] == "chunked"


def test_registry() -> None:
    assert set(HOSTILE) == {
        "huge-json",
        "gzip-bomb",
        "deflate-bomb",
        "brotli-bomb",
        "drip-body",
        "drip-headers",
        "stall",
        "reset",
        "html",
        "redirect-off-host",
        "redirect-off-host-302",
        "redirect-off-host-308",
        "redirect-same-host",
        *(f"echo-{e}" for e in ECHO_ENCODINGS),
        "slow-conformant",
    }
    for make in HOSTILE.values():
        with serving(make()) as server:
            assert server.base_url == f"http://127.0.0.1:{server.port}"
            assert not server.base_url.endswith("/")


@pytest.mark.parametrize(
    "name", ["huge-json", "drip-body", "drip-headers", "stall", "slow-conformant", "gzip-bomb"]
)
def test_stops_promptly_with_a_client_connected(name: str) -> None:
    server = HOSTILE[name]()
    with connect(server.start()) as sock:
        try:
            send_get(sock)
            assert len(server.wait_for_requests(1)) == 1
            time.sleep(0.3)  # let the server get well into its answer (or its silence)
        finally:
            started = time.monotonic()
            server.stop()
            elapsed = time.monotonic() - started
        assert elapsed < 3.0
        assert server.errors == []
        # the server side is closed: after any bytes already sent, end of stream
        read_for(sock, 2.0, limit=64 * MB)
        sock.settimeout(1.0)
        assert sock.recv(1) == b""
