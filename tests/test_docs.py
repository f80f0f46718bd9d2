"""The README stays true: every check, every fault and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from conformance.checks import REGISTRY
from conformance.cli._commands import cli
from conformance.core import OPTIONS
from conformance.emulator import FAULTS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_check_is_in_the_readme_with_its_level_and_requirement() -> None:
    for check in REGISTRY.values():
        info = check.info
        assert (
            f"| `{check.id}` | {info.family} | {info.level.value} | {info.requirement} |" in README
        )


def test_every_run_option_is_in_the_readme_with_its_default() -> None:
    options = README.split("### Options of `run`", 1)[1].split("\n### ", 1)[0]
    for option in OPTIONS:
        row = next((line for line in options.splitlines() if f"`{option.flag}" in line), None)
        assert row is not None, option.flag
        cell = re.split(r"(?<!\\)\|", row)[2].strip().strip("`")  # cells, not escaped pipes
        if isinstance(option.default, float):
            assert float(cell) == option.default, row
        elif option.default not in (None, False):
            assert cell == str(option.default), row


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
        "python -m pip install -e '.[test]' && python -m pytest -n auto",
    ]


def test_every_dimension_of_the_storage_model_is_in_the_readme() -> None:
    from conformance.checks._storage import DOCUMENTS

    for document in DOCUMENTS:
        for d in document.dimensions:
            assert f"| {document.group} | {d.name} | {d.latitude.value} | {d.layers} |" in README


def test_the_faults_only_strict_runs_fail_are_the_readmes() -> None:
    from conformance.model import Level

    sentence = README.split("Faults whose checks are all advisory (", 1)[1].split(")", 1)[0]
    listed = set(re.findall(r"`([a-z0-9-]+)`", sentence))
    advisory = {
        f.name
        for f in FAULTS.values()
        if all(REGISTRY[check].info.level is Level.ADVISORY for check in f.trips)
    }
    assert listed == advisory
