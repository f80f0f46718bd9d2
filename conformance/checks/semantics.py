"""What PATCH means: replace, clear with null, leave untouched when omitted, persist,
change nothing else, answer for the right conversation, and never create one.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

from ..core import Sent
from ._context import SUCCESS, Abort, Context, same_json
from ._registry import needs_writes, scenario
from .sources import DOCS, SEED

__all__: list[str] = []

# The conversation's fields on the seed page: every one is compared, but for metadata.
SEED_FIELDS = frozenset(
    {
        "id",
        "phoneNumberId",
        "phoneNumber",
        "participant",
        "lastMessageAt",
        "messageCount",
        "createdAt",
        "messages",
        "agentId",
        "metadata",
    }
)
# A field the seed does not have, whose name says it moves on every write (updatedAt,
# modified_at, version, etag, revision): a careful server may keep one; never compared.
_VOLATILE_NAME = re.compile(r"updated|modified|version|etag|revision", re.IGNORECASE)


def volatile(name: str) -> bool:
    return name == "metadata" or (name not in SEED_FIELDS and bool(_VOLATILE_NAME.search(name)))


MESSAGE_FIELDS = frozenset({"messages", "messageCount", "lastMessageAt", "lastMessagePreview"})


def _patch_ok(ctx: Context, body: Any, what: str) -> Sent:
    """PATCH the writable conversation: an answer whose body is a JSON object
    (`.json_body`), or abort with a finding."""
    sent = ctx.patch(ctx.writable_id, body)
    if not ctx.expect_status(sent, SUCCESS, what) or not isinstance(sent.json_body, dict):
        if sent.status in SUCCESS:
            ctx.fail(f"{what}: the {sent.status} answer is not a JSON object", sent)
        raise Abort
    return sent


def _metadata_is(ctx: Context, sent: Sent, want: Any, where: str) -> bool:
    """Does the answer `sent` hold `want` as its metadata? If not, a finding that shows
    that very answer."""
    got = sent.json_body.get("metadata", "<absent>")
    if same_json(got, want):
        return True
    ctx.fail(f"{where} holds metadata {_short(got)}, expected {_short(want)}", sent)
    return False


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def differing_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Top-level fields whose value differs, ignoring metadata and volatile timestamps.

    Messages are compared only when both sides hold the whole list (a busy live
    conversation truncated by message_limit cannot be compared message by message).
    """
    truncated = any(
        isinstance(side.get("messages"), list)
        and isinstance(side.get("messageCount"), int)
        and len(side["messages"]) < side["messageCount"]
        for side in (before, after)
    )
    skip = {"messages"} if truncated else set()
    return sorted(
        key
        for key in (before.keys() | after.keys()) - skip
        if not volatile(key) and not same_json(before.get(key), after.get(key))
    )


def canary(ctx: Context, label: str) -> dict[str, Any]:
    """Metadata no earlier step can have written: a label and a random nonce."""
    return {"conformance": label, "nonce": f"{ctx.rng.getrandbits(48):012x}"}


@scenario(
    "META-REPLACE",
    family="semantics",
    requirement="An object in metadata replaces the stored metadata whole: no old key survives.",
    source=f"{DOCS} (an object replaces the stored metadata, no merge)",
)
@needs_writes
def replace_not_merge(ctx: Context) -> None:
    _patch_ok(ctx, {"metadata": {"conformance_old": 1, "conformance_shared": "old"}}, "setting up")
    new = {"conformance_shared": "new", "conformance_new": True}
    _metadata_is(ctx, _patch_ok(ctx, {"metadata": new}, "replacing"), new, "the PATCH answer")
    _metadata_is(ctx, ctx.read(ctx.writable_id), new, "a later GET")


@scenario(
    "META-NULL-CLEARS",
    family="semantics",
    requirement="metadata: null clears the stored metadata: the answer and a later GET show null.",
    source=f"{SEED} (metadata: object or null); {DOCS}",
)
@needs_writes
def null_clears(ctx: Context) -> None:
    _patch_ok(ctx, {"metadata": canary(ctx, "null-clears")}, "setting up")
    _metadata_is(ctx, _patch_ok(ctx, {"metadata": None}, "clearing"), None, "the PATCH answer")
    _metadata_is(ctx, ctx.read(ctx.writable_id), None, "a later GET")


@scenario(
    "META-OMITTED-UNTOUCHED",
    family="semantics",
    requirement="A body without metadata leaves the stored metadata exactly as it was.",
    source=f"{DOCS} (only the fields you include are changed)",
)
@needs_writes
def omitted_untouched(ctx: Context) -> None:
    kept = canary(ctx, "omitted-untouched")
    _patch_ok(ctx, {"metadata": kept}, "setting up")
    _metadata_is(ctx, _patch_ok(ctx, {}, "PATCH with {}"), kept, "the answer to {}")
    _metadata_is(ctx, ctx.read(ctx.writable_id), kept, "a later GET")


@scenario(
    "META-EMPTY-OBJECT",
    family="semantics",
    requirement="metadata: {} is stored and answered as {} (an empty object, not null).",
    source=SEED,
)
@needs_writes
def empty_object(ctx: Context) -> None:
    _metadata_is(ctx, _patch_ok(ctx, {"metadata": {}}, "setting {}"), {}, "the PATCH answer")
    _metadata_is(ctx, ctx.read(ctx.writable_id), {}, "a later GET")


@scenario(
    "META-PERSISTED",
    family="semantics",
    requirement="What a PATCH answered is what a later GET of the conversation shows.",
    source=DOCS,
)
@needs_writes
def persisted(ctx: Context) -> None:
    written = canary(ctx, "persisted")
    _metadata_is(ctx, _patch_ok(ctx, {"metadata": written}, "writing"), written, "the PATCH answer")
    _metadata_is(ctx, ctx.read(ctx.writable_id), written, "a later GET")


def _twice_reproduced(ctx: Context, attempt: Callable[[Context], None]) -> None:
    """Run a comparison; on a mismatch run it once more, so a live change elsewhere (a new
    message arriving mid-check) is not reported as the target's fault. Each try records into
    a context of its own; the check keeps every exchange and the last try's findings."""

    def tried() -> Context:
        trial = Context(ctx.run)
        with contextlib.suppress(Abort):  # its findings say why it stopped
            attempt(trial)
        ctx.exchanges += trial.exchanges
        return trial

    trial = tried()
    if trial.failure_count:
        trial = tried()
    ctx.absorb(trial)


@scenario(
    "META-IDEMPOTENT",
    family="semantics",
    requirement="The same PATCH sent twice gets the same answer.",
    source="RFC 5789 section 2 with the replace semantics of the vendor docs",
)
@needs_writes
def idempotent(ctx: Context) -> None:
    body = {"metadata": canary(ctx, "idempotent")}

    def attempt(ctx: Context) -> None:
        first = _patch_ok(ctx, body, "first PATCH").json_body
        second = _patch_ok(ctx, body, "the same PATCH again")
        changed = differing_fields(first, second.json_body)
        if changed or not same_json(first.get("metadata"), second.json_body.get("metadata")):
            ctx.fail(f"the second answer differs in {', '.join(changed) or 'metadata'}", second)

    _twice_reproduced(ctx, attempt)


@scenario(
    "META-OTHER-FIELDS-UNCHANGED",
    family="semantics",
    requirement="A PATCH of metadata changes no other field of the conversation.",
    source=f"{DOCS} (only the fields you include are changed)",
)
@needs_writes
def other_fields_unchanged(ctx: Context) -> None:
    def attempt(ctx: Context) -> None:
        before = ctx.read(ctx.writable_id).json_body
        answer = _patch_ok(ctx, {"metadata": canary(ctx, "other-fields")}, "writing metadata")
        changed = differing_fields(before, answer.json_body)
        if changed:
            ctx.fail(f"PATCH of metadata also changed {', '.join(changed)}", answer)

    _twice_reproduced(ctx, attempt)


@scenario(
    "META-ANSWER-IDENTITY",
    family="semantics",
    requirement="GET and PATCH answer with the conversation named in the path (same id).",
    source=SEED,
)
def answer_identity(ctx: Context) -> None:
    for conversation_id in ctx.target.primary.conversation_ids:
        sent = ctx.get(conversation_id)
        body = sent.json_body
        if sent.status in SUCCESS and isinstance(body, dict) and body.get("id") != conversation_id:
            ctx.fail(f"GET answered for id {sent.json_body.get('id')!r}", sent)
    if ctx.read_only:
        return
    answer = _patch_ok(ctx, {"metadata": canary(ctx, "identity")}, "writing metadata")
    if answer.json_body.get("id") != ctx.writable_id:
        answered = answer.json_body.get("id")
        ctx.fail(f"PATCH of {ctx.writable_id} answered for id {answered!r}", answer)


@scenario(
    "NOTFOUND-UNKNOWN-ID",
    family="semantics",
    requirement="An id that does not exist answers 404 to GET and PATCH, and PATCH creates "
    "nothing.",
    source=DOCS,
)
def unknown_id(ctx: Context) -> None:
    absent = ctx.unknown_id()
    ctx.expect_status(ctx.get(absent), 404, "GET of an unknown id")
    if ctx.read_only:
        return
    patched = ctx.patch(absent, {"metadata": canary(ctx, "unknown-id")})
    ctx.expect_status(patched, 404, "PATCH of an unknown id")
    after = ctx.get(absent)
    if after.status in SUCCESS:
        ctx.fail("the PATCH created the conversation: a later GET finds it", after)
        ctx.notes.append(
            f"the target created conversation {absent} when it was PATCHed; "
            "the suite cannot delete it: remove it by hand"
        )
