"""The run options on the command line: one click option per `core.OPTIONS` entry, the same
for `run`, `matrix` and the pytest plugin, parsed back into a `GivenOptions`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..core import OPTIONS, GivenOptions, Option

__all__ = ["PROFILE", "given_options", "target_options", "tuning_options"]

F = TypeVar("F", bound=Callable[..., Any])
PROFILE = next(option for option in OPTIONS if option.name == "profile")


def _click_option(option: Option) -> Callable[[F], F]:
    shown = f" [default: {option.default}]" if option.default not in (None, False) else ""
    if option.kind is bool:
        return click.option(option.flag, is_flag=True, default=None, help=option.help)
    kind: Any = click.Choice(option.choices) if option.choices else option.kind
    return click.option(
        option.flag, type=kind, default=None, metavar=option.metavar, help=option.help + shown
    )


def tuning_options(command: F) -> F:
    """The options that tune a run (see `core.OPTIONS`), and `--check ID`."""
    command = click.option(
        "--check", "checks", multiple=True, metavar="ID", help="Run only this check (repeatable)."
    )(command)
    for option in reversed(OPTIONS):
        command = _click_option(option)(command)
    return command


def given_options(params: dict[str, Any]) -> GivenOptions:
    """Take the run options out of a command's parsed parameters, checked."""
    names = [option.name for option in OPTIONS] + ["checks"]
    return GivenOptions.parse({name: params.pop(name) for name in names if name in params})


# Each option naming a target, with its help as `run` (the target) and `differential` (the
# reference) word it.
_TARGET_HELP: dict[str, tuple[str, str]] = {
    "--base-url": (
        "The target. Default: the embedded emulator.",
        "The reference: the implementation you trust (the real API, a vendor's staging). "
        "Default: the embedded emulator.",
    ),
    "--api-key-env": (
        "Variable holding the API key "
        "[default: AGENTPHONE_API_KEY]. Keys are never taken on the command line.",
        "Variable holding the reference's key [default: AGENTPHONE_API_KEY].",
    ),
    "--conversation-id": (
        "An existing conversation the suite may PATCH; restored at the end (repeatable).",
        "A conversation of the reference the suite may PATCH (repeatable); restored.",
    ),
    "--second-conversation-id": (
        "A conversation of a second account (key in AGENTPHONE_SECOND_API_KEY): "
        "enables the cross-tenant checks.",
        "A conversation of the reference's second account.",
    ),
    "--witness-conversation-id": (
        "A conversation of the same account the suite only reads, to see that a PATCH "
        "changes no other conversation (repeatable; for targets without a list of "
        "conversations).",
        "A conversation of the reference the suite only reads (repeatable), as for `run`.",
    ),
    "--second-api-key-env": (
        "Variable holding the second account's key [default: AGENTPHONE_SECOND_API_KEY].",
        "Variable holding the reference's second key [default: AGENTPHONE_SECOND_API_KEY].",
    ),
    "--target": (
        "A TOML target file (see README); options given here override it.",
        "The reference as a TOML target file (options given here override it).",
    ),
    "--emulator-fault": (
        "Run against the embedded emulator with this fault on (repeatable).",
        "An embedded reference with this fault on (repeatable; for trying the command out).",
    ),
}


def target_options(reference: bool = False) -> Callable[[F], F]:
    """The options that name a target (`run`) or a reference (`differential`)."""
    which = 1 if reference else 0

    def apply(command: F) -> F:
        def text(flag: str) -> str:
            return _TARGET_HELP[flag][which]

        decorators = [
            click.option("--base-url", metavar="URL", help=text("--base-url")),
            click.option("--api-key-env", metavar="NAME", help=text("--api-key-env")),
            click.option(
                "--conversation-id",
                "conversation_ids",
                multiple=True,
                metavar="ID",
                help=text("--conversation-id"),
            ),
            click.option(
                "--second-conversation-id",
                "second_ids",
                multiple=True,
                metavar="ID",
                help=text("--second-conversation-id"),
            ),
            click.option(
                "--witness-conversation-id",
                "witness_ids",
                multiple=True,
                metavar="ID",
                help=text("--witness-conversation-id"),
            ),
            click.option("--second-api-key-env", metavar="NAME", help=text("--second-api-key-env")),
            click.option(
                "--target",
                "target_file",
                type=click.Path(path_type=Path, dir_okay=False),
                help=text("--target"),
            ),
            click.option(
                "--emulator-fault",
                "faults",
                multiple=True,
                metavar="NAME",
                help=text("--emulator-fault"),
            ),
        ]
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply
