"""A conformant server of the SEED edition (plus the list of conversations), with hook points.

Built like ``tests/servers/seed_app.py`` (the plain FastAPI way: a dict behind a lock,
FastAPI's own errors) and seeded with its data, reorganised so that one faulty server is
one small variation of it. Every variation is a :class:`Habit`: the defaults here are
conformant, and a faulty server overrides one method (the storage layer's write or read, how
a PATCH is applied, how a conversation is looked up, the answer's final shape) or installs
one piece of middleware. Nothing here imports the suite.

``GET /v1/conversations`` (``limit``, ``offset``) is added beside the seed edition's two
operations: the live API has it and it is how a PATCH is seen from another view.

The app exposes what ``tests/servers`` apps expose: ``app.state.accounts``,
``app.state.metadata_snapshot()``, ``app.state.seeded_metadata`` and ``app.state.edition``.
"""

import copy
import json
import math
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel

from ..servers import seed_app

MAX_METADATA_DEPTH = 100

Record = dict[str, Any]
Conversations = dict[str, Record]


def _check_json(value: Any, depth: int = 0) -> None:
    """Refuse what cannot be stored and sent back as the same JSON."""
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("metadata numbers must be finite")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("metadata strings must be valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _valid_metadata(value: Any) -> Any:
    _check_json(value)
    return value


Metadata = Annotated[dict[str, Any] | None, AfterValidator(_valid_metadata)]


class ConversationUpdate(BaseModel):
    metadata: Metadata = None


# The accounts, keys and conversations of the seed-edition server: the same data, so a
# faulty server differs from the conformant one in its habit alone.
_seed = seed_app._seed


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC, written as pydantic writes an aware datetime."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def not_found() -> HTTPException:
    return HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Conversation not found")


class Habit:
    """Conformant behaviour. A faulty server is a subclass that overrides ONE piece of it."""

    name = "conformant"
    description = "the seed edition as the vendor's reference page describes it"
    update_model: type[BaseModel] = ConversationUpdate

    # ------------------------------------------------------------ the storage layer
    def store(self, metadata: Any, previous: Any) -> Any:
        """What the storage layer keeps when ``metadata`` is written over ``previous``."""
        return copy.deepcopy(metadata)

    def load(self, stored: Any) -> Any:
        """What the storage layer gives back for what it keeps."""
        return copy.deepcopy(stored)

    # -------------------------------------------------------------------- the PATCH
    def members(self, update: BaseModel) -> dict[str, Any]:
        """The members the request set (unset ones are not "null")."""
        return {name: getattr(update, name) for name in update.model_fields_set}

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        """Write a PATCH; return the record its answer shows."""
        if "metadata" in members:
            record["metadata"] = self.store(members["metadata"], record["metadata"])
        return record

    # ------------------------------------------------------------------- the lookup
    def find(self, conversations: Conversations, conversation_id: str, account_id: str) -> Record:
        record = conversations.get(conversation_id)
        if record is None or record["accountId"] != account_id:
            raise not_found()
        return record

    def find_for_update(
        self, conversations: Conversations, conversation_id: str, account_id: str
    ) -> Record:
        """The lookup of a PATCH (the same as a GET's unless a habit says otherwise)."""
        return self.find(conversations, conversation_id, account_id)

    # ------------------------------------------------------------------- the answer
    def shape(self, kind: str, body: dict[str, Any], record: Record) -> dict[str, Any]:
        """The last word on an answer: ``kind`` is "get", "patch" or "summary"."""
        return body

    # ---------------------------------------------------------------------- the app
    def install(self, app: FastAPI) -> None:
        """Add middleware or routes to the app (after its routes exist)."""


def create_app(habit: Habit | None = None) -> FastAPI:
    """A fresh app with freshly seeded state, behaving as ``habit`` says."""
    habit = habit if habit is not None else Habit()
    app = FastAPI(title=f"AgentPhone Conversations ({habit.name})")
    keys, conversations = _seed()
    lock = threading.RLock()
    bearer = HTTPBearer()

    def current_account(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> str:
        account_id = keys.get(credentials.credentials)
        if account_id is None:
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="Invalid API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return account_id

    Account = Annotated[str, Depends(current_account)]

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own 422 body, except that an echoed "input" JSON cannot carry
        # (NaN, a lone surrogate, absurd nesting) is left out instead of crashing.
        detail = []
        for error in exc.errors():
            try:
                item = jsonable_encoder(error)
                json.dumps(item, ensure_ascii=False, allow_nan=False).encode("utf-8")
            except (ValueError, RecursionError):
                item = jsonable_encoder(
                    {k: v for k, v in error.items() if k not in ("input", "ctx")}
                )
            detail.append(item)
        return JSONResponse({"detail": detail}, status_code=422)

    def newest_first(record: Record) -> list[Record]:
        return sorted(record["messages"], key=lambda m: m["receivedAt"], reverse=True)

    def last_message_at(record: Record) -> datetime:
        messages = newest_first(record)
        computed = messages[0]["receivedAt"] if messages else record["createdAt"]
        moment: datetime = record.get("lastMessageAt") or computed
        return moment

    def message_json(message: Record) -> dict[str, Any]:
        return {
            "id": message["id"],
            "body": message["body"],
            "fromNumber": message["fromNumber"],
            "toNumber": message["toNumber"],
            "direction": message["direction"],
            "receivedAt": iso(message["receivedAt"]),
            "channel": message["channel"],
            "mediaUrl": message["mediaUrl"],
            "mediaUrls": list(message["mediaUrls"]),
            "reactions": [
                {
                    "id": r["id"],
                    "reactionType": r["reactionType"],
                    "fromNumber": r["fromNumber"],
                    "direction": r["direction"],
                    "createdAt": iso(r["createdAt"]),
                }
                for r in message["reactions"]
            ],
        }

    def render(record: Record, message_limit: int) -> dict[str, Any]:
        messages = newest_first(record)
        return {
            "id": record["id"],
            "phoneNumberId": record["phoneNumberId"],
            "phoneNumber": record["phoneNumber"],
            "participant": record["participant"],
            "lastMessageAt": iso(last_message_at(record)),
            "messageCount": len(messages),
            "createdAt": iso(record["createdAt"]),
            "messages": [message_json(m) for m in messages[:message_limit]],
            "agentId": record["agentId"],
            "metadata": habit.load(record["metadata"]),
        }

    def summary(record: Record) -> dict[str, Any]:
        messages = newest_first(record)
        return {
            "id": record["id"],
            "phoneNumberId": record["phoneNumberId"],
            "phoneNumber": record["phoneNumber"],
            "participant": record["participant"],
            "lastMessageAt": iso(last_message_at(record)),
            "lastMessagePreview": messages[0]["body"] if messages else None,
            "messageCount": len(messages),
            "createdAt": iso(record["createdAt"]),
            "agentId": record["agentId"],
            "metadata": habit.load(record["metadata"]),
        }

    @app.get("/v1/conversations")
    def list_conversations(
        account_id: Account,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> JSONResponse:
        with lock:
            mine = [r for r in conversations.values() if r["accountId"] == account_id]
            mine.sort(key=last_message_at, reverse=True)
            page = mine[offset : offset + limit]
            data = [habit.shape("summary", summary(r), r) for r in page]
            return JSONResponse(
                {"data": data, "hasMore": offset + len(page) < len(mine), "total": len(mine)}
            )

    @app.get("/v1/conversations/{conversation_id}")
    def get_conversation(
        conversation_id: str,
        account_id: Account,
        message_limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> JSONResponse:
        with lock:
            record = habit.find(conversations, conversation_id, account_id)
            return JSONResponse(habit.shape("get", render(record, message_limit), record))

    UpdateModel = habit.update_model

    @app.patch("/v1/conversations/{conversation_id}")
    def update_conversation(
        conversation_id: str,
        account_id: Account,
        update: Annotated[UpdateModel, Body(default_factory=UpdateModel)],  # type: ignore[valid-type]
    ) -> JSONResponse:
        with lock:
            record = habit.find_for_update(conversations, conversation_id, account_id)
            shown = habit.apply(record, habit.members(update), conversations)
            return JSONResponse(habit.shape("patch", render(shown, 50), shown))

    def metadata_snapshot() -> dict[str, Any]:
        with lock:
            return {cid: habit.load(r["metadata"]) for cid, r in conversations.items()}

    by_account: dict[str, list[str]] = {}
    for cid, record in conversations.items():
        by_account.setdefault(record["accountId"], []).append(cid)

    app.state.habit = habit
    app.state.edition = "seed"
    app.state.keys = dict(keys)
    app.state.conversations = conversations  # for middleware that looks things up
    app.state.lock = lock
    app.state.accounts = [(key, by_account[account]) for key, account in keys.items()]
    app.state.metadata_snapshot = metadata_snapshot
    app.state.seeded_metadata = metadata_snapshot()
    habit.install(app)
    return app
