"""What every layer above stands on: exit codes and harness errors, the OpenAPI fragment,
the target's configuration, and the one HTTP client that talks to it."""

from __future__ import annotations

from ._errors import ExitCode, HarnessError
from ._http import BudgetExhausted, Client, Sent, TargetUnreachable, curl_command
from ._spec import load_spec, response_schema, schema_validator, spec_path
from ._target import Account, Target, TargetSpec, key_variants, load_target_file

__all__ = [
    "Account",
    "BudgetExhausted",
    "Client",
    "ExitCode",
    "HarnessError",
    "Sent",
    "Target",
    "TargetSpec",
    "TargetUnreachable",
    "curl_command",
    "key_variants",
    "load_spec",
    "load_target_file",
    "response_schema",
    "schema_validator",
    "spec_path",
]
