"""Which mutants are in scope: those whose code a conformant default run executes while it
serves the conversations API (never the webhook routes or the emulator's control route).

Measured once, by instruction rather than by line: the run is traced (`sys.settrace` with
opcode events, in every thread) and each instruction the emulator's files execute is noted
with its source range (`co_positions`), but only while `App.handle` serves a request that
is not a webhook or control request. A mutant is in scope when an instruction of the
expression it changes ran. By line would not do: `status = 202 if self.on(F.X) else 200`
runs its line on every PATCH, but its `202` only with the fault on (out of scope: the brief
leaves code that runs only under a fault out), while a mutation of the `self.on(...)`
condition itself, which switches the fault on, is in scope.

The expression's instructions are those whose range lies inside it; for an expression with
none of its own (a constant folded into a larger one, `16 * 1024`), the smallest instructions
whose range holds it.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .mutants import Mutant

__all__ = ["Executed", "Span", "in_scope", "trace_requests"]

# (line, end line, column, end column), columns in UTF-8 bytes as `co_positions` counts them
Span = tuple[int, int, int, int]


@dataclass
class Executed:
    """What the traced run executed, per file: the source ranges of its instructions."""

    spans: dict[str, set[Span]] = field(default_factory=dict)
    requests: int = 0  # the conversation requests served while tracing
    skipped: int = 0  # webhook and control requests, not traced


def _is_webhook(path: str) -> bool:
    from conformance.emulator import _app

    plain = unquote(path)
    return plain in _app._WEBHOOK_ROUTES or path.startswith(_app.CONTROL_PREFIX)


def trace_requests(files: set[str], run: Callable[[], Any]) -> tuple[Any, Executed]:
    """Call `run` (the default run) with the emulator's `files` traced while it serves a
    conversation request; what it returned and what executed."""
    from conformance.emulator import App

    executed = Executed({name: set() for name in files})
    hits: set[tuple[types.CodeType, int]] = set()
    state = threading.local()
    original = App.handle

    def handle(self: App, request: Any) -> Any:
        served = not _is_webhook(request.path)
        if served:
            executed.requests += 1
        else:
            executed.skipped += 1
        before = getattr(state, "served", False)
        state.served = served
        try:
            return original(self, request)
        finally:
            state.served = before

    def local(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "opcode" and getattr(state, "served", False):
            hits.add((frame.f_code, frame.f_lasti))
        return local

    def called(frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename not in files or not getattr(state, "served", False):
            return None
        frame.f_trace_opcodes = True
        return local

    App.handle = handle  # type: ignore[method-assign]
    threading.settrace(called)
    sys.settrace(called)
    try:
        result = run()
    finally:
        sys.settrace(None)
        threading.settrace(None)
        App.handle = original  # type: ignore[method-assign]
    positions: dict[types.CodeType, list[Any]] = {}
    for code, offset in hits:
        if code not in positions:
            positions[code] = list(code.co_positions())
        line, end_line, column, end_column = positions[code][offset // 2]
        if None not in (line, end_line, column, end_column):
            executed.spans[code.co_filename].add((line, end_line, column, end_column))
    return result, executed


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


def all_spans(source: str, filename: str) -> set[Span]:
    """The source range of every instruction of a module (its functions' included)."""
    spans: set[Span] = set()
    for code in _code_objects(compile(source, filename, "exec")):
        for line, end_line, column, end_column in code.co_positions():
            if None not in (line, end_line, column, end_column):
                spans.add((line, end_line, column, end_column))  # type: ignore[arg-type]
    return spans


def _inside(inner: Span, outer: Span) -> bool:
    return (inner[0], inner[2]) >= (outer[0], outer[2]) and (inner[1], inner[3]) <= (
        outer[1],
        outer[3],
    )


class Scope:
    """The mutants a conformant run reaches, given what it executed."""

    def __init__(self, executed: Executed) -> None:
        self.executed = executed
        self._spans: dict[str, set[Span]] = {}  # every instruction's, per file
        self._by_line: dict[str, dict[int, list[Span]]] = {}

    def _index(self, mutant: Mutant) -> dict[int, list[Span]]:
        filename = str(mutant.function.path)
        if filename not in self._by_line:
            source = "".join(mutant.function.module_lines)
            spans = all_spans(source, filename)
            by_line: dict[int, list[Span]] = {}
            for span in spans:
                for line in range(span[0], span[1] + 1):
                    by_line.setdefault(line, []).append(span)
            self._spans[filename] = spans
            self._by_line[filename] = by_line
        return self._by_line[filename]

    def node_span(self, mutant: Mutant) -> Span:
        """The changed expression's range, its columns in bytes."""
        lines = mutant.function.module_lines
        (line, column), (end_line, end_column) = mutant.node_start, mutant.node_end

        def to_bytes(number: int, characters: int) -> int:
            text = lines[number - 1] if 0 < number <= len(lines) else ""
            return len(text[:characters].encode("utf-8"))

        return (line, end_line, to_bytes(line, column), to_bytes(end_line, end_column))

    def responsible(self, mutant: Mutant) -> list[Span]:
        """The instructions of the expression a mutant changes (see the module's doc)."""
        by_line = self._index(mutant)
        node = self.node_span(mutant)
        near = {span for line in range(node[0], node[1] + 1) for span in by_line.get(line, [])}
        inside = [span for span in near if _inside(span, node)]
        if inside:
            return inside
        holding = [span for span in near if _inside(node, span)]
        return [s for s in holding if not any(o != s and _inside(o, s) for o in holding)]

    def reaches(self, mutant: Mutant) -> bool:
        ran = self.executed.spans.get(str(mutant.function.path), set())
        return any(span in ran for span in self.responsible(mutant))


def in_scope(mutants: list[Mutant], executed: Executed) -> tuple[list[Mutant], int]:
    """The mutants the run reaches, and how many it does not."""
    scope = Scope(executed)
    kept = [m for m in mutants if scope.reaches(m)]
    return kept, len(mutants) - len(kept)
