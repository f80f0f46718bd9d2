"""Requests generated from the fragment by schemathesis, sent through the run's client.

Positive cases exercise the documented space (their answers feed the response checks and
the round trip); negative cases are judged by schemathesis's `negative_data_rejection`.
The conversation id is always one of the target's: generated ids could name real data.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.core.failures import FailureGroup

from ..core._http import BudgetExhausted, TargetUnreachable
from ._context import CONVERSATION_PATH, Context, same_json
from .semantics import _short

__all__ = ["portable", "run_generated"]

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


def _send_case(ctx: Context, case: Any) -> Any:
    kwargs = case.as_transport_kwargs(base_url=ctx.target.base_url)
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() not in _DROPPED_HEADERS}
    authorization = kwargs["headers"].get("Authorization")
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json_body"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return ctx.client.send(
        case.method.upper(),
        case.formatted_path,
        authorization=authorization,
        headers=headers,
        params=case.query or None,
        path_template=CONVERSATION_PATH,
        **body,
    )


def run_generated(ctx: Context, method: str, mode: GenerationMode) -> int:
    """Send `profile.generated_examples` generated cases; returns how many were sent."""
    operation = ctx.schema[CONVERSATION_PATH][method]
    auth = {"Authorization": ctx.bearer(ctx.target.primary)}
    strategy = operation.as_strategy(
        mode, path_parameters={"conversation_id": ctx.writable_id}, headers=auth
    )
    sent_count = 0
    stop: Exception | None = None

    @hypothesis_seed(ctx.seed)
    @settings(
        max_examples=ctx.profile.generated_examples,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def drive(case: Any) -> None:
        nonlocal sent_count, stop
        if stop is not None:
            return
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
            # group_name renames a real iMessage group: nothing the run could restore.
            case.body.pop("group_name", None)
            if not portable(case.body):
                return  # valid JSON that not every conformant store keeps: not a fair probe
        try:
            sent = _send_case(ctx, case)
        except (BudgetExhausted, TargetUnreachable) as exc:
            stop = exc
            return
        sent_count += 1
        if mode is GenerationMode.NEGATIVE:
            try:
                case.validate_response(
                    sent.response, checks=[st_checks.negative_data_rejection], headers=auth
                )
            except FailureGroup as group:
                how = getattr(case.meta.phase.data, "description", None) or "a negative case"
                for failure in group.exceptions:
                    ctx.fail(
                        f"generated invalid request ({how}): {failure.title}, answered "
                        f"{sent.status}",
                        sent,
                    )
        elif method == "PATCH" and sent.status == 200 and isinstance(case.body, dict):
            answer = sent.json_body if isinstance(sent.json_body, dict) else {}
            if "metadata" in case.body and not same_json(
                answer.get("metadata"), case.body["metadata"]
            ):
                ctx.fail(
                    f"answered metadata {_short(answer.get('metadata'))}, sent "
                    f"{_short(case.body['metadata'])}",
                    sent,
                    check_id="ROUNDTRIP-METADATA",
                )

    with contextlib.suppress(Unsatisfiable):  # nothing left to vary: all cases made
        drive()
    if stop is not None:
        raise stop
    return sent_count
