"""The one place that touches cosmic-ray (the mutation library) and parso (its parser).

Both are imported at run time, not at type-checking time: they ship no types the suite's
`mypy --strict` could use, and they are an optional dependency (`pip install -e
'.[mutation]'`), so `mypy` and the rest of `bench/` work without them. What this module hands
out is typed by us.

The operators are cosmic-ray's standard set: every operator its core provider offers that
takes no arguments (what `cosmic-ray init` uses when a config names no operator arguments),
i.e. all but `VariableReplacer` and `VariableInserter` (which need a variable name and insert
a random number). Each operator is asked, as cosmic-ray's own `init` asks it, where it can
mutate each node of a parse tree (`mutation_positions`), and cosmic-ray's `mutate_code` makes
the n-th of those mutations.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any, Final

__all__ = [
    "INSTALL_HINT",
    "LibraryMissing",
    "Position",
    "Site",
    "library_version",
    "mutate",
    "operator_names",
    "sites",
]

INSTALL_HINT: Final = "install it: python -m pip install -e '.[mutation]'"
_PROVIDER: Final = "core/"  # cosmic-ray's own operator provider; names are shown without it

Position = tuple[int, int]  # (line from 1, column from 0, in characters), as parso counts


class LibraryMissing(RuntimeError):
    """cosmic-ray is not installed."""


@dataclass(frozen=True)
class Site:
    """Where one operator can make one mutation of a source: `occurrence` is the operator's
    count in cosmic-ray's walk of the tree (what `mutate` takes); `start`/`end` the range
    the operator reports; `node` the range of the expression the mutation changes (the
    operator's range, widened to the whole expression when it is an operator or keyword)."""

    operator: str
    occurrence: int
    start: Position
    end: Position
    node_start: Position
    node_end: Position


def _load(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise LibraryMissing(f"cosmic-ray is not installed ({exc}): {INSTALL_HINT}") from None


@functools.cache
def _modules() -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    return (
        _load("cosmic_ray.plugins"),
        _load("cosmic_ray.mutating"),
        _load("cosmic_ray.ast"),
        _load("parso"),
    )


def library_version() -> str:
    _modules()
    return f"cosmic-ray {metadata.version('cosmic-ray')}"


@functools.cache
def operator_names() -> tuple[str, ...]:
    """cosmic-ray's standard operators (those of its core provider that take no argument),
    in its own order, without the provider's prefix."""
    plugins = _modules()[0]
    names: list[str] = []
    for full in plugins.operator_names():
        if not full.startswith(_PROVIDER):
            continue
        if plugins.get_operator(full).arguments():
            continue  # VariableReplacer, VariableInserter: they need a variable to work on
        names.append(full[len(_PROVIDER) :])
    return tuple(names)


@functools.cache
def _operator(name: str) -> Any:
    return _modules()[0].get_operator(_PROVIDER + name)()


def _widened(tree: Any, start: Position, end: Position) -> tuple[Position, Position]:
    """The expression a mutation at `start`..`end` changes: the smallest node covering the
    range; an operator, a keyword other than a constant, or a comparison operator stands
    for the expression it belongs to."""
    node = tree.get_leaf_for_position(start, include_prefixes=True)
    while node.parent is not None and (node.start_pos > start or node.end_pos < end):
        node = node.parent
    constant = node.type == "keyword" and node.value in ("True", "False", "None")
    if node.type in ("operator", "keyword", "comp_op") and not constant and node.parent:
        node = node.parent
    return node.start_pos, node.end_pos


def sites(source: str, operators: tuple[str, ...]) -> Iterator[Site]:
    """Every mutation each operator can make of `source`, as cosmic-ray's `init` finds them:
    the nodes in walk order, each operator's positions in each node."""
    _plugins, _mutating, cr_ast, parso = _modules()
    tree = parso.parse(source)
    nodes = list(cr_ast.ast_nodes(tree))
    for name in operators:
        operator = _operator(name)
        occurrence = 0
        for node in nodes:
            for start, end in operator.mutation_positions(node):
                node_start, node_end = _widened(tree, start, end)
                yield Site(name, occurrence, start, end, node_start, node_end)
                occurrence += 1


def mutate(source: str, operator: str, occurrence: int) -> str | None:
    """`source` with the operator's `occurrence`-th mutation made (cosmic-ray's
    `mutate_code`), or None when there is none."""
    mutating = _modules()[1]
    mutated = mutating.mutate_code(source, _operator(operator), occurrence)
    return None if mutated is None else str(mutated)
