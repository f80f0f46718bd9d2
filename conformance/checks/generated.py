"""Requests generated from the fragment by schemathesis, sent through the run's client.

Positive cases exercise the documented space (their answers feed the response checks and
the round trip); negative cases are judged by schemathesis's `negative_data_rejection`.
The conversation id is always one of the target's: generated ids could name real data.
"""

from __future__ import annotations

from typing import Any

# Loaded at start-up rather than on a run's clock: schemathesis imports its case builder (which
# sets hypothesis up as it loads) when a first strategy is built, and the three transports when
# a first case is sent.
import schemathesis.generation.hypothesis.builder
import schemathesis.transport.asgi
import schemathesis.transport.requests
import schemathesis.transport.wsgi  # noqa: F401
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.core.failures import FailureGroup

from ..core import Sent
from ._context import CONVERSATION_PATH, Context, same_json
from ._drive import drive
from ._schemathesis import as_schemathesis
from .semantics import _short, metadata_cause

__all__ = ["EXPLORATION_JUDGES", "portable", "run_generated", "seed_invalid"]

#: Scenario checks that positive generated traffic also judges (besides every response check).
EXPLORATION_JUDGES = frozenset({"ROUNDTRIP-METADATA"})

_DROPPED_HEADERS = {"user-agent", "x-schemathesis-testcaseid", "authorization"}


MAX_SAFE_INTEGER = 2**53 - 1


def portable(value: Any) -> bool:
    """Would any conformant server keep this value exactly? No NUL (PostgreSQL's jsonb
    refuses it), no lone surrogate, no integer a JavaScript server would round."""
    if isinstance(value, dict):
        return all(portable(k) and portable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(portable(item) for item in value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= MAX_SAFE_INTEGER
    return True


def _send_case(ctx: Context, case: Any) -> Sent:
    ctx.mark()  # each case stands alone
    kwargs = case.as_transport_kwargs(base_url=ctx.target.base_url)
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() not in _DROPPED_HEADERS}
    authorization = kwargs["headers"].get("Authorization")
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json_body"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return ctx.send(
        case.method.upper(),
        case.formatted_path,
        authorization=authorization,
        headers=headers,
        params=case.query or None,
        path_template=CONVERSATION_PATH,
        **body,
    )


def run_generated(ctx: Context, method: str, mode: GenerationMode) -> None:
    """Send `profile.generated_examples` generated cases of one operation and mode."""
    operation = ctx.run.schema[CONVERSATION_PATH][method]
    auth = {"Authorization": ctx.bearer(ctx.target.primary)}
    strategy = operation.as_strategy(
        mode, path_parameters={"conversation_id": ctx.writable_id}, headers=auth
    )

    def one(case: Any) -> None:
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            # group_name renames a real iMessage group: nothing the run could restore.
            case.body.pop("group_name", None)
            if not portable(case.body):
                return  # valid JSON that not every conformant store keeps: not a fair probe
        sent = _send_case(ctx, case)
        if mode is GenerationMode.NEGATIVE:
            _judge_negative(ctx, case, sent, auth)
        elif method == "PATCH" and sent.status == 200 and isinstance(case.body, dict):
            _judge_positive_patch(ctx, case.body, sent)

    drive(ctx, strategy, ctx.profile.generated_examples, one)


def _unjudged(case: Any) -> bool:
    """Negative cases the contract leaves open (README, "choices where the contract is
    silent"): a `null` body (FastAPI accepts it when the body is optional), and a
    message_limit that is a whole number but out of 1..100 (a server may refuse it or
    clamp it)."""
    if case.method.upper() == "PATCH":
        return case.body is None
    limit = (case.query or {}).get("message_limit")
    if isinstance(limit, bool):
        return False
    if isinstance(limit, str) and limit.isascii() and limit.isdigit():
        return True
    return isinstance(limit, int | float) and float(limit).is_integer() and limit >= 0


def seed_invalid(body: Any) -> bool:
    """Does a PATCH body break the seed page's contract (an object whose metadata, if
    present, is an object or null)? Other members are the server's call."""
    if not isinstance(body, dict):
        return True
    return "metadata" in body and not isinstance(body["metadata"], dict | None)


def _judge_negative(ctx: Context, case: Any, sent: Sent, auth: dict[str, str]) -> None:
    """schemathesis's `negative_data_rejection`, for the check whose requirement the case
    breaks: a body that only a current-edition member makes invalid is VALIDATION-GROUP-NAME's
    (the case exists only when the current edition is judged)."""
    if _unjudged(case):
        return
    failures = _negative_failures(case, sent, auth)
    later_only = case.method.upper() == "PATCH" and not seed_invalid(case.body)
    how = getattr(case.meta.phase.data, "description", None) or "a negative case"
    for failure in failures:
        ctx.fail(
            f"generated invalid request ({how}): {failure.title}, answered {sent.status}",
            sent,
            check_id="VALIDATION-GROUP-NAME" if later_only else None,
            judge=lambda again: bool(_negative_failures(case, again, auth)),
        )


def _negative_failures(case: Any, sent: Sent, auth: dict[str, str]) -> list[Any]:
    """What schemathesis's `negative_data_rejection` finds in the answer to a negative case."""
    try:
        case.validate_response(
            as_schemathesis(sent.response), checks=[st_checks.negative_data_rejection], headers=auth
        )
    except FailureGroup as group:
        return list(group.exceptions)
    return []


def _judge_positive_patch(ctx: Context, body: dict[str, Any], sent: Sent) -> None:
    def mangled(answered: Sent) -> bool:
        answer = answered.json_body if isinstance(answered.json_body, dict) else {}
        return "metadata" in body and not same_json(answer.get("metadata"), body["metadata"])

    if mangled(sent):
        answer = sent.json_body if isinstance(sent.json_body, dict) else {}
        ctx.fail(
            f"answered metadata {_short(answer.get('metadata'))}, sent {_short(body['metadata'])}",
            sent,
            check_id="ROUNDTRIP-METADATA",
            judge=lambda again: again.status == 200 and mangled(again),
            cause=metadata_cause(body["metadata"], answer.get("metadata")),
        )
