"""Hostile HTTP/1.1 servers: targets that misbehave, to prove a client stays safe.

Each factory returns a :class:`HostileServer`, a context manager that serves on a free
port of 127.0.0.1 from background threads (standard library only, raw bytes on the
wire) and answers every request, whatever its method and path, the same hostile way::

    from tests.hostile import HOSTILE, huge_json

    with huge_json(total_bytes=400_000_000) as server:
        run_client_against(server.base_url)  # "http://127.0.0.1:PORT"
        request = server.requests[0]  # RecordedRequest: method, path, headers, body...

    for name, make in HOSTILE.items():  # every behaviour with its default parameters
        with make() as server:
            ...

Leaving the ``with`` block stops the server within a few tenths of a second, even in the
middle of an endless response. ``server.errors`` lists any exception a behaviour raised
(client disconnects are not errors).
"""

from ._server import Exchange, HostileServer, RecordedRequest
from .behaviours import (
    BOMB_ENCODINGS,
    ECHO_ENCODINGS,
    HOSTILE,
    OFF_HOST,
    bomb_payload,
    brotli_bomb,
    deflate_bomb,
    drip,
    drip_headers,
    echo_credentials,
    encode_secret,
    gzip_bomb,
    html,
    huge_json,
    redirect_off_host,
    redirect_same_host,
    reset,
    slow_conformant,
    stall,
)

Server = HostileServer

__all__ = [
    "BOMB_ENCODINGS",
    "ECHO_ENCODINGS",
    "HOSTILE",
    "OFF_HOST",
    "Exchange",
    "HostileServer",
    "RecordedRequest",
    "Server",
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
