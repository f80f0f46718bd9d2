"""The hostile behaviours, one factory each; every factory returns an unstarted
:class:`~._server.HostileServer` to use as a context manager.

Every server answers every request (any method, any path) the same way. The bombs'
compressed bodies are built once per process and size (see :func:`bomb_payload`).
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import zlib
from collections.abc import Callable
from functools import partial
from types import ModuleType
from urllib.parse import quote

from ._server import Exchange, HostileServer, RecordedRequest, response_head

brotli: ModuleType | None
try:
    import brotli
except ImportError:  # pragma: no cover - brotli is a test dependency
    brotli = None

__all__ = [
    "BOMB_ENCODINGS",
    "ECHO_ENCODINGS",
    "HOSTILE",
    "bomb_payload",
    "brotli_bomb",
    "deflate_bomb",
    "drip",
    "drip_headers",
    "echo_credentials",
    "encode_secret",
    "gzip_bomb",
    "html",
    "huge_json",
    "redirect_off_host",
    "redirect_same_host",
    "reset",
    "slow_conformant",
    "stall",
]

JSON = ("Content-Type", "application/json")
CLOSE = ("Connection", "close")
# the JSON all the big bodies share: {"metadata": {"x": "aaaa...aaaa"}}
PREFIX = b'{"metadata": {"x": "'
SUFFIX = b'"}}'
SEND_CHUNK = 64 * 1024
_A_CHUNK = b"a" * SEND_CHUNK


# ---- 1. huge JSON, generated while it is sent ---------------------------------------------


def huge_json(total_bytes: int = 400_000_000) -> HostileServer:
    """200, a valid JSON object of exactly ``total_bytes`` bytes with a true
    Content-Length, written 64 KiB at a time (never held in memory)."""
    filler = total_bytes - len(PREFIX) - len(SUFFIX)
    if filler < 0:
        raise ValueError(f"total_bytes must be at least {len(PREFIX) + len(SUFFIX)}")

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        head = response_head(200, [JSON, ("Content-Length", str(total_bytes)), CLOSE])
        if not ex.send(head) or request.method == "HEAD":
            return False
        if not ex.send(PREFIX):
            return False
        left = filler
        while left > 0:
            step = min(left, SEND_CHUNK)
            if not ex.send(_A_CHUNK if step == SEND_CHUNK else _A_CHUNK[:step]):
                return False
            left -= step
        ex.send(SUFFIX)
        return False

    return HostileServer(behaviour, name=f"huge-json-{total_bytes}")


# ---- 2. compression bombs ------------------------------------------------------------------

BOMB_CHUNK = 1 << 20  # the repeated unit of the bombs' inflated body
BOMB_ENCODINGS = ("gzip", "deflate", *(("br",) if brotli is not None else ()))
_BOMBS: dict[tuple[str, int], bytes] = {}
_BOMBS_LOCK = threading.Lock()

_CRC_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial (reflected), as zlib's crc32.c does it."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x8nmodp(n: int) -> int:
    """x^(8n) modulo the CRC-32 polynomial: the operator that appends n zero bytes."""
    p = 1 << 31  # x^0
    square = 1 << 30  # x^1
    for _ in range(3):  # x^8
        square = _multmodp(square, square)
    while n:
        if n & 1:
            p = _multmodp(square, p)
        n >>= 1
        square = _multmodp(square, square)
    return p


def _crc32_repeated(crc: int, unit: bytes, count: int) -> int:
    """zlib.crc32(unit * count, crc), without touching count * len(unit) bytes."""
    unit_crc = zlib.crc32(unit)
    shift = _x8nmodp(len(unit))
    for _ in range(count):
        crc = _multmodp(shift, crc) ^ unit_crc
    return crc


def _adler32_repeated(adler: int, unit: bytes, count: int) -> int:
    """zlib.adler32(unit * count, adler), by adler32_combine's arithmetic."""
    base = 65521
    unit_adler = zlib.adler32(unit)
    lo2, hi2 = unit_adler & 0xFFFF, unit_adler >> 16
    n = len(unit) % base
    for _ in range(count):
        lo1, hi1 = adler & 0xFFFF, adler >> 16
        lo = (lo1 + lo2 - 1) % base
        hi = (hi1 + hi2 + n * (lo1 - 1)) % base
        adler = lo | (hi << 16)
    return adler


def _repeat(step: Callable[[], bytes], count: int, extrapolate: bool) -> bytes:
    """``step()`` called ``count`` times, joined. Each call compresses the same chunk
    and flushes to a byte boundary, so once two calls in a row give the same bytes the
    encoder is in a steady state and the rest is that output repeated (the smoke tests
    check this equals the honest loop)."""
    out: list[bytes] = []
    previous = None
    for done in range(1, count + 1):
        piece = step()
        out.append(piece)
        if extrapolate and piece == previous:
            out.append(piece * (count - done))
            break
        previous = piece
    return b"".join(out)


def _build_bomb(encoding: str, inflated_bytes: int, *, extrapolate: bool = True) -> bytes:
    """The compressed body that inflates to ``PREFIX + b"a" * n + SUFFIX`` of exactly
    ``inflated_bytes`` bytes."""
    filler = inflated_bytes - len(PREFIX) - len(SUFFIX)
    if filler < 0:
        raise ValueError(f"inflated_bytes must be at least {len(PREFIX) + len(SUFFIX)}")
    count, rest = divmod(filler, BOMB_CHUNK)
    unit = b"a" * BOMB_CHUNK
    tail = b"a" * rest + SUFFIX
    if encoding == "br":
        if brotli is None:
            raise RuntimeError("the brotli module is not installed")
        b = brotli.Compressor(quality=5, lgwin=24)
        return b"".join(
            [
                b.process(PREFIX) + b.flush(),
                _repeat(lambda: b.process(unit) + b.flush(), count, extrapolate),
                b.process(tail) + b.finish(),
            ]
        )
    if encoding not in ("gzip", "deflate"):
        raise ValueError(f"unknown bomb encoding {encoding!r}")
    # one raw deflate stream; the gzip / zlib wrappers and check values are added by hand
    # because the compressor never sees most of the bytes it is credited with
    z = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    raw = b"".join(
        [
            z.compress(PREFIX) + z.flush(zlib.Z_FULL_FLUSH),
            _repeat(lambda: z.compress(unit) + z.flush(zlib.Z_FULL_FLUSH), count, extrapolate),
            z.compress(tail) + z.flush(zlib.Z_FINISH),
        ]
    )
    if encoding == "gzip":
        crc = zlib.crc32(tail, _crc32_repeated(zlib.crc32(PREFIX), unit, count))
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # no name, no mtime, best
        return header + raw + struct.pack("<II", crc, inflated_bytes & 0xFFFFFFFF)
    adler = zlib.adler32(tail, _adler32_repeated(zlib.adler32(PREFIX), unit, count))
    return b"\x78\xda" + raw + struct.pack(">I", adler)  # 32K window, level 9


def bomb_payload(encoding: str, inflated_bytes: int = 1_000_000_000) -> bytes:
    """The compressed body ("gzip", "deflate" or "br") that inflates to
    ``inflated_bytes`` of JSON; built once per process and size (about 1 MB of gzip or
    deflate and 12 KB of brotli for 1 GB)."""
    key = (encoding, inflated_bytes)
    with _BOMBS_LOCK:
        if key not in _BOMBS:
            _BOMBS[key] = _build_bomb(encoding, inflated_bytes)
        return _BOMBS[key]


def _bomb(encoding: str, inflated_bytes: int) -> HostileServer:
    payload = bomb_payload(encoding, inflated_bytes)  # now, not in the handler thread

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        headers = [JSON, ("Content-Encoding", encoding), ("Content-Length", str(len(payload)))]
        if not ex.send(response_head(200, headers)) or request.method == "HEAD":
            return True
        with memoryview(payload) as view:
            for start in range(0, len(view), SEND_CHUNK):
                if not ex.send(view[start : start + SEND_CHUNK]):
                    return False
        return True

    return HostileServer(behaviour, name=f"{encoding}-bomb-{inflated_bytes}")


def gzip_bomb(inflated_bytes: int = 1_000_000_000) -> HostileServer:
    """200 JSON, ``Content-Encoding: gzip``, ~1 MB inflating to ``inflated_bytes``."""
    return _bomb("gzip", inflated_bytes)


def deflate_bomb(inflated_bytes: int = 1_000_000_000) -> HostileServer:
    """200 JSON, ``Content-Encoding: deflate`` (zlib wrapper), like :func:`gzip_bomb`."""
    return _bomb("deflate", inflated_bytes)


def brotli_bomb(inflated_bytes: int = 1_000_000_000) -> HostileServer:
    """200 JSON, ``Content-Encoding: br``, ~12 KB inflating to ``inflated_bytes``."""
    return _bomb("br", inflated_bytes)


# ---- 3-6. slow, silent and rude connections ---------------------------------------------------


def _padded_json(size: int) -> bytes:
    return PREFIX + b"a" * (size - len(PREFIX) - len(SUFFIX)) + SUFFIX


def drip(interval: float = 2.0, content_length: int = 1000) -> HostileServer:
    """Status line and headers at once (``Content-Length: content_length``, JSON), then
    one body byte every ``interval`` seconds. Once the body is complete (1000 bytes at 2 s:
    over half an hour) it holds the connection, silent."""
    body = _padded_json(content_length)

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        head = response_head(200, [JSON, ("Content-Length", str(len(body))), CLOSE])
        if not ex.send(head):
            return False
        for i in range(len(body)):
            if not ex.wait(interval) or not ex.send(body[i : i + 1]):
                return False
        ex.hold()
        return False

    return HostileServer(behaviour, name="drip-body")


def drip_headers(interval: float = 2.0) -> HostileServer:
    """The status line and headers, one byte every ``interval`` seconds (the first at
    once), then a small JSON body."""
    body = b'{"error": {"message": "slow"}}'

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        head = response_head(200, [JSON, ("Content-Length", str(len(body))), CLOSE])
        for i in range(len(head)):
            if (i and not ex.wait(interval)) or not ex.send(head[i : i + 1]):
                return False
        if request.method != "HEAD":
            ex.send(body)
        return False

    return HostileServer(behaviour, name="drip-headers")


def stall() -> HostileServer:
    """Reads the request and never answers; holds the socket until either side ends."""

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        ex.hold()
        return False

    return HostileServer(behaviour, name="stall")


def reset() -> HostileServer:
    """Reads the request, then aborts the connection with a TCP RST, answering nothing."""

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        ex.reset()
        return False

    return HostileServer(behaviour, name="reset")


# ---- 7. an HTML page where JSON was expected ----------------------------------------------------

HTML_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - Corporate Access Gateway</title></head>
<body>
<h1>Authentication required</h1>
<p>Your request was intercepted by the network proxy. Please sign in to continue.</p>
<form method="post" action="/__proxy/login">
  <input name="username"> <input name="password" type="password">
  <button type="submit">Sign in</button>
</form>
<p><small>Reference: 7f3c9a1e - gateway 10.0.0.1</small></p>
</body>
</html>
"""


def html() -> HostileServer:
    """200 ``text/html``: a proxy's sign-in page, for every request."""

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        return ex.send_response(
            request, 200, [("Content-Type", "text/html; charset=utf-8")], HTML_PAGE
        )

    return HostileServer(behaviour, name="html")


# ---- 8. redirects --------------------------------------------------------------------------

OFF_HOST = "http://198.51.100.7/v1/stolen"  # TEST-NET-2: nothing listens there
ELSEWHERE = "/v1/elsewhere"


def _not_found(ex: Exchange, request: RecordedRequest, message: str) -> bool:
    body = json.dumps({"error": {"code": "not_found", "message": message}}).encode()
    return ex.send_response(request, 404, [JSON], body)


def _redirect(ex: Exchange, request: RecordedRequest, status: int, location: str) -> bool:
    body = json.dumps({"redirect": location}).encode()
    return ex.send_response(request, status, [JSON, ("Location", location)], body)


def redirect_off_host(location: str = OFF_HOST, status: int = 307) -> HostileServer:
    """``status`` (307 by default; 301, 302, 303, 308 work too) with ``Location:
    location``, a host that must never be contacted, for every request."""

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        return _redirect(ex, request, status, location)

    return HostileServer(behaviour, name=f"redirect-off-host-{status}")


def redirect_same_host(status: int = 307, location: str = ELSEWHERE) -> HostileServer:
    """``status`` with a relative ``Location: /v1/elsewhere`` for every request except
    those to that path, which get a 404 JSON error."""
    target = location.partition("?")[0]

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        if request.path == target:
            return _not_found(ex, request, "nothing here either")
        return _redirect(ex, request, status, location)

    return HostileServer(behaviour, name=f"redirect-same-host-{status}")


# ---- 9. credential echo --------------------------------------------------------------------

ECHO_ENCODINGS = (
    "plain",
    "base64",
    "base64url",
    "percent",
    "hex",
    "HEX",
    "json-escaped",
    "base64-offset",
)


def encode_secret(value: str, encoding: str) -> str:
    """``value`` (a header value, so latin-1) the way :func:`echo_credentials` echoes it."""
    raw = value.encode("latin-1")
    if encoding == "plain":
        return value
    if encoding == "base64":
        return base64.b64encode(raw).decode()
    if encoding == "base64url":
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if encoding == "percent":
        return quote(raw, safe="")
    if encoding == "hex":
        return raw.hex()
    if encoding == "HEX":
        return raw.hex().upper()
    if encoding == "json-escaped":
        return json.dumps(value)
    if encoding == "base64-offset":
        return base64.b64encode(b"user=" + raw).decode()
    raise ValueError(f"unknown encoding {encoding!r}; one of {ECHO_ENCODINGS}")


def echo_credentials(encoding: str = "plain") -> HostileServer:
    """401 JSON echoing the ``Authorization`` value received and the token after
    "Bearer ", both encoded with ``encoding`` (see :data:`ECHO_ENCODINGS`):

    - body: ``{"error": {..., "authorization": <auth>, "token": <token>}}`` (with
      ``json-escaped`` the values are the JSON strings themselves, so the body holds
      ``json.dumps(value)`` byte for byte; with ``plain`` a value holding ``"``, ``\\``
      or a control character would appear JSON-escaped);
    - headers ``X-Debug-Auth: <auth>`` and ``X-Debug-Token: <token>``;
    - ``Set-Cookie: debug_auth=<auth>; Path=/`` and ``Set-Cookie: session=<token>;
      Path=/; HttpOnly``.
    """
    encode_secret("", encoding)  # reject an unknown encoding now

    def field(value: str) -> str:
        encoded = encode_secret(value, encoding)
        return encoded if encoding == "json-escaped" else json.dumps(encoded)

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else auth
        body = (
            '{"error": {"code": "invalid_api_key", "message": "Invalid API key", '
            f'"authorization": {field(auth)}, "token": {field(token)}}}}}'
        ).encode()
        headers = [
            JSON,
            ("WWW-Authenticate", 'Bearer error="invalid_token"'),
            ("X-Debug-Auth", encode_secret(auth, encoding)),
            ("X-Debug-Token", encode_secret(token, encoding)),
            ("Set-Cookie", f"debug_auth={encode_secret(auth, encoding)}; Path=/"),
            ("Set-Cookie", f"session={encode_secret(token, encoding)}; Path=/; HttpOnly"),
        ]
        return ex.send_response(request, 401, headers, body)

    return HostileServer(behaviour, name=f"echo-{encoding}")


# ---- 10. slow but conformant ------------------------------------------------------------------


def slow_conformant(delay: float = 0.5) -> HostileServer:
    """A small valid 404 JSON error after ``delay`` seconds, keep-alive."""

    def behaviour(ex: Exchange, request: RecordedRequest) -> bool:
        if not ex.wait(delay):
            return False
        return _not_found(ex, request, f"no such resource: {request.path}")

    return HostileServer(behaviour, name="slow-conformant")


# ---- the registry -------------------------------------------------------------------------------

HOSTILE: dict[str, Callable[[], HostileServer]] = {
    "huge-json": huge_json,
    "gzip-bomb": gzip_bomb,
    "deflate-bomb": deflate_bomb,
    **({"brotli-bomb": brotli_bomb} if brotli is not None else {}),
    "drip-body": drip,
    "drip-headers": drip_headers,
    "stall": stall,
    "reset": reset,
    "html": html,
    "redirect-off-host": redirect_off_host,
    "redirect-off-host-302": partial(redirect_off_host, status=302),
    "redirect-off-host-308": partial(redirect_off_host, status=308),
    "redirect-same-host": redirect_same_host,
    **{f"echo-{e}": partial(echo_credentials, e) for e in ECHO_ENCODINGS},
    "slow-conformant": slow_conformant,
}
