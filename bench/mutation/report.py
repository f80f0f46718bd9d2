"""The mutation job's results: one `Record` per mutant run, the totals and the score, and
the two files it writes (mutation.json for machines, mutation.md for people).

Outcomes: *killed* (the default run's exit code was not 0), *timeout* (killed at the time
limit: counted as killed, and shown apart), *survived* (exit 0). A survivor listed in the
equivalent file (id or digest -> a one-line reason) is *equivalent*: shown apart and left
out of the denominator. A listed mutant that was killed is not equivalent after all: it
counts as killed, and the report says the entry is wrong.

    score = (killed + timed out) / (mutants - equivalent)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .mutants import Mutant
from .worker import Ended

__all__ = [
    "Record",
    "Report",
    "load_equivalent",
    "markdown",
    "record",
    "totals",
    "write",
]

Outcome = Literal["killed", "timeout", "survived"]
SOURCES = "mutation-source"  # beside the reports: the files as they were mutated


@dataclass(frozen=True)
class Record:
    """One mutant and how the default run ended with it in place."""

    id: str  # file:function:line:operator:index
    digest: str  # hash of the mutated function's source
    file: str
    function: str
    line: int
    operator: str
    original: tuple[str, ...]  # the lines it changes, before
    mutated: tuple[str, ...]  # and after
    outcome: Outcome
    exit_code: int | None  # None: timed out
    failed: tuple[str, ...]  # checks that failed (gating or advisory)
    gating: tuple[str, ...]  # those that failed the run
    errored: tuple[str, ...]  # checks that errored
    detail: str  # a crash, a harness error, the time-out
    seconds: float
    equivalent: str | None = None  # the equivalent file's reason, when it lists the mutant

    @property
    def counted_equivalent(self) -> bool:
        return self.equivalent is not None and self.outcome == "survived"

    def diff(self) -> list[str]:
        return [f"- {line.strip()}" for line in self.original] + [
            f"+ {line.strip()}" for line in self.mutated
        ]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("original", "mutated", "failed", "gating", "errored"):
            data[key] = list(data[key])
        return data


def record(mutant: Mutant, ended: Ended, equivalent: Mapping[str, str]) -> Record:
    outcome: Outcome = (
        "timeout" if ended.timed_out else "survived" if ended.exit_code == 0 else "killed"
    )
    reason = equivalent.get(mutant.id, equivalent.get(mutant.digest))
    return Record(
        id=mutant.id,
        digest=mutant.digest,
        file=mutant.function.file,
        function=mutant.function.qualname,
        line=mutant.line,
        operator=mutant.operator,
        original=mutant.original_lines,
        mutated=mutant.mutated_lines,
        outcome=outcome,
        exit_code=ended.exit_code,
        failed=ended.failed,
        gating=ended.gating,
        errored=ended.errored,
        detail=ended.detail,
        seconds=ended.seconds,
        equivalent=reason,
    )


def load_equivalent(path: Path | None) -> dict[str, str]:
    """The equivalent file: a JSON object, a mutant's id or digest -> why it is equivalent.
    ValueError when it is not one."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the equivalent file {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise ValueError(f"{path}: expected a JSON object of mutant id (or digest) -> reason")
    return data


def totals(records: Sequence[Record]) -> dict[str, Any]:
    mutants = len(records)
    killed = sum(1 for r in records if r.outcome == "killed")
    timed_out = sum(1 for r in records if r.outcome == "timeout")
    equivalent = sum(1 for r in records if r.counted_equivalent)
    survived = sum(1 for r in records if r.outcome == "survived") - equivalent
    denominator = mutants - equivalent
    return {
        "mutants": mutants,
        "killed": killed + timed_out,  # time-outs are kills
        "killed_by_exit_code": killed,
        "timed_out": timed_out,
        "survived": survived,
        "equivalent": equivalent,
        "score": round((killed + timed_out) / denominator, 4) if denominator else None,
    }


@dataclass
class Report:
    """Everything the two files say."""

    date: str
    command: str
    library: str
    operators: tuple[str, ...]
    run_seed: int
    run_command: str
    baseline: dict[str, Any]
    scope: dict[str, Any]
    sources: dict[str, dict[str, object]]  # file -> sha256, commit, modified since it
    jobs: int
    timeout: float
    wall_s: float
    records: list[Record]
    incompetent: list[tuple[str, str]] = field(default_factory=list)
    equivalent_file: str | None = None
    unknown_equivalent: list[str] = field(default_factory=list)  # listed, matching no mutant
    texts: dict[str, str] = field(default_factory=dict)  # file -> the source mutated

    def sorted_records(self) -> list[Record]:
        return sorted(self.records, key=_order)

    def to_dict(self) -> dict[str, Any]:
        ordered = self.sorted_records()
        return {
            "date": self.date,
            "command": self.command,
            "library": self.library,
            "operators": list(self.operators),
            "run": {"seed": self.run_seed, "command": self.run_command, **self.baseline},
            "scope": self.scope,
            "sources": self.sources,
            "jobs": self.jobs,
            "timeout_s": self.timeout,
            "wall_s": self.wall_s,
            "totals": totals(self.records),
            "functions": _per_function(ordered),
            "survivors": [
                r.to_dict() for r in ordered if r.outcome == "survived" and not r.counted_equivalent
            ],
            "timed_out": [r.to_dict() for r in ordered if r.outcome == "timeout"],
            "equivalent": [r.to_dict() for r in ordered if r.counted_equivalent],
            "equivalent_file": self.equivalent_file,
            "wrongly_equivalent": [
                r.to_dict() for r in ordered if r.equivalent is not None and r.outcome != "survived"
            ],
            "unknown_equivalent": self.unknown_equivalent,
            "incompetent": [{"id": i, "why": why} for i, why in self.incompetent],
            "killing_checks": dict(
                sorted(_killing_checks(ordered).items(), key=lambda kv: (-kv[1], kv[0]))
            ),
            "mutants": [r.to_dict() for r in ordered],
        }


def _order(record: Record) -> tuple[str, int, str, int]:
    return record.file, record.line, record.operator, int(record.id.rsplit(":", 1)[1])


def _per_function(records: Iterable[Record]) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        grouped.setdefault((r.file, r.function), []).append(r)
    return [
        {"file": file, "function": function, **totals(rows)}
        for (file, function), rows in sorted(grouped.items(), key=lambda kv: kv[1][0].line)
    ]


def _killing_checks(records: Iterable[Record]) -> Counter[str]:
    """How many mutants each check failed on, among the killed ones (gating failures and
    errors)."""
    counted: Counter[str] = Counter()
    for r in records:
        if r.outcome == "killed":
            counted.update(set(r.gating) | set(r.errored))
    return counted


def _provenance(sources: Mapping[str, Mapping[str, object]]) -> str:
    parts = []
    for file, about in sources.items():
        commit = str(about.get("commit") or "")[:12]
        modified = about.get("modified")
        state = (
            "not in git"
            if modified is None
            else f"modified since {commit}"
            if modified
            else f"as in {commit}"
        )
        parts.append(f"`{file}` ({state}; sha256 {str(about.get('sha256'))[:12]})")
    return ", ".join(parts) or "-"


def _score(value: Any) -> str:
    return "—" if value is None else f"{value:.1%}"


def _mutant_block(r: Record, *, reason: bool = False) -> list[str]:
    line = f"- `{r.id}` (digest `{r.digest}`)"
    if reason and r.equivalent:
        line += f": {r.equivalent}"
    if r.failed and r.outcome == "survived":
        line += f"; advisory failures: {', '.join(r.failed)}"
    if r.outcome == "timeout":
        line += f"; {r.detail}"
    return [line, "", "  ```diff", *(f"  {d}" for d in r.diff()), "  ```"]


def markdown(report: Report) -> str:
    data = report.to_dict()
    t = data["totals"]
    ordered = report.sorted_records()
    survivors = [r for r in ordered if r.outcome == "survived" and not r.counted_equivalent]
    scope = report.scope
    lines = [
        "# Mutation testing of the emulator",
        "",
        "The suite's default run (`agentphone-conformance run`: embedded emulator, conformant, "
        "quick profile) against each mutant of the emulator's request handling and storage. "
        "Killed: the run's exit code was not 0; survived: it was 0.",
        "",
        f"- date: {report.date}",
        f"- command: `{report.command}`",
        f"- mutation operators: {report.library}, its standard set "
        f"({len(report.operators)} operators)",
        f"- each mutant: `{report.run_command}` in a process of its own; {report.jobs} at "
        f"once; time limit {report.timeout:g} s",
        f"- the unmutated emulator: exit {report.baseline.get('exit_code')} in "
        f"{report.baseline.get('seconds')} s",
        f"- wall time: {report.wall_s:.0f} s",
        f"- source: {_provenance(report.sources)}; the files as mutated are kept in "
        f"`{SOURCES}/` beside this report",
        "",
        "| mutants | killed | of them timed out | survived | equivalent | score |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {t['mutants']} | {t['killed']} | {t['timed_out']} | {t['survived']} | "
        f"{t['equivalent']} | **{_score(t['score'])}** |",
        "",
        "Score = killed (time-outs included) / (mutants - equivalent).",
        "",
        "## Scope",
        "",
        f"Functions: {', '.join(f'`{f}`' for f in scope.get('functions', []))}."
        + (
            f" Not in the source, left out: {', '.join(f'`{m}`' for m in scope['missing'])}."
            if scope.get("missing")
            else ""
        ),
        "",
        f"{scope.get('generated')} mutants generated; {scope.get('incompetent')} did not "
        f"compile, {scope.get('duplicates')} duplicated another; "
        + (
            f"{scope.get('not_reached')} change code the conformant run never executes while "
            f"serving a conversation request (fault-only code, webhook routes): "
            f"{scope.get('in_scope')} in scope"
            if scope.get("not_reached") is not None
            else "chosen by --mutant, no scope measured"
        )
        + (f"; a sample of {scope['sampled']} run." if scope.get("sampled") else "."),
        "",
        "## By function",
        "",
        "| function | mutants | killed | survived | equivalent | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in data["functions"]:
        lines.append(
            f"| `{row['function']}` | {row['mutants']} | {row['killed']} | {row['survived']} | "
            f"{row['equivalent']} | {_score(row['score'])} |"
        )
    lines += ["", f"## Survivors ({len(survivors)})", ""]
    if survivors:
        for r in survivors:
            lines += _mutant_block(r)
    else:
        lines.append("None.")
    timed_out = [r for r in ordered if r.outcome == "timeout"]
    if timed_out:
        lines += ["", f"## Killed by time-out ({len(timed_out)})", ""]
        for r in timed_out:
            lines += _mutant_block(r)
    equivalent = [r for r in ordered if r.counted_equivalent]
    lines += ["", f"## Equivalent ({len(equivalent)}, not in the denominator)", ""]
    if equivalent:
        for r in equivalent:
            lines += _mutant_block(r, reason=True)
    else:
        lines.append(f"None listed in {report.equivalent_file or 'no equivalent file'}.")
    wrong = [r for r in ordered if r.equivalent is not None and r.outcome != "survived"]
    if wrong or report.unknown_equivalent:
        lines += ["", "## Equivalent file entries to fix", ""]
        lines += [f"- `{r.id}`: listed as equivalent, but {r.outcome}" for r in wrong]
        lines += [f"- `{key}`: matches no mutant run" for key in report.unknown_equivalent]
    checks = data["killing_checks"]
    if checks:
        lines += ["", "## The checks that killed", ""]
        lines.append(", ".join(f"{check} ({count})" for check, count in list(checks.items())[:25]))
    return "\n".join(lines) + "\n"


def write(report: Report, out: Path) -> tuple[Path, Path]:
    """mutation.json, mutation.md, and the source files as they were mutated (the emulator
    may be edited after the job: the line numbers are those of these copies)."""
    out.mkdir(parents=True, exist_ok=True)
    for file, text in report.texts.items():
        copy = out / SOURCES / file
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
    data_path, text_path = out / "mutation.json", out / "mutation.md"
    data_path.write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    text_path.write_text(markdown(report), encoding="utf-8")
    return data_path, text_path
