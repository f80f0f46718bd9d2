"""Smoke test of the benchmark (`python -m bench`): a tiny run produces bench.md and bench.json
with the right rows; `python bench/bench.py` still works as a shim.

No timing is asserted: the benchmark measures, this only checks that it runs and judges.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIM = REPO / "bench" / "bench.py"
# One fault both tools catch (every answer breaks the schema), one only ours can see, and
# one only ours can see because the bench points a webhook at its receiver, as a user would.
FAULTS = ("shape-missing-required-field", "semantics-merge-not-replace", "webhook-state-stale")


def _bench(
    tmp_path: Path, *args: str, timeout: float = 90, shim: bool = False, module: str = "bench"
) -> subprocess.CompletedProcess[str]:
    """`python -m bench ARGS` (or another `module`) with the repository root on PYTHONPATH,
    or (`shim`) `python bench/bench.py ARGS` as it is; in a scratch folder, so nothing lands
    in the repository."""
    env = dict(os.environ)
    if shim:
        command = [str(SHIM)]
    else:
        command = ["-m", module]
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, *command, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.timeout(240)
def test_bench_on_three_faults_writes_markdown_and_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _bench(
        tmp_path,
        "--faults",
        ",".join(FAULTS),
        "--examples",
        "1",
        "--seed",
        "7",
        "--timeout",
        "60",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-4000:]

    result = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    rows = {row["target"]: row for row in result["rows"]}
    assert list(rows) == ["conformant", *FAULTS]
    assert result["settings"]["schemathesis_max_examples"] == 1
    assert result["settings"]["our_profile"] == "quick"
    assert result["settings"]["seed"] == 7
    for row in result["rows"]:
        for tool in ("schemathesis", "ours"):
            run = row["runs"][tool]
            assert not run["timed_out"], run
            assert run["exit_code"] in (0, 1), run  # a verdict, not a usage or harness error
            assert run["requests"], run  # the tool's own report was found and read
            assert run["wall_s"] > 0
            assert "--seed" in run["command"] and "7" in run["command"]
            assert "--max-response-time" in run["command"]
        assert row["ratio"] is not None

    conformant = rows["conformant"]["runs"]
    assert conformant["schemathesis"]["false_alarm"] is False
    assert conformant["ours"]["false_alarm"] is False
    assert conformant["ours"]["caught"] is None
    assert conformant["ours"]["restored"] is True
    # Plain schemathesis writes the pinned conversation and never puts it back.
    assert conformant["schemathesis"]["restored"] is False

    shape = rows["shape-missing-required-field"]["runs"]
    assert shape["schemathesis"]["caught"] is True
    assert "response_schema_conformance" in shape["schemathesis"]["failing"]
    assert shape["ours"]["caught"] is True
    assert shape["ours"]["expected_failed"] == ["SHAPE-SCHEMA"]
    merge = rows["semantics-merge-not-replace"]["runs"]
    assert merge["schemathesis"]["caught"] is False  # no generic check can see a merge
    assert merge["ours"]["caught"] is True
    assert all(row["runs"]["ours"]["restored"] for row in result["rows"])
    stale = rows["webhook-state-stale"]["runs"]
    assert stale["ours"]["caught"] is True
    assert stale["ours"]["expected_failed"] == ["WEBHOOK-STATE-AFTER-PATCH"]
    assert "--webhook-trigger" in stale["ours"]["command"]
    assert not stale["ours"]["other_changes"]  # the trigger's messages are not the tool's
    assert "AGENTPHONE_WEBHOOK_SECRET" in stale["ours"]["command"]  # named, never the value

    totals = result["totals"]
    assert totals["faults"] == 3
    assert totals["ours"]["faults_caught"] == 3
    assert totals["schemathesis"]["faults_caught"] == 1
    assert totals["schemathesis"]["faults_missed"] == [
        "semantics-merge-not-replace",
        "webhook-state-stale",
    ]
    assert totals["ours"]["false_alarms"] == totals["schemathesis"]["false_alarms"] == 0
    assert totals["median_ratio"] is not None
    machine = result["machine"]
    assert machine["python"] and machine["schemathesis"] and machine["cpu_model"]
    assert machine["cores"] and machine["date"]

    markdown = (out / "bench.md").read_text(encoding="utf-8")
    table = [line for line in markdown.splitlines() if line.startswith("| `")]
    # Each target appears once in the main table and once in the failing-checks table.
    for target in rows:
        assert sum(line.startswith(f"| `{target}` |") for line in table) == 2, target
    main_rows = table[: len(rows)]
    assert [line.split(" | ")[0] for line in main_rows] == [f"| `{t}`" for t in rows]
    assert main_rows[0].count("|") == 13  # 12 columns
    for heading in ("## Totals", "## Machine", "Median of the per-target ratios", "Python "):
        assert heading in markdown
    assert "faults caught (of 3) | 1 | 3 |" in markdown
    # Each run's raw output is kept.
    for target in rows:
        for tool in ("schemathesis", "ours"):
            assert (out / "bench-raw" / target / tool / "output.log").is_file()
            assert (out / "bench-raw" / target / tool / "report.json").is_file()


@pytest.mark.parametrize("shim", [False, True], ids=["module", "shim"])
def test_bench_refuses_an_unknown_fault(tmp_path: Path, shim: bool) -> None:
    done = _bench(
        tmp_path, "--faults", "no-such-fault", "--out", str(tmp_path), timeout=30, shim=shim
    )
    assert done.returncode == 2
    assert "unknown fault(s): no-such-fault" in done.stderr
    assert not (tmp_path / "bench.md").exists()


@pytest.mark.timeout(120)
def test_the_quick_run_benchmark_times_a_default_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _bench(tmp_path, "--runs", "1", "--out", str(out), module="bench.quick")
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((out / "quick.json").read_text(encoding="utf-8"))
    (run,) = result["runs"]
    assert run["exit_code"] == 0 and run["duration_s"] > 0 and run["wall_s"] > run["duration_s"]
    assert 0 < run["requests"] <= run["budget"] == 400
    summary = result["summary"]
    assert summary["all_conformant"] and summary["all_within_budget"]
    assert summary["goal_met"] is (summary["median_duration_s"] < 2.0)
    assert "Goal (median run under 2 s" in (out / "quick.md").read_text(encoding="utf-8")


def test_the_differential_benchmark_proxy_delays_each_round_trip_and_changes_nothing() -> None:
    import time

    import httpx

    from bench.differential import delayed
    from conformance.emulator import Emulator

    with Emulator(host="127.0.0.1", port=0) as emulator:
        first, _ = emulator.state.describe()
        path = f"/v1/conversations/{first['conversation_ids'][0]}"
        headers = {"Authorization": f"Bearer {first['api_key']}"}
        direct = httpx.get(emulator.base_url + path, headers=headers, timeout=10)
        port = int(emulator.base_url.rsplit(":", 1)[1])
        with delayed(port, 0.2) as proxy, httpx.Client(timeout=10) as client:
            clock = time.monotonic()
            far = client.get(f"http://127.0.0.1:{proxy}{path}", headers=headers)
            took = time.monotonic() - clock
    assert (far.status_code, far.json()) == (direct.status_code, direct.json())
    assert took >= 0.2  # a round trip: half each way


def test_the_differential_benchmark_writes_its_round(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _bench(
        tmp_path, "--rounds", "1", "--latency", "0.001", "--out", str(out),
        module="bench.differential",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-4000:]
    result = json.loads((out / "differential.json").read_text(encoding="utf-8"))
    (one,) = result["rounds"]
    assert one["exit_code"] == 0 and one["compared"] > 150
    assert one["reference_requests"] == 2 * one["compared"]
    assert result["goal"]["met"] is (result["median_ratio"] <= 2.0)
    assert "Median ratio" in (out / "differential.md").read_text(encoding="utf-8")
