"""Run the Node.js server (``tests/servers/node/server.js``) on a free loopback port.

An independent server on another stack: plain ``http``, JavaScript's own JSON. It seeds
itself and tells its state through a test-support route of its own, ``GET /testing/state``
(no key, loopback clients only), which :class:`NodeState` reads to offer what a base
app's ``app.state`` offers: ``accounts``, ``metadata_snapshot()``, ``seeded_metadata``
and ``edition``.

The process is started with ``--port 0``; it prints one JSON line,
``{"listening": "http://127.0.0.1:N", "port": N}``, once it listens, and it exits when
its stdin closes, so it does not outlive a test process that dies.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

__all__ = ["SERVER_JS", "NodeServer", "NodeState", "NodeUnavailableError", "node_server"]

SERVER_JS = Path(__file__).parent / "node" / "server.js"
HOST = "127.0.0.1"

Metadata = dict[str, Any] | None


class NodeUnavailableError(RuntimeError):
    """There is no ``node`` executable to run the server with."""


class NodeState:
    """What a base app's ``app.state`` offers, read from the server's ``/testing/state``."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._url = f"{base_url}/testing/state"
        self._timeout = timeout
        state = self._fetch()
        self.accounts: list[tuple[str, list[str]]] = [
            (str(key), [str(cid) for cid in ids]) for key, ids in state["accounts"]
        ]
        self.seeded_metadata: dict[str, Metadata] = state["seeded"]
        self.edition: str = str(state["edition"])

    def metadata_snapshot(self) -> dict[str, Metadata]:
        """``{conversation_id: metadata}`` for every stored conversation, as stored now."""
        snapshot: dict[str, Metadata] = self._fetch()["metadata"]
        return snapshot

    def _fetch(self) -> dict[str, Any]:
        with httpx.Client(trust_env=False, timeout=self._timeout) as client:
            answer = client.get(self._url)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state


@dataclass(frozen=True)
class NodeServer:
    """A running Node server: ``base_url`` has no trailing slash."""

    base_url: str
    host: str
    port: int
    pid: int
    state: NodeState


class _Output:
    """Drains the process's stdout and stderr in threads (a full pipe would stall it),
    handing on the first stdout line and keeping the last lines of stderr."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.first_line: queue.Queue[str] = queue.Queue(maxsize=1)
        self.errors: deque[str] = deque(maxlen=50)
        self._threads = [
            threading.Thread(target=self._stdout, args=(process.stdout,), daemon=True),
            threading.Thread(target=self._stderr, args=(process.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _stdout(self, stream: IO[str]) -> None:
        for number, line in enumerate(stream):
            if number == 0:
                self.first_line.put(line)

    def _stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self.errors.append(line.rstrip("\n"))

    def stderr_tail(self) -> str:
        return "\n".join(self.errors) or "(nothing on stderr)"

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)


def _wait_for_port(process: subprocess.Popen[str], output: _Output, timeout: float) -> int:
    try:
        line = output.first_line.get(timeout=timeout)
    except queue.Empty:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Node server exited with {process.returncode} during startup:\n"
                f"{output.stderr_tail()}"
            ) from None
        raise TimeoutError(f"the Node server did not start listening within {timeout} s") from None
    try:
        port = int(json.loads(line)["port"])
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(f"the Node server printed {line!r}, not its port") from None
    return port


def _stop(process: subprocess.Popen[str], timeout: float) -> None:
    """SIGTERM (the server closes its connections and exits), then SIGKILL if need be."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    if process.stdin is not None:
        process.stdin.close()


@contextmanager
def node_server(
    *, startup_timeout: float = 10.0, shutdown_timeout: float = 5.0, node: str | None = None
) -> Iterator[NodeServer]:
    """Serve ``server.js`` on ``127.0.0.1:<free port>`` until the block exits."""
    executable = node or shutil.which("node")
    if executable is None:
        raise NodeUnavailableError(
            "`node` is not on PATH: install Node.js (v18 or later) to run the Node server"
        )
    process = subprocess.Popen(
        [executable, str(SERVER_JS), "--host", HOST, "--port", "0", "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    output = _Output(process)
    try:
        port = _wait_for_port(process, output, startup_timeout)
        base_url = f"http://{HOST}:{port}"
        yield NodeServer(
            base_url=base_url, host=HOST, port=port, pid=process.pid, state=NodeState(base_url)
        )
    finally:
        _stop(process, shutdown_timeout)
        output.join(shutdown_timeout)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
