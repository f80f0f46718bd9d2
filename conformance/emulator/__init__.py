"""A local AgentPhone Conversations API that behaves as the live one does, with faults.

It stands beside the suite and imports none of it: `App` is a plain request -> response
handler over the `State` dataclass, `Emulator` serves it over HTTP, and `FAULTS` is the
catalogue of switches that make it non-conformant on purpose. `Webhooks` holds each
account's webhook and POSTs `agent.message` events (signed, retried) when a message arrives
through `Emulator.arrive` or `POST /_emulator/conversations/{id}/messages`.
"""

from __future__ import annotations

from ._app import App, Request, Response
from ._faults import EDITIONS, FAMILIES, FAULTS, Fault, UnknownFaultError, parse_faults
from ._server import Emulator
from ._state import (
    Account,
    Conversation,
    Message,
    Reaction,
    State,
    seeded_state,
    state_from_answers,
)
from ._webhooks import Delivery, HttpTransport, Outgoing, WebhookConfig, Webhooks, sign

__all__ = [
    "EDITIONS",
    "FAMILIES",
    "FAULTS",
    "Account",
    "App",
    "Conversation",
    "Delivery",
    "Emulator",
    "Fault",
    "HttpTransport",
    "Message",
    "Outgoing",
    "Reaction",
    "Request",
    "Response",
    "State",
    "UnknownFaultError",
    "WebhookConfig",
    "Webhooks",
    "parse_faults",
    "seeded_state",
    "sign",
    "state_from_answers",
]
