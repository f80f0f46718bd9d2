"""The threaded core of the hostile servers: raw sockets on 127.0.0.1, nothing else.

A :class:`HostileServer` listens on a free loopback port, reads HTTP/1.1 requests itself
(bounded: headers up to 64 KiB, bodies kept up to ``max_body`` bytes and the rest read
and dropped), records them, and hands each one to a *behaviour*: a function
``(exchange, request) -> bool`` that writes whatever bytes it likes through the
:class:`Exchange` and returns True when the connection may carry another request.

Every blocking call polls: sockets have a short timeout and the loops check the stop
event between tries, so :meth:`HostileServer.stop` returns within a few tenths of a
second even while a behaviour drips, stalls or streams hundreds of megabytes to a
client that stopped reading. Every socket is closed by the thread that owns it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType

__all__ = ["Behaviour", "Exchange", "HostileServer", "RecordedRequest"]

POLL = 0.05  # seconds a socket call may block before the stop event is checked again
MAX_HEAD = 64 * 1024  # request line + headers
MAX_LINE = 4096  # a chunk-size or trailer line of a chunked request body


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server read it.

    ``headers`` has lower-cased names (a repeated header's values joined with ", ");
    ``body`` is at most the server's ``max_body`` first bytes, ``body_size`` the size the
    client actually sent (after de-chunking).
    """

    method: str
    path: str  # the target without its query
    query: str  # after "?", "" if none
    target: str  # the request target exactly as sent
    version: str
    headers: dict[str, str]
    body: bytes
    body_size: int
    received_at: float = field(default_factory=time.monotonic)

    @property
    def body_truncated(self) -> bool:
        return self.body_size > len(self.body)


class Exchange:
    """One client connection, as a behaviour sees it."""

    def __init__(self, server: HostileServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.open = True  # False once the client went away or the socket was reset
        self._buffer = bytearray()

    # ---- state -------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.server.stop_event.is_set()

    @property
    def alive(self) -> bool:
        """True while the server runs and the client has not been seen to leave."""
        return self.open and not self.stopping

    # ---- writing -----------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview) -> bool:
        """Write all of ``data``; False (quietly) if the client left or the server stops."""
        view = memoryview(data)
        try:
            while view:
                if not self.alive:
                    return False
                try:
                    sent = self.sock.send(view)
                except TimeoutError:
                    continue  # the client is not reading: check the stop event, retry
                except OSError:
                    self.open = False  # EPIPE, ECONNRESET...: the client went away
                    return False
                view = view[sent:]
            return True
        finally:
            view.release()

    def send_response(
        self,
        request: RecordedRequest,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes = b"",
    ) -> bool:
        """A complete response with a ``Content-Length`` (no body for HEAD)."""
        head = response_head(status, [*headers, ("Content-Length", str(len(body)))])
        if request.method == "HEAD":
            return self.send(head)
        return self.send(head + body)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER on, zero time-out, close)."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.open = False

    # ---- waiting -----------------------------------------------------------------

    def client_gone(self, timeout: float = 0.0) -> bool:
        """Whether the client closed (or reset) its side, waiting up to ``timeout`` s.

        Peeks, so a pipelined request the client sent in the meantime stays unread.
        """
        try:
            self.sock.settimeout(max(timeout, 1e-4))
            try:
                data = self.sock.recv(1, socket.MSG_PEEK)
            finally:
                self.sock.settimeout(POLL)
        except TimeoutError:
            return False
        except OSError:
            self.open = False
            return True
        if data:
            return False
        self.open = False
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; False as soon as the server stops or the client leaves."""
        deadline = time.monotonic() + seconds
        while self.alive:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            step = min(left, 0.1)
            started = time.monotonic()
            if self.client_gone(step):
                return False
            if time.monotonic() - started < step / 2:
                # the peek came back at once (the client sent more bytes): sleep instead
                self.server.stop_event.wait(step)
        return False

    def hold(self) -> None:
        """Keep the connection open, sending nothing, until the client or server ends it."""
        while self.wait(3600):
            pass

    # ---- reading (used by the server loop) ------------------------------------------

    def _fill(self) -> bool:
        while self.alive:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                self.open = False
                return False
            if not data:
                self.open = False
                return False
            self._buffer += data
            return True
        return False

    def _read_until(self, delimiter: bytes, limit: int) -> bytes | None:
        start = 0
        while True:
            found = self._buffer.find(delimiter, start)
            if found >= 0:
                line = bytes(self._buffer[:found])
                del self._buffer[: found + len(delimiter)]
                return line
            if len(self._buffer) > limit:
                return None
            start = max(0, len(self._buffer) - len(delimiter) + 1)
            if not self._fill():
                return None

    def _read_body(self, size: int, keep: bytearray, max_keep: int) -> bool:
        """Read ``size`` bytes, appending to ``keep`` while it is under ``max_keep``."""
        while size > 0:
            if not self._buffer and not self._fill():
                return False
            take = min(size, len(self._buffer))
            room = max_keep - len(keep)
            if room > 0:
                keep += self._buffer[: min(take, room)]
            del self._buffer[:take]
            size -= take
        return True

    def read_request(self) -> RecordedRequest | None:
        """The next request on the connection, or None (client gone, garbage, stopping)."""
        while self._buffer[:2] == b"\r\n":  # stray CRLFs between requests are allowed
            del self._buffer[:2]
        head = self._read_until(b"\r\n\r\n", MAX_HEAD)
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0] or not parts[2].startswith("HTTP/"):
            return None
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                continue
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value

        max_keep = self.server.max_body
        body = bytearray()
        size = 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                line = self._read_until(b"\r\n", MAX_LINE)
                if line is None:
                    return None
                try:
                    chunk = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if chunk == 0:
                    break
                if not self._read_body(chunk, body, max_keep):
                    return None
                size += chunk
                if self._read_until(b"\r\n", MAX_LINE) is None:
                    return None
            while True:  # trailers, up to the empty line
                line = self._read_until(b"\r\n", MAX_LINE)
                if line is None:
                    return None
                if not line:
                    break
        elif "content-length" in headers:
            try:
                size = int(headers["content-length"].split(",")[0])
            except ValueError:
                return None
            if size < 0 or not self._read_body(size, body, max_keep):
                return None

        path, _, query = target.partition("?")
        return RecordedRequest(
            method=method,
            path=path,
            query=query,
            target=target,
            version=version,
            headers=headers,
            body=bytes(body),
            body_size=size,
        )


Behaviour = Callable[[Exchange, RecordedRequest], bool]


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """``HTTP/1.1 <status> <reason>`` and the header lines, up to the empty line."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


class HostileServer:
    """A loopback HTTP/1.1 server answering every request with one behaviour.

    Use it as a context manager::

        with HostileServer(behaviour) as server:
            httpx.get(server.base_url + "/v1/conversations/c1")
            server.requests  # [RecordedRequest(...)]

    ``requests`` keeps the first ``max_requests`` requests (``requests_dropped`` counts
    the rest); ``errors`` collects any exception a behaviour raised (a bug: client
    disconnects are not errors); ``connections`` counts accepted connections.
    """

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        name: str = "hostile",
        max_requests: int = 200,
        max_body: int = 64 * 1024,
        stop_timeout: float = 2.0,
    ) -> None:
        self.behaviour = behaviour
        self.name = name
        self.max_requests = max_requests
        self.max_body = max_body
        self.stop_timeout = stop_timeout
        self.stop_event = threading.Event()
        self.errors: list[BaseException] = []
        self.requests_dropped = 0
        self.connections = 0
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def __repr__(self) -> str:
        return f"<HostileServer {self.name} {self.base_url if self.port else '(stopped)'}>"

    # ---- public --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the recorded requests, oldest first."""
        with self._lock:
            return list(self._requests)

    def wait_for_requests(self, count: int = 1, timeout: float = 2.0) -> list[RecordedRequest]:
        """The recorded requests once there are at least ``count`` (or at ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self._requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.requests

    def start(self) -> HostileServer:
        if self._listener is not None:
            raise RuntimeError(f"{self!r} already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self.host, 0))
            listener.listen(64)
            listener.settimeout(POLL)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"{self.name}-accept", daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end every connection and join the threads (bounded)."""
        self.stop_event.set()
        deadline = time.monotonic() + self.stop_timeout
        if self._acceptor is not None:
            self._acceptor.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            self.errors.append(RuntimeError(f"threads still running after stop: {stuck}"))

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- internals -------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            if len(self._requests) < self.max_requests:
                self._requests.append(request)
            else:
                self.requests_dropped += 1

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self.stop_event.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if not self.stop_event.is_set():
                    self.errors.append(exc)
                return
            sock.settimeout(POLL)
            thread = threading.Thread(
                target=self._serve, args=(sock,), name=f"{self.name}-conn", daemon=True
            )
            with self._lock:
                self.connections += 1
                self._threads.add(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        exchange = Exchange(self, sock)
        try:
            while exchange.alive:
                request = exchange.read_request()
                if request is None:
                    break
                self._record(request)
                if not self.behaviour(exchange, request):
                    break
        except Exception as exc:  # a bug in a behaviour: keep it for the tests to see
            self.errors.append(exc)
        finally:
            sock.close()
            with self._lock:
                self._threads.discard(threading.current_thread())
