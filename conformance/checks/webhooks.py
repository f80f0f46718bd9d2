"""Where the metadata goes: the `conversationState` of the webhook deliveries that follow a
PATCH, and the deliveries themselves (signed, fresh, one id each, for the account's own
conversations only, shaped as the fragment's `webhooks` section says).

The receiver (`core.Receiver`) records what arrives; `RunContext.webhooks` says how to make
a message arrive. Every check makes its own arrivals, so each one alone is a deterministic
probe; the checks that judge every delivery run at the end, over all of the run's.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..core import (
    MAX_DELIVERY_READ,
    Account,
    DeadlineReached,
    Delivery,
    schema_validator,
    short_json,
)
from ..model import Exchange
from ._context import SUCCESS, Abort, Context, NotApplicable, Webhooks, same_json
from ._registry import needs_second_account, needs_webhooks, needs_writes, scenario
from .sources import SEED, WEBHOOK_DOCS

__all__: list[str] = []

TOLERANCE_S = 300  # the freshness window of the vendor's verify_webhook
EVENT = "agent.message"  # the event the fragment's webhooks section describes
_ABSENT: Any = object()


def _webhooks(ctx: Context) -> Webhooks:
    assert ctx.run.webhooks is not None  # needs_webhooks
    return ctx.run.webhooks


def _show(ctx: Context, delivery: Delivery) -> Exchange:
    """A finding's exchange for a delivery (the target's POST to the receiver)."""
    return delivery.exchange(_webhooks(ctx).receiver.url, ctx.run.client.secrets)


def deliver(ctx: Context, conversation_id: str, account: Account | None = None) -> Delivery:
    """Make a message arrive on the conversation and wait for its delivery; abort with a
    finding (or, when nothing at all ever reached the receiver from a target the suite did
    not set up, a not-applicable) if none comes."""
    hooks, client = _webhooks(ctx), ctx.run.client
    if client.deadline_passed():
        raise DeadlineReached
    mark = hooks.receiver.count
    hooks.arrive(account or ctx.target.primary, conversation_id)
    seconds = hooks.wait  # and never past the run's --deadline
    if client.run_deadline is not None:
        seconds = max(0.0, min(seconds, client.run_deadline - time.monotonic()))
    earlier = _delivered(hooks.receiver.since(0)[:mark])

    def answers(delivery: Delivery) -> bool:
        """A delivery of this arrival's event: not a redelivery of an event seen before."""
        if not delivery.complete:
            return True  # too large to tell: it may be this one (not judged, below)
        return (
            delivery.conversation_id == conversation_id
            and _message_event(delivery)
            and not (_identities(delivery) & earlier)
        )

    found = hooks.receiver.wait_for(answers, mark, seconds)
    if found is not None and not found.complete:
        raise NotApplicable(
            f"not judged: a delivery ({found.size} bytes) was larger than the receiver keeps "
            f"({hooks.receiver.max_bytes} bytes); raise --max-answer-bytes to judge it"
        )
    if found is not None:
        return found
    if client.deadline_passed():
        raise DeadlineReached  # the wait was cut short: nothing is judged of it
    if hooks.receiver.count == 0 and not ctx.target.webhooks.managed:
        raise NotApplicable(
            f"no delivery reached the receiver ({hooks.receiver.url}) within {hooks.wait:g} s of "
            "a message: check that the test account's webhook URL points there"
        )
    ctx.fail(
        f"no delivery for conversation {conversation_id} reached the receiver within "
        f"{hooks.wait:g} s of a message arriving on it"
    )
    raise Abort


def _identities(delivery: Delivery) -> set[str]:
    """What names a delivery's event: its message's id, and what it delivers (a target may
    deliver an event again, later; its X-Webhook-ID alone does not say so, a target that
    reuses ids is WEBHOOK-ID-UNIQUE's to judge)."""
    named = {f"event:{_event_key(delivery)}"}
    if delivery.message_id:
        named.add(f"message:{delivery.message_id}")
    return named


def _delivered(deliveries: list[Delivery]) -> set[str]:
    return {name for delivery in deliveries for name in _identities(delivery)}


def _message_event(delivery: Delivery) -> bool:
    """Is it an agent.message delivery (or one that does not say what it is)? Other events
    a target may send are not what the fragment describes: they are judged for their
    signature and id only."""
    payload = delivery.payload
    event = payload.get("event") if isinstance(payload, dict) else None
    return not isinstance(event, str) or event == EVENT


def state_of(delivery: Delivery) -> Any:
    """The delivery's conversationState; absent reads as null (the vendor's SDK reads it so)."""
    payload = delivery.payload
    if not isinstance(payload, dict):
        return _ABSENT
    return payload.get("conversationState")


def _short(value: Any, limit: int = 160) -> str:
    return short_json(value, limit)


def _stored(ctx: Context, body: dict[str, Any], what: str) -> Any:
    """PATCH the writable conversation with `body`, then the metadata a GET reads back (the
    target may store a value its own way: the delivery must carry what it stored)."""
    sent = ctx.patch(ctx.writable_id, body)
    if not ctx.expect_status(sent, SUCCESS, what):
        raise Abort
    return ctx.read(ctx.writable_id).json_body.get("metadata")


@scenario(
    "WEBHOOK-STATE-AFTER-PATCH",
    family="webhook",
    requirement=(
        "The next delivery for a conversation carries conversationState equal to its stored "
        "metadata: the object a PATCH set, still that object after a PATCH without metadata, "
        "null after metadata: null."
    ),
    source=f"{SEED} (the metadata is included in webhook payloads as conversationState); "
    f"{WEBHOOK_DOCS}",
)
@needs_writes
@needs_webhooks
def state_after_patch(ctx: Context) -> None:
    nonce = f"{ctx.rng.getrandbits(48):012x}"
    metadata = {"conformance": "webhook-state", "nonce": nonce}
    steps: tuple[tuple[dict[str, Any], str], ...] = (
        ({"metadata": metadata}, "after a PATCH setting it"),
        ({}, "after a PATCH without metadata"),
        ({"metadata": None}, "after metadata: null"),
    )
    before = ctx.read(ctx.writable_id).json_body.get("metadata")
    for body, when in steps:
        stored = _stored(ctx, body, f"PATCH {json.dumps(body)}")
        delivery = deliver(ctx, ctx.writable_id)
        got = state_of(delivery)
        if got is _ABSENT:
            ctx.fail(f"the delivery {when} is not a JSON object", _show(ctx, delivery))
        elif not same_json(got, stored):
            stale = " (the value before that PATCH)" if same_json(got, before) else ""
            ctx.fail(
                f"the delivery {when} carries conversationState {_short(got)}{stale}; the "
                f"conversation's stored metadata is {_short(stored)}",
                _show(ctx, delivery),
            )
        before = stored
    ctx.detail = f"{len(steps)} deliveries judged"


def _ensure(ctx: Context, count: int) -> list[Delivery]:
    """The run's deliveries so far, with arrivals of this check's own until there are at
    least `count` (a check run alone still has something to judge)."""
    hooks = _webhooks(ctx)
    while hooks.receiver.count < count:
        deliver(ctx, ctx.writable_id)
    return hooks.receiver.since(0)


def _judged(deliveries: list[Delivery]) -> str:
    return f"{len(deliveries)} deliveries judged" if len(deliveries) != 1 else "1 delivery judged"


def _timestamp_problem(delivery: Delivery) -> str | None:
    timestamp = delivery.header("X-Webhook-Timestamp")
    if timestamp is None:
        return "has no X-Webhook-Timestamp header"
    try:
        age = abs(delivery.received - int(timestamp))
    except ValueError:
        return f"has X-Webhook-Timestamp {timestamp[:40]!r}, not unix seconds"
    if age > TOLERANCE_S:
        return f"is {age:.0f} s off its X-Webhook-Timestamp (more than {TOLERANCE_S} s)"
    return None


@scenario(
    "WEBHOOK-SIGNED",
    family="webhook",
    requirement=(
        "Every delivery is signed: X-Webhook-Signature is sha256=<hex> of HMAC-SHA256 with the "
        'webhook\'s secret over "{X-Webhook-Timestamp}.{raw body}", and the timestamp (unix '
        f"seconds) is within {TOLERANCE_S} s of its arrival."
    ),
    source=WEBHOOK_DOCS,
    at_end=True,
)
@needs_webhooks
def signed(ctx: Context) -> None:
    secret = _webhooks(ctx).secret
    deliveries = _ensure(ctx, 1)
    unread = {d.seq for d in deliveries if d.signed_by(secret) is None}
    ctx.detail = _judged([d for d in deliveries if d.seq not in unread]) + (
        f"; {len(unread)} larger than the receiver reads ({MAX_DELIVERY_READ} bytes): not judged"
        if unread
        else ""
    )
    for delivery in deliveries:
        if delivery.seq in unread:
            continue  # the contract sets no size: its signature cannot be told, not blamed
        if delivery.header("X-Webhook-Signature") is None:
            ctx.fail(f"delivery {delivery.seq} has no X-Webhook-Signature", _show(ctx, delivery))
        elif not delivery.signed_by(secret):
            ctx.fail(
                f"delivery {delivery.seq}'s X-Webhook-Signature is not the HMAC-SHA256 of "
                '"{timestamp}.{raw body}" with the webhook\'s secret',
                _show(ctx, delivery),
            )
        elif problem := _timestamp_problem(delivery):
            ctx.fail(f"delivery {delivery.seq} {problem}", _show(ctx, delivery))


def _event_key(delivery: Delivery) -> str:
    """What a delivery delivers: the same event sent again (a retry) has the same key."""
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    event = {"event": payload.get("event"), "timestamp": payload.get("timestamp"), "data": data}
    return json.dumps(event, sort_keys=True, ensure_ascii=False)


@scenario(
    "WEBHOOK-ID-UNIQUE",
    family="webhook",
    requirement=(
        "Every delivery has an X-Webhook-ID, and no two deliveries of different events share "
        "one (a retry of the same event may repeat its id: that is what the id is for)."
    ),
    source=WEBHOOK_DOCS,
    at_end=True,
)
@needs_webhooks
def id_unique(ctx: Context) -> None:
    first_of: dict[str, Delivery] = {}
    deliveries = _ensure(ctx, 2)
    ctx.detail = _judged(deliveries)
    for delivery in deliveries:
        delivery_id = delivery.header("X-Webhook-ID")
        if not delivery_id:
            ctx.fail(f"delivery {delivery.seq} has no X-Webhook-ID", _show(ctx, delivery))
            continue
        earlier = first_of.setdefault(delivery_id, delivery)
        if earlier is not delivery and _event_key(earlier) != _event_key(delivery):
            ctx.fail(
                f"deliveries {earlier.seq} and {delivery.seq} are different events with the "
                f"same X-Webhook-ID {delivery_id[:60]!r}: a receiver that processes each id once "
                "drops the second",
                _show(ctx, delivery),
            )


def _foreign_ids(ctx: Context) -> set[str]:
    second = ctx.target.second
    assert second is not None  # needs_second_account
    ids = set(second.conversation_ids)
    ids.update(cid for env, cid in ctx.run.snapshot.neighbours if env == second.key_env)
    return ids - set(ctx.target.primary.conversation_ids)


@scenario(
    "WEBHOOK-ACCOUNT-ISOLATION",
    family="webhook",
    requirement=(
        "An account's webhook receives deliveries for its own conversations only: a message "
        "arriving on another account's conversation is never delivered to it."
    ),
    source=f"{WEBHOOK_DOCS}; the API's per-account keys",
    at_end=True,
)
@needs_second_account
@needs_webhooks
def account_isolation(ctx: Context) -> None:
    hooks, second = _webhooks(ctx), ctx.target.second
    assert second is not None
    if not hooks.foreign:
        raise NotApplicable(
            "no way to make a message arrive on the second account's conversation: give "
            "--webhook-trigger (it is run with ACCOUNT=second)"
        )
    if not second.conversation_ids:
        raise NotApplicable(
            "the second account has no conversation given (--second-conversation-id)"
        )
    hooks.arrive(second, second.conversation_ids[0])
    deliver(ctx, ctx.writable_id)  # a marker: deliveries are judged up to and past it
    foreign, deliveries = _foreign_ids(ctx), hooks.receiver.since(0)
    ctx.detail = _judged(deliveries)
    for delivery in deliveries:
        if delivery.conversation_id in foreign:
            ctx.fail(
                f"delivery {delivery.seq} is for conversation {delivery.conversation_id}, which "
                "belongs to the second account, not the webhook's",
                _show(ctx, delivery),
            )


@scenario(
    "WEBHOOK-PAYLOAD-SHAPE",
    family="webhook",
    requirement=(
        "Every delivery is a JSON object of the fragment's AgentMessageEvent (webhooks: "
        "agentMessage)."
    ),
    source=f"{WEBHOOK_DOCS}; the fragment's webhooks section",
    at_end=True,
)
@needs_webhooks
def payload_shape(ctx: Context) -> None:
    validator = schema_validator("AgentMessageEvent")
    deliveries = _ensure(ctx, 1)
    ctx.detail = _judged(deliveries)
    for delivery in deliveries:
        if not delivery.complete or not _message_event(delivery):
            continue  # larger than the receiver keeps (the contract sets no size), or another event
        if delivery.payload is None and delivery.body.strip() != b"null":
            ctx.fail(f"delivery {delivery.seq}'s body is not JSON", _show(ctx, delivery))
            continue
        errors = sorted(validator.iter_errors(delivery.payload), key=str)
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "the body"
            ctx.fail(
                f"delivery {delivery.seq} does not match AgentMessageEvent at {where}: "
                f"{errors[0].message[:200]}",
                _show(ctx, delivery),
            )
