"""Generic HTTP hygiene the seed does not promise: advisory."""

from __future__ import annotations

from ..model import Level
from ._context import CONVERSATION_PATH, Context, conversation_path
from ._registry import scenario
from .sources import RFC9110_405

__all__: list[str] = []


@scenario(
    "HTTP-UNSUPPORTED-METHOD",
    family="http",
    level=Level.ADVISORY,
    requirement="PUT, POST and DELETE on a conversation are refused (405, or 404), never served "
    "or crashed on.",
    source=RFC9110_405,
)
def unsupported_methods(ctx: Context) -> None:
    # Sent to an id that cannot exist: if the target does support one of these methods,
    # no real conversation is replaced or deleted.
    path = conversation_path(ctx.unknown_id())
    for method in ("PUT", "POST", "DELETE"):
        body = None if method == "DELETE" else b'{"metadata": {}}'
        sent = ctx.send(
            method,
            path,
            authorization=ctx.bearer(ctx.target.primary),
            content=body,
            headers={"Content-Type": "application/json"} if body else None,
            path_template=CONVERSATION_PATH,
        )
        ctx.expect_status(sent, {404, 405}, f"{method} on a conversation")
