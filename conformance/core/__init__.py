"""What every layer above stands on: exit codes and harness errors, the OpenAPI fragment,
the target's configuration, and the one HTTP client that talks to it."""

from __future__ import annotations

from ._compare import (
    Difference,
    differences,
    instant,
    same_documented,
    same_instant,
    same_member,
)
from ._errors import ExitCode, HarnessError
from ._http import (
    BudgetExhausted,
    Client,
    ConditionFailed,
    DeadlineReached,
    Dropped,
    Sent,
    TargetUnreachable,
    Throttled,
    curl_command,
    json_body_of,
    json_bytes,
)
from ._json import same_json, same_number, short_json
from ._options import OPTIONS, PROFILES, GivenOptions, Option, Profile, RunOptions, resolve
from ._receiver import MAX_DELIVERY_READ, Delivery, Receiver, signature_of
from ._spec import (
    documented,
    load_spec,
    response_schema,
    schema_validator,
    spec_path,
    validate_response_body,
)
from ._target import (
    Account,
    Target,
    TargetSpec,
    WebhookSetup,
    key_variants,
    load_target_file,
)

__all__ = [
    "MAX_DELIVERY_READ",
    "OPTIONS",
    "PROFILES",
    "Account",
    "BudgetExhausted",
    "Client",
    "ConditionFailed",
    "DeadlineReached",
    "Delivery",
    "Difference",
    "Dropped",
    "ExitCode",
    "GivenOptions",
    "HarnessError",
    "Option",
    "Profile",
    "Receiver",
    "RunOptions",
    "Sent",
    "Target",
    "TargetSpec",
    "TargetUnreachable",
    "Throttled",
    "WebhookSetup",
    "curl_command",
    "differences",
    "documented",
    "instant",
    "json_body_of",
    "json_bytes",
    "key_variants",
    "load_spec",
    "load_target_file",
    "resolve",
    "response_schema",
    "same_documented",
    "same_instant",
    "same_json",
    "same_member",
    "same_number",
    "schema_validator",
    "short_json",
    "signature_of",
    "spec_path",
    "validate_response_body",
]
