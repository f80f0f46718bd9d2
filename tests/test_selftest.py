"""`selftest`: every fault on every seed and edition it applies to; a fault caught on fewer
than all seeds fails it."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.checks import REGISTRY
from conformance.emulator import FAULTS
from conformance.jobs import SelftestResult, SelftestRow, run_selftest
from conformance.jobs._selftest import focus, render_markdown

from .conftest import run_cli

NULL = "semantics-null-ignored"
GROUP = "validation-group-name-unchecked"  # a fault of the current edition only


def test_each_fault_runs_on_each_seed_and_each_edition_it_applies_to() -> None:
    result = run_selftest(seeds=(1, 2), faults=(NULL, GROUP), jobs=2)
    ran = sorted((row.edition, row.fault, row.seed) for row in result.rows)
    assert ran == sorted(
        [(e, f, s) for e in ("seed", "current") for f in ("", NULL) for s in (1, 2)]
        + [("current", GROUP, 1), ("current", GROUP, 2)]
    )
    assert result.ok, [row for row in result.rows if not row.ok]
    assert all(t.caught == 2 for t in result.tallies())
    assert result.exit_code == 0


def _row(fault: str, seed: int, tripped: tuple[str, ...]) -> SelftestRow:
    return SelftestRow(fault, "current", seed, ("META-NULL-CLEARS",), tripped, True, 1, 0.5)


def test_a_fault_caught_on_fewer_than_all_seeds_fails_the_selftest() -> None:
    rows = (
        _row(NULL, 1, ("META-NULL-CLEARS",)),
        _row(NULL, 2, ()),  # missed on seed 2
    )
    result = SelftestResult((1, 2), ("current",), rows, ())
    (tally,) = result.tallies()
    assert (tally.caught, tally.ok, result.ok, result.exit_code) == (1, False, False, 1)
    text = render_markdown(result)
    assert "| 1 of 2 seeds | 2: META-NULL-CLEARS |" in text and "❌" in text
    assert result.to_dict()["faults"] == [
        {"fault": NULL, "edition": "current", "caught": 1, "seeds": 2, "ok": False}
    ]


def test_the_selftest_command_writes_its_reports_and_exits_by_the_verdict(tmp_path: Path) -> None:
    done = run_cli(
        "selftest", "--fault", NULL, "--seeds", "2", "--edition", "seed",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test passed" in done.stdout
    assert done.stdout.count(f"ok {NULL}") == 2
    data = json.loads((tmp_path / "selftest.json").read_text(encoding="utf-8"))
    assert data["seeds"] == [1, 2] and data["editions"] == ["seed"]
    assert [f["caught"] for f in data["faults"]] == [2, 2]
    unknown = run_cli("selftest", "--fault", "no-such-fault", "--report-dir", str(tmp_path))
    assert unknown.returncode == 2 and "unknown fault" in unknown.stderr


def test_a_fault_runs_through_its_own_checks_unless_whole() -> None:
    assert focus(NULL) == ("META-NULL-CLEARS",)
    # ROBUST-NO-5XX judges every answer; ROUNDTRIP-METADATA sends the values that crash it
    assert focus("robust-500-deep-nesting") == ("ROBUST-NO-5XX", "ROUNDTRIP-METADATA")
    assert focus("") == ()  # the conformant emulator: always the whole suite
    for name, fault in FAULTS.items():  # a fault's probes are scenario checks of the registry
        assert all(REGISTRY[check].scenario is not None for check in fault.shown_by), name
    focused = run_selftest(seeds=(3,), faults=(NULL,), editions=("current",))
    whole = run_selftest(seeds=(3,), faults=(NULL,), editions=("current",), whole=True)
    assert focused.ok and whole.ok
    (_, focused_row), (_, whole_row) = focused.rows, whole.rows
    assert focused_row.tripped == ("META-NULL-CLEARS",)
    assert set(whole_row.tripped) > {"META-NULL-CLEARS"}  # what else the fault breaks
    assert "Every fault ran through the whole suite." in render_markdown(whole)
    assert "`--whole` shows" in render_markdown(focused)
