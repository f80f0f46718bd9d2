"""Independent AgentPhone Conversations API servers, written as ordinary FastAPI apps.

They exist to show that the conformance suite raises no false alarm against
conformant servers it was not designed around. Three base apps:

- :mod:`.seed_app` - the seed edition, in-memory dict, FastAPI's default errors;
- :mod:`.current_app` - the current edition (group fields, list endpoint) on SQLite;
- :mod:`.envelope_app` - the current edition with the vendor's error envelope for
  every non-422 error;

plus deployment wrappers in :mod:`.wrappers` and :func:`serve` to run any of them.

Every base app exposes ``app.state.accounts`` (``[(api_key, [conversation ids]), ...]``
for account 1 then account 2), ``app.state.metadata_snapshot()``
(``{conversation_id: metadata}`` for every stored conversation),
``app.state.seeded_metadata`` (that snapshot taken at creation) and
``app.state.edition`` (``"seed"`` or ``"current"``). :func:`base_app` finds the base
app under any stack of wrappers.

Webhooks: :mod:`.current_app` and :mod:`.envelope_app` also have the vendor's webhook
surface (``POST``/``GET``/``DELETE /v1/webhooks``, a new secret on every registration)
and a test-support route of their own, ``POST /testing/inbound`` with
``{"conversation": id, "text": ...}`` and the account's key, that makes a message arrive
and queues a signed ``agent.message`` delivery to the account's webhook, if it has one
(:mod:`._webhooks`; ``trigger.py`` calls that route as a user's ``--webhook-trigger``
would). They differ where the contract is silent: current_app leaves out a null
``conversationState``, sends chunked bodies with lower-case header names after a random
delay and a ``conversation.updated`` event after every PATCH; envelope_app sends
``conversationState: null``, members of its own, and every delivery twice (same
``X-Webhook-ID``, same bytes, signed afresh). Deliveries come from one background thread
per app, started by the first delivery and stopped by ``app.state.close()``, which
:func:`serve` calls when the server stops.

:data:`VARIANTS` (also in :data:`SERVERS`): each makes one more choice a careful conformant
server may make where the contract is silent, through an option of a base app or a wrapper
of :mod:`.wrappers`: date-times spelled per operation, a 16 KiB metadata limit, jsonb
storage, 415 for a non-JSON body, 400 for malformed JSON, 403 for a missing key, RFC 9457
problem details, a clamped ``message_limit``, unknown members refused, ``updatedAt`` and
``version``, the API moved under ``/api`` (308), an unusual spelling of the JSON media type,
deflate, messages arriving all the while, and 501 for methods it implements for nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import current_app, envelope_app, seed_app
from ._serve import Server, serve
from .wrappers import (
    base_app,
    with_501_for_other_methods,
    with_api_prefix,
    with_brotli,
    with_datetime_styles,
    with_deflate,
    with_gzip,
    with_json_only,
    with_media_type,
    with_problem_details,
    with_rate_limit,
    with_slow_network,
    with_strict_json,
)

__all__ = ["SERVERS", "VARIANTS", "Server", "base_app", "serve"]

METADATA_BYTE_LIMIT = 16 * 1024

ENVELOPE_RATE_LIMIT_BODY = {
    "error": {
        "message": "Too many requests. Please retry later.",
        "code": "RATE_LIMIT_EXCEEDED",
        "type": "rate_limit_error",
        "details": [],
    }
}


def _current_gateway() -> Any:
    """The current edition behind a proxy: latency, relabelled media type, gzip."""
    app: Any = current_app.create_app()
    app = with_slow_network(app, delay=0.005, chunk_size=128)
    app = with_media_type(app, content_type="application/json;charset=UTF-8")
    return with_gzip(app)


VARIANTS: dict[str, Callable[[], Any]] = {
    "current-datetimes": lambda: with_datetime_styles(current_app.create_app()),
    "seed-size-limit": lambda: seed_app.create_app(metadata_byte_limit=METADATA_BYTE_LIMIT),
    "current-jsonb": lambda: current_app.create_app(jsonb=True),
    "seed-415": lambda: with_json_only(seed_app.create_app()),
    "seed-400-malformed": lambda: with_strict_json(seed_app.create_app()),
    "seed-403-missing-key": lambda: seed_app.create_app(legacy_bearer=True),
    "current-problem-json": lambda: with_problem_details(current_app.create_app()),
    "seed-clamps-limit": lambda: seed_app.create_app(clamp_message_limit=True),
    "seed-forbids-extra": lambda: seed_app.create_app(forbid_extra=True),
    "current-updated-at": lambda: current_app.create_app(track_updates=True),
    "seed-redirect": lambda: with_api_prefix(seed_app.create_app()),
    "seed-media-case": lambda: with_media_type(
        seed_app.create_app(), content_type="Application/JSON; Charset=UTF-8"
    ),
    "seed-deflate": lambda: with_deflate(seed_app.create_app()),
    "current-live": lambda: current_app.create_app(live=True),
    "seed-501-methods": lambda: with_501_for_other_methods(seed_app.create_app()),
    "seed-409-busy": lambda: seed_app.create_app(conflict_when_busy=True, write_delay=0.02),
    "seed-etags": lambda: seed_app.create_app(etags=True),
}
"""Conformant servers, each making one choice where the contract is silent."""

SERVERS: dict[str, Callable[[], Any]] = {
    "seed-fastapi": seed_app.create_app,
    "current-sqlite": current_app.create_app,
    "envelope-errors": envelope_app.create_app,
    "seed-gzip": lambda: with_gzip(seed_app.create_app()),
    "seed-charset": lambda: with_media_type(seed_app.create_app()),
    "current-brotli": lambda: with_brotli(current_app.create_app()),
    "current-ratelimited": lambda: with_rate_limit(
        current_app.create_app(), max_requests=25, window=1.0
    ),
    "current-gateway": _current_gateway,
    "envelope-slow": lambda: with_slow_network(envelope_app.create_app(), delay=0.01),
    "envelope-ratelimited": lambda: envelope_app.create_app(rate_limit=(25, 1.0)),
    "envelope-gzip-ratelimited": lambda: with_rate_limit(
        with_gzip(envelope_app.create_app()),
        max_requests=25,
        window=1.0,
        body=ENVELOPE_RATE_LIMIT_BODY,
    ),
    **VARIANTS,
}
