"""A local AgentPhone Conversations API that behaves as the live one does, with faults.

It stands beside the suite and imports none of it: `App` is a plain request -> response
handler over the `State` dataclass, `Emulator` serves it over HTTP, and `FAULTS` is the
catalogue of switches that make it non-conformant on purpose.
"""

from __future__ import annotations

from ._app import App, Request, Response
from ._faults import EDITIONS, FAMILIES, FAULTS, Fault, UnknownFaultError, parse_faults
from ._server import Emulator
from ._state import Account, Conversation, Message, Reaction, State, seeded_state

__all__ = [
    "EDITIONS",
    "FAMILIES",
    "FAULTS",
    "Account",
    "App",
    "Conversation",
    "Emulator",
    "Fault",
    "Message",
    "Reaction",
    "Request",
    "Response",
    "State",
    "UnknownFaultError",
    "parse_faults",
    "seeded_state",
]
