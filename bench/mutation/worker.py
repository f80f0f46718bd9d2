"""One default run per mutant, each in a fresh process forked from a warm parent.

The parent imports the whole suite once (as `agentphone-conformance` does at start-up) and
starts no thread; each mutant's process is forked from it, puts the mutant in place, runs
the default run and sends back how it ended. So a mutant costs about one default run, and
nothing a mutant does outlives its process.

Putting a mutant in place: the mutated module's source is compiled (the whole file, the
function's mutation in it) and the mutated function's code object (found by its qualified
name) replaces the function's `__code__` in the loaded module. The function object, its
class, and every reference other modules hold to them stay what they were: only what the
function does changes, exactly as if the file had been edited and imported.

The default run is `agentphone-conformance run --strict` with nothing but a seed: the
embedded emulator, conformant (no fault on), seeded with more data (`data.py`: 60 messages on
its busy conversation, 24 conversations on its first account, so that defaults and page
boundaries show), the quick profile, the webhook checks included, called in-process; no
report is written (none bears on the exit code). Its exit code is the
verdict: 0 survived; anything else killed - failed checks (1), checks that errored or a
restore that failed (3), a target the suite found unusable (3), or an emulator that crashed
the run (an uncaught exception: 1, as the command would exit). A run still going after the
time limit is killed with its process: killed by time-out.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import sys
import time
import traceback
import types
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from .mutants import Function, Mutant
from .scope import Executed, trace_requests

__all__ = ["Ended", "Task", "install", "prepare", "run_tasks"]

T = TypeVar("T")


@dataclass(frozen=True)
class Ended:
    """How one default run ended."""

    exit_code: int | None  # None: killed at the time limit
    seconds: float  # the process, from fork to answer
    run_s: float | None = None  # the duration the run reports
    failed: tuple[str, ...] = ()  # checks with outcome failed (gating or advisory)
    gating: tuple[str, ...] = ()  # those of them that fail the run
    errored: tuple[str, ...] = ()  # checks with outcome error
    detail: str = ""  # a crash, a harness error, a restore that failed
    executed: Executed | None = None  # what a traced run executed

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


@dataclass(frozen=True)
class Task(Generic[T]):
    """A run to do: `mutant` in place (None: the emulator as it is), traced or not; `key`
    is the caller's."""

    key: T
    mutant: Mutant | None = None
    trace: bool = False


def prepare(functions: Sequence[Function] = ()) -> None:
    """Import what the command imports (the whole suite), in the parent, before any fork;
    put Hypothesis's caches where the command puts them; and check that each of
    `functions` is loaded as its source (the mutants') has it: LookupError if a file changed
    between the two (it is being edited: run again)."""
    importlib.import_module("conformance.cli")
    importlib.import_module("conformance.reports")  # `execute` imports it late
    from conformance.cli import _cache

    _cache.use_cache_directory()
    compiled: dict[str, types.CodeType] = {}
    for function in functions:
        if function.module not in compiled:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                source = "".join(function.module_lines)
                compiled[function.module] = compile(source, str(function.path), "exec")
        ours = _function_code(compiled[function.module], function.qualname)
        loaded = _function(importlib.import_module(function.module), function.qualname).__code__
        if ours is None or (ours.co_code, ours.co_firstlineno) != (
            loaded.co_code,
            loaded.co_firstlineno,
        ):
            raise LookupError(
                f"{function.file} changed between reading and importing it "
                f"({function.qualname} differs): run again"
            )


def _function_code(code: types.CodeType, qualname: str) -> types.CodeType | None:
    if code.co_qualname == qualname:
        return code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType) and qualname.startswith(constant.co_qualname):
            found = _function_code(constant, qualname)
            if found is not None:
                return found
    return None


def _function(module: types.ModuleType, qualname: str) -> types.FunctionType:
    """The function object behind `qualname` in the loaded module (a property's getter, a
    static or class method's function)."""
    owner: Any = module
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    member = vars(owner)[name]
    if isinstance(member, property):
        member = member.fget
    elif isinstance(member, staticmethod | classmethod):
        member = member.__func__
    if not isinstance(member, types.FunctionType):
        raise TypeError(f"{qualname} is not a function")
    return member


def install(mutant: Mutant) -> None:
    """Put the mutant in place in this process's loaded module (see the module's doc)."""
    function = mutant.function
    module = importlib.import_module(function.module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # `x is "literal"`: a fine mutant
        compiled = compile(mutant.module_source(), str(function.path), "exec")
    code = _function_code(compiled, function.qualname)
    if code is None:
        raise LookupError(f"no code for {function.qualname} in the mutated source")
    target = _function(module, function.qualname)
    if target.__code__.co_freevars != code.co_freevars:
        raise TypeError(f"{function.qualname}: the mutant's closure differs")
    if "CosmicRayTestingException" in mutant.mutated:
        # cosmic-ray's ExceptionReplacer catches an exception nothing raises instead
        exceptions = importlib.import_module("cosmic_ray.exceptions")
        module.CosmicRayTestingException = exceptions.CosmicRayTestingException  # type: ignore[attr-defined]
    target.__code__ = code


def _default_run(seed: int) -> Any:
    from conformance.core import GivenOptions
    from conformance.emulator import _app
    from conformance.jobs import execute, plan_run

    from .data import rich_state

    # enough data that defaults and page boundaries show (the App's default state)
    _app.seeded_state = rich_state  # type: ignore[attr-defined]

    # strict, as the self-test runs: an advisory finding sees the mutant too
    result, _written = execute(plan_run(given=GivenOptions(seed=seed, strict=True)), None)
    return result


def _summarize(result: Any, started: float, executed: Executed | None) -> Ended:
    from conformance.model import Outcome

    restore = [r.conversation_id for r in result.restore_failed]
    return Ended(
        exit_code=int(result.exit_code),
        seconds=round(time.monotonic() - started, 3),
        run_s=round(float(result.duration_s), 3),
        failed=tuple(r.check.id for r in result.checks if r.outcome is Outcome.FAILED),
        gating=tuple(r.check.id for r in result.gate_failures),
        errored=tuple(r.check.id for r in result.checks if r.outcome is Outcome.ERROR),
        detail=f"restore failed: {', '.join(restore)}" if restore else "",
        executed=executed,
    )


def _crash(exc: BaseException) -> str:
    """One line: the exception and where in the emulator (or else the deepest frame) it
    was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/emulator/" in f.filename] or frames[-1:]
    where = f" at {os.path.basename(ours[-1].filename)}:{ours[-1].lineno}" if ours else ""
    return f"crashed: {type(exc).__name__}: {str(exc)[:160]}{where}"


def _child(task: Task[Any], seed: int, answer: Connection, started: float) -> None:
    """A forked process: the mutant in place, one default run, how it ended -> `answer`."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from conformance.core import HarnessError

    try:
        if task.mutant is not None:
            install(task.mutant)
        if task.trace:
            files = {str(task.mutant.function.path)} if task.mutant else set()
            files |= _emulator_files()
            result, executed = trace_requests(files, lambda: _default_run(seed))
            ended = _summarize(result, started, executed)
        else:
            ended = _summarize(_default_run(seed), started, None)
    except HarnessError as error:
        ended = Ended(int(error.code), round(time.monotonic() - started, 3), detail=error.message)
    except BaseException as exc:  # the emulator crashed the run: the command exits 1
        ended = Ended(1, round(time.monotonic() - started, 3), detail=_crash(exc))
    with contextlib.suppress(BaseException):
        answer.send(ended)
        answer.close()
    os._exit(0)  # no atexit, no waiting on a thread a mutant left running


def _emulator_files() -> set[str]:
    from conformance.emulator import _app, _state

    return {str(_app.__file__), str(_state.__file__)}


@dataclass
class _Running(Generic[T]):
    task: Task[T]
    process: BaseProcess
    answer: Connection
    started: float = field(default_factory=time.monotonic)


def _stop(process: BaseProcess) -> None:
    with contextlib.suppress(Exception):
        process.kill()
    process.join(5)


def run_tasks(
    tasks: Sequence[Task[T]],
    seed: int,
    *,
    jobs: int = 2,
    timeout: float = 60.0,
) -> Iterator[tuple[Task[T], Ended]]:
    """Run each task's default run in a forked process, at most `jobs` at once; yield each
    as it ends (in the order they end)."""
    if sys.platform != "linux":  # pragma: no cover - the job forks a warm parent
        raise RuntimeError("the mutation job needs fork (Linux)")
    context = multiprocessing.get_context("fork")
    pending = deque(tasks)
    running: list[_Running[T]] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                task = pending.popleft()
                receive, send = context.Pipe(duplex=False)
                started = time.monotonic()
                process = context.Process(
                    target=_child, args=(task, seed, send, started), daemon=True
                )
                process.start()
                send.close()
                running.append(_Running(task, process, receive, started))
            soonest = min(r.started + timeout for r in running) - time.monotonic()
            waited = [r.answer for r in running] + [r.process.sentinel for r in running]
            wait(waited, max(0.0, soonest))
            for item in list(running):
                ended = _collect(item, timeout)
                if ended is None:
                    continue
                running.remove(item)
                yield item.task, ended
    finally:
        for item in running:
            _stop(item.process)


def _collect(item: _Running[Any], timeout: float) -> Ended | None:
    """How a running task ended, or None while it runs."""
    elapsed = time.monotonic() - item.started
    if item.answer.poll():
        try:
            ended: Ended = item.answer.recv()
        except (EOFError, OSError):
            item.process.join(5)
            code = item.process.exitcode
            return Ended(1, round(elapsed, 3), detail=f"the run's process died (exit {code})")
        item.process.join(5)
        if item.process.is_alive():
            _stop(item.process)
        return ended
    if not item.process.is_alive():
        code = item.process.exitcode
        return Ended(1, round(elapsed, 3), detail=f"the run's process died (exit {code})")
    if elapsed > timeout:
        _stop(item.process)
        return Ended(None, round(elapsed, 3), detail=f"still running after {timeout:g} s")
    return None
