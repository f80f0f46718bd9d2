"""The layering ARCHITECTURE.md describes, checked on the imports themselves.

Each folder of the package is a layer; a module may import its own folder and the folders
its layer is allowed to see, nothing else of the suite (third-party imports are free).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
ARCHITECTURE = PACKAGE.parent / "ARCHITECTURE.md"

# folder -> the other folders it may import (its own is always allowed). "" is the package
# root, which holds only __init__ (the version) and __main__.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "schemas": set(),
    "core": {"model"},
    "checks": {"core", "model"},
    "engine": {"checks", "core", "model"},
    "reports": {"model", "schemas"},
    "jobs": {"engine", "reports", "checks", "core", "model", "schemas", "emulator"},
    "cli": {"jobs", "engine", "reports", "checks", "core", "model", "schemas", "emulator"},
    "pytest_suite": {"model", "checks"},
    "emulator": set(),
}
ROOT_MODULES = {"__init__.py", "__main__.py", "py.typed"}


def _layer(module: str) -> str:
    return module.split(".")[0]


def _imports(path: Path) -> set[str]:
    """The conformance modules a file imports, as dotted names relative to the package."""
    here = path.relative_to(PACKAGE).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("conformance"):
                module = (node.module or "").removeprefix("conformance").lstrip(".")
            else:
                continue
            found.add(module)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("conformance").lstrip(".")
                for a in node.names
                if a.name.startswith("conformance")
            )
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def test_the_package_root_holds_only_folders() -> None:
    loose = sorted(p.name for p in PACKAGE.iterdir() if p.is_file())
    assert set(loose) <= ROOT_MODULES, loose
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders - {"_openapi"} == set(ALLOWED), folders


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_the_layers_below_it(path: Path) -> None:
    layer = path.relative_to(PACKAGE).parts[0]
    allowed = ALLOWED[layer] | {layer}
    bad = {m for m in _imports(path) if m and _layer(m) not in allowed}
    # `from .. import __version__`: the package root is everyone's.
    bad -= {m for m in bad if m == "" or m == "__version__"}
    assert not bad, f"{layer}/ may import {sorted(allowed)}, not {sorted(bad)}"


def test_the_emulator_stands_beside_the_suite() -> None:
    for path in sorted((PACKAGE / "emulator").rglob("*.py")):
        assert all(m.startswith("emulator") for m in _imports(path) if m), path


def test_architecture_md_names_every_folder() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"^\s*([a-z_]+)/", text, re.M))
    assert set(ALLOWED) <= named, set(ALLOWED) - named
