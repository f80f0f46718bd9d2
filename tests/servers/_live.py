"""A busy live line: messages keep arriving while the server is in use
(``current_app.create_app(live=True)``).

A :class:`LiveLine` calls ``arrive(n)`` every ``every`` seconds from one background
thread, at most ``limit`` times, from :meth:`LiveLine.start` (the app's first request,
through :class:`StartOnFirstRequest`) until :meth:`LiveLine.close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class LiveLine:
    def __init__(self, arrive: Callable[[int], None], *, every: float, limit: int) -> None:
        self.arrive = arrive
        self.every = every
        self.limit = limit
        self.arrived = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the arrivals (once; never after close)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._work, name="live-line", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the arrivals and wait for the thread to end."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # pragma: no cover - one arrival outlived the timeout
                raise RuntimeError("the live line did not stop in time")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _work(self) -> None:
        for n in range(self.limit):
            if self._stop.wait(self.every):
                return
            self.arrive(n)
            self.arrived = n + 1


class StartOnFirstRequest:
    """ASGI middleware calling ``start()`` when the first HTTP request comes in."""

    def __init__(self, app: ASGIApp, start: Callable[[], None]) -> None:
        self.app = app
        self.start = start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.start()
        await self.app(scope, receive, send)
