"""HTTP as RFC 9110 has it, where the seed says nothing: unsupported methods, validators."""

from __future__ import annotations

from ..model import Level
from ._context import CONVERSATION_PATH, SUCCESS, Context, NotApplicable, conversation_path
from ._registry import needs_writes, scenario
from .sources import RFC9110_METHOD

__all__: list[str] = []


@scenario(
    "HTTP-UNSUPPORTED-METHOD",
    family="http",
    level=Level.ADVISORY,
    requirement="PUT, POST and DELETE on a conversation are refused (405, 404, or 501 from a "
    "server that implements the method for nothing), never served or crashed on.",
    source=RFC9110_METHOD,
)
def unsupported_methods(ctx: Context) -> None:
    # Sent to an id that cannot exist: if the target does support one of these methods,
    # no real conversation is replaced or deleted.
    path = conversation_path(ctx.unknown_id())
    for method in ("PUT", "POST", "DELETE"):
        ctx.mark()
        body = None if method == "DELETE" else b'{"metadata": {}}'
        sent = ctx.send(
            method,
            path,
            authorization=ctx.bearer(ctx.target.primary),
            content=body,
            headers={"Content-Type": "application/json"} if body else None,
            path_template=CONVERSATION_PATH,
        )
        ctx.expect_status(sent, {404, 405, 501}, f"{method} on a conversation")


@scenario(
    "HTTP-VALIDATORS-CHANGE",
    family="http",
    requirement="When a conversation's answers carry an ETag, a PATCH that changes its "
    "metadata changes the ETag: a GET with If-None-Match and the earlier one is answered 200 "
    "with the new metadata, never 304 Not Modified (a client's or a proxy's cache would keep "
    "the old metadata).",
    source="RFC 9110 sections 8.8.3 (an entity tag changes with the representation) and 13.1.2",
)
@needs_writes
def validators_change(ctx: Context) -> None:
    first = ctx.get(ctx.writable_id)
    tag = first.response.headers.get("ETag")
    if not tag:
        raise NotApplicable("the target sends no ETag with a conversation: nothing to validate")
    written = {"conformance": "validators", "nonce": f"{ctx.rng.getrandbits(48):012x}"}
    patched = ctx.patch(ctx.writable_id, {"metadata": written})
    if patched.status not in SUCCESS:
        ctx.expect_status(patched, SUCCESS, "writing metadata")
        return
    again = ctx.send(
        "GET",
        conversation_path(ctx.writable_id),
        authorization=ctx.bearer(ctx.target.primary),
        headers={"If-None-Match": tag},
        path_template=CONVERSATION_PATH,
    )
    if again.status == 304:
        ctx.fail(
            f"after a PATCH changed the metadata, a GET with If-None-Match: {tag} was answered "
            "304 Not Modified: the ETag did not change with the conversation",
            again,
        )
