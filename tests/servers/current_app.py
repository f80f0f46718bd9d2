"""The CURRENT edition of the Conversations API, backed by SQLite.

Besides ``metadata`` the update accepts ``group_name`` (iMessage groups only: it
renames a group conversation and is ignored on one-to-one conversations), and the
answers carry the group fields, ``participants``, ``channel`` and, per message,
``senderIdentifier``, ``replyTo`` and ``status``. ``GET /v1/conversations`` pages
through an account's conversations, most recently active first.

The data sits in an in-memory SQLite database behind a small repository that the
routes receive through dependency injection. Errors are FastAPI's defaults.

Options (choices a careful server may make where the contract is silent):

- ``jsonb``: the metadata is kept as PostgreSQL's jsonb keeps it (:mod:`._jsonb`: exact
  decimal numbers, keys in jsonb's order, U+0000 and nesting deeper than 32 refused with a
  422, nothing stored); answers are then written by that module's encoder;
- ``track_updates``: conversations (and the list's summaries) carry ``updatedAt`` and
  ``version``, both moved by every successful PATCH;
- ``live``: from the first request on, a message arrives on the first account's first
  conversation every 100 ms (at most 600) from a background thread (:mod:`._live`),
  stopped by ``app.state.close()``.

Webhooks (``/v1/webhooks``, see :mod:`._webhooks`): an ``agent.message`` delivery for
each message that arrives (``POST /testing/inbound``, this server's own test-support
route), without ``conversationState`` when the metadata is null, and a
``conversation.updated`` delivery after every successful PATCH. Deliveries go out in
chunks, with lower-case header names, each after a random delay of up to 50 ms.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from . import _jsonb
from ._live import LiveLine, StartOnFirstRequest
from ._webhooks import (
    DeliveryStyle,
    Dispatcher,
    Registrations,
    WebhookRequest,
    now_rfc3339,
)

PATCH_MESSAGE_LIMIT = 50
PREVIEW_LENGTH = 120
MAX_NESTING = 128
LIVE_EVERY = 0.1  # seconds between two messages on the live line
LIVE_LIMIT = 600  # messages the live line brings at most

# --------------------------------------------------------------------------- schema


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ReactionOut(CamelModel):
    id: str
    reaction_type: str
    from_number: str
    direction: str
    created_at: datetime


class ReplyToOut(CamelModel):
    message_id: str
    message: str | None
    media_urls: list[str]


class MessageOut(CamelModel):
    id: str
    body: str
    from_number: str
    to_number: str
    direction: str
    received_at: datetime
    channel: str | None
    media_url: str | None
    media_urls: list[str]
    reactions: list[ReactionOut]
    sender_identifier: str | None
    reply_to: ReplyToOut | None
    status: str | None


class ParticipantOut(CamelModel):
    identifier: str
    name: str | None


class ConversationSummary(CamelModel):
    id: str
    phone_number_id: str
    phone_number: str
    participant: str
    last_message_at: datetime
    message_count: int
    created_at: datetime
    agent_id: str | None
    metadata: dict[str, Any] | None
    channel: str | None
    is_group: bool
    group_id: str | None
    group_name: str | None
    group_icon_url: str | None
    participants: list[ParticipantOut] | None


class ConversationSummaryOut(ConversationSummary):
    last_message_preview: str | None


class ConversationOut(ConversationSummary):
    messages: list[MessageOut]


class ConversationPage(CamelModel):
    data: list[ConversationSummaryOut]
    has_more: bool
    total: int


def _ensure_storable(value: Any, depth: int = 0) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"nesting deeper than {MAX_NESTING} levels is not supported")
    match value:
        case float() if not math.isfinite(value):
            raise ValueError("NaN and infinite numbers are not valid JSON")
        case str():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be valid Unicode (no lone surrogates)") from None
        case dict():
            for key, item in value.items():
                _ensure_storable(key, depth + 1)
                _ensure_storable(item, depth + 1)
        case list():
            for item in value:
                _ensure_storable(item, depth + 1)


class ConversationPatch(BaseModel):
    """The update body. Members left out are not changed."""

    metadata: dict[str, Any] | None = None
    group_name: str | None = None

    @field_validator("metadata", "group_name")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        _ensure_storable(value)
        return value


# ----------------------------------------------------------------------- repository

SCHEMA = """
CREATE TABLE accounts (
    id        TEXT PRIMARY KEY,
    api_key   TEXT NOT NULL UNIQUE
);
CREATE TABLE conversations (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    phone_number_id   TEXT NOT NULL,
    phone_number      TEXT NOT NULL,
    participant       TEXT NOT NULL,
    agent_id          TEXT,
    channel           TEXT,
    is_group          INTEGER NOT NULL DEFAULT 0,
    group_id          TEXT,
    group_name        TEXT,
    group_icon_url    TEXT,
    participants      TEXT,             -- JSON array or NULL
    metadata          TEXT,             -- JSON object or NULL
    created_at        TEXT NOT NULL,
    last_message_at   TEXT NOT NULL,
    updated_at        TEXT,             -- NULL: never updated (then created_at)
    version           INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    conversation_id   TEXT NOT NULL REFERENCES conversations(id),
    body              TEXT NOT NULL,
    from_number       TEXT NOT NULL,
    to_number         TEXT NOT NULL,
    direction         TEXT NOT NULL,
    received_at       TEXT NOT NULL,
    channel           TEXT,
    media_urls        TEXT NOT NULL DEFAULT '[]',
    sender_identifier TEXT,
    reply_to_id       TEXT REFERENCES messages(id),
    status            TEXT
);
CREATE TABLE reactions (
    id              TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages(id),
    reaction_type   TEXT NOT NULL,
    from_number     TEXT NOT NULL,
    direction       TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX ix_conversations_account ON conversations(account_id, last_message_at);
CREATE INDEX ix_messages_conversation ON messages(conversation_id, received_at);
"""


class ConversationRepository:
    """All SQL lives here. One connection, serialised by a lock."""

    def __init__(self, *, jsonb: bool = False) -> None:
        self.store_metadata: Callable[[Any], str | None] = _jsonb.store if jsonb else _to_json
        self.load_metadata: Callable[[str | None], Any] = _jsonb.load if jsonb else _from_json
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        weakref.finalize(self, self._db.close)
        with self.transaction() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    # -- reads

    def account_for_key(self, api_key: str) -> str | None:
        with self.transaction() as db:
            row = db.execute("SELECT id FROM accounts WHERE api_key = ?", (api_key,)).fetchone()
        return None if row is None else row["id"]

    def get(self, account_id: str, conversation_id: str, message_limit: int) -> dict | None:
        with self.transaction() as db:
            return self._load(db, account_id, conversation_id, message_limit)

    def page(self, account_id: str, limit: int, offset: int) -> tuple[list[dict], int]:
        with self.transaction() as db:
            total = db.execute(
                "SELECT COUNT(*) FROM conversations WHERE account_id = ?", (account_id,)
            ).fetchone()[0]
            if offset >= total:
                return [], total
            rows = db.execute(
                """
                SELECT c.*,
                       (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)
                           AS message_count,
                       (SELECT m.body FROM messages m WHERE m.conversation_id = c.id
                         ORDER BY m.received_at DESC LIMIT 1) AS last_body
                  FROM conversations c
                 WHERE c.account_id = ?
                 ORDER BY c.last_message_at DESC, c.id
                 LIMIT ? OFFSET ?
                """,
                (account_id, limit, offset),
            ).fetchall()
        summaries = []
        for row in rows:
            summary = self._conversation_fields(row)
            summary["message_count"] = row["message_count"]
            body = row["last_body"]
            summary["last_message_preview"] = None if body is None else body[:PREVIEW_LENGTH]
            summaries.append(summary)
        return summaries, total

    def metadata_by_conversation(self) -> dict[str, dict[str, Any] | None]:
        with self.transaction() as db:
            rows = db.execute("SELECT id, metadata FROM conversations ORDER BY id").fetchall()
        return {row["id"]: _from_json(row["metadata"]) for row in rows}

    def conversation_ids_by_key(self) -> list[tuple[str, list[str]]]:
        with self.transaction() as db:
            accounts = db.execute("SELECT id, api_key FROM accounts ORDER BY rowid").fetchall()
            return [
                (
                    account["api_key"],
                    [
                        row["id"]
                        for row in db.execute(
                            "SELECT id FROM conversations WHERE account_id = ? ORDER BY rowid",
                            (account["id"],),
                        )
                    ],
                )
                for account in accounts
            ]

    # -- writes

    def update(
        self,
        account_id: str,
        conversation_id: str,
        changes: ConversationPatch,
        message_limit: int,
    ) -> dict | None:
        with self.transaction() as db:
            row = db.execute(
                "SELECT is_group, created_at, updated_at FROM conversations"
                " WHERE id = ? AND account_id = ?",
                (conversation_id, account_id),
            ).fetchone()
            if row is None:
                return None
            if "metadata" in changes.model_fields_set:
                db.execute(
                    "UPDATE conversations SET metadata = ? WHERE id = ?",
                    (self.store_metadata(changes.metadata), conversation_id),
                )
            db.execute(
                "UPDATE conversations SET version = version + 1, updated_at = ? WHERE id = ?",
                (_later_than(row["updated_at"] or row["created_at"]), conversation_id),
            )
            if "group_name" in changes.model_fields_set and row["is_group"]:
                db.execute(
                    "UPDATE conversations SET group_name = ? WHERE id = ?",
                    (changes.group_name, conversation_id),
                )
            return self._load(db, account_id, conversation_id, message_limit)

    def arrive(
        self, account_id: str, conversation_id: str, text: str, history: int
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]] | None:
        """A message arriving from the participant: stored, and the conversation's activity
        moved. (the message, the conversation as it now is, its `history` latest messages)"""
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM conversations WHERE id = ? AND account_id = ?",
                (conversation_id, account_id),
            ).fetchone()
            if row is None:
                return None
            message = {
                "id": f"msg_{uuid.uuid4().hex[:12]}",
                "conversation_id": conversation_id,
                "body": text,
                "from_number": row["participant"],
                "to_number": row["phone_number"],
                "direction": "inbound",
                "received_at": now_rfc3339(),
                "channel": row["channel"],
                "sender_identifier": row["participant"],
                "status": "received",
            }
            self._insert(db, "messages", message)
            db.execute(
                "UPDATE conversations SET last_message_at = ? WHERE id = ?",
                (message["received_at"], conversation_id),
            )
            latest = self._latest(db, conversation_id, history)
            return message, self._conversation_fields(row), [dict(m) for m in latest]

    def rewrite_metadata(self) -> None:
        """Store every conversation's metadata again, as this repository stores it."""
        with self.transaction() as db:
            for row in db.execute("SELECT id, metadata FROM conversations").fetchall():
                stored = self.store_metadata(_from_json(row["metadata"]))
                db.execute(
                    "UPDATE conversations SET metadata = ? WHERE id = ?", (stored, row["id"])
                )

    def insert(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        with self.transaction() as db:
            for row in rows:
                self._insert(db, table, row)

    # -- helpers

    @staticmethod
    def _insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)

    @staticmethod
    def _latest(db: sqlite3.Connection, conversation_id: str, count: int) -> list[sqlite3.Row]:
        """The conversation's most recent `count` messages, oldest first."""
        return db.execute(
            """
            SELECT * FROM (
                SELECT * FROM messages WHERE conversation_id = ?
                 ORDER BY received_at DESC LIMIT ?
            ) ORDER BY received_at
            """,
            (conversation_id, count),
        ).fetchall()

    def _load(
        self, db: sqlite3.Connection, account_id: str, conversation_id: str, message_limit: int
    ) -> dict | None:
        row = db.execute(
            "SELECT * FROM conversations WHERE id = ? AND account_id = ?",
            (conversation_id, account_id),
        ).fetchone()
        if row is None:
            return None
        conversation = self._conversation_fields(row)
        conversation["message_count"] = db.execute(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()[0]
        messages = self._latest(db, conversation_id, message_limit)
        conversation["messages"] = [self._message(db, m) for m in messages]
        return conversation

    def _conversation_fields(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "phone_number_id": row["phone_number_id"],
            "phone_number": row["phone_number"],
            "participant": row["participant"],
            "agent_id": row["agent_id"],
            "channel": row["channel"],
            "is_group": bool(row["is_group"]),
            "group_id": row["group_id"],
            "group_name": row["group_name"],
            "group_icon_url": row["group_icon_url"],
            "participants": _from_json(row["participants"]),
            "metadata": self.load_metadata(row["metadata"]),
            "created_at": row["created_at"],
            "last_message_at": row["last_message_at"],
            "updated_at": row["updated_at"] or row["created_at"],
            "version": row["version"],
        }

    @staticmethod
    def _message(db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        media_urls = json.loads(row["media_urls"])
        reply_to = None
        if row["reply_to_id"] is not None:
            original = db.execute(
                "SELECT id, body, media_urls FROM messages WHERE id = ?", (row["reply_to_id"],)
            ).fetchone()
            reply_to = {
                "message_id": row["reply_to_id"],
                "message": None if original is None else original["body"],
                "media_urls": [] if original is None else json.loads(original["media_urls"]),
            }
        reactions = db.execute(
            "SELECT * FROM reactions WHERE message_id = ? ORDER BY created_at", (row["id"],)
        ).fetchall()
        return {
            "id": row["id"],
            "body": row["body"],
            "from_number": row["from_number"],
            "to_number": row["to_number"],
            "direction": row["direction"],
            "received_at": row["received_at"],
            "channel": row["channel"],
            "media_url": media_urls[0] if media_urls else None,
            "media_urls": media_urls,
            "reactions": [
                {
                    "id": r["id"],
                    "reaction_type": r["reaction_type"],
                    "from_number": r["from_number"],
                    "direction": r["direction"],
                    "created_at": r["created_at"],
                }
                for r in reactions
            ],
            "sender_identifier": row["sender_identifier"],
            "reply_to": reply_to,
            "status": row["status"],
        }


def _to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _later_than(previous: str) -> str:
    """Now as an RFC 3339 date-time (milliseconds, UTC), or a millisecond after
    ``previous`` if now is not later: every update moves the clock."""
    moment = datetime.now(UTC)
    floor = datetime.fromisoformat(previous) + timedelta(milliseconds=1)
    return max(moment, floor).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------ seed data

ACCOUNTS = [
    {"id": "acc_01HQ7ZK4D2M9", "api_key": "sk_live_Qm4v8ZtR2nXw6pLc9HjD3sFb"},
    {"id": "acc_01HQ80B1T6WE", "api_key": "sk_live_Ty7Kc2Nw5RbP9mVx3LqZ8dGh"},
]

CONVERSATIONS = [
    {
        "id": "conv_01HR2W8K7N5TQ3M4",
        "account_id": "acc_01HQ7ZK4D2M9",
        "phone_number_id": "pn_01HQ7ZM1X8C4",
        "phone_number": "+15105550148",
        "participant": "+14085550193",
        "agent_id": "agt_01HQ7ZQ5B2RJ",
        "channel": "sms",
        "metadata": json.dumps(
            {"customer": {"name": "Priya Natarajan", "tier": "gold"}, "caseId": "CS-20931"}
        ),
        "created_at": "2025-03-10T14:20:05Z",
        "last_message_at": "2025-03-10T14:31:48Z",
    },
    {
        "id": "conv_01HR3B2P9D6VX1Y7",
        "account_id": "acc_01HQ7ZK4D2M9",
        "phone_number_id": "pn_01HQ7ZM1X8C4",
        "phone_number": "+15105550148",
        "participant": "+19255550117",
        "agent_id": None,
        "channel": "sms",
        "metadata": None,
        "created_at": "2025-03-11T08:02:59Z",
        "last_message_at": "2025-03-11T08:02:59Z",
    },
    {
        "id": "conv_01HR4G6M3S8ZC2K9",
        "account_id": "acc_01HQ7ZK4D2M9",
        "phone_number_id": "pn_01HQ7ZN6F3A7",
        "phone_number": "+15105550170",
        "participant": "+14155550166",
        "agent_id": "agt_01HQ7ZQ5B2RJ",
        "channel": "imessage",
        "is_group": 1,
        "group_id": "grp_01HR4G6KZ0E5",
        "group_name": "Offsite planning",
        "group_icon_url": "https://media.agentphone.ai/groups/grp_01HR4G6KZ0E5.png",
        "participants": json.dumps(
            [
                {"identifier": "+14155550166", "name": "Marco Silva"},
                {"identifier": "jules@example.com", "name": None},
            ]
        ),
        "metadata": json.dumps({"event": "Q2 offsite", "headcount": 14}),
        "created_at": "2025-03-09T11:00:00Z",
        "last_message_at": "2025-03-09T11:05:12Z",
    },
    {
        "id": "conv_01HR5N1C4H7JD8W2",
        "account_id": "acc_01HQ80B1T6WE",
        "phone_number_id": "pn_01HQ80C7Y2B5",
        "phone_number": "+12065550124",
        "participant": "+12535550181",
        "agent_id": "agt_01HQ80D3K9PS",
        "channel": "sms",
        "metadata": json.dumps({"orderId": "A-55190", "language": "es"}),
        "created_at": "2025-03-08T17:45:30Z",
        "last_message_at": "2025-03-08T17:46:02Z",
    },
]

MESSAGES = [
    {
        "id": "msg_01HR2W8M1A2B",
        "conversation_id": "conv_01HR2W8K7N5TQ3M4",
        "body": "Hello, I was double charged for my March invoice.",
        "from_number": "+14085550193",
        "to_number": "+15105550148",
        "direction": "inbound",
        "received_at": "2025-03-10T14:20:05Z",
        "channel": "sms",
        "sender_identifier": "+14085550193",
        "status": "received",
    },
    {
        "id": "msg_01HR2W9Q4C5D",
        "conversation_id": "conv_01HR2W8K7N5TQ3M4",
        "body": "Sorry about that! Could you send a screenshot of the statement?",
        "from_number": "+15105550148",
        "to_number": "+14085550193",
        "direction": "outbound",
        "received_at": "2025-03-10T14:21:30Z",
        "channel": "sms",
        "sender_identifier": "+15105550148",
        "status": "delivered",
    },
    {
        "id": "msg_01HR2WB7E8F9",
        "conversation_id": "conv_01HR2W8K7N5TQ3M4",
        "body": "Here it is.",
        "from_number": "+14085550193",
        "to_number": "+15105550148",
        "direction": "inbound",
        "received_at": "2025-03-10T14:29:14Z",
        "channel": "mms",
        "media_urls": json.dumps(
            [
                "https://media.agentphone.ai/m/01HR2WB7/statement-1.jpg",
                "https://media.agentphone.ai/m/01HR2WB7/statement-2.jpg",
            ]
        ),
        "sender_identifier": "+14085550193",
        "reply_to_id": "msg_01HR2W9Q4C5D",
        "status": "received",
    },
    {
        "id": "msg_01HR2WC2G3H4",
        "conversation_id": "conv_01HR2W8K7N5TQ3M4",
        "body": "Thanks Priya, the duplicate charge has been refunded.",
        "from_number": "+15105550148",
        "to_number": "+14085550193",
        "direction": "outbound",
        "received_at": "2025-03-10T14:31:48Z",
        "channel": "sms",
        "sender_identifier": "+15105550148",
        "status": "delivered",
    },
    {
        "id": "msg_01HR4G7A9J1K",
        "conversation_id": "conv_01HR4G6M3S8ZC2K9",
        "body": "Which dates work for everyone?",
        "from_number": "+14155550166",
        "to_number": "+15105550170",
        "direction": "inbound",
        "received_at": "2025-03-09T11:00:00Z",
        "channel": "imessage",
        "sender_identifier": "+14155550166",
        "status": "received",
    },
    {
        "id": "msg_01HR4G8B2L3M",
        "conversation_id": "conv_01HR4G6M3S8ZC2K9",
        "body": "April 14-16 is open at the venue.",
        "from_number": "+15105550170",
        "to_number": "+14155550166",
        "direction": "outbound",
        "received_at": "2025-03-09T11:05:12Z",
        "channel": "imessage",
        "sender_identifier": "+15105550170",
        "status": "read",
    },
    {
        "id": "msg_01HR5N1D5P6Q",
        "conversation_id": "conv_01HR5N1C4H7JD8W2",
        "body": "¿Cuándo llega mi pedido A-55190?",
        "from_number": "+12535550181",
        "to_number": "+12065550124",
        "direction": "inbound",
        "received_at": "2025-03-08T17:45:30Z",
        "channel": "sms",
        "sender_identifier": "+12535550181",
        "status": "received",
    },
    {
        "id": "msg_01HR5N1E7R8S",
        "conversation_id": "conv_01HR5N1C4H7JD8W2",
        "body": "Llega el jueves entre las 9 y las 12.",
        "from_number": "+12065550124",
        "to_number": "+12535550181",
        "direction": "outbound",
        "received_at": "2025-03-08T17:46:02Z",
        "channel": "sms",
        "sender_identifier": "+12065550124",
        "status": "delivered",
    },
]

REACTIONS = [
    {
        "id": "rct_01HR2WC9T1U2",
        "message_id": "msg_01HR2WC2G3H4",
        "reaction_type": "love",
        "from_number": "+14085550193",
        "direction": "inbound",
        "created_at": "2025-03-10T14:32:10Z",
    },
    {
        "id": "rct_01HR2WA3V4W5",
        "message_id": "msg_01HR2W9Q4C5D",
        "reaction_type": "like",
        "from_number": "+14085550193",
        "direction": "inbound",
        "created_at": "2025-03-10T14:22:01Z",
    },
    {
        "id": "rct_01HR4G9X6Y7Z",
        "message_id": "msg_01HR4G8B2L3M",
        "reaction_type": "emphasize",
        "from_number": "+14155550166",
        "direction": "inbound",
        "created_at": "2025-03-09T11:06:40Z",
    },
]


def seed(repository: ConversationRepository) -> None:
    repository.insert("accounts", ACCOUNTS)
    repository.insert("conversations", CONVERSATIONS)
    repository.insert("messages", MESSAGES)
    repository.insert("reactions", REACTIONS)


# --------------------------------------------------------------------------- routes

bearer_scheme = HTTPBearer(description="Your AgentPhone API key")


def get_repository(request: Request) -> ConversationRepository:
    return request.app.state.repository


Repository = Annotated[ConversationRepository, Depends(get_repository)]


def authenticated_account(
    repository: Repository,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer_scheme)],
) -> str:
    account_id = repository.account_for_key(credentials.credentials)
    if account_id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return account_id


AccountId = Annotated[str, Depends(authenticated_account)]


def _dumps(payload: Any, separators: tuple[str, str]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=separators)


class Webhooks:
    """The app's webhook registrations and the thread that delivers to them."""

    def __init__(self, with_values: bool = False, *, jsonb: bool = False) -> None:
        self.registrations = Registrations()
        self.dispatcher = Dispatcher(
            DeliveryStyle(chunked=True, lower_case_headers=True, max_delay=0.05),
            _jsonb.encode if jsonb else _dumps,
        )
        self.with_values = with_values  # conversation.updated carries previous/current values

    def conversation_updated(
        self,
        account_id: str,
        patch: ConversationPatch,
        before: dict[str, Any] | None,
        after: dict[str, Any],
    ) -> None:
        """Queue a conversation.updated delivery (after every successful PATCH), naming the
        fields the PATCH set, or with their previous and current values."""
        registration = self.registrations.get(account_id)
        if registration is None:
            return
        fields = sorted(
            name for name in patch.model_fields_set if name != "group_name" or after["is_group"]
        )
        changes: Any = [to_camel(name) for name in fields]
        if self.with_values and before is not None:
            changes = {
                to_camel(name): {"previous": before[name], "current": after[name]}
                for name in fields
            }
        self.dispatcher.enqueue(
            registration,
            {
                "event": "conversation.updated",
                "timestamp": now_rfc3339(),
                "conversationId": after["id"],
                "changes": changes,
            },
        )


def get_webhooks(request: Request) -> Webhooks:
    hooks: Webhooks = request.app.state.webhooks
    return hooks


Hooks = Annotated[Webhooks, Depends(get_webhooks)]

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


def _not_found(conversation_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, detail=f"Conversation {conversation_id!r} not found"
    )


def _answer(request: Request, model: type[BaseModel], data: dict[str, Any]) -> Any:
    """What a route answers: ``data``, which FastAPI shapes by the route's model; or, with
    jsonb metadata or tracked updates, shaped here and written by :func:`_jsonb.encode`
    (the metadata's exact numbers, ``updatedAt`` and ``version`` beside the model's fields)."""
    jsonb, tracked = request.app.state.jsonb, request.app.state.track_updates
    if not (jsonb or tracked):
        return data
    page = model is ConversationPage
    items = data["data"] if page else [data]
    bare = [{**item, "metadata": None} for item in items]  # (pydantic writes Decimals as text)
    shaped = model.model_validate({**data, "data": bare} if page else bare[0])
    answer = shaped.model_dump(mode="json", by_alias=True)
    for out, item in zip(answer["data"] if page else [answer], items, strict=True):
        out["metadata"] = item["metadata"]
        if tracked:
            out["updatedAt"] = item["updated_at"]
            out["version"] = item["version"]
    return Response(_jsonb.encode(answer), media_type="application/json")


@router.get("", response_model=ConversationPage)
def list_conversations(
    request: Request,
    account_id: AccountId,
    repository: Repository,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    summaries, total = repository.page(account_id, limit, offset)
    page = {"data": summaries, "has_more": offset + len(summaries) < total, "total": total}
    return _answer(request, ConversationPage, page)


@router.get("/{conversation_id}", response_model=ConversationOut)
def get_conversation(
    request: Request,
    conversation_id: str,
    account_id: AccountId,
    repository: Repository,
    message_limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Any:
    conversation = repository.get(account_id, conversation_id, message_limit)
    if conversation is None:
        raise _not_found(conversation_id)
    return _answer(request, ConversationOut, conversation)


def _patched(
    request: Request,
    conversation_id: str,
    account_id: str,
    repository: ConversationRepository,
    hooks: Webhooks,
    patch: ConversationPatch,
) -> Any:
    before = repository.get(account_id, conversation_id, 1) if hooks.with_values else None
    conversation = repository.update(account_id, conversation_id, patch, PATCH_MESSAGE_LIMIT)
    if conversation is None:
        raise _not_found(conversation_id)
    hooks.conversation_updated(account_id, patch, before, conversation)
    return _answer(request, ConversationOut, conversation)


@router.patch("/{conversation_id}", response_model=ConversationOut)
def update_conversation(
    request: Request,
    conversation_id: str,
    account_id: AccountId,
    repository: Repository,
    hooks: Hooks,
    patch: Annotated[ConversationPatch, Body(default_factory=ConversationPatch)],
) -> Any:
    return _patched(request, conversation_id, account_id, repository, hooks, patch)


# ------------------------------------------------------------------- jsonb metadata


class JsonbPatch(BaseModel):
    """The update body's shape, as FastAPI reads it (numbers as floats): the metadata
    itself is read again, exactly, by :func:`exact_body`."""

    metadata: dict[str, Any] | None = None
    group_name: str | None = None

    @field_validator("group_name")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        _ensure_storable(value)
        return value


async def exact_body(request: Request) -> Any:
    """The body read with exact numbers (None when FastAPI does not read it as JSON)."""
    content_type = request.headers.get("content-type")
    if content_type is None or not _is_json(content_type):
        return None
    body = await request.body()
    if not body:
        return None
    try:
        return _jsonb.parse(body)
    except (ValueError, RecursionError) as error:  # NaN or Infinity: FastAPI took them
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error: {error}"}]
        ) from None


def _is_json(content_type: str) -> bool:
    kind, _, subtype = content_type.split(";", 1)[0].strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


jsonb_router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@jsonb_router.patch("/{conversation_id}", response_model=ConversationOut)
def update_jsonb_conversation(
    request: Request,
    conversation_id: str,
    account_id: AccountId,
    repository: Repository,
    hooks: Hooks,
    patch: Annotated[JsonbPatch, Body(default_factory=JsonbPatch)],
    exact: Annotated[Any, Depends(exact_body)],
) -> Any:
    """The update of an app with jsonb metadata (routed before :func:`update_conversation`)."""
    fields = patch.model_fields_set
    metadata = exact.get("metadata") if isinstance(exact, dict) else None
    if "metadata" in fields:
        try:
            _jsonb.check(metadata)
        except _jsonb.NotStorable as reason:
            message = f"Value error, {reason}"
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "metadata"), "msg": message}]
            ) from None
    changes = ConversationPatch.model_construct(
        fields, metadata=metadata, group_name=patch.group_name
    )
    return _patched(request, conversation_id, account_id, repository, hooks, changes)


# -------------------------------------------------------------------------- webhooks


webhooks_router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@webhooks_router.post("", status_code=status.HTTP_201_CREATED)
def register_webhook(account_id: AccountId, hooks: Hooks, body: WebhookRequest) -> dict[str, Any]:
    return hooks.registrations.register(account_id, body).as_json()


@webhooks_router.get("")
def get_webhook(account_id: AccountId, hooks: Hooks) -> dict[str, Any] | None:
    registration = hooks.registrations.get(account_id)
    return None if registration is None else registration.as_json()


@webhooks_router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(account_id: AccountId, hooks: Hooks) -> None:
    if hooks.registrations.remove(account_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No webhook is registered")


class InboundMessage(BaseModel):
    """This server's test-support request: a message from the participant."""

    conversation: str
    text: str = "Hello from the test bench"


testing_router = APIRouter(prefix="/testing", include_in_schema=False)


@testing_router.post("/inbound", status_code=status.HTTP_201_CREATED)
def inbound_message(
    account_id: AccountId, repository: Repository, hooks: Hooks, body: InboundMessage
) -> dict[str, Any]:
    """Make a message arrive on one of the account's conversations, as a phone would."""
    arrived = _message_arrives(repository, hooks, account_id, body.conversation, body.text)
    if arrived is None:
        raise _not_found(body.conversation)
    return arrived


def _message_arrives(
    repository: ConversationRepository,
    hooks: Webhooks,
    account_id: str,
    conversation_id: str,
    text: str,
) -> dict[str, Any] | None:
    """A message from the participant, stored and delivered to the account's webhook (if
    it has one): its id and whether it went to a webhook; None if no such conversation."""
    registration = hooks.registrations.get(account_id)
    history = registration.context_limit if registration is not None else 0
    arrived = repository.arrive(account_id, conversation_id, text, history)
    if arrived is None:
        return None
    message, conversation, latest = arrived
    if registration is not None:
        hooks.dispatcher.enqueue(registration, _agent_message(message, conversation, latest))
    return {"messageId": message["id"], "webhook": registration is not None}


def _agent_message(
    message: dict[str, Any], conversation: dict[str, Any], latest: list[dict[str, Any]]
) -> dict[str, Any]:
    """The agent.message payload; null metadata is left out (read as null)."""
    channel = conversation["channel"] or "sms"
    payload: dict[str, Any] = {
        "event": "agent.message",
        "channel": channel,
        "timestamp": now_rfc3339(),
        "agentId": conversation["agent_id"],
        "data": {
            "conversationId": conversation["id"],
            "messageId": message["id"],
            "from": message["from_number"],
            "to": message["to_number"],
            "message": message["body"],
            "direction": message["direction"],
            "receivedAt": message["received_at"],
        },
    }
    if conversation["metadata"] is not None:
        payload["conversationState"] = conversation["metadata"]
    payload["recentHistory"] = [
        {
            "content": m["body"],
            "direction": m["direction"],
            "channel": m["channel"] or channel,
            "at": m["received_at"],
        }
        for m in latest
    ]
    return payload


def _encodable(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error as FastAPI encodes it, or without the echoed input when the
    input is not representable as JSON (NaN, infinities, lone surrogates, deep nesting)."""
    try:
        encoded = jsonable_encoder(error)
        json.dumps(encoded, ensure_ascii=False, allow_nan=False).encode()
        return encoded
    except (ValueError, RecursionError):
        return jsonable_encoder({k: v for k, v in error.items() if k not in {"input", "ctx"}})


async def validation_exception_handler(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": [_encodable(error) for error in exc.errors()]},
    )


def create_app(
    *,
    changes_with_values: bool = False,
    jsonb: bool = False,
    track_updates: bool = False,
    live: bool = False,
) -> FastAPI:
    """A fresh current-edition app over a freshly seeded in-memory database.

    ``changes_with_values``: the ``conversation.updated`` deliveries carry each changed
    field's previous and current value rather than its name. ``jsonb``, ``track_updates``
    and ``live``: see the module.

    ``app.state.accounts`` lists ``(api_key, [conversation ids])`` per account and
    ``app.state.metadata_snapshot()`` returns ``{conversation_id: metadata}``.
    """
    repository = ConversationRepository(jsonb=jsonb)
    seed(repository)
    repository.rewrite_metadata()

    app = FastAPI(title="AgentPhone Conversations API", version="2025.03")
    if jsonb:
        app.include_router(jsonb_router)  # its PATCH is found before the plain one
    app.include_router(router)
    app.include_router(webhooks_router)
    app.include_router(testing_router)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    app.state.repository = repository
    app.state.jsonb = jsonb
    app.state.track_updates = track_updates
    app.state.edition = "current"
    app.state.accounts = repository.conversation_ids_by_key()
    app.state.metadata_snapshot = repository.metadata_by_conversation
    app.state.seeded_metadata = repository.metadata_by_conversation()
    app.state.webhooks = hooks = Webhooks(changes_with_values, jsonb=jsonb)
    app.state.close = hooks.dispatcher.close
    if live:
        key, (conversation_id, *_) = app.state.accounts[0]
        account_id = repository.account_for_key(key)
        assert account_id is not None

        def arrive(n: int) -> None:
            text = f"Live message {n + 1}"
            _message_arrives(repository, hooks, account_id, conversation_id, text)

        app.state.live_line = line = LiveLine(arrive, every=LIVE_EVERY, limit=LIVE_LIMIT)
        app.add_middleware(StartOnFirstRequest, start=line.start)

        def close() -> None:
            line.close()
            hooks.dispatcher.close()

        app.state.close = close
    return app
