"""The emulator's data for the mutation job: the seeded state, with enough of it that a
default or a page boundary shows.

The emulator's own seed has 3 messages on its busy conversation and 2 conversations an
account: a default `message_limit` of 49 instead of 50, a default list page of 19 instead of
20, or `hasMore` computed with `|` instead of `+`, answer exactly as the original does for
every request. Here the busy conversation has 60 messages and the first account 24
conversations, so each of those answers differently - to the requests the suite sends, if it
sends the right ones. Nothing else changes: the same accounts, keys and conversations first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from conformance.emulator._state import Conversation, Message, State, seeded_state

__all__ = ["EXTRA_CONVERSATIONS", "EXTRA_MESSAGES", "rich_state"]

EXTRA_MESSAGES = 57  # the busy conversation: 60 messages, past the default limit of 50
EXTRA_CONVERSATIONS = 22  # the first account: 24 conversations, past the list's default of 20


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def rich_state() -> State:
    state = seeded_state()
    first = state.accounts[0]
    busy = next(c for c in state.conversations_of(first) if c.messages)
    for n in range(EXTRA_MESSAGES):
        busy.messages.insert(
            0,  # older than the seeded ones: the latest stay the latest
            Message(
                id=f"msg_history_{n:03d}",
                body=f"An earlier message, number {n}",
                from_number=busy.participant,
                to_number=busy.phone_number,
                direction="inbound",
                received_at=_at(datetime(2024, 1, 1) + timedelta(hours=n)),
            ),
        )
    for n in range(EXTRA_CONVERSATIONS):
        conversation = Conversation(
            id=f"conv_history_{n:03d}",
            account=first.name,
            phone_number_id=busy.phone_number_id,
            phone_number=busy.phone_number,
            participant=f"+1415555{n:04d}",
            created_at=f"2023-12-{n + 1:02d}T12:00:00Z",
            metadata={"archived": n},
        )
        conversation.messages.append(
            Message(
                id=f"msg_history_conv_{n:03d}",
                body="Closed",
                from_number=conversation.participant,
                to_number=conversation.phone_number,
                direction="inbound",
                received_at=f"2023-12-{n + 1:02d}T13:00:00Z",
            )
        )
        state.conversations[conversation.id] = conversation
    return state
