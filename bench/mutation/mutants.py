"""The mutants: cosmic-ray's operators applied, one mutation at a time, to the emulator's
functions that serve GET and PATCH of a conversation and the list.

Each function is mutated on its own: its source (verbatim, under a `class _Mutated:` line
when it is indented) goes through the library, and the mutated function is put back into
the module's source in place of the original (`Mutant.module_source`). Only mutations inside
the function's body count (not its signature or decorators: they run at import, not while a
request is served). A mutant that no longer compiles is *incompetent* and never run; two
operators that make the same function are one mutant (the first).

A mutant's stable id is `file:function:line:operator:index` (index: among that operator's
mutations of that line in that function), and its `digest` a hash of the mutated function's
source: both stay the same from one run to the next while the code does.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib.util
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from . import library
from .library import Position

__all__ = [
    "APP",
    "REPO",
    "SCOPE",
    "STATE",
    "Function",
    "Generated",
    "Mutant",
    "generate",
    "resolve_only",
]

REPO: Final = Path(__file__).resolve().parents[2]
APP: Final = "conformance.emulator._app"
STATE: Final = "conformance.emulator._state"
_WRAPPER: Final = "class _Mutated:\n"  # an indented method parses under it, as it is

# What serves PATCH and GET of a conversation and the list: the routing and its steps in
# _app.py; what renders and stores conversations (and finds an account by key) in _state.py.
# A function of this list the source does not have (yet, or any more) is left out and named
# in the report; `--only` a function that is not there is an error.
SCOPE: Final[tuple[tuple[str, str], ...]] = (
    (APP, "App.handle"),
    (APP, "App._route"),
    (APP, "App._list"),
    (APP, "App._get"),
    (APP, "App._not_found"),  # GET's and PATCH's 404 (where the tree has it)
    (APP, "App._lookup_before_auth"),  # a step of GET and PATCH (where the tree has it)
    (APP, "App._patch"),
    (APP, "App._authenticate"),
    (APP, "App._decode_body"),
    (APP, "App._body_errors"),
    (APP, "App._int_param"),
    (APP, "App._lookup"),
    (APP, "App._apply"),
    (APP, "App._render"),
    (APP, "App._json"),
    (APP, "App._validation_failed"),
    (APP, "App._not_allowed"),
    (STATE, "copy_json"),
    (STATE, "Reaction.to_json"),
    (STATE, "Message.to_json"),
    (STATE, "Conversation.last_message_at"),
    (STATE, "Conversation.to_json"),
    (STATE, "Conversation.summary_json"),
    (STATE, "State.account_for_key"),
    (STATE, "State.conversations_of"),
)


@dataclass(frozen=True)
class Function:
    """A function of a module, as its source has it."""

    module: str  # dotted name
    path: Path  # the file
    file: str  # as shown: relative to the repository when inside it
    qualname: str
    first: int  # the `def` line
    last: int  # its last line
    body: Position  # where its body starts
    lines: tuple[str, ...]  # first..last, with their line ends
    module_lines: tuple[str, ...]  # the whole module's

    @property
    def source(self) -> str:
        return "".join(self.lines)

    @property
    def wrapped(self) -> bool:
        return self.lines[0][:1].isspace()


@dataclass(frozen=True)
class Mutant:
    function: Function
    line: int  # of the module, where the operator mutates
    operator: str  # cosmic-ray's name, without its provider's prefix
    index: int  # among this operator's mutations of this line in this function
    occurrence: int  # the operator's count in the function's source (for the library)
    node_start: Position  # module coordinates of the expression the mutation changes
    node_end: Position
    mutated: str  # the mutated function's source
    original_lines: tuple[str, ...]  # the lines it changes, before (stripped of their ends)
    mutated_lines: tuple[str, ...]  # and after

    @property
    def id(self) -> str:
        f = self.function
        return f"{f.file}:{f.qualname}:{self.line}:{self.operator}:{self.index}"

    @property
    def digest(self) -> str:
        text = f"{self.function.module}:{self.function.qualname}\n{self.mutated}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def module_source(self) -> str:
        """The whole module's source with this mutant in place of the function."""
        f = self.function
        before = "".join(f.module_lines[: f.first - 1])
        after = "".join(f.module_lines[f.last :])
        return before + self.mutated + after


@dataclass
class Generated:
    """What `generate` found: the mutants, and what it left out."""

    mutants: list[Mutant] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    incompetent: list[tuple[str, str]] = field(default_factory=list)  # (id, why)
    missing: list[str] = field(default_factory=list)  # functions of the scope not in the source
    duplicates: int = 0  # same mutated function as an earlier mutant
    unchanged: int = 0  # the library changed nothing


def _module_path(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"no module {module}")
    return Path(spec.origin)


def _shown(path: Path) -> str:
    if path.name.startswith("<"):
        return path.name  # a source given as text
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return path.as_posix()


def _functions(module: str, source: str, path: Path) -> dict[str, Function]:
    """Every function and method of `source` (one class deep), by qualified name."""
    lines = tuple(source.splitlines(keepends=True))
    tree = ast.parse(source)
    found: dict[str, Function] = {}

    def add(node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> None:
        assert node.end_lineno is not None
        body = node.body[0]
        found[qualname] = Function(
            module=module,
            path=path,
            file=_shown(path),
            qualname=qualname,
            first=node.lineno,
            last=node.end_lineno,
            body=(body.lineno, body.col_offset),
            lines=lines[node.lineno - 1 : node.end_lineno],
            module_lines=lines,
        )

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node, node.name)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    add(member, f"{node.name}.{member.name}")
    return found


def load_functions(
    scope: Iterable[tuple[str, str]],
    sources: dict[str, str] | None = None,
    missing: list[str] | None = None,
) -> list[Function]:
    """The functions of `scope` ((module, qualname) pairs), from their files (or from
    `sources`, module -> source, when given there). A function that is not there is a
    LookupError, or, given a `missing` list, named in it."""
    by_module: dict[str, dict[str, Function]] = {}
    chosen: list[Function] = []
    given = sources or {}
    for module, qualname in scope:
        if module not in by_module:
            if module in given:
                path, text = Path(f"<{module}>"), given[module]
            else:
                path = _module_path(module)
                text = path.read_text(encoding="utf-8")
            by_module[module] = _functions(module, text, path)
        if qualname in by_module[module]:
            chosen.append(by_module[module][qualname])
        elif missing is not None:
            missing.append(f"{module}:{qualname}")
        else:
            raise LookupError(f"no function {qualname} in {module}")
    return chosen


def resolve_only(
    names: Sequence[str], scope: Sequence[tuple[str, str]] = SCOPE
) -> list[tuple[str, str]]:
    """The part of `scope` that `--only` names: a qualified name (`App._get`,
    `Conversation.to_json`) or a bare one (`_get`, `to_json`: every function of that name).
    ValueError for a name that matches nothing."""
    if not names:
        return list(scope)
    chosen: list[tuple[str, str]] = []
    for name in names:
        matched = [item for item in scope if name in (item[1], item[1].rpartition(".")[2])]
        if not matched:
            known = ", ".join(q for _, q in scope)
            raise ValueError(f"--only {name}: not a function in scope ({known})")
        chosen += [item for item in matched if item not in chosen]
    return [item for item in scope if item in chosen]


def _changed(before: str, after: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The lines a mutation changed: (removed, added), without line ends."""
    removed: list[str] = []
    added: list[str] = []
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    for line in diff:
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return tuple(removed), tuple(added)


def mutants_of(function: Function, operators: tuple[str, ...], generated: Generated) -> None:
    """Every mutant of one function's body, into `generated`."""
    original = function.source
    prefix = _WRAPPER if function.wrapped else ""
    offset = function.first - 1 - (1 if prefix else 0)  # parsed line -> module line
    text = prefix + original
    seen = {m.mutated for m in generated.mutants if m.function == function}
    per_line: dict[tuple[int, str], int] = {}
    for site in library.sites(text, operators):
        start = (site.start[0] + offset, site.start[1])
        if start < function.body:
            continue  # the signature or a decorator: runs at import, not on a request
        line = start[0]
        index = per_line.get((line, site.operator), 0)
        per_line[(line, site.operator)] = index + 1
        mutated = library.mutate(text, site.operator, site.occurrence)
        if mutated is None or not mutated.startswith(prefix) or mutated == text:
            generated.unchanged += 1
            continue
        body = mutated[len(prefix) :]
        removed, added = _changed(original, body)
        mutant = Mutant(
            function=function,
            line=line,
            operator=site.operator,
            index=index,
            occurrence=site.occurrence,
            node_start=(site.node_start[0] + offset, site.node_start[1]),
            node_end=(site.node_end[0] + offset, site.node_end[1]),
            mutated=body,
            original_lines=removed,
            mutated_lines=added,
        )
        if body in seen:
            generated.duplicates += 1
            continue
        seen.add(body)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)  # `x is "literal"`: fine here
                compile(mutated, str(function.path), "exec")  # the function alone suffices
        except SyntaxError as exc:
            generated.incompetent.append((mutant.id, f"does not compile: {exc.msg}"))
            continue
        generated.mutants.append(mutant)


def generate(
    scope: Iterable[tuple[str, str]] = SCOPE,
    operators: tuple[str, ...] | None = None,
    sources: dict[str, str] | None = None,
    missing_ok: bool = False,
) -> Generated:
    """Every mutant of every function of `scope`, with cosmic-ray's standard operators (or
    `operators`); `missing_ok`: a function the source does not have is named, not an error."""
    chosen = operators if operators is not None else library.operator_names()
    generated = Generated()
    missing = generated.missing if missing_ok else None
    for function in load_functions(scope, sources, missing):
        generated.functions.append(function)
        mutants_of(function, chosen, generated)
    return generated
