"""HTTP plumbing for the emulator: the standard library's threaded server around `App`.

`Emulator` is the embeddable form (start on a free port, hand back the URL, stop);
`serve_forever` is what `agentphone-conformance emulator` runs until Ctrl-C.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

from ._app import DEFAULT_ARRIVAL, MAX_BODY_BYTES, App, Request, Response
from ._faults import parse_faults
from ._state import State

__all__ = ["CONNECTION", "Emulator"]

#: The request extension an in-process client names its connection pool in: what a socket's
#: address tells the server over the network (the consistency faults' sticky sessions).
CONNECTION = "agentphone.connection"

_POLL_SECONDS = 0.1  # how soon the serving thread notices stop() (the stdlib's default: 0.5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agentphone-emulator"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is dropped after this many seconds
    disable_nagle_algorithm = True  # headers and body go out without a delayed-ACK stall
    server: _Server

    def __getattr__(self, name: str) -> Any:
        # Every method, even ones nobody has heard of, goes through the app: the stdlib
        # default would answer 501, and the emulator never answers 5xx on its own.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self._send(
                Response(
                    400,
                    {"Content-Type": "application/json"},
                    b'{"detail":"Malformed request framing"}',
                )
            )
            self.close_connection = True
            return
        headers = {k: v for k, v in self.headers.items()}
        connection = f"{self.client_address[0]}:{self.client_address[1]}"
        request = Request.sent(self.command, self.path, headers, body, connection)
        self._send(self.server.app.handle(request))

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES + 1:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        # Past the limit, read just enough for the app to see that the body is too large.
        body = self.rfile.read(min(length, MAX_BODY_BYTES + 1))
        if length > MAX_BODY_BYTES + 1:
            self.close_connection = True
        return body

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        # One write for the whole answer (end_headers() would flush the headers alone).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(response.body)
        self.flush_headers()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib answers 501/505 for odd methods and versions; the emulator never 5xx-es.
        super().send_error(400 if code >= 500 else code, message, explain)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App, log_requests: bool) -> None:
        self.app = app
        self.log_requests = log_requests
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (it read enough of an answer, or gave up) is no error;
        anything else is printed, as the stdlib does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Emulator:
    """The AgentPhone emulator, embeddable in-process.

    >>> with Emulator(faults=["semantics-merge-not-replace"]) as emulator:
    ...     emulator.base_url  # 'http://127.0.0.1:<free port>'
    """

    def __init__(
        self,
        faults: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        state: State | None = None,
        log_requests: bool = False,
        throttle_every: int = 0,
        edition: str = "current",
        etags: bool = False,
    ) -> None:
        self.app = App(
            faults=parse_faults(faults),
            state=state,
            throttle_every=throttle_every,
            edition=edition,
            etags=etags,
        )
        self._address = (host, port)
        self._log_requests = log_requests
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> State:
        return self.app.state

    @property
    def faults(self) -> frozenset[str]:
        return self.app.faults

    @property
    def edition(self) -> str:
        return self.app.edition

    @property
    def base_url(self) -> str:
        """The URL it serves on (before binding: the configured address)."""
        host, port = self._server.server_address[:2] if self._server else self._address
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}"

    def bind(self) -> str:
        """Open the listening socket (raises OSError if the address is taken)."""
        if self._server is None:
            self._server = _Server(self._address, self.app, self._log_requests)
        return self.base_url

    def start(self) -> str:
        """Serve in a background thread; returns the base URL."""
        url = self.bind()
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(_POLL_SECONDS,),
            name="agentphone-emulator",
            daemon=True,
        )
        self._thread.start()
        return url

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C) or `stop()` from another thread."""
        self.bind()
        assert self._server is not None
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self.app.close()

    def stop(self) -> None:
        """Stop serving, then stop the webhook delivery thread (each join bounded)."""
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
                self._thread = None
            self._server.server_close()
            self._server = None
        self.app.close()

    def transport(self) -> httpx.BaseTransport:
        """The app without a socket, for an httpx client in this process (the suite's run
        against the embedded emulator): each request goes to the same `App` the server
        serves, as the server hands it over (the path as sent, every header, the body
        whole), and comes back as the server answers (with Content-Length; no body to a
        HEAD: the app answers it without one). A third of the time of a request over
        loopback."""
        app = self.app

        def handle(request: httpx.Request) -> httpx.Response:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.raw}
            target = request.url.raw_path.decode("ascii")
            connection = str(request.extensions.get(CONNECTION, ""))  # the client's pool
            answer = app.handle(
                Request.sent(request.method, target, headers, request.read(), connection)
            )
            length = ("Content-Length", str(len(answer.body)))
            return httpx.Response(
                answer.status, headers=[*answer.headers.items(), length], content=answer.body
            )

        return httpx.MockTransport(handle)

    def arrive(
        self, conversation_id: str, body: str = DEFAULT_ARRIVAL, channel: str = "sms"
    ) -> str:
        """A message arrives on a conversation (as `POST /_emulator/conversations/{id}/messages`
        does): its webhook delivery is queued. Returns the new message's id."""
        return self.app.arrive(conversation_id, body, channel)

    def wait_for_deliveries(
        self, count: int | None = None, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until `count` webhook deliveries (by default every one made so far) have
        finished, succeeded or failed for good (TimeoutError otherwise); the finished ones,
        oldest first, as `GET /v1/webhooks/deliveries` shows them."""
        return self.app.webhooks.wait(count, timeout)

    def describe(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "accounts": self.state.describe()}

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
