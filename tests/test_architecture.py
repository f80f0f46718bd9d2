"""The layering ARCHITECTURE.md describes, checked on the imports themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"


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
            found.update(f"{module}.{alias.name}".lstrip(".") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("conformance.")
                for a in node.names
                if a.name.startswith("conformance")
            )
    return found


def _files(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py")) if folder else [PACKAGE]


@pytest.mark.parametrize("path", sorted((PACKAGE / "emulator").rglob("*.py")), ids=str)
def test_the_emulator_imports_nothing_of_the_suite(path: Path) -> None:
    outside = {m for m in _imports(path) if m and not m.startswith("emulator")}
    assert not outside, outside


@pytest.mark.parametrize("path", sorted((PACKAGE / "reports").rglob("*.py")), ids=str)
def test_report_writers_import_only_plain_models(path: Path) -> None:
    forbidden = (
        "_runner",
        "_job",
        "cli",
        "checks",
        "_http",
        "_matrix.",
        "_baseline",
        "_selftest",
        "emulator",
        "_terminal",
    )
    bad = {
        m
        for m in _imports(path)
        for f in forbidden
        if m == f.rstrip(".") or m.startswith(f if f.endswith(".") else f + ".")
    }
    assert not bad, bad


def test_results_import_nothing_of_ours() -> None:
    assert _imports(PACKAGE / "_results.py") == set()


@pytest.mark.parametrize("path", sorted((PACKAGE / "checks").rglob("*.py")), ids=str)
def test_checks_never_reach_up_to_jobs_reports_or_the_cli(path: Path) -> None:
    forbidden = ("_runner", "_job", "cli", "reports", "_matrix", "_selftest", "emulator")
    bad = {m for m in _imports(path) if m.split(".")[0] in forbidden}
    assert not bad, bad
