"""Invalid requests: answered 422 in FastAPI's shape, never 2xx or 5xx, and changing nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from schemathesis import GenerationMode

from ..core import Sent
from ..model import Edition, plural
from ._context import LIST_PATH, SUCCESS, Context, same_json
from ._drive import drive
from ._registry import needs_writes, scenario
from .generated import run_generated
from .semantics import _short, canary
from .sources import DOCS, FASTAPI, SEED

__all__: list[str] = []

# metadata that is neither an object nor null: one of each JSON type, always sent
NOT_OBJECTS: list[Any] = [
    "a string",
    "",
    '{"a": 1}',  # JSON text in a string: a layer that decodes twice takes it for an object
    "null",
    0,
    -7,
    1.5,
    True,
    False,
    [],
    [{"a": 1}],
    ["x", 2],
]
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


# Media types a JSON body may be mislabelled with (a form, a document, code, text).
NOT_JSON_MEDIA_TYPES = (
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/javascript",
)

# How an invalid request may be refused. The seed page documents 422 for a body that fails
# validation; where the request is not even well-formed, HTTP has older answers that a
# careful server may give instead (README, "choices where the contract is silent").
VALIDATION_FAILED = frozenset({422})
MALFORMED_REFUSED = frozenset({400, 422})  # not JSON: FastAPI says 422, RFC 9110 400
NOT_JSON_REFUSED = frozenset({400, 415, 422})  # not labelled JSON: 415 is RFC 9110's answer
QUERY_REFUSED = frozenset({400, 422})  # a bad query parameter (vendor docs list 400 too)


@dataclass(frozen=True)
class Invalid:
    """An invalid PATCH: what it is, how to send it (`ctx.patch` keywords), how it may be
    refused."""

    label: str
    request: dict[str, Any]
    refusals: frozenset[int] = VALIDATION_FAILED


def rejected(ctx: Context, sent: Sent, what: str, refusals: frozenset[int]) -> bool:
    """Was `sent` refused the way `refusals` allow? Anything else is a finding."""
    if sent.status in refusals:
        return True
    expected = " or ".join(str(s) for s in sorted(refusals))
    if 200 <= sent.status < 300:
        ctx.fail(f"{what} was accepted ({sent.status}) instead of answered {expected}", sent)
    elif sent.status >= 500:
        ctx.fail(f"{what} crashed the server ({sent.status}) instead of a {expected}", sent)
    else:
        ctx.fail(f"{what} answered {sent.status}, the documented answer is {expected}", sent)
    return False


def invalid_requests() -> list[Invalid]:
    """Every invalid PATCH this run sends."""
    requests = [
        Invalid(f"metadata {json.dumps(v)}", {"body": {"metadata": v}}) for v in NOT_OBJECTS
    ]
    requests += [Invalid(f"body {b.decode()}", {"raw": b}) for b in NOT_OBJECT_BODIES]
    requests += [Invalid(f"malformed JSON {b!r}", {"raw": b}, MALFORMED_REFUSED) for b in MALFORMED]
    for media_type in NOT_JSON_MEDIA_TYPES:
        requests.append(
            Invalid(
                f"a JSON body labelled {media_type}",
                {"raw": json.dumps({"metadata": {"a": 1}}).encode(), "content_type": media_type},
                NOT_JSON_REFUSED,
            )
        )
    return requests


def _list_queries(ctx: Context) -> None:
    """The list's limit and offset: a negative or non-numeric one is refused (vendor docs:
    limit 1..100, offset 0 or more); a target without a list is not judged on it."""
    if ctx.target.primary.key_env not in ctx.run.snapshot.listed:
        return
    for name, value in (("limit", "-1"), ("offset", "-1"), ("limit", "abc"), ("offset", "x")):
        ctx.mark()
        sent = ctx.send(
            "GET",
            LIST_PATH,
            authorization=ctx.bearer(ctx.target.primary),
            params={name: value},
            path_template=LIST_PATH,
        )
        rejected(ctx, sent, f"the list with {name}={value}", QUERY_REFUSED)


def _message_limits(ctx: Context) -> None:
    """GET with message_limit out of 1..100 (vendor docs: default 50, max 100): a negative
    or non-numeric one is refused; 0 and 101 may be refused, or honoured as a limit (no
    message; at most 100) by a server that clamps."""
    for value in ("-1", "abc"):
        ctx.mark()
        sent = ctx.get(ctx.writable_id, params={"message_limit": value})
        rejected(ctx, sent, f"GET with message_limit={value}", QUERY_REFUSED)
    for value, most in (("0", 0), ("101", 100)):
        ctx.mark()
        sent = ctx.get(ctx.writable_id, params={"message_limit": value})
        if sent.status in QUERY_REFUSED:
            continue
        messages = sent.json_body.get("messages") if isinstance(sent.json_body, dict) else None
        if sent.status not in SUCCESS or not isinstance(messages, list):
            rejected(ctx, sent, f"GET with message_limit={value}", QUERY_REFUSED)
        elif len(messages) > most:
            ctx.fail(
                f"GET with message_limit={value} answered "
                f"{plural(len(messages), 'message')}: neither "
                f"refused ({' or '.join(map(str, sorted(QUERY_REFUSED)))}) nor held to {most}",
                sent,
            )


@scenario(
    "VALIDATION-REJECTS-INVALID",
    family="validation",
    requirement="An invalid request (metadata not an object or null, a body that is not an "
    "object, malformed JSON, a non-JSON content type, a bad message_limit, the list's "
    "negative or non-numeric limit or offset) is refused: 422 "
    "for a body that fails validation, 400 also for one that is not JSON at all; never 2xx "
    "or 5xx.",
    source=f"{SEED} (Errors: 422); {FASTAPI}; RFC 9110 sections 15.5.1 and 15.5.16",
)
def rejects_invalid(ctx: Context) -> None:
    _message_limits(ctx)  # harmless, so it runs read-only too
    _list_queries(ctx)
    run_generated(ctx, "GET", GenerationMode.NEGATIVE)
    if ctx.read_only:
        return
    for invalid in invalid_requests():
        ctx.mark()
        rejected(
            ctx, ctx.patch(ctx.writable_id, **invalid.request), invalid.label, invalid.refusals
        )

    def one(metadata: Any) -> None:
        ctx.mark()
        sent = ctx.patch(ctx.writable_id, {"metadata": metadata})
        rejected(ctx, sent, f"metadata {_short(metadata, 60)}", VALIDATION_FAILED)

    drive(ctx, _not_objects, ctx.profile.invalid_examples, one)
    run_generated(ctx, "PATCH", GenerationMode.NEGATIVE)


# group_name (current edition) that is neither a string nor null: one of each JSON type.
GROUP_NAMES_NOT_STRINGS: list[Any] = [12345, 1.5, True, ["Family"], {"name": "Family"}]


@scenario(
    "VALIDATION-GROUP-NAME",
    family="validation",
    edition=Edition.CURRENT,
    requirement="A group_name that is neither a string nor null is refused with 422 and "
    "changes nothing; on a conversation that is not a group, a group_name names nothing "
    "(current edition).",
    source=f"{DOCS} (group_name: string or null); {FASTAPI}",
)
@needs_writes
def group_name_validated(ctx: Context) -> None:
    before = ctx.read(ctx.writable_id).json_body
    for value in GROUP_NAMES_NOT_STRINGS:
        sent = ctx.patch(ctx.writable_id, {"group_name": value})
        rejected(ctx, sent, f"group_name {json.dumps(value)}", VALIDATION_FAILED)
    after = ctx.read(ctx.writable_id)
    for member in ("groupName", "metadata"):
        if not same_json(after.json_body.get(member), before.get(member)):
            ctx.fail(
                f"after group_name values that are not strings, GET shows {member} "
                f"{_short(after.json_body.get(member))} instead of {_short(before.get(member))}",
                after,
            )
    if before.get("isGroup") is False:  # not a group: a name has nothing to rename
        _name_on_a_one_to_one(ctx, before)
    if isinstance(before.get("groupName"), str) and not same_json(
        after.json_body.get("groupName"), before.get("groupName")
    ):
        ctx.patch(ctx.writable_id, {"group_name": before["groupName"]})  # put the name back
        ctx.notes.append(
            f"conversation {ctx.writable_id}: the target renamed its group on an invalid "
            f"group_name; the suite wrote back {before['groupName']!r}: check it"
        )


def _name_on_a_one_to_one(ctx: Context, before: dict[str, Any]) -> None:
    """group_name is for iMessage groups only: on a conversation that is not a group it may
    be refused or ignored, but it names nothing and changes nothing else."""
    sent = ctx.patch(ctx.writable_id, {"group_name": "conformance-probe"})
    if sent.status not in SUCCESS:
        return  # refused (fine), or a crash (ROBUST-NO-5XX)
    after = ctx.read(ctx.writable_id).json_body
    for member in ("groupName", "metadata", "isGroup"):
        if not same_json(after.get(member), before.get(member)):
            ctx.fail(
                f"group_name on a conversation that is not a group changed {member} from "
                f"{_short(before.get(member))} to {_short(after.get(member))}",
                sent,
            )
    if not same_json(after.get("groupName"), before.get("groupName")):
        ctx.patch(ctx.writable_id, {"group_name": before.get("groupName")})  # as it was
        ctx.notes.append(
            f"conversation {ctx.writable_id}: the target named it on a group_name although it is "
            f"not a group; the suite wrote back {json.dumps(before.get('groupName'))}: check it"
        )


@scenario(
    "VALIDATION-NO-STATE-CHANGE",
    family="validation",
    requirement="A PATCH refused as invalid (422, or 400 or 415 where the request is not "
    "JSON) leaves the stored metadata as it was.",
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
    for invalid in invalid_requests()[::3]:  # one of each kind is enough here
        label = invalid.label
        refused = ctx.patch(ctx.writable_id, **invalid.request)
        if refused.status not in invalid.refusals:
            # VALIDATION-REJECTS-INVALID reports that; here only a refusal's effect matters,
            # so what an accepted one stored is the state the next one is judged against
            kept = ctx.read(ctx.writable_id).json_body.get("metadata")
            continue
        after = ctx.read(ctx.writable_id).json_body
        if not same_json(after.get("metadata"), kept):
            ctx.fail(
                f"after a {refused.status} for {label}, GET shows {_short(after.get('metadata'))} "
                f"instead of {_short(kept)}",
                refused,
            )
            ctx.patch(ctx.writable_id, {"metadata": kept})  # set up the next one
            kept = ctx.read(ctx.writable_id).json_body.get("metadata")
