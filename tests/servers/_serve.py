"""Run an ASGI app with uvicorn on a free loopback port, in a background thread.

When the server has stopped, the base app's ``state.close()`` (if it has one) ends its
background work: the webhook dispatcher's thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from .wrappers import base_app

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    """A running server: ``base_url`` has no trailing slash."""

    base_url: str
    host: str
    port: int
    app: Any


@contextmanager
def serve(
    app: Any, *, startup_timeout: float = 10.0, shutdown_timeout: float = 5.0
) -> Iterator[Server]:
    """Serve ``app`` on ``127.0.0.1:<free port>`` until the block exits."""
    config = uvicorn.Config(
        app,
        host=HOST,
        port=0,
        http="h11",
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test-server", daemon=True)
    thread.start()
    try:
        port = _wait_until_listening(server, thread, startup_timeout)
        yield Server(base_url=f"http://{HOST}:{port}", host=HOST, port=port, app=app)
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)
        if thread.is_alive():  # pragma: no cover - uvicorn would not stop
            raise RuntimeError("uvicorn did not shut down in time")
        close = getattr(getattr(base_app(app), "state", None), "close", None)
        if callable(close):
            close()


def _wait_until_listening(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped during startup")
        if time.monotonic() > deadline:
            raise TimeoutError(f"uvicorn did not start within {timeout} s")
        time.sleep(0.01)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return port
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"127.0.0.1:{port} does not accept connections") from None
            time.sleep(0.01)
