"""`matrix --merge`: one `Matrix` from report.json files written elsewhere (a CI job per
vendor), and the naming rules every matrix shares: unique column names and slugs."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ... import __version__
from ...core import HarnessError
from ...model import Column, Matrix, RunResult
from ...reports import load_report

__all__ = ["merge_reports", "slugs", "unique_names", "utc_now"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _deduplicated(bases: Iterable[str], suffix: str) -> list[str]:
    """The bases, each later duplicate given `suffix` with a count (2, 3, ...)."""
    taken: set[str] = set()
    result = []
    for base in bases:
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = suffix.format(base=base, number=number)
        taken.add(candidate)
        result.append(candidate)
    return result


def unique_names(names: Iterable[str]) -> list[str]:
    """The names, later duplicates suffixed " (2)", " (3)", ..."""
    return _deduplicated(names, "{base} ({number})")


def slugs(names: Iterable[str]) -> list[str]:
    """Lower-case ASCII letters, digits and dashes; unique (later ones suffixed -2, -3)."""
    bases = (re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-")[:60] or "target" for n in names)
    return _deduplicated(bases, "{base}-{number}")


def _report_paths(paths: Sequence[Path]) -> list[Path]:
    """Each path, a directory standing for every report.json under it."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.rglob("report.json"))
            if not inside:
                raise HarnessError(
                    f"no report.json under {path}",
                    "pass the report.json files (or their directories) that `run` wrote",
                )
            found += inside
        else:
            found.append(path)
    return found


def _load(path: Path) -> RunResult:
    try:
        return load_report(path)
    except OSError as exc:
        raise HarnessError(
            f"cannot read {path} ({exc.strerror or exc})", "check the paths given to --merge"
        ) from None
    except ValueError as exc:
        raise HarnessError(
            str(exc), "pass report.json files written by `agentphone-conformance run`"
        ) from None


def merge_reports(paths: Sequence[Path], strict: bool = False) -> Matrix:
    """One matrix from report.json files, columns in the order given, each named after
    its target (duplicates numbered). Every file is validated first: one bad file is a
    usage error. `strict` re-grades advisory failures as gating."""
    started_at, clock = utc_now(), time.monotonic()
    files = _report_paths(paths)
    if not files:
        raise HarnessError("--merge without report files", "pass report.json files to merge")
    results = [_load(path) for path in files]
    if strict:
        results = [replace(r, settings=replace(r.settings, strict=True)) for r in results]
    names = unique_names(r.target.name for r in results)
    columns = []
    for name, slug, path, result in zip(names, slugs(names), files, results, strict=True):
        siblings = {"json": path, "html": path.with_name("report.html")}
        siblings["markdown"] = path.with_name("summary.md")
        reports = {k: p for k, p in siblings.items() if k == "json" or p.is_file()}
        columns.append(Column(name, slug, f"report {path}", result=result, reports=reports))
    return Matrix(
        columns=columns,
        mode="merge",
        tool_version=__version__,
        started_at=started_at,
        duration_s=time.monotonic() - clock,
        strict=strict,
    )
