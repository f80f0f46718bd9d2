"""The GitHub Action's helper (action/run.sh): the variables a target file reads its secrets
from, so that the action hands each secret over under the name the file gives it.

    python -m conformance.cli.action_env [TARGET_FILE]

prints three lines: the API key's variable, the second account's, and the webhook secret's
(an empty line when the file names none). Without a file, or with one the suite cannot read
(the run itself then says what is wrong, exit 2), the defaults. Never prints a secret: only
names of variables.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from ..core import HarnessError, TargetSpec
from ..core._target import load_target_file

__all__ = ["secret_variables"]


def secret_variables(target: str) -> tuple[str, str, str]:
    """(API key, second account's key, webhook secret) variable names of `target` ("": none
    given, the defaults)."""
    spec = TargetSpec()
    if target:
        with contextlib.suppress(HarnessError):  # the run says what is wrong with the file
            spec = load_target_file(Path(target))
    return spec.key_env, spec.second_key_env, spec.webhooks.secret_env or ""


def main(argv: list[str]) -> int:
    print("\n".join(secret_variables(argv[0] if argv else "")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
