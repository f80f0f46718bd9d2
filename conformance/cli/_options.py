"""The run options on the command line: one click option per `core.OPTIONS` entry, the same
for `run`, `matrix` and the pytest plugin, parsed back into a `GivenOptions`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..core import OPTIONS, GivenOptions, Option

__all__ = ["PROFILE", "given_options", "tuning_options"]

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
