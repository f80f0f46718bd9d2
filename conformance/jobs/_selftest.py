"""Proof of teeth: the suite against the conformant emulator and against every fault.

Each fault names the checks that must catch it; the self-test passes only if every fault is
caught by its checks, the conformant emulator passes clean and every conversation is
restored each time. Checks that no fault trips are listed: they are unproven.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..checks import REGISTRY
from ..core import GivenOptions, TargetSpec
from ..emulator import FAULTS
from ..model import Outcome, RunResult
from ._run import Job, execute, run_options

__all__ = ["SelftestResult", "SelftestRow", "render_markdown", "run_selftest"]


@dataclass(frozen=True)
class SelftestRow:
    fault: str  # "" for the conformant emulator
    expected: tuple[str, ...]
    tripped: tuple[str, ...]  # every check that failed
    restored: bool
    exit_code: int
    seconds: float

    @property
    def ok(self) -> bool:
        if not self.fault:
            return self.exit_code == 0 and not self.tripped and self.restored
        return set(self.expected) <= set(self.tripped) and self.exit_code == 1 and self.restored

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(c for c in self.expected if c not in self.tripped)


@dataclass(frozen=True)
class SelftestResult:
    seed: int
    rows: tuple[SelftestRow, ...]
    unproven: tuple[str, ...]  # checks no fault trips

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "ok": self.ok,
            "rows": [
                {**asdict(row), "ok": row.ok, "missed": list(row.missed)} for row in self.rows
            ],
            "unproven": list(self.unproven),
        }


def _row(fault: str, result: RunResult, seconds: float) -> SelftestRow:
    failed = tuple(r.check.id for r in result.checks if r.outcome is Outcome.FAILED)
    return SelftestRow(
        fault=fault,
        expected=FAULTS[fault].trips if fault else (),
        tripped=failed,
        restored=not result.restore_failed,
        exit_code=result.exit_code,
        seconds=round(seconds, 2),
    )


def run_selftest(
    seed: int = 1,
    profile: str = "quick",
    faults: tuple[str, ...] | None = None,
    on_row: Callable[[SelftestRow], None] | None = None,
) -> SelftestResult:
    """Run the conformant emulator, then each fault; `--strict` so advisory checks gate."""
    rows = []
    for fault in ("", *(faults if faults is not None else FAULTS)):
        clock = time.monotonic()
        spec = TargetSpec(faults=(fault,) if fault else ())
        options = run_options(GivenOptions(seed=seed, profile=profile, strict=True))
        result, _ = execute(Job(spec, options), None)
        row = _row(fault, result, time.monotonic() - clock)
        rows.append(row)
        if on_row:
            on_row(row)
    proven = {check for row in rows if row.fault for check in row.tripped}
    unproven = tuple(check for check in REGISTRY if check not in proven)
    return SelftestResult(seed, tuple(rows), unproven)


def render_markdown(result: SelftestResult) -> str:
    verdict = "✅ every fault caught" if result.ok else "❌ the suite missed something"
    lines = [
        f"## Self-test: {verdict}",
        "",
        f"Seed {result.seed}. Each fault must be caught by the checks it names; the conformant "
        "emulator must pass clean; every conversation must be restored.",
        "",
        "| fault | should trip | tripped (expected) | also tripped | restored | time | ok |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result.rows:
        expected = set(row.expected)
        hit = [c for c in row.tripped if c in expected]
        extra = [c for c in row.tripped if c not in expected]
        lines.append(
            f"| {row.fault or '(conformant emulator)'} | {', '.join(row.expected) or '-'} | "
            f"{', '.join(hit) or '-'} | {', '.join(extra) or '-'} | "
            f"{'yes' if row.restored else '**NO**'} | {row.seconds:.1f} s | "
            f"{'✅' if row.ok else '❌'} |"
        )
    lines += ["", "### Unproven checks (no fault trips them)", ""]
    lines += [f"- {check}" for check in result.unproven] or ["None: every check is proven."]
    return "\n".join(lines) + "\n"


def write_selftest(result: SelftestResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    markdown, data = directory / "selftest.md", directory / "selftest.json"
    markdown.write_text(render_markdown(result), encoding="utf-8")
    data.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return [markdown, data]
