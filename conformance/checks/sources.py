"""Where requirements come from, named once so every check cites them the same way."""

from __future__ import annotations

__all__ = [
    "DOCS",
    "FASTAPI",
    "RFC9110_5XX",
    "RFC9110_401",
    "RFC9110_405",
    "RFC9110_METHOD",
    "SEED",
    "WEBHOOK_DOCS",
]

SEED = "seed page (vendor reference: Update Conversation)"
DOCS = "vendor docs (Conversations API: semantics, errors, Get Conversation)"
WEBHOOK_DOCS = "vendor webhook docs and SDK (agent.message payload, verify_webhook)"
FASTAPI = "vendor docs: FastAPI validation errors"
RFC9110_401 = "RFC 9110 section 11.6.1 and 15.5.2 (401 sends WWW-Authenticate)"
RFC9110_405 = "RFC 9110 section 15.5.6 (405 sends Allow)"
RFC9110_METHOD = "RFC 9110 sections 15.5.6 (405) and 15.6.2 (501: a method implemented for nothing)"
RFC9110_5XX = "RFC 9110 section 15.6 (5xx: the server failed)"
