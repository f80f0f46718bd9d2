"""`history`: find the report.json files of many runs, read each (validated against its
schema), build the history of every target they are of, and write history.md, .json and
.html.

Bad input is one `HarnessError` (exit 2): a path that does not exist, a report.json named
on the command line that cannot be read or is not a report, no report at all, an
unwritable output directory (checked before anything is read). A file found by searching
a directory that is not a readable report (another tool's report.json, one of an older
report format, a truncated download) is left out with a warning that names it: a CI job
that downloads old artifacts must not fail on one of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..core import HarnessError
from ..core._target import DEFAULT_KEY_ENV, DEFAULT_SECOND_KEY_ENV
from ..model import History, HistoryRun, Skipped, build_history, lighten, target_key
from ..reports import load_report, write_history
from ._run import ensure_writable
from .matrix._merge import utc_now

__all__ = ["HistoryPlan", "find_reports", "history_job", "load_history"]

REPORT_NAME = "report.json"
_HINT = (
    "pass report.json files written by `agentphone-conformance run`, or directories holding them"
)


@dataclass(frozen=True)
class HistoryPlan:
    """The reports to read: those named (an error if bad) and those found in directories
    (left out with a warning if bad); and what was left out already."""

    named: tuple[Path, ...]
    found: tuple[Path, ...]
    skipped: tuple[Skipped, ...] = ()


def find_reports(paths: Sequence[Path]) -> HistoryPlan:
    """Each path a report.json, or a directory searched (recursively) for report.json
    files; each file once, in the order given (a directory's in path order)."""
    if not paths:
        raise HarnessError("no report given", _HINT)
    named: list[Path] = []
    found: list[Path] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob(REPORT_NAME) if p.is_file())
            if not inside:
                skipped.append(Skipped(path, f"no {REPORT_NAME} under it"))
            for file in inside:
                if file.resolve() not in seen:
                    seen.add(file.resolve())
                    found.append(file)
        elif path.exists():
            if path.resolve() not in seen:
                seen.add(path.resolve())
                named.append(path)
        else:
            raise HarnessError(f"no such file or directory: {path}", _HINT)
    return HistoryPlan(tuple(named), tuple(found), tuple(skipped))


def _why(path: Path, exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"cannot read {path} ({exc.strerror or exc})"
    return str(exc)


def _read(path: Path, named: bool, skipped: list[Skipped]) -> HistoryRun | None:
    """The run of one report.json, lightened; None (and a Skipped) for a bad file found
    in a directory; a HarnessError for a bad file named."""
    try:
        result = load_report(path)
    except (OSError, ValueError) as exc:
        if named:
            raise HarnessError(_why(path, exc), _HINT) from None
        skipped.append(Skipped(path, _why(path, exc)))
        return None
    html = path.with_name("report.html")
    return HistoryRun(lighten(result), path, html if html.is_file() else None)


def load_history(paths: Sequence[Path], last: int | None = None) -> History:
    """The history of every target the reports under `paths` are of (see the module's
    docstring for what is an error and what a warning). A report found twice - the same
    run copied to two places - counts once."""
    plan = find_reports(paths)
    skipped = list(plan.skipped)
    runs: list[HistoryRun] = []
    same: dict[tuple[object, ...], Path] = {}
    entries = [(p, True) for p in plan.named] + [(p, False) for p in plan.found]
    for path, named in entries:
        run = _read(path, named, skipped)
        if run is None:
            continue
        result = run.result
        key = (
            target_key(result.target),
            result.started_at,
            result.settings.seed,
            result.tool_version,
            result.duration_s,
            result.requests_sent,
        )
        if key in same:
            skipped.append(Skipped(path, f"the same run as {same[key]}"))
            continue
        same[key] = path
        runs.append(run)
    if not runs:
        where = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        raise HarnessError(f"no readable report found in {where}", _HINT)
    return build_history(
        runs, tool_version=__version__, generated_at=utc_now(), last=last, skipped=skipped
    )


def _environment_secrets() -> list[str]:
    """The keys in the default key variables, if set: scrubbed from the history too (the
    reports were redacted when written; this is the second line of defence)."""
    return [v for name in (DEFAULT_KEY_ENV, DEFAULT_SECOND_KEY_ENV) if (v := os.environ.get(name))]


def history_job(
    paths: Sequence[Path],
    out: Path,
    last: int | None = None,
    secrets: Iterable[str] = (),
) -> tuple[History, dict[str, Path]]:
    """Check `out` can be written, read the reports, build the history and write it;
    every string in `secrets` (and the keys of the default key variables) is scrubbed."""
    try:
        ensure_writable(out)
    except HarnessError as exc:
        raise HarnessError(exc.message, "pick a writable --out directory") from None
    history = load_history(paths, last)
    written = write_history(history, out, [*secrets, *_environment_secrets()])
    return history, written
