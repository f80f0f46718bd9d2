"""Who may read and write: refusals for every bad credential, nothing changed by a refused
request, and no way into another account's conversations.
"""

from __future__ import annotations

from ..core import Account, key_variants
from ..model import Level
from ._context import LIST_PAGE, LIST_PATH, SUCCESS, Context, same_json
from ._registry import needs_second_account, needs_writes, scenario
from .semantics import _short, canary
from .sources import DOCS, RFC9110_401, SEED

__all__ = ["FOREIGN_REFUSED", "REFUSED", "unknown_key"]

REFUSED = {401, 403}
# Another account's conversation may be hidden (404) or refused (401/403): either is safe.
FOREIGN_REFUSED = {401, 403, 404}


def _probe(ctx: Context, authorization: str | None, label: str, *, refused: set[int]) -> None:
    """GET, and (unless read-only) PATCH, the writable conversation with a bad credential."""
    ctx.mark()
    ctx.expect_status(
        ctx.get(ctx.writable_id, authorization=authorization), refused, f"GET with {label}"
    )
    if not ctx.read_only:
        sent = ctx.patch(
            ctx.writable_id, {"metadata": canary(ctx, "refused-write")}, authorization=authorization
        )
        ctx.expect_status(sent, refused, f"PATCH with {label}")


def unknown_key(ctx: Context) -> str:
    return f"ape_conformance_unknown_{ctx.rng.getrandbits(96):024x}"


@scenario(
    "AUTH-MISSING-REJECTED",
    family="auth",
    requirement="A request without an Authorization header is refused with 401 (or 403).",
    source=f"{SEED} (Authorization: Bearer); {DOCS} (HTTPBearer answered 403 until recently)",
)
def missing_rejected(ctx: Context) -> None:
    _probe(ctx, None, "no Authorization header", refused=REFUSED)


@scenario(
    "AUTH-MALFORMED-REJECTED",
    family="auth",
    requirement="A malformed Authorization header (an empty bearer token, no scheme, another "
    "scheme even with a valid key) is refused with 401 (or 403).",
    source=f"{SEED} (Bearer <token>); {RFC9110_401}",
)
def malformed_rejected(ctx: Context) -> None:
    key = ctx.target.primary.api_key
    for label, header in (
        ("the scheme alone (an empty bearer token)", "Bearer"),
        ("the key without a scheme", key),
        ("the key under the Basic scheme", f"Basic {key}"),
        ("the key under a Token scheme", f"Token {key}"),
    ):
        _probe(ctx, header, label, refused=REFUSED)


@scenario(
    "AUTH-UNKNOWN-KEY-REJECTED",
    family="auth",
    requirement="A bearer token that is no account's key - unknown, or a valid key changed by "
    "one character or in letter case - is refused with 401 (or 403).",
    source=SEED,
)
def unknown_key_rejected(ctx: Context) -> None:
    _probe(ctx, f"Bearer {unknown_key(ctx)}", "an unknown key", refused=REFUSED)
    for label, variant, _shell in key_variants(ctx.target.primary):
        _probe(ctx, f"Bearer {variant}", label, refused=REFUSED)


@scenario(
    "AUTH-SCHEME-ANY-CASE",
    family="auth",
    level=Level.ADVISORY,
    requirement="A valid key under the Bearer scheme in another letter case (bearer, BEARER) "
    "is accepted: an authentication scheme is case-insensitive.",
    source="RFC 9110 section 11.1 (the scheme is a case-insensitive token); RFC 6750",
)
def scheme_any_case(ctx: Context) -> None:
    key = ctx.target.primary.api_key
    for scheme in ("bearer", "BEARER"):
        sent = ctx.get(ctx.writable_id, authorization=f"{scheme} {key}")
        ctx.expect_status(sent, SUCCESS, f"GET with the valid key under the scheme {scheme!r}")


@scenario(
    "AUTH-REFUSED-NO-STATE-CHANGE",
    family="auth",
    requirement="A PATCH refused for its credentials changes nothing (a GET with the right key "
    "shows the metadata as it was).",
    source="ours: a refusal that still writes is a write without authorization",
)
@needs_writes
def refused_changes_nothing(ctx: Context) -> None:
    written = canary(ctx, "refused-no-change")
    if not ctx.expect_status(
        ctx.patch(ctx.writable_id, {"metadata": written}), SUCCESS, "setting up"
    ):
        return
    # What is stored now, however the target stored it: only a change from here is judged.
    kept = ctx.read(ctx.writable_id).json_body.get("metadata")
    for label, header in (
        ("no Authorization header", None),
        ("an unknown key", f"Bearer {unknown_key(ctx)}"),
        ("an empty bearer token", "Bearer"),
    ):
        refused = ctx.patch(
            ctx.writable_id, {"metadata": canary(ctx, "must-not-land")}, authorization=header
        )
        if refused.status not in REFUSED:
            continue  # accepted: AUTH-*-REJECTED reports it; only refusals are judged here
        after = ctx.read(ctx.writable_id).json_body.get("metadata")
        if not same_json(after, kept):
            ctx.fail(
                f"a PATCH with {label} was refused ({refused.status}) but GET now shows "
                f"{_short(after)}",
                refused,
            )
            ctx.patch(ctx.writable_id, {"metadata": kept})
            kept = ctx.read(ctx.writable_id).json_body.get("metadata")


def _theirs(ctx: Context) -> tuple[Account, Account]:
    assert ctx.target.second is not None
    return ctx.target.primary, ctx.target.second


@scenario(
    "AUTH-CROSS-TENANT-READ",
    family="auth",
    requirement="One account's key cannot read another account's conversation (404, or "
    "401/403), nor find it in its list of conversations.",
    source=f"{DOCS} (keys are per account); 404 so that existence is not leaked",
)
@needs_second_account
def cross_tenant_read(ctx: Context) -> None:
    ours, theirs = _theirs(ctx)
    sent = ctx.get(ctx.writable_id, account=theirs)
    ctx.expect_status(sent, FOREIGN_REFUSED, "the second account's key reading our conversation")
    for conversation_id in theirs.conversation_ids:
        sent = ctx.get(conversation_id, account=ours)
        ctx.expect_status(sent, FOREIGN_REFUSED, "our key reading the second account's")
    for reader, owner in ((ours, theirs), (theirs, ours)):
        if reader.key_env not in ctx.run.snapshot.listed:
            continue  # no list of conversations: nothing more to read
        page = ctx.send(
            "GET",
            LIST_PATH,
            authorization=ctx.bearer(reader),
            params=LIST_PAGE,
            path_template=LIST_PATH,
        )
        data = page.json_body.get("data") if isinstance(page.json_body, dict) else None
        listed = (
            [s.get("id") for s in data if isinstance(s, dict)] if isinstance(data, list) else []
        )
        leaked = [cid for cid in owner.conversation_ids if cid in listed]
        if leaked:
            who = "our key's" if reader is ours else "the second account's key's"
            ctx.fail(
                f"{who} list of conversations shows the other account's {', '.join(leaked)}", page
            )


@scenario(
    "AUTH-CROSS-TENANT-WRITE",
    family="auth",
    requirement="One account's key cannot change another account's conversations: refused "
    "(404, or 401/403), and the owner still sees every one of its conversations as it was, "
    "however the refusal was answered.",
    source=f"{DOCS} (keys are per account)",
)
@needs_second_account
@needs_writes
def cross_tenant_write(ctx: Context) -> None:
    ours, theirs = _theirs(ctx)
    for writer, owner, conversation_id in (
        (theirs, ours, ctx.writable_id),
        (ours, theirs, theirs.conversation_ids[0]),
    ):
        written = canary(ctx, "cross-tenant")
        sent = ctx.patch(conversation_id, {"metadata": written}, account=writer)
        who = "the second account's key" if writer is theirs else "our key"
        ctx.expect_status(sent, FOREIGN_REFUSED, f"{who} writing a conversation it does not own")
        for owned in _owned(ctx, owner):
            after = ctx.get(owned, account=owner)
            now = after.json_body.get("metadata") if isinstance(after.json_body, dict) else None
            if after.status in SUCCESS and same_json(now, written):
                where = "that conversation" if owned == conversation_id else f"its {owned}"
                ctx.fail(
                    f"{who} wrote the owner's conversation {conversation_id} (answered "
                    f"{sent.status}): {where} now holds {_short(now)}",
                    sent,
                )


def _owned(ctx: Context, owner: Account) -> list[str]:
    """The owner's conversations the run knows: the ones given and its list's first page."""
    listed = [cid for (env, cid) in ctx.run.snapshot.neighbours if env == owner.key_env]
    return list(dict.fromkeys([*owner.conversation_ids, *listed]))
