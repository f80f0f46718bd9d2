"""The README stays true: every check, every fault and every command is documented."""

from __future__ import annotations

from pathlib import Path

from conformance.checks import REGISTRY
from conformance.cli._commands import cli
from conformance.emulator import FAULTS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_check_is_in_the_readme_with_its_level() -> None:
    for check in REGISTRY.values():
        assert f"| `{check.id}` | {check.info.family} | {check.info.level.value} |" in README


def test_every_fault_is_in_the_readme() -> None:
    for name in FAULTS:
        assert f"| `{name}` |" in README


def test_every_command_is_in_the_readme() -> None:
    for command in cli.commands:
        assert f"agentphone-conformance {command}" in README, command


def test_the_quick_start_is_two_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in quick_start.splitlines() if line.startswith("python -m pip")]
    assert commands == [
        "python -m pip install -e . && python -m conformance run",
        "python -m pip install -e '.[test]' && python -m pytest",
    ]
