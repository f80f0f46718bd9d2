"""What PATCH means: replace, clear with null, leave untouched when omitted, persist,
change nothing else, answer for the right conversation, and never create one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..core import Sent, instant, same_documented, same_member
from ..model import plural
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
    got = metadata_of(sent.json_body)
    if same_json(got, want):
        return True
    message = f"{where}: the metadata {difference(want, got)}; expected {_short(want)}"
    ctx.fail(message, sent, cause=metadata_cause(want, got))
    return False


MERGE = "a PATCH merges the metadata instead of replacing it: members it did not send survive"


def metadata_cause(sent: Any, got: Any) -> str:
    """What a metadata that came back different says about the target, when it says one
    thing several checks see: members kept that the PATCH did not send (a merge)."""
    merged = isinstance(sent, dict) and isinstance(got, dict) and set(got) > set(sent)
    if merged and all(same_json(got[key], value) for key, value in sent.items()):
        return MERGE
    return ""


def metadata_of(conversation: dict[str, Any]) -> Any:
    """A conversation's (or a summary's) metadata: a member left out reads as null, as a
    nullable member the fragment does not require may be left out (as the vendor's SDK reads
    it)."""
    return conversation.get("metadata")


def _short(value: Any, limit: int = 160) -> str:
    """`value` as JSON, at most about `limit` characters: cut after a whole member or item
    (or, in one long string, anywhere) and marked with an ellipsis."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    at = cut.rfind(", ")
    return (cut[: at + 1] if at > limit // 2 else cut) + " …"


def difference(sent: Any, got: Any) -> str:
    """Where `got` first differs from `sent`, shown there: a member, an item, a character."""
    path = ""
    while True:
        if isinstance(sent, dict) and isinstance(got, dict):
            missing = [k for k in sent if k not in got]
            if missing:
                return f"lost {_members(missing)}{_at(path)} (it holds {_short(got, 100)})"
            extra = [k for k in got if k not in sent]
            if extra:
                return f"gained {_members(extra)}{_at(path)} (it holds {_short(got, 100)})"
            key = next(k for k in sent if not same_json(sent[k], got[k]))
            path, sent, got = f"{path}.{key}" if path else key, sent[key], got[key]
        elif isinstance(sent, list) and isinstance(got, list) and len(sent) == len(got):
            index = next(
                i for i, (x, y) in enumerate(zip(sent, got, strict=True)) if not same_json(x, y)
            )
            path, sent, got = f"{path}[{index}]", sent[index], got[index]
        else:
            break
    if isinstance(sent, str) and isinstance(got, str):
        at = next(
            (i for i, (x, y) in enumerate(zip(sent, got, strict=False)) if x != y),
            min(len(sent), len(got)),
        )
        start = max(0, at - 12)
        return (
            f"holds {_short(got[start : at + 24])}{_at(path)}, sent {_short(sent[start : at + 24])}"
            f" (from character {at}; {len(got)} characters, sent {len(sent)})"
        )
    return f"holds {_short(got, 120)}{_at(path)}, sent {_short(sent, 120)}"


def _members(keys: list[str]) -> str:
    """`the member 'a'`, `the members 'a', 'b' and 3 more`."""
    shown = ", ".join(map(repr, keys[:4])) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
    return f"the member{'s' if len(keys) > 1 else ''} {shown}"


def _at(path: str) -> str:
    return f" at {path}" if path else ""


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
        if not volatile(key) and not same_member(key, before.get(key), after.get(key))
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
    altered = [
        i for i in earlier if i in later and not same_documented(earlier[i], later[i], "Message")
    ]
    if altered or len(gone) > now_count - before_count:
        kept.append("messages")
    return sorted(kept)


def _arrived_since(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """Did messages arrive between two reads of a conversation (a live line)?"""
    before, after = earlier.get("messageCount"), later.get("messageCount")
    return isinstance(before, int) and isinstance(after, int) and after > before


def _messages_kept(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """After messages arrived: every message of `earlier` is in `later` unchanged, but for
    as many of the oldest as the new ones pushed off the page,"""
    old = [m for m in earlier.get("messages") or [] if isinstance(m, dict)]
    new = {m.get("id"): m for m in later.get("messages") or [] if isinstance(m, dict)}
    arrived = later["messageCount"] - earlier["messageCount"]
    gone = [m for m in old if m.get("id") not in new]
    changed = [
        m for m in old if m.get("id") in new and not same_documented(m, new[m.get("id")], "Message")
    ]
    # and `earlier` had every message `later` shows, but for the ones that arrived since
    return not changed and len(gone) <= arrived and len(old) >= len(new) - arrived


def canary(ctx: Context, label: str) -> dict[str, Any]:
    """Metadata no earlier step can have written: a label and a random nonce."""
    return {"conformance": label, "nonce": f"{ctx.rng.getrandbits(48):012x}"}


@scenario(
    "META-REPLACE",
    family="semantics",
    requirement="An object in metadata replaces the stored metadata whole: no old key "
    "survives, at any depth (nested objects are not merged, arrays not joined).",
    source=f"{DOCS} (an object replaces the stored metadata, no merge)",
)
@needs_writes
def replace_not_merge(ctx: Context) -> None:
    old = {
        "conformance_old": 1,
        "conformance_shared": "old",
        "nested": {"old": 1, "both": "old"},  # a merge of nested objects
        "list": ["old"],  # arrays concatenated or merged as sets
    }
    _patch_ok(ctx, {"metadata": old}, "setting up")
    new = {
        "conformance_shared": "new",
        "conformance_new": True,
        "nested": {"new": 2, "both": "new"},
        "list": ["new"],
    }
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
    _patch_ok(ctx, {"metadata": canary(ctx, "empty-object")}, "setting up")  # from a value
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
        try:
            attempt(trial)
        except Abort:
            pass  # its findings say why it stopped
        except NotApplicable:
            if not trial.failure_count:
                ctx.exchanges += trial.exchanges
                raise  # nothing more to judge, and nothing found before it stopped
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
        changed = drifted_since(first, second.json_body)
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
        changed = drifted_since(before, answer.json_body)
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
            if not volatile(key) and not same_member(key, answer.get(key), shown.get(key))
        )
        if differ and _arrived_since(answer, shown):
            differ = [f for f in differ if f not in LIVE_FIELDS]  # messages judged below
            if not _messages_kept(answer, shown):
                differ.append("messages")
        if differ:
            how = _fields(differ, shown, answer)
            ctx.fail(f"the PATCH answer is not the conversation a GET shows: {how}", patched)

    _twice_reproduced(ctx, attempt)


@scenario(
    "LIST-SHOWS-METADATA",
    family="semantics",
    requirement="The list of conversations is a view of the same data: after a PATCH, the "
    "conversation's summary in GET /v1/conversations carries the metadata it stored - an "
    "object, {} or null alike.",
    source=f"{DOCS} (List Conversations: summaries carry metadata)",
)
@needs_writes
@needs_list
def list_shows_metadata(ctx: Context) -> None:
    for written in (canary(ctx, "list"), None, {}):
        _patch_ok(ctx, {"metadata": written}, "writing metadata")
        stored = metadata_of(ctx.read(ctx.writable_id).json_body)  # however it stored it
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
            (s for s in summaries if isinstance(s, dict) and s.get("id") == ctx.writable_id),
            None,
        )
        if mine is None and len(summaries) < int(LIST_PAGE["limit"]):
            ctx.fail(f"the list (all of it, on one page) misses {ctx.writable_id}", page)
            return
        if mine is None:
            raise NotApplicable(
                f"conversation {ctx.writable_id} is not on the first page of the list "
                f"(limit {LIST_PAGE['limit']}): more recent conversations come first"
            )
        if not same_json(metadata_of(mine), stored) and not _since_written(ctx, mine):
            ctx.fail(
                f"the list shows metadata {_short(metadata_of(mine))} for "
                f"{ctx.writable_id}, which stores {_short(stored)}",
                page,
            )


def _since_written(ctx: Context, summary: dict[str, Any]) -> bool:
    """Does the conversation now hold what its summary shows (a write in between, by someone
    else: the list was right)?"""
    now = metadata_of(ctx.read(ctx.writable_id).json_body)
    return same_json(now, metadata_of(summary))


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


# How a server may refuse an id that names nothing: 404, 400 or 422 for one it deems
# malformed, 403 from a firewall in front that refuses what looks like SQL.
ID_REFUSED = frozenset({400, 403, 404, 422})


def odd_ids(absent: str, real: str) -> list[tuple[str, str]]:
    """Ids that name no conversation, of every spelling a string allows (quotes, SQL and markup
    metacharacters, percent signs, non-ASCII, 300 characters), and ids that differ from a real
    one only where a loose lookup would not see it (letter case, a trailing space): (what, id)."""
    ids = [
        ("an id with a quote", f"{absent}'"),
        ("an id that is SQL", f"{absent}' OR '1'='1"),
        ("an id with a double quote and a comment", f'{absent}";--'),
        ("an id with a percent sign", f"{absent}%"),
        ("an id with a backslash", f"{absent}\\"),
        ("an id with markup", f"{absent}<b>"),
        ("an id that is not ASCII", f"{absent}\u00e9\u4e2d"),
        ("an id of 300 characters", (absent + "x" * 300)[:300]),
        ("the conversation's id with a trailing space", f"{real} "),
    ]
    if real.swapcase() != real:
        ids.append(("the conversation's id in another letter case", real.swapcase()))
    return ids


@scenario(
    "NOTFOUND-UNKNOWN-ID",
    family="semantics",
    requirement="An id that does not exist answers 404 to GET and PATCH, and PATCH creates "
    "nothing; an id of any spelling that names no conversation (quotes, SQL, non-ASCII, a "
    "real id in another letter case or with a trailing space) never answers a conversation "
    "or a 5xx (404; 400 or 422 for an id refused as malformed; a firewall's 403).",
    source=f"{DOCS}; {SEED} (conversation_id: string)",
)
def unknown_id(ctx: Context) -> None:
    absent = ctx.unknown_id()
    ctx.expect_status(ctx.get(absent), 404, "GET of an unknown id")
    for what, odd in odd_ids(absent, ctx.writable_id):  # only read: a quote never writes
        ctx.mark()
        sent = ctx.get(odd)
        if sent.status in ID_REFUSED:
            continue
        body = sent.json_body if isinstance(sent.json_body, dict) else {}
        served = f", conversation {body.get('id')!r}" if "id" in body else ""
        ctx.fail(f"GET of {what} ({odd[:60]!r}) answered {sent.status}{served}", sent)
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


def _received(message: Any) -> Any:
    """A message's receivedAt as an instant (None if it has none the fragment allows)."""
    at = message.get("receivedAt") if isinstance(message, dict) else None
    found = instant(at) if isinstance(at, str) else None
    return found[0] if found else None


@scenario(
    "META-RECENT-MESSAGES",
    family="semantics",
    requirement="GET with message_limit=N answers the N most recent messages of the "
    "conversation (by receivedAt; 50 without it) and changes nothing else: messageCount stays "
    "the conversation's count, and lastMessageAt is no earlier than the newest message.",
    source=f"{DOCS} (Get Conversation: message_limit, how many recent messages)",
)
def recent_messages(ctx: Context) -> None:
    def attempt(ctx: Context) -> None:
        whole = ctx.read(ctx.writable_id).json_body
        messages = [m for m in whole.get("messages") or [] if isinstance(m, dict)]
        count = whole.get("messageCount")
        if isinstance(count, int) and len(messages) != min(count, 50):  # the default limit
            ctx.fail(
                f"GET answered {plural(len(messages), 'message')} of {count} "
                "(message_limit's default is 50)",
                ctx.exchanges[-1],
            )
        times = [_received(m) for m in messages]
        if len(messages) < 2 or None in times:
            raise NotApplicable(
                f"conversation {ctx.writable_id} shows fewer than 2 messages with a receivedAt: "
                "nothing to choose the most recent from"
            )
        newest = sorted(times, reverse=True)
        last = instant(whole.get("lastMessageAt") or "")
        if last is not None and last[0] < newest[0]:
            ctx.fail(
                f"lastMessageAt {whole.get('lastMessageAt')} is earlier than the newest "
                "message's receivedAt",
                ctx.exchanges[-1],
            )
        for limit in (1, 2, 100):
            sent = ctx.get(ctx.writable_id, params={"message_limit": str(limit)})
            body = sent.json_body
            if sent.status not in SUCCESS or not isinstance(body, dict):
                ctx.expect_status(sent, SUCCESS, f"GET with message_limit={limit}")
                continue
            got = [m for m in body.get("messages") or [] if isinstance(m, dict)]
            expected = min(limit, count if isinstance(count, int) else len(messages))
            if limit <= len(newest):  # the default page shows which are the most recent
                floor = newest[limit - 1]
                older = [m.get("id") for m in got if (_received(m) or floor) < floor]
            else:  # a longer page than the default one: it holds at least all of that one
                shown = {m.get("id") for m in got}
                older = [f"not {m.get('id')}" for m in messages if m.get("id") not in shown]
            if len(got) != expected:
                ctx.fail(
                    f"GET with message_limit={limit} answered "
                    f"{plural(len(got), 'message')} of {count}",
                    sent,
                )
            elif older:
                ctx.fail(
                    f"GET with message_limit={limit} answered {', '.join(map(str, older))}, not "
                    f"the {limit} most recent message(s)",
                    sent,
                )
            changed = [f for f in drifted_since(whole, body) if f != "messages"]
            if changed:
                ctx.fail(
                    f"GET with message_limit={limit} also changed {_fields(changed, whole, body)}",
                    sent,
                )

    _twice_reproduced(ctx, attempt)


@scenario(
    "LIST-PAGES",
    family="semantics",
    requirement="The list of conversations pages as documented: the most recent lastMessageAt "
    "first, limit and offset cut that one order into pages (offset=1 starts at the second; "
    "without them, limit 20 and offset 0), a page holds every conversation up to its limit, "
    "total is the same on every page and hasMore says whether a later page exists.",
    source=f"{DOCS} (List Conversations: limit, offset, hasMore, total)",
)
@needs_list
def list_pages(ctx: Context) -> None:
    _twice_reproduced(ctx, _pages)


def _page(ctx: Context, params: dict[str, str]) -> tuple[Sent, list[dict[str, Any]]]:
    """One page of the primary account's list: the answer and its summaries (or a finding)."""
    sent = ctx.send(
        "GET",
        LIST_PATH,
        authorization=ctx.bearer(ctx.target.primary),
        params=params or None,
        path_template=LIST_PATH,
    )
    data = sent.json_body.get("data") if isinstance(sent.json_body, dict) else None
    if sent.status != 200 or not isinstance(data, list):
        shown = "&".join(f"{k}={v}" for k, v in params.items()) or "no parameters"
        ctx.fail(f"the list with {shown} answered {sent.status} without a page", sent)
        raise Abort
    return sent, [s for s in data if isinstance(s, dict)]


def _ids(summaries: list[dict[str, Any]]) -> list[Any]:
    return [s.get("id") for s in summaries]


def _pages(ctx: Context) -> None:
    full, summaries = _page(ctx, LIST_PAGE)
    _holds_what_it_counts(ctx, full, summaries)
    offset = str(len(summaries) + 1000)
    past, beyond = _page(ctx, {"limit": "1", "offset": offset})
    more = past.json_body.get("hasMore") if isinstance(past.json_body, dict) else None
    if beyond or more is True:
        ctx.fail(
            f"the page past the end (offset {offset}) shows {len(beyond)} conversations and "
            f"hasMore {json.dumps(more)}",
            past,
        )
    if len(summaries) < 2:
        raise NotApplicable("the account lists fewer than 2 conversations: nothing to page")
    _newest_first(ctx, full, summaries)
    plain, shown = _page(ctx, {})
    if len(shown) != len(summaries[:20]) or (
        _ids(shown) != _ids(summaries[:20]) and not _ties_only(summaries, shown)
    ):
        ctx.fail(
            "the list without limit and offset is not its first 20 conversations (the "
            "documented defaults: limit 20, offset 0)",
            plain,
        )
    first_sent, first = _page(ctx, {"limit": "1", "offset": "0"})
    second_sent, second = _page(ctx, {"limit": "1", "offset": "1"})
    tied = summaries[0].get("lastMessageAt") == summaries[1].get("lastMessageAt")
    for sent, got, index in ((first_sent, first, 0), (second_sent, second, 1)):
        if len(got) != 1:
            ctx.fail(f"the list with limit=1 answered {len(got)} conversations", sent)
        elif got[0].get("id") != summaries[index].get("id") and not (
            tied and got[0].get("id") in _ids(summaries[:2])  # equals may come in any order
        ):
            ctx.fail(
                f"the list with limit=1&offset={index} shows {got[0].get('id')}, where the "
                f"page of {LIST_PAGE['limit']} shows {summaries[index].get('id')} at "
                f"position {index + 1}",
                sent,
            )
    if first and second and first[0].get("id") == second[0].get("id"):
        ctx.fail("offset=0 and offset=1 show the same conversation", second_sent)
    bodies = [s.json_body for s in (full, first_sent, second_sent)]
    totals = {b.get("total") for b in bodies if isinstance(b, dict) and "total" in b}
    if len(totals) > 1:
        ctx.fail(f"total differs from page to page: {sorted(map(str, totals))}", second_sent)
    if isinstance(first_sent.json_body, dict) and first_sent.json_body.get("hasMore") is False:
        ctx.fail("the page limit=1&offset=0 says hasMore: false, yet there is a second", first_sent)
    if 3 <= len(summaries) < int(LIST_PAGE["limit"]):  # the whole list on the full page
        _last_page(ctx, summaries)


def _last_page(ctx: Context, summaries: list[dict[str, Any]]) -> None:
    """The last two conversations, as a page of 2: both of them, and no later page."""
    offset = len(summaries) - 2
    sent, last = _page(ctx, {"limit": "2", "offset": str(offset)})
    more = sent.json_body.get("hasMore") if isinstance(sent.json_body, dict) else None
    if len(last) != 2 or more is True:
        ctx.fail(
            f"the last page (limit=2&offset={offset} of {len(summaries)}) shows {len(last)} "
            f"conversations and hasMore {json.dumps(more)}",
            sent,
        )


def _newest_first(ctx: Context, full: Sent, summaries: list[dict[str, Any]]) -> None:
    times = [instant(s.get("lastMessageAt") or "") for s in summaries]
    if None in times:
        return  # no lastMessageAt to order by: the order is not judged
    moments = [t[0] for t in times if t is not None]
    late = next((i for i in range(1, len(moments)) if moments[i] > moments[i - 1]), None)
    if late is not None:
        ctx.fail(
            f"the list is not newest first: {summaries[late].get('id')} (lastMessageAt "
            f"{summaries[late].get('lastMessageAt')}) comes after "
            f"{summaries[late - 1].get('id')} ({summaries[late - 1].get('lastMessageAt')})",
            full,
        )


def _holds_what_it_counts(ctx: Context, full: Sent, summaries: list[dict[str, Any]]) -> None:
    """A page holds every conversation up to its limit, as total and hasMore say."""
    body = full.json_body if isinstance(full.json_body, dict) else {}
    total, more, limit = body.get("total"), body.get("hasMore"), int(LIST_PAGE["limit"])
    if isinstance(total, int) and len(summaries) != min(total, limit):
        ctx.fail(f"the page shows {len(summaries)} conversations of a total of {total}", full)
    if more is True and len(summaries) < limit:
        ctx.fail(f"hasMore is true on a page of {len(summaries)} (limit {limit})", full)
    whole = (isinstance(total, int) and total <= limit) or len(summaries) < limit
    if whole and ctx.writable_id not in _ids(summaries):  # the page holds them all
        ctx.fail(
            f"the list of all the account's conversations ({len(summaries)} on a page of "
            f"{limit}) misses {ctx.writable_id}, which GET shows",
            full,
        )


def _ties_only(summaries: list[dict[str, Any]], shown: list[dict[str, Any]]) -> bool:
    """Do two orders of the same conversations differ only among equal lastMessageAt?"""
    head = summaries[: len(shown)]
    if sorted(map(str, _ids(shown))) != sorted(map(str, _ids(head))):
        return False
    at = {s.get("id"): s.get("lastMessageAt") for s in summaries}
    return [at.get(i) for i in _ids(shown)] == [s.get("lastMessageAt") for s in head]
