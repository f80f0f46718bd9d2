"""Reading one answer, bounded whatever the target sends.

- A **deadline on the whole answer** (connect, headers, body), not on each read: the
  exchange runs in a worker thread the caller waits for at most that long; a target that
  drips or stalls costs the deadline and no more.
- A **cap on the answer's size, counted after decoding**: the raw bytes are read as they
  come and decoded here with decompressors that never produce more than asked for, so a
  compression bomb stops at the cap too and memory stays bounded.
- **Content codings** the suite asks for (gzip, deflate, and br when a brotli decoder is
  installed) are decoded; an answer in another one is kept as it came (its body then reads
  as bytes nobody can parse).
"""

from __future__ import annotations

import datetime
import zlib
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

__all__ = ["ACCEPT_ENCODING", "Answer", "DeadlinePassed", "read_answer"]

try:  # a decoder for br, when the environment has one
    import brotli as _brotli
except ImportError:  # pragma: no cover - brotli is a dependency of the test extra only
    _brotli = None

ACCEPT_ENCODING = "gzip, deflate" + (", br" if _brotli is not None else "")


class DeadlinePassed(Exception):
    """The whole answer did not arrive before the deadline."""


class _Decoder(Protocol):
    def feed(self, data: bytes, room: int) -> bytes: ...


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        return data[: room + 1]


class _Zlib:
    """gzip (wbits 31), or deflate: zlib-wrapped as RFC 9110 says, raw as some servers send."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.decompressor: Any = zlib.decompressobj(31 if coding == "gzip" else 15)
        self.started = False

    def feed(self, data: bytes, room: int) -> bytes:
        if self.coding == "deflate" and not self.started:
            self.started = True
            try:
                return self._feed(data, room)
            except zlib.error:  # raw deflate, without the zlib wrapper
                self.decompressor = zlib.decompressobj(-15)
        return self._feed(data, room)

    def _feed(self, data: bytes, room: int) -> bytes:
        # Never more than room + 1 bytes out, however much the input would inflate to.
        out: bytes = self.decompressor.decompress(data, room + 1)
        pending = self.decompressor.unconsumed_tail
        while pending and len(out) <= room:
            out += self.decompressor.decompress(pending, room + 1 - len(out))
            pending = self.decompressor.unconsumed_tail
        return out


class _Brotli:
    def __init__(self) -> None:
        assert _brotli is not None
        self.decompressor = _brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        out: bytes = self.decompressor.process(data, output_buffer_limit=room + 1)
        while len(out) <= room and not self.decompressor.can_accept_more_data():
            more = self.decompressor.process(b"", output_buffer_limit=room + 1 - len(out))
            if not more:
                break
            out += more
        return out[: room + 1]


def _decoder(coding: str) -> _Decoder | None:
    """The decoder for a Content-Encoding; None for one the suite did not ask for."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return _Identity()
    if coding in ("gzip", "x-gzip", "deflate"):
        return _Zlib("gzip" if coding == "x-gzip" else coding)
    if coding == "br" and _brotli is not None:
        return _Brotli()
    return None


@dataclass(frozen=True)
class Answer:
    """An answer as read: its body decoded, at most `cap` bytes of it."""

    response: httpx.Response  # status and headers as received; content = the decoded body
    complete: bool  # False: the decoded body went past the cap and was not read to the end
    undecoded: str | None  # a content coding the suite did not ask for, if the target used one


def read_answer(
    http: httpx.Client, request: httpx.Request, *, cap: int, deadline: float, clock: Any
) -> Answer:
    """Send `request` and read its answer, decoding it, until the end, the cap (decoded
    bytes) or the deadline (a `clock()` reading), whichever comes first."""
    started = clock()
    response = http.send(request, stream=True)
    try:
        coding = response.headers.get("Content-Encoding", "")
        decoder = _decoder(coding)
        body, complete = bytearray(), True
        for raw in _raw(response):
            if clock() > deadline:
                raise DeadlinePassed
            room = cap - len(body)
            body += decoder.feed(raw, room) if decoder is not None else raw[: room + 1]
            if len(body) > cap:
                del body[cap:]
                complete = False
                break
    except (zlib.error, ValueError) as exc:  # a body that does not decode: keep what did
        body, complete = bytearray(f"[undecodable {coding} body: {exc}]".encode()), True
    finally:
        response.close()
    headers = [(k, v) for k, v in response.headers.multi_items() if _kept(k, decoder)]
    decoded = httpx.Response(
        response.status_code,
        headers=headers,
        content=bytes(body),
        request=request,
        extensions=response.extensions,
    )
    decoded.elapsed = datetime.timedelta(seconds=clock() - started)
    return Answer(decoded, complete, None if decoder is not None else coding.strip())


def _raw(response: httpx.Response) -> Any:
    """The answer's bytes as they arrive (a transport that built the answer in memory, as
    tests' do, hands it over whole)."""
    try:
        yield from response.iter_raw()
    except httpx.StreamConsumed:
        yield response.content


def _kept(name: str, decoder: _Decoder | None) -> bool:
    """The body is decoded now: its coding and length no longer describe it."""
    if decoder is None:
        return True
    return name.lower() not in ("content-encoding", "content-length")
