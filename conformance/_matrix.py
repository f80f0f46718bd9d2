"""The compatibility matrix job: the suite against several targets at once, or report.json
files from elsewhere (a CI job per vendor) merged, into one `Matrix` and its reports.

Runs go through `execute`, as `run` does, each into its own report directory. A target
that cannot be tested becomes an "unusable" column; it never stops the others. Targets
that share a base URL and a conversation id run one after the other (each run restores
what it changed, and two at once would restore each other's edits); the rest run in a
bounded thread pool. Embedded emulators are independent: each listens on its own port.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from . import __version__
from ._errors import ExitCode, HarnessError
from ._job import JobOptions, execute, run_options
from ._matrix_model import MATRIX_FORMAT, Column, Matrix, Problem, Row, Status
from ._results import RunResult
from ._target import TargetSpec, load_target_file, validate_base_url
from .emulator import UnknownFaultError, parse_faults, seeded_state
from .reports import load_report, write_matrix

__all__ = [
    "DEFAULT_JOBS",
    "MATRIX_FORMAT",
    "Column",
    "Matrix",
    "MatrixTarget",
    "Problem",
    "Row",
    "Status",
    "conflict_groups",
    "matrix_job",
    "merge_reports",
    "plan_targets",
    "run_matrix",
]

DEFAULT_JOBS = 2
EMULATOR_COLUMN = "emulator"

#: Called when a target starts (column None) and when it is done (its column).
MatrixProgress = Callable[[str, Column | None], None]


@dataclass(frozen=True)
class MatrixTarget:
    """A target of the matrix, named and validated, not yet run."""

    name: str
    slug: str
    source: str
    spec: TargetSpec


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _unique(names: Iterable[str]) -> list[str]:
    """The names, later duplicates suffixed " (2)", " (3)", ..."""
    taken: set[str] = set()
    result = []
    for name in names:
        candidate, number = name, 1
        while candidate in taken:
            number += 1
            candidate = f"{name} ({number})"
        taken.add(candidate)
        result.append(candidate)
    return result


def _slugs(names: Iterable[str]) -> list[str]:
    """Lower-case ASCII letters, digits and dashes; unique (later ones suffixed -2, -3)."""
    taken: set[str] = set()
    result = []
    for name in names:
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "target"
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        result.append(candidate)
    return result


def plan_targets(files: Sequence[Path], include_emulator: bool = True) -> list[MatrixTarget]:
    """The emulator (unless left out) and each target file, parsed and named. A bad file
    or an unknown fault is a usage error: nothing runs."""
    specs: list[tuple[str, str, TargetSpec]] = []
    if include_emulator:
        specs.append((EMULATOR_COLUMN, "the embedded emulator", TargetSpec()))
    for path in files:
        spec = load_target_file(path)
        try:
            parse_faults(spec.faults)
        except UnknownFaultError as exc:
            raise HarnessError(
                f"target file {path}: unknown fault {exc.name!r}",
                "run `agentphone-conformance faults` for the names",
            ) from None
        if spec.base_url is not None:
            validate_base_url(spec.base_url)
        specs.append((spec.name or path.stem, f"target file {path}", spec))
    if not specs:
        raise HarnessError(
            "no target to run",
            "name target files, drop --no-emulator, or pass --merge with report.json files",
        )
    names = _unique(name for name, _, _ in specs)
    return [
        MatrixTarget(name, slug, source, replace(spec, name=name))
        for name, slug, (_, source, spec) in zip(names, _slugs(names), specs, strict=True)
    ]


def _touches(spec: TargetSpec) -> set[tuple[str, str]]:
    """(base URL, conversation id) for each conversation an external run may write."""
    if spec.base_url is None:
        return set()  # an embedded emulator of its own
    parts = urlsplit(validate_base_url(spec.base_url))
    base = f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"
    return {(base, cid) for cid in (*spec.conversation_ids, *spec.second_conversation_ids)}


def conflict_groups(targets: Sequence[MatrixTarget]) -> list[list[MatrixTarget]]:
    """Targets that must not run at the same time, grouped (transitively); each group runs
    in order, the groups in parallel. A target alone is a group of one."""
    groups: list[tuple[set[tuple[str, str]], list[MatrixTarget]]] = []
    for target in targets:
        touched = _touches(target.spec)
        overlapping = [g for g in groups if g[0] & touched]
        merged_keys, merged = set(touched), []
        for group in overlapping:
            merged_keys |= group[0]
            merged += group[1]
            groups.remove(group)
        groups.append((merged_keys, [*merged, target]))
    order = {target.slug: index for index, target in enumerate(targets)}
    ordered = [sorted(members, key=lambda t: order[t.slug]) for _, members in groups]
    return sorted(ordered, key=lambda members: order[members[0].slug])


def _run_one(
    target: MatrixTarget, given: JobOptions, seed: int, report_dir: Path | None
) -> Column:
    file_seed = given.seed is None and "seed" in target.spec.settings
    options = given if file_seed else replace(given, seed=seed)
    directory = report_dir / "targets" / target.slug if report_dir is not None else None
    common = {"name": target.name, "slug": target.slug, "source": target.source}
    try:
        result, written = execute(target.spec, options, directory)
    except HarnessError as error:
        return Column(**common, problem=Problem(error.message, error.hint))
    except Exception as exc:  # a bug of ours: the other targets still run
        return Column(
            **common,
            problem=Problem(
                f"internal error: {type(exc).__name__}: {exc}",
                "report this as a bug of agentphone-conformance",
            ),
        )
    return Column(**common, result=result, reports=written)


def _not_run(target: MatrixTarget) -> Column:
    return Column(
        target.name,
        target.slug,
        target.source,
        problem=Problem("not run: the matrix was interrupted", "run the matrix again"),
    )


def run_matrix(
    targets: Sequence[MatrixTarget],
    given: JobOptions,
    report_dir: Path | None,
    jobs: int = DEFAULT_JOBS,
    progress: MatrixProgress | None = None,
) -> Matrix:
    """Run the suite against every target: at most `jobs` at once, never two that share
    a conversation. With one job (or one group) the runs stay on this thread, so Ctrl-C
    stops the current run between checks, as in `run`; with several, Ctrl-C starts no
    further target and waits for the running ones to finish and restore."""
    for target in targets:
        run_options(given, target.spec.settings)  # a bad option or setting: nothing runs
    seed = given.seed if given.seed is not None else secrets.randbelow(2**31)
    started_at, clock = _now(), time.monotonic()
    done: dict[str, Column] = {}
    stop = threading.Event()

    def run_group(group: list[MatrixTarget]) -> None:
        for target in group:
            if stop.is_set():
                continue
            if progress:
                progress(target.name, None)
            column = _run_one(target, given, seed, report_dir)
            done[target.slug] = column
            if progress:
                progress(target.name, column)
            if column.result is not None and column.result.interrupted:
                stop.set()  # Ctrl-C reached this run (the main thread): go no further

    groups = conflict_groups(targets)
    interrupted = False
    if jobs <= 1 or len(groups) == 1:
        try:
            for group in groups:
                run_group(group)
        except KeyboardInterrupt:
            interrupted = True
    else:
        pool = ThreadPoolExecutor(min(jobs, len(groups)), thread_name_prefix="matrix")
        futures = [pool.submit(run_group, group) for group in groups]
        try:
            wait(futures)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for future in futures:
                future.cancel()
            wait(futures)  # the running ones restore what they changed
        finally:
            pool.shutdown(wait=True)
        for future in futures:
            if not future.cancelled():
                future.result()  # re-raises a bug of run_group itself
    interrupted = interrupted or stop.is_set()
    return Matrix(
        columns=[done.get(t.slug) or _not_run(t) for t in targets],
        mode="run",
        tool_version=__version__,
        started_at=started_at,
        duration_s=time.monotonic() - clock,
        seed=seed,
        strict=bool(given.strict),
        interrupted=interrupted,
    )


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
    started_at, clock = _now(), time.monotonic()
    files = _report_paths(paths)
    if not files:
        raise HarnessError("--merge without report files", "pass report.json files to merge")
    results = [_load(path) for path in files]
    if strict:
        results = [replace(r, settings=replace(r.settings, strict=True)) for r in results]
    names = _unique(r.target.name for r in results)
    columns = []
    for name, slug, path, result in zip(names, _slugs(names), files, results, strict=True):
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


def _secrets(targets: Sequence[MatrixTarget]) -> list[str]:
    """Every key a run may have used: scrubbed from the matrix reports too."""
    found = [account.api_key for account in seeded_state().accounts]
    for target in targets:
        for env in (target.spec.key_env, target.spec.second_key_env):
            found.append(os.environ.get(env, "").strip())
    return [s for s in found if s]


def matrix_job(
    files: Sequence[Path],
    given: JobOptions,
    report_dir: Path,
    *,
    merge: bool = False,
    include_emulator: bool = True,
    jobs: int | None = None,
    progress: MatrixProgress | None = None,
) -> tuple[Matrix, dict[str, Path]]:
    """The `matrix` command: run (or merge), then write matrix.md, .json and .html into
    `report_dir` (each run's reports under targets/<slug>/)."""
    if jobs is not None and jobs < 1:
        raise HarnessError("--jobs must be at least 1", "give --jobs 1 to run one at a time")
    if merge:
        unused = [k for k, v in vars(given).items() if v not in (None, ()) and k != "strict"]
        if unused or jobs is not None:
            flag = "--" + (unused[0] if unused else "jobs").replace("_", "-")
            raise HarnessError(
                f"{flag} given with --merge", "--merge runs nothing: drop the run options"
            )
        matrix = merge_reports(files, strict=bool(given.strict))
        secrets_: list[str] = []
    else:
        targets = plan_targets(files, include_emulator)
        matrix = run_matrix(targets, given, report_dir, jobs or DEFAULT_JOBS, progress)
        secrets_ = _secrets(targets)
    try:
        written = write_matrix(matrix, report_dir, secrets_)
    except OSError as exc:
        raise HarnessError(
            f"cannot write the matrix to {report_dir} ({exc.strerror})",
            "pick a writable --report-dir",
            ExitCode.USAGE,
        ) from None
    return matrix, written

