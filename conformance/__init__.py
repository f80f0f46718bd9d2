"""agentphone-conformance: contract tests and a conformance suite for the AgentPhone
Conversations API (`PATCH /v1/conversations/{conversation_id}`)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
