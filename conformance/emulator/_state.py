"""The emulator's state: accounts, conversations, messages and reactions, as dataclasses.

The seeded data is the same on every start, so a run, a test or a bug report can name
conversation ids and API keys without asking the emulator first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LATER_CONVERSATION_FIELDS",
    "LATER_MESSAGE_FIELDS",
    "Account",
    "Conversation",
    "Message",
    "Reaction",
    "State",
    "copy_json",
    "seeded_state",
    "state_from_answers",
]

JSONObject = dict[str, Any]

# What the vendor added after the seed page (the current edition): a seed-edition emulator
# answers without them.
LATER_CONVERSATION_FIELDS = frozenset(
    {"isGroup", "groupId", "groupName", "groupIconUrl", "participants", "channel"}
)
LATER_MESSAGE_FIELDS = frozenset({"senderIdentifier", "replyTo", "status"})

_NAMESPACE = uuid.UUID("5b0e9a4c-3f1d-4e8b-9c2a-6d7f8e9a0b1c")


def _stable_id(prefix: str, name: str) -> str:
    """A realistic-looking id that is the same on every start."""
    return f"{prefix}_{uuid.uuid5(_NAMESPACE, name).hex[:24]}"


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (objects, arrays, scalars): several times faster than
    `copy.deepcopy`, which matters for the megabyte documents the edge probes send."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


@dataclass
class Reaction:
    id: str
    reaction_type: str
    from_number: str
    direction: str
    created_at: str

    def to_json(self) -> JSONObject:
        return {
            "id": self.id,
            "reactionType": self.reaction_type,
            "fromNumber": self.from_number,
            "direction": self.direction,
            "createdAt": self.created_at,
        }


@dataclass
class Message:
    id: str
    body: str
    from_number: str
    to_number: str
    direction: str
    received_at: str
    channel: str | None = "sms"
    media_urls: list[str] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    status: str | None = "delivered"
    pinned: JSONObject = field(default_factory=dict)  # members served as given (a snapshot's)

    def to_json(self) -> JSONObject:
        return {
            "id": self.id,
            "body": self.body,
            "fromNumber": self.from_number,
            "toNumber": self.to_number,
            "direction": self.direction,
            "receivedAt": self.received_at,
            "channel": self.channel,
            # The live API mirrors the first attachment in the older single-URL field.
            "mediaUrl": self.media_urls[0] if self.media_urls else None,
            "mediaUrls": list(self.media_urls),
            "reactions": [reaction.to_json() for reaction in self.reactions],
            # Later vendor additions: tolerated by the contract, served like the live API.
            "senderIdentifier": self.from_number,
            "replyTo": None,
            "status": self.status,
        } | {k: copy_json(v) for k, v in self.pinned.items()}


@dataclass
class Conversation:
    id: str
    account: str
    phone_number_id: str
    phone_number: str
    participant: str
    created_at: str
    messages: list[Message] = field(default_factory=list)
    agent_id: str | None = None
    metadata: JSONObject | None = None
    is_group: bool = False
    group_name: str | None = None
    touched_at: str | None = None  # only a fault sets it: an unrelated field that moves
    # a state taken from another server's answers: messages it did not show (counted, not
    # served), and members served exactly as it wrote them
    hidden_messages: int = 0
    pinned: JSONObject = field(default_factory=dict)
    newest_first: bool = False  # messages served newest first, as that server did

    @property
    def last_message_at(self) -> str:
        if self.touched_at is not None:
            return self.touched_at
        if "lastMessageAt" in self.pinned:
            return str(self.pinned["lastMessageAt"])
        if not self.messages:
            return self.created_at
        return max(message.received_at for message in self.messages)

    def to_json(self, message_limit: int = 50) -> JSONObject:
        """The conversation as GET and PATCH answer it: the latest `message_limit` messages."""
        recent = sorted(self.messages, key=lambda m: m.received_at)[-message_limit:]
        if self.newest_first:
            recent.reverse()
        return {
            "id": self.id,
            "phoneNumberId": self.phone_number_id,
            "phoneNumber": self.phone_number,
            "participant": self.participant,
            "lastMessageAt": self.last_message_at,
            "messageCount": len(self.messages) + self.hidden_messages,
            "createdAt": self.created_at,
            "messages": [message.to_json() for message in recent],
            "agentId": self.agent_id,
            "metadata": copy_json(self.metadata),
            # Later vendor additions.
            "isGroup": self.is_group,
            "groupId": None,
            "groupName": self.group_name,
            "groupIconUrl": None,
            "participants": None,
            "channel": "sms",
        } | {k: copy_json(v) for k, v in self.pinned.items() if k != "lastMessagePreview"}

    def summary_json(self) -> JSONObject:
        """The list view: no messages, a preview of the latest one instead."""
        body = self.to_json(message_limit=1)
        latest = body.pop("messages")
        body["lastMessagePreview"] = latest[0]["body"] if latest else None
        if "lastMessagePreview" in self.pinned:
            body["lastMessagePreview"] = self.pinned["lastMessagePreview"]
        return body


@dataclass
class Account:
    name: str
    api_key: str


@dataclass
class State:
    """Everything the emulator knows. Conversations are keyed by id, across all accounts."""

    accounts: list[Account]
    conversations: dict[str, Conversation]

    def account_for_key(self, api_key: str) -> Account | None:
        return next((a for a in self.accounts if a.api_key == api_key), None)

    def conversations_of(self, account: Account) -> list[Conversation]:
        return [c for c in self.conversations.values() if c.account == account.name]

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "api_key": account.api_key,
                "conversation_ids": [c.id for c in self.conversations_of(account)],
            }
            for account in self.accounts
        ]


def seeded_state() -> State:
    """Two accounts: the first with a busy conversation and a bare one, the second with a
    busy one and a quiet one (no messages)."""
    first = Account(name="account-1", api_key="ape_test_" + uuid.uuid5(_NAMESPACE, "key-1").hex)
    second = Account(name="account-2", api_key="ape_test_" + uuid.uuid5(_NAMESPACE, "key-2").hex)
    line_one, line_two = "+14155550100", "+442071838750"
    busy = Conversation(
        id=_stable_id("conv", "busy"),
        account=first.name,
        phone_number_id=_stable_id("pn", "line-1"),
        phone_number=line_one,
        participant="+14155550123",
        created_at="2024-01-15T09:30:00Z",
        agent_id=_stable_id("agent", "support"),
        metadata={"customerName": "Ada Lovelace", "orderId": "ORD-1042", "tier": 2},
        messages=[
            Message(
                id=_stable_id("msg", "busy-1"),
                body="Hi, where is my order?",
                from_number="+14155550123",
                to_number=line_one,
                direction="inbound",
                received_at="2024-01-15T09:30:00Z",
            ),
            Message(
                id=_stable_id("msg", "busy-2"),
                body="It ships today. Tracking to follow.",
                from_number=line_one,
                to_number="+14155550123",
                direction="outbound",
                received_at="2024-01-15T09:31:12.250000Z",
                reactions=[
                    Reaction(
                        id=_stable_id("rx", "busy-2-like"),
                        reaction_type="like",
                        from_number="+14155550123",
                        direction="inbound",
                        created_at="2024-01-15T09:32:00Z",
                    )
                ],
            ),
            Message(
                id=_stable_id("msg", "busy-3"),
                body="Thanks! 🎉",
                from_number="+14155550123",
                to_number=line_one,
                direction="inbound",
                received_at="2024-01-15T09:33:40Z",
                channel=None,
                media_urls=["https://media.example.com/receipt.png"],
            ),
        ],
    )
    bare = Conversation(
        id=_stable_id("conv", "bare"),
        account=first.name,
        phone_number_id=_stable_id("pn", "line-1"),
        phone_number=line_one,
        participant="+14155550199",
        created_at="2024-02-01T12:00:00Z",
        agent_id=None,
        metadata=None,
    )
    other = Conversation(
        id=_stable_id("conv", "other-tenant"),
        account=second.name,
        phone_number_id=_stable_id("pn", "line-2"),
        phone_number=line_two,
        participant="+447700900321",
        created_at="2024-03-10T08:15:00Z",
        agent_id=_stable_id("agent", "sales"),
        metadata={"source": "web"},
        messages=[
            Message(
                id=_stable_id("msg", "other-1"),
                body="Hello from the other account",
                from_number="+447700900321",
                to_number=line_two,
                direction="inbound",
                received_at="2024-03-10T08:15:00Z",
            )
        ],
    )
    quiet = Conversation(
        id=_stable_id("conv", "other-quiet"),
        account=second.name,
        phone_number_id=_stable_id("pn", "line-2"),
        phone_number=line_two,
        participant="+447700900654",
        created_at="2024-03-01T10:00:00Z",
        agent_id=None,
        metadata={"source": "import", "tags": ["legacy"]},
    )
    return State(
        accounts=[first, second],
        conversations={c.id: c for c in (busy, bare, other, quiet)},
    )


# What a conversation's answer holds that the state keeps in fields of its own.
_KEPT = frozenset({"id", "metadata", "messages", "messageCount"})


def _message_from(answer: JSONObject) -> Message:
    reactions = [
        Reaction(
            id=str(r.get("id", "")),
            reaction_type=str(r.get("reactionType", "")),
            from_number=str(r.get("fromNumber", "")),
            direction=str(r.get("direction", "")),
            created_at=str(r.get("createdAt", "")),
        )
        for r in answer.get("reactions") or []
        if isinstance(r, dict)
    ]
    message = Message(
        id=str(answer.get("id", "")),
        body=str(answer.get("body", "")),
        from_number=str(answer.get("fromNumber", "")),
        to_number=str(answer.get("toNumber", "")),
        direction=str(answer.get("direction", "")),
        received_at=str(answer.get("receivedAt", "")),
        channel=answer.get("channel"),
        media_urls=[u for u in answer.get("mediaUrls") or [] if isinstance(u, str)],
        reactions=reactions,
        status=answer.get("status"),
    )
    served = message.to_json()
    message.pinned = {k: copy_json(v) for k, v in answer.items() if served.get(k, ...) != v}
    return message


def _conversation_from(answer: JSONObject, account: str, summary: bool) -> Conversation:
    shown = answer.get("messages") if not summary else []
    messages = [_message_from(m) for m in shown or [] if isinstance(m, dict)]
    count = answer.get("messageCount")
    metadata = answer.get("metadata")
    conversation = Conversation(
        id=str(answer["id"]),
        account=account,
        phone_number_id=str(answer.get("phoneNumberId", "")),
        phone_number=str(answer.get("phoneNumber", "")),
        participant=str(answer.get("participant", "")),
        created_at=str(answer.get("createdAt", "")),
        messages=messages,
        agent_id=answer.get("agentId"),
        metadata=copy_json(metadata) if isinstance(metadata, dict) else None,
        is_group=answer.get("isGroup") is True,
        group_name=answer.get("groupName"),
        hidden_messages=max(count - len(messages), 0) if type(count) is int else 0,
        newest_first=len(messages) > 1 and messages[0].received_at > messages[-1].received_at,
    )
    served = conversation.summary_json() if summary else conversation.to_json(len(messages))
    conversation.pinned = {
        k: copy_json(v) for k, v in answer.items() if k not in _KEPT and served.get(k, ...) != v
    }
    return conversation


def state_from_answers(
    accounts: list[tuple[str, list[JSONObject], list[JSONObject]]],
) -> State:
    """A state that answers as another server did: per account, its API key, its
    conversations as that server's GET showed them (with as many messages as it showed), and
    others as its list summarised them (no messages: their count and preview kept)."""
    state = State(accounts=[], conversations={})
    for number, (api_key, conversations, summaries) in enumerate(accounts, 1):
        account = Account(name=f"account-{number}", api_key=api_key)
        state.accounts.append(account)
        for answer, summary in [(c, False) for c in conversations] + [(s, True) for s in summaries]:
            known = isinstance(answer, dict) and answer.get("id") in state.conversations
            if isinstance(answer, dict) and isinstance(answer.get("id"), str) and not known:
                state.conversations[answer["id"]] = _conversation_from(
                    answer, account.name, summary
                )
    return state
