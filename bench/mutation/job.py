"""The mutation job, from its settings to its report.

1. Generate the mutants of the functions in scope (`mutants`).
2. Import the suite in this process (`worker.prepare`); then, each in a forked process, the
   default run against the emulator as it is (it must pass: otherwise there is nothing to
   measure) and the same run traced, to see which mutants it reaches (`scope`).
3. Keep the mutants it reaches (or those `--mutant` names; or a `--sample` of them).
4. Run each in a forked process, `jobs` at once (`worker.run_tasks`), and record it.
"""

from __future__ import annotations

import hashlib
import random
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import library
from .mutants import REPO, Generated, Mutant, generate, resolve_only
from .report import Record, Report, load_equivalent, record
from .scope import Executed, in_scope
from .worker import Ended, Task, prepare, run_tasks

__all__ = ["BaselineFailed", "Settings", "run_job"]


class BaselineFailed(RuntimeError):
    """The default run fails against the unmutated emulator: nothing to measure."""


@dataclass(frozen=True)
class Settings:
    out: Path
    jobs: int = 2
    timeout: float = 60.0  # seconds per mutant
    sample: int | None = None  # a random sample of N mutants
    seed: int = 0  # the sample's
    run_seed: int = 1  # the default run's --seed, the same for every mutant
    only: tuple[str, ...] = ()  # functions (qualified or bare names)
    mutants: tuple[str, ...] = ()  # ids or digests: run just these (no scope measured)
    equivalent: Path | None = None
    argv: tuple[str, ...] = ()  # as given, for the report


Progress = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def _baseline(run_seed: int, timeout: float, trace: bool) -> tuple[Ended, Executed | None]:
    """The unmutated emulator: the plain run (its time is the baseline) and, with `trace`,
    the traced one; BaselineFailed unless both pass."""
    tasks = [Task("plain")] + ([Task("traced", trace=True)] if trace else [])
    ended = dict(
        (task.key, result)
        for task, result in run_tasks(tasks, run_seed, jobs=len(tasks), timeout=timeout * 3)
    )
    for key, result in ended.items():
        if result.exit_code != 0:
            checks = ", ".join(result.gating or result.errored) or result.detail or "-"
            raise BaselineFailed(
                f"the {key} default run (--seed {run_seed}) against the unmutated emulator "
                f"exited {result.exit_code} ({checks}): nothing to measure"
            )
    traced = ended.get("traced")
    return ended["plain"], traced.executed if traced else None


def _chosen(generated: Generated, names: Sequence[str]) -> list[Mutant]:
    by_key = {m.id: m for m in generated.mutants} | {m.digest: m for m in generated.mutants}
    missing = [name for name in names if name not in by_key]
    if missing:
        raise ValueError(f"--mutant {missing[0]}: no such mutant (an id or a digest)")
    chosen: list[Mutant] = []
    for name in names:
        if by_key[name] not in chosen:
            chosen.append(by_key[name])
    return chosen


def _git(*args: str) -> str | None:
    """A read-only git command's output in the repository, or None."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _sources(generated: Generated) -> dict[str, dict[str, object]]:
    """What was mutated: each file's sha256, and whether it differs from the commit checked
    out (the measurement is of the working tree)."""
    seen: dict[str, dict[str, object]] = {}
    head = _git("rev-parse", "HEAD")
    for function in generated.functions:
        if function.file not in seen:
            text = "".join(function.module_lines).encode("utf-8")
            committed = _git("show", f"HEAD:{function.file}") if head else None
            seen[function.file] = {
                "sha256": hashlib.sha256(text).hexdigest(),
                "commit": head,
                "modified": None if committed is None else committed.encode() != text.strip(),
            }
    return seen


def select(
    settings: Settings, generated: Generated, executed: Executed | None
) -> tuple[list[Mutant], dict[str, object]]:
    """The mutants to run and what the report says of the scope."""
    scope: dict[str, object] = {
        "functions": sorted({f.qualname for f in generated.functions}, key=str),
        "generated": len(generated.mutants) + len(generated.incompetent) + generated.duplicates,
        "incompetent": len(generated.incompetent),
        "duplicates": generated.duplicates,
        "missing": list(generated.missing),
    }
    if settings.mutants:
        chosen = _chosen(generated, settings.mutants)
        scope |= {"not_reached": None, "in_scope": None}
    else:
        assert executed is not None
        chosen, not_reached = in_scope(generated.mutants, executed)
        scope |= {
            "not_reached": not_reached,
            "in_scope": len(chosen),
            "requests_traced": executed.requests,
            "webhook_requests_not_traced": executed.skipped,
        }
    if settings.sample is not None and settings.sample < len(chosen):
        picked = set(random.Random(settings.seed).sample(range(len(chosen)), settings.sample))
        chosen = [m for i, m in enumerate(chosen) if i in picked]
        scope["sampled"] = settings.sample
        scope["sample_seed"] = settings.seed
    return chosen, scope


def run_job(settings: Settings, progress: Progress = _quiet) -> Report:
    clock = time.monotonic()
    equivalent = load_equivalent(settings.equivalent)
    generated = generate(resolve_only(settings.only), missing_ok=not settings.only)
    progress(
        f"{len(generated.mutants)} mutants of {len(generated.functions)} functions "
        f"({len(generated.incompetent)} did not compile, {generated.duplicates} duplicates)"
    )
    prepare(generated.functions)
    baseline, executed = _baseline(settings.run_seed, settings.timeout, not settings.mutants)
    progress(f"the unmutated emulator passes the default run ({baseline.seconds} s)")
    chosen, scope = select(settings, generated, executed)
    progress(f"{len(chosen)} mutants to run, {settings.jobs} at once")
    records: list[Record] = []
    tasks = [Task(mutant, mutant) for mutant in chosen]
    for task, ended in run_tasks(
        tasks, settings.run_seed, jobs=settings.jobs, timeout=settings.timeout
    ):
        done = record(task.key, ended, equivalent)
        records.append(done)
        progress(_line(len(records), len(tasks), done))
    keys = {r.id for r in records} | {r.digest for r in records}
    run_command = f"agentphone-conformance run --seed {settings.run_seed}"
    return Report(
        date=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        command=shlex.join(["python", "-m", "bench.mutation", *settings.argv]),
        library=library.library_version(),
        operators=library.operator_names(),
        run_seed=settings.run_seed,
        run_command=run_command,
        baseline={
            "exit_code": baseline.exit_code,
            "seconds": baseline.seconds,
            "run_s": baseline.run_s,
        },
        scope=scope,
        sources=_sources(generated),
        jobs=settings.jobs,
        timeout=settings.timeout,
        wall_s=round(time.monotonic() - clock, 1),
        records=records,
        incompetent=list(generated.incompetent),
        equivalent_file=str(settings.equivalent) if settings.equivalent else None,
        texts={f.file: "".join(f.module_lines) for f in generated.functions},
        unknown_equivalent=sorted(key for key in equivalent if key not in keys)
        if not settings.sample and not settings.mutants and not settings.only
        else [],
    )


def _line(index: int, total: int, r: Record) -> str:
    why = (
        f"exit {r.exit_code}: {', '.join(r.gating or r.errored) or r.detail}"
        if r.outcome == "killed"
        else r.detail
        if r.outcome == "timeout"
        else ", ".join(r.failed) or ""
    )
    where = f"{r.function}:{r.line} {r.operator}"
    return f"[{index}/{total}] {r.outcome:<8} {where} ({r.seconds:.1f} s) {why}".rstrip()


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
