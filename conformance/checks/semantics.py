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
from ._context import LIST_PAGE, LIST_PATH, SUCCESS, Abort, Context, NotApplicable, same_json
from ._registry import needs_list, needs_writes, scenario
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


# What a live conversation changes by itself when a message arrives.
LIVE_FIELDS = frozenset({"messages", "messageCount", "lastMessageAt", "lastMessagePreview"})


def drifted_since(first: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Fields that changed between the conversation as the run found it and `now`, other
    than metadata and fields a write may move. A live conversation may have gained messages
    in between: then its message fields may have moved forward, but no message it had may
    have changed, and no more of them left the page than new ones arrived."""
    changed = differing_fields(first, now)
    before_count, now_count = first.get("messageCount"), now.get("messageCount")
    if not (isinstance(before_count, int) and isinstance(now_count, int)):
        return changed
    if now_count <= before_count:
        return changed
    kept = [f for f in changed if f not in LIVE_FIELDS]
    earlier = {m.get("id"): m for m in first.get("messages") or [] if isinstance(m, dict)}
    later = {m.get("id"): m for m in now.get("messages") or [] if isinstance(m, dict)}
    gone = [i for i in earlier if i not in later]
    altered = [i for i in earlier if i in later and not same_json(earlier[i], later[i])]
    if altered or len(gone) > now_count - before_count:
        kept.append("messages")
    return sorted(kept)


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
    first = ctx.run.snapshot.before(ctx.target.primary, ctx.writable_id)

    def attempt(ctx: Context) -> None:
        read = ctx.read(ctx.writable_id)
        before = read.json_body
        if first is not None:
            since = drifted_since(first, before)
            if since:
                ctx.fail(
                    f"since the run's first write, {_fields(since, first, before)}: the "
                    "run's PATCHes of metadata changed them",
                    read,
                )
        answer = _patch_ok(ctx, {"metadata": canary(ctx, "other-fields")}, "writing metadata")
        changed = differing_fields(before, answer.json_body)
        if changed:
            ctx.fail(f"PATCH of metadata also changed {', '.join(changed)}", answer)

    _twice_reproduced(ctx, attempt)


def _fields(names: list[str], before: dict[str, Any], after: dict[str, Any]) -> str:
    """`agentId went from "agent_x" to null, ...`: each field with both values, short."""
    shown = []
    for name in names:
        if name == "messages":
            had, has = len(before.get(name) or []), len(after.get(name) or [])
            shown.append(f"messages went from {had} to {has} (or changed)")
        else:
            shown.append(
                f"{name} went from {_short(before.get(name), 60)} to {_short(after.get(name), 60)}"
            )
    return ", ".join(shown)


@scenario(
    "META-ANSWER-COMPLETE",
    family="semantics",
    requirement="The answer to a PATCH is the conversation as a GET then shows it: the same "
    "fields and the same messages (at the default message_limit), none dropped or cut short.",
    source=f"{SEED} (Successful Response: the conversation with its messages); {DOCS}",
)
@needs_writes
def answer_complete(ctx: Context) -> None:
    def attempt(ctx: Context) -> None:
        patched = _patch_ok(ctx, {"metadata": canary(ctx, "answer-complete")}, "writing")
        answer, shown = patched.json_body, ctx.read(ctx.writable_id).json_body
        differ = sorted(
            key
            for key in answer.keys() | shown.keys()
            if not volatile(key) and not same_json(answer.get(key), shown.get(key))
        )
        if differ:
            how = _fields(differ, shown, answer)
            ctx.fail(f"the PATCH answer is not the conversation a GET shows: {how}", patched)

    _twice_reproduced(ctx, attempt)


@scenario(
    "LIST-SHOWS-METADATA",
    family="semantics",
    requirement="The list of conversations is a view of the same data: after a PATCH, the "
    "conversation's summary in GET /v1/conversations carries the metadata it stored.",
    source=f"{DOCS} (List Conversations: summaries carry metadata)",
)
@needs_writes
@needs_list
def list_shows_metadata(ctx: Context) -> None:
    _patch_ok(ctx, {"metadata": canary(ctx, "list")}, "writing metadata")
    stored = ctx.read(ctx.writable_id).json_body.get("metadata")  # however it stored it
    page = ctx.send(
        "GET",
        LIST_PATH,
        authorization=ctx.bearer(ctx.target.primary),
        params=LIST_PAGE,
        path_template=LIST_PATH,
    )
    summaries = page.json_body.get("data") if isinstance(page.json_body, dict) else None
    if page.status != 200 or not isinstance(summaries, list):
        ctx.fail(f"the list of conversations answered {page.status} without a page", page)
        return
    mine = next(
        (s for s in summaries if isinstance(s, dict) and s.get("id") == ctx.writable_id), None
    )
    if mine is None:
        raise NotApplicable(
            f"conversation {ctx.writable_id} is not on the first page of the list "
            f"(limit {LIST_PAGE['limit']}): more recent conversations come first"
        )
    if not same_json(mine.get("metadata", "<absent>"), stored):
        ctx.fail(
            f"the list shows metadata {_short(mine.get('metadata', '<absent>'))} for "
            f"{ctx.writable_id}, which stores {_short(stored)}",
            page,
        )


@scenario(
    "META-OTHERS-UNTOUCHED",
    family="semantics",
    at_end=True,
    requirement="A PATCH changes nothing but the conversation in its path: no other "
    "conversation of the account (the list's first page, the other ones given, witnesses) "
    "ever takes a value the run wrote.",
    source=f"{DOCS} (PATCH /v1/conversations/{{conversation_id}}: that conversation)",
)
@needs_writes
def others_untouched(ctx: Context) -> None:
    primary = ctx.target.primary
    others = {
        cid: body.get("metadata")
        for (env, cid), body in ctx.run.snapshot.conversations.items()
        if env == primary.key_env and cid != ctx.writable_id
    }
    others |= {
        cid: metadata
        for (env, cid), metadata in ctx.run.snapshot.neighbours.items()
        if env == primary.key_env
    }
    if not others:
        raise NotApplicable(
            "no other conversation of the account to watch: give --witness-conversation-id, "
            "or test a target with a list of conversations"
        )
    ctx.patch(ctx.writable_id, {"metadata": canary(ctx, "others-untouched")})  # a write of its
    # own, so that the check alone (or after a run of refusals) has one to judge
    for conversation_id, original in others.items():
        sent = ctx.get(conversation_id)
        now = sent.json_body.get("metadata") if isinstance(sent.json_body, dict) else None
        if sent.status not in SUCCESS or same_json(now, original):
            continue
        if ctx.run.client.wrote(now):
            ctx.fail(
                f"conversation {conversation_id} now holds {_short(now)}, a value the run "
                f"wrote to {ctx.writable_id} only",
                sent,
            )
        else:
            ctx.notes.append(
                f"conversation {conversation_id} changed during the run to a value the run "
                "never wrote (someone else's write?): left as it is"
            )


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
