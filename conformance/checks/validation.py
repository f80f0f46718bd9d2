"""Invalid requests: answered 422 in FastAPI's shape, never 2xx or 5xx, and changing nothing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from schemathesis import GenerationMode

from ..core import Sent
from ._context import SUCCESS, Context, same_json
from ._drive import drive
from ._registry import needs_writes, scenario
from .generated import run_generated
from .semantics import _short, canary
from .sources import FASTAPI, SEED

__all__: list[str] = []

# metadata that is neither an object nor null: one of each JSON type, always sent
NOT_OBJECTS: list[Any] = ["a string", "", 0, -7, 1.5, True, False, [], [{"a": 1}], ["x", 2]]
_not_objects = (
    st.text(max_size=20)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.lists(st.integers() | st.text(max_size=5), max_size=3)
)
# whole bodies that are not a JSON object
NOT_OBJECT_BODIES: list[bytes] = [b"[]", b'[{"metadata": {}}]', b'"metadata"', b"42", b"true"]
MALFORMED: list[bytes] = [
    b'{"metadata": {',
    b"{metadata: {}}",
    b"{'metadata': {}}",
    b'{"metadata": {}} trailing',
    b'{"metadata": {"a": 1,}}',
    b'{"metadata": }',
]


def _rejected(ctx: Context, sent: Sent, what: str) -> bool:
    """422 is the documented answer; anything else is a finding."""
    if sent.status == 422:
        return True
    if 200 <= sent.status < 300:
        ctx.fail(f"{what} was accepted ({sent.status}) instead of answered 422", sent)
    elif sent.status >= 500:
        ctx.fail(f"{what} crashed the server ({sent.status}) instead of a 422", sent)
    else:
        ctx.fail(f"{what} answered {sent.status}, the documented answer is 422", sent)
    return False


def invalid_requests(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    """Every invalid PATCH this run sends, as (label, keyword arguments for ctx.patch)."""
    requests: list[tuple[str, dict[str, Any]]] = [
        (f"metadata {json.dumps(v)}", {"body": {"metadata": v}}) for v in NOT_OBJECTS
    ]
    requests += [(f"body {b.decode()}", {"raw": b}) for b in NOT_OBJECT_BODIES]
    requests += [(f"malformed JSON {b!r}", {"raw": b}) for b in MALFORMED]
    requests.append(
        (
            "a JSON body labelled text/plain",
            {"raw": json.dumps({"metadata": {"a": 1}}).encode(), "content_type": "text/plain"},
        )
    )
    return requests


@scenario(
    "VALIDATION-REJECTS-INVALID",
    family="validation",
    requirement="An invalid request (metadata not an object or null, a body that is not an "
    "object, malformed JSON, a non-JSON content type, a bad message_limit) answers 422, never "
    "2xx or 5xx.",
    source=f"{SEED} (Errors: 422); {FASTAPI}",
)
def rejects_invalid(ctx: Context) -> None:
    # GET with a bad message_limit: harmless, so it runs read-only too.
    for value in ("0", "101", "-1", "abc"):
        sent = ctx.get(ctx.writable_id, params={"message_limit": value})
        _rejected(ctx, sent, f"GET with message_limit={value}")
    run_generated(ctx, "GET", GenerationMode.NEGATIVE)
    if ctx.read_only:
        return
    for label, kwargs in invalid_requests(ctx):
        _rejected(ctx, ctx.patch(ctx.writable_id, **kwargs), label)

    def one(metadata: Any) -> None:
        _rejected(
            ctx,
            ctx.patch(ctx.writable_id, {"metadata": metadata}),
            f"metadata {_short(metadata, 60)}",
        )

    drive(ctx, _not_objects, ctx.profile.invalid_examples, one)
    run_generated(ctx, "PATCH", GenerationMode.NEGATIVE)


@scenario(
    "VALIDATION-NO-STATE-CHANGE",
    family="validation",
    requirement="A PATCH answered 422 leaves the stored metadata as it was.",
    source=f"{FASTAPI} (validation happens before the handler runs)",
)
@needs_writes
def invalid_changes_nothing(ctx: Context) -> None:
    written = canary(ctx, "no-state-change")
    if not ctx.expect_status(
        ctx.patch(ctx.writable_id, {"metadata": written}), SUCCESS, "setting up"
    ):
        return
    # What is stored now, however the target stored it: only a change from here is judged.
    kept = ctx.read(ctx.writable_id).json_body.get("metadata")
    for label, kwargs in invalid_requests(ctx)[::3]:  # one of each kind is enough here
        refused = ctx.patch(ctx.writable_id, **kwargs)
        if refused.status != 422:
            continue  # VALIDATION-REJECTS-INVALID reports that; here only state matters
        after = ctx.read(ctx.writable_id).json_body
        if not same_json(after.get("metadata"), kept):
            ctx.fail(
                f"after a 422 for {label}, GET shows {_short(after.get('metadata'))} "
                f"instead of {_short(kept)}",
                refused,
            )
            ctx.patch(ctx.writable_id, {"metadata": kept})  # set up the next one
            kept = ctx.read(ctx.writable_id).json_body.get("metadata")
