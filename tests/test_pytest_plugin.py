"""The same checks from a team's own pytest run: `pytest --pyargs conformance.pytest_suite`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conformance.checks import REGISTRY


def _pytest(tmp_path: Path, args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.pytest_suite",
            "-q",
            "-rfs",
            "-p",
            "no:cacheprovider",
            f"--agentphone-args={args} --report-dir {tmp_path / 'r'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_a_conformant_target_passes_one_test_per_check(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "--seed 2")
    assert result.returncode == 0, result.stdout[-2000:]
    # the one check the embedded emulator gives nothing to judge: it sends no ETag
    assert f"{len(REGISTRY) - 1} passed, 1 skipped" in result.stdout
    assert "the target sends no ETag" in result.stdout
    assert (tmp_path / "r" / "junit.xml").exists()  # the usual reports, same options


def test_a_fault_fails_exactly_its_checks(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "--emulator-fault auth-cross-tenant-read --seed 2")
    assert result.returncode == 1
    assert (
        "FAILED test_agentphone_conformance.py::test_conformance[AUTH-CROSS-TENANT-READ]"
        in result.stdout
    )
    assert "1 failed" in result.stdout
    assert "reproduce: curl" in result.stdout


def test_bad_options_are_a_usage_error(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "--profile turbo")
    assert result.returncode == 4  # pytest's usage-error exit code
    assert "--agentphone-args" in result.stderr and "turbo" in result.stderr
