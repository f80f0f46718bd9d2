"""Exit codes and the one error type the CLI turns into a single line."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode", "HarnessError"]


class ExitCode(IntEnum):
    OK = 0  # no required check failed
    VIOLATIONS = 1  # the target broke the contract
    USAGE = 2  # bad options, bad config file, unknown fault: fix the command
    TARGET_UNUSABLE = 3  # unreachable, key refused, a given conversation missing


class HarnessError(Exception):
    """A problem with how the suite was invoked or set up: never the target's fault.

    `message` says what went wrong, `hint` what to do about it; the CLI prints both on one
    line and exits with `code`.
    """

    def __init__(self, message: str, hint: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} - {self.hint}"
