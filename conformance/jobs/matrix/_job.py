"""The compatibility matrix job: the suite against several targets at once, or report.json
files from elsewhere (a CI job per vendor) merged, into one `Matrix` and its reports.

Runs go through `execute`, as `run` does, each into its own report directory. A target
that cannot be tested becomes an "unusable" column; it never stops the others. Targets
that share a base URL and a conversation id run one after the other (each run restores
what it changed, and two at once would restore each other's edits); the rest run side
by side in a bounded pool of worker processes (`_pool`). Embedded emulators are
independent: each listens on its own port. Merging lives in `_merge`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from ... import __version__
from ...core import ExitCode, GivenOptions, HarnessError, TargetSpec, load_target_file, resolve
from ...core._target import validate_base_url
from ...emulator import UnknownFaultError, parse_faults, seeded_state
from ...model import MATRIX_FORMAT, Column, Matrix, Problem, Row, Status, redact
from ...reports import write_matrix
from ...reports._common import one_line
from .._differential import DifferentialJob, differential, secrets_of
from .._run import Job, ensure_writable, execute, run_options
from ._merge import merge_reports, slugs, unique_names, utc_now
from ._pool import NotStarted, run_pooled

__all__ = [
    "DEFAULT_JOBS",
    "MATRIX_FORMAT",
    "Column",
    "Matrix",
    "MatrixPlan",
    "MatrixProgress",
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

_NOT_RUN = Problem("not run: the matrix was interrupted", "run the matrix again")
_INTERRUPTING = "interrupted: no further target starts; the running ones stop and restore"


class MatrixProgress(Protocol):
    """What `run_matrix` tells as it goes (always from the calling thread)."""

    def started(self, name: str) -> None: ...

    def finished(self, column: Column) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass(frozen=True)
class MatrixTarget:
    """A target of the matrix, named, validated and with its options resolved; not yet run."""

    name: str
    slug: str
    source: str
    job: Job

    @property
    def spec(self) -> TargetSpec:
        return self.job.spec


@dataclass(frozen=True)
class MatrixPlan:
    """What the matrix will run: its targets, and the seed of every run whose file set none."""

    targets: tuple[MatrixTarget, ...]
    seed: int
    strict: bool


def plan_targets(
    files: Sequence[Path], given: GivenOptions, include_emulator: bool = True
) -> MatrixPlan:
    """The emulator (unless left out) and each target file, parsed, named and with its
    options resolved (the command line over the file's [settings] over one seed shared by
    the matrix). A bad file, fault or option is a usage error: nothing runs."""
    shared = run_options(given)  # a bad option on the command line: nothing runs
    specs: list[tuple[str, str, TargetSpec]] = []
    if include_emulator:
        specs.append((EMULATOR_COLUMN, "the embedded emulator", TargetSpec()))
    for path in files:
        if not path.is_file():
            raise HarnessError(
                f"target file {path} does not exist",
                "name TOML target files (see examples/targets/), or pass --merge for reports",
            )
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
    names = unique_names(name for name, _, _ in specs)
    seed = GivenOptions(seed=shared.seed)
    targets = tuple(
        MatrixTarget(
            name, slug, source, Job(replace(spec, name=name), resolve(given, spec.settings, seed))
        )
        for name, slug, (_, source, spec) in zip(names, slugs(names), specs, strict=True)
    )
    return MatrixPlan(targets, shared.seed, shared.strict)


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


def _run_one(target: MatrixTarget, report_dir: Path | None) -> Column:
    """One target's run, into report_dir/targets/<slug>/; any error becomes its problem."""
    directory = report_dir / "targets" / target.slug if report_dir is not None else None
    try:
        result, written = execute(target.job, directory)
    except HarnessError as error:
        return _unusable(target, Problem(error.message, error.hint))
    except Exception as exc:  # a bug of ours: the other targets still run
        detail = redact(one_line(f"{type(exc).__name__}: {exc}", 300), _secrets([target]))
        return _unusable(
            target,
            Problem(f"internal error: {detail}", "report this as a bug of agentphone-conformance"),
        )
    return Column(target.name, target.slug, target.source, result=result, reports=written)


def _unusable(target: MatrixTarget, problem: Problem) -> Column:
    return Column(target.name, target.slug, target.source, problem=problem)


def _crashed(target: MatrixTarget, outcome: Column | BaseException) -> Column:
    """What a worker process handed back: the column, or why there is none."""
    if isinstance(outcome, Column):
        return outcome
    if isinstance(outcome, NotStarted | KeyboardInterrupt):
        return _unusable(target, _NOT_RUN)
    return _unusable(
        target,
        Problem(
            f"internal error: its worker process failed ({type(outcome).__name__}: "
            f"{one_line(str(outcome), 200)})",
            "check its conversations by hand (the run may not have restored them) and report "
            "this as a bug of agentphone-conformance",
        ),
    )


class _Tracker:
    """The columns as they come back, told to `progress` as they do."""

    def __init__(self, progress: MatrixProgress | None) -> None:
        self.progress = progress
        self.done: dict[str, Column] = {}

    def started(self, target: MatrixTarget) -> None:
        if self.progress:
            self.progress.started(target.name)

    def finished(self, target: MatrixTarget, outcome: Column | BaseException) -> None:
        column = self.done[target.slug] = _crashed(target, outcome)
        if self.progress and column.problem is not _NOT_RUN:
            self.progress.finished(column)

    def interrupting(self) -> None:
        if self.progress:
            self.progress.note(_INTERRUPTING)


def _run_in_turn(
    targets: Sequence[MatrixTarget], report_dir: Path | None, tracker: _Tracker
) -> bool:
    """Each target in this process, one after the other; True if interrupted."""
    for target in targets:
        tracker.started(target)
        try:
            column = _run_one(target, report_dir)
        except KeyboardInterrupt:  # outside the run itself (which restores and returns)
            return True
        tracker.finished(target, column)
        if column.result is not None and column.result.interrupted:
            return True
    return False


def run_matrix(
    plan: MatrixPlan,
    report_dir: Path | None,
    jobs: int = DEFAULT_JOBS,
    progress: MatrixProgress | None = None,
) -> Matrix:
    """Run the suite against every target: at most `jobs` at once (in worker processes),
    never two that share a conversation. With one job, or when every target shares a
    conversation, the runs stay in this process, one after the other, and Ctrl-C stops
    the current run between checks, as in `run`; with several, Ctrl-C starts no further
    target and each running one stops between checks and restores (see `_pool`)."""
    started_at, clock = utc_now(), time.monotonic()
    tracker = _Tracker(progress)
    groups = conflict_groups(plan.targets)
    if jobs <= 1 or len(groups) == 1:
        interrupted = _run_in_turn([t for group in groups for t in group], report_dir, tracker)
    else:
        call = functools.partial(_run_one, report_dir=report_dir)
        interrupted = run_pooled(
            groups, call, jobs, tracker.started, tracker.finished, tracker.interrupting
        )
    return Matrix(
        columns=[tracker.done.get(t.slug) or _unusable(t, _NOT_RUN) for t in plan.targets],
        mode="run",
        tool_version=__version__,
        started_at=started_at,
        duration_s=time.monotonic() - clock,
        seed=plan.seed,
        strict=plan.strict,
        interrupted=interrupted,
    )


def _secrets(targets: Sequence[MatrixTarget]) -> list[str]:
    """Every key a run may have used: scrubbed from the matrix reports too."""
    found = [account.api_key for account in seeded_state().accounts]
    for target in targets:
        for env in (target.spec.key_env, target.spec.second_key_env):
            found.append(os.environ.get(env, "").strip())
    return [s for s in found if s]


def _with_extras(plan: MatrixPlan, report_dir: Path, har: bool, badges: bool) -> MatrixPlan:
    """Each target's run.har and badge.svg beside its reports, when asked for."""

    def extras(target: MatrixTarget) -> MatrixTarget:
        directory = report_dir / "targets" / target.slug
        job = replace(
            target.job,
            har=directory / "run.har" if har else None,
            badge=directory / "badge.svg" if badges else None,
        )
        return replace(target, job=job)

    return replace(plan, targets=tuple(extras(t) for t in plan.targets))


def matrix_job(
    files: Sequence[Path],
    given: GivenOptions,
    report_dir: Path,
    *,
    merge: bool = False,
    include_emulator: bool = True,
    jobs: int | None = None,
    progress: MatrixProgress | None = None,
    har: bool = False,
    badges: bool = False,
    reference: Path | None = None,
) -> tuple[Matrix, dict[str, Path]]:
    """The `matrix` command: run (or merge), then write matrix.md, .json and .html into
    `report_dir` (each run's reports under targets/<slug>/, with run.har and badge.svg
    there when asked). With `reference` (a target file), every target is also compared with
    it (`differential`): a column of divergence counts, each comparison's reports under
    targets/<slug>/differential/."""
    if jobs is not None and jobs < 1:
        raise HarnessError("--jobs must be at least 1", "give --jobs 1 to run one at a time")
    if merge:
        unused = [name for name in given.given() if name != "strict"]
        unused += [name for name, on in (("har", har), ("badges", badges)) if on]
        if unused or jobs is not None:
            flag = "--" + (unused[0] if unused else "jobs").replace("_", "-")
            raise HarnessError(
                f"{flag} given with --merge", "--merge runs nothing: drop the run options"
            )
        if reference is not None:
            raise HarnessError(
                "--reference given with --merge", "--merge runs nothing: drop --reference"
            )
        matrix = merge_reports(files, strict=bool(given.strict))
        secrets_: list[str] = []
    else:
        trusted = load_target_file(reference) if reference is not None else None
        plan = _with_extras(plan_targets(files, given, include_emulator), report_dir, har, badges)
        ensure_writable(report_dir)  # before any target runs
        matrix = run_matrix(plan, report_dir, jobs or DEFAULT_JOBS, progress)
        secrets_ = _secrets(plan.targets)
        if trusted is not None and reference is not None:
            matrix = _compared(matrix, plan, trusted, reference, report_dir)
            secrets_ += secrets_of(trusted)
    try:
        written = write_matrix(matrix, report_dir, secrets_)
    except OSError as exc:
        raise HarnessError(
            f"cannot write the matrix to {report_dir} ({exc.strerror})",
            "pick a writable --report-dir",
            ExitCode.USAGE,
        ) from None
    return matrix, written


def _compared(
    matrix: Matrix, plan: MatrixPlan, reference: TargetSpec, source: Path, report_dir: Path
) -> Matrix:
    """Each target that ran, compared with the reference: its divergence counts, and the
    comparison's reports under targets/<slug>/differential/."""
    from ...reports import differential_headline, write_differential

    columns = []
    for target, column in zip(plan.targets, matrix.columns, strict=True):
        if column.result is None:
            columns.append(replace(column, compared="not compared: the target was not tested"))
            continue
        try:
            job = DifferentialJob(reference, target.spec, target.job.options)
            result, _, _ = differential(job, None)
        except HarnessError as error:
            columns.append(replace(column, compared=f"not compared: {error.message}"))
            continue
        secrets = secrets_of(reference) + secrets_of(target.spec)
        write_differential(result, report_dir / "targets" / column.slug / "differential", secrets)
        columns.append(
            replace(
                column,
                divergences=(len(result.decided), len(result.open) + result.dropped),
                compared=differential_headline(result),
            )
        )
    return replace(matrix, columns=columns, reference=str(source))
