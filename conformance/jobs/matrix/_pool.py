"""Run the matrix's targets in worker processes: at most `jobs` at once, and the members
of a group (targets that share a conversation) one after the other, in order.

Processes, not threads: every run drives Hypothesis, which parses lambdas' source with
`ast.parse` to describe strategies, and CPython 3.11 cannot do that from two threads at
once ("SystemError: AST constructor recursion depth mismatch"). Processes also run the
CPU-bound emulator runs truly side by side. On Linux they are forked (no threads exist
yet when the pool starts them, and forking skips re-importing the suite); elsewhere
spawned, as the platform's default.

Interrupts: workers ignore SIGINT (a terminal's Ctrl-C reaches the whole process group);
the parent, interrupted itself (Ctrl-C, or SIGTERM turned into KeyboardInterrupt by the
CLI), starts no further target and sends each worker one SIGTERM, which becomes a
KeyboardInterrupt there only while a run is in progress: that run stops between checks,
restores what it changed and returns its (interrupted) result. Further interrupts of the
parent are ignored until every running target has restored.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.queues import SimpleQueue
from multiprocessing.synchronize import Event
from types import FrameType
from typing import Any, Generic, TypeVar

__all__ = ["NotStarted", "run_pooled"]

T = TypeVar("T")
R = TypeVar("R")

_busy = False  # in a worker: a run is in progress (SIGTERM interrupts it)
_stop: Event | None = None  # in a worker: the parent was interrupted


class NotStarted(Exception):
    """The parent was interrupted before this item started."""


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    if _busy:
        raise KeyboardInterrupt


def _init_worker(pids: SimpleQueue[int], stop: Event) -> None:
    global _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _stop = stop
    pids.put(os.getpid())


def _call(call: Callable[[T], R], item: T) -> R:
    global _busy
    if _stop is not None and _stop.is_set():
        raise NotStarted
    _busy = True
    try:
        return call(item)
    finally:
        _busy = False


class _Pool(Generic[T, R]):
    def __init__(self, groups: Sequence[Sequence[T]], jobs: int) -> None:
        self.queues = [deque(group) for group in groups]
        self.workers = max(1, min(jobs, len(self.queues)))
        self.running: dict[Future[R], tuple[int, T]] = {}
        self.pids: set[int] = set()
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        self.pid_queue: SimpleQueue[int] = context.SimpleQueue()
        self.stop = context.Event()
        self.executor = ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.pid_queue, self.stop),
        )

    def launch(
        self, call: Callable[[T], R], started: Callable[[T], None]
    ) -> list[tuple[T, BaseException]]:
        """Start what may start now; the items that could not (a broken pool)."""
        failed: list[tuple[T, BaseException]] = []
        busy = {index for index, _ in self.running.values()}
        for index, queue in enumerate(self.queues):
            if len(self.running) >= self.workers:
                break
            if not queue or index in busy:
                continue
            item = queue.popleft()
            try:
                future = self.executor.submit(_call, call, item)
            except BrokenProcessPool as exc:
                failed.append((item, exc))
                continue
            self.running[future] = (index, item)
            busy.add(index)
            started(item)
        return failed

    def interrupt(self) -> None:
        self.stop.set()
        while not self.pid_queue.empty():
            self.pids.add(self.pid_queue.get())
        if os.name != "posix":
            return  # elsewhere SIGTERM kills outright: let the runs finish instead
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)


def run_pooled(
    groups: Sequence[Sequence[T]],
    call: Callable[[T], R],
    jobs: int,
    started: Callable[[T], None],
    finished: Callable[[T, R | BaseException], None],
    interrupting: Callable[[], None] | None = None,
) -> bool:
    """Call `call(item)` in worker processes for every item of every group; `started` and
    `finished` are called here, in this thread (with the result, or the exception the
    call raised: `NotStarted`, `BrokenProcessPool`, ...). `call` and the items must
    pickle. Items never started are not reported. True if interrupted."""
    pool: _Pool[T, R] = _Pool(groups, jobs)
    interrupted = False

    def launch() -> None:
        for item, exc in pool.launch(call, started):
            finished(item, exc)

    try:
        launch()
        while pool.running:
            try:
                done, _ = wait(pool.running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                if not interrupted:
                    interrupted = True
                    if interrupting:
                        interrupting()
                    pool.interrupt()
                continue
            for future in done:
                _, item = pool.running.pop(future)
                outcome: Any
                try:
                    outcome = future.result()
                except BaseException as exc:  # the call's own, or the pool's
                    outcome = exc
                finished(item, outcome)
            if not interrupted:
                launch()
    finally:
        pool.executor.shutdown(wait=True, cancel_futures=True)
    return interrupted
