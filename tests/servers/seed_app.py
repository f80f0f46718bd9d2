"""The SEED edition of the Conversations API, written the plain FastAPI way.

Exactly what the vendor's reference page for ``PATCH /v1/conversations/{id}``
describes: the request carries an optional ``metadata`` (object or null) and
nothing else, the answer is the conversation with its messages and their reactions.
``GET /v1/conversations/{id}?message_limit=`` reads the same object back.

State lives in a dict guarded by a lock; errors are FastAPI's own ``{"detail": ...}``.

Options (choices a careful server may make where the contract is silent):

- ``metadata_byte_limit``: a PATCH whose metadata, written as compact JSON in UTF-8, is
  longer than this many bytes is refused with a 422 (``value_error`` at
  ``["body", "metadata"]``, no ``input``) and nothing is stored;
- ``legacy_bearer``: FastAPI's ``HTTPBearer`` as it answered for years: no
  ``Authorization`` header, ``403 {"detail": "Not authenticated"}``; another scheme,
  ``403 {"detail": "Invalid authentication credentials"}``; an unknown key still 401;
- ``clamp_message_limit``: ``message_limit`` is clamped rather than refused: 0 answers no
  messages, above 100 answers at most 100 (negative or not a number: still 422);
- ``forbid_extra``: unknown members of the PATCH body are refused (pydantic's
  ``extra="forbid"``: 422 ``extra_forbidden``), nothing stored;
- ``write_delay``: a PATCH takes this many seconds more, and stays atomic: holding the lock
  meanwhile (every other request waits), or - ``hold_lock_while_writing=False`` - making the
  new document outside it and putting it in place whole (copy-on-write: reads meanwhile see
  the old one);
- ``conflict_when_busy``: a PATCH that meets another PATCH under way is refused with
  ``409 {"detail": "Another update of this conversation is in progress"}`` and writes
  nothing (a row lock taken with NOWAIT), rather than waiting for it;
- ``etags``: every GET and PATCH answer carries a strong ``ETag`` of its representation;
  a GET whose ``If-None-Match`` matches is ``304``; a PATCH whose ``If-Match`` does not name
  the conversation as a plain GET shows it is ``412`` and writes nothing.
"""

import copy
import hashlib
import json
import math
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict

MAX_METADATA_DEPTH = 100
MAX_MESSAGE_LIMIT = 100


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


def _valid_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    _check_json(value)
    return value


Metadata = Annotated[dict[str, Any] | None, AfterValidator(_valid_metadata)]


class Reaction(BaseModel):
    id: str
    reactionType: str
    fromNumber: str
    direction: str
    createdAt: datetime


class Message(BaseModel):
    id: str
    body: str
    fromNumber: str
    toNumber: str
    direction: str
    receivedAt: datetime
    channel: str | None = None
    mediaUrl: str | None = None
    mediaUrls: list[str] = []
    reactions: list[Reaction] = []


class Conversation(BaseModel):
    id: str
    phoneNumberId: str
    phoneNumber: str
    participant: str
    lastMessageAt: datetime
    messageCount: int
    createdAt: datetime
    messages: list[Message]
    agentId: str | None = None
    metadata: dict[str, Any] | None = None


class ConversationUpdate(BaseModel):
    metadata: Metadata = None


class StrictConversationUpdate(ConversationUpdate):
    """The update body refusing members it does not know."""

    model_config = ConfigDict(extra="forbid")


def compact_size(metadata: dict[str, Any]) -> int:
    """Bytes of ``metadata`` written as compact JSON in UTF-8."""
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8"))


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _seed() -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """API keys -> account id, and conversation id -> stored record."""
    keys = {
        "ak_live_9f3c1e7b2d4a48c6b1e0f5a7d3c92e41": "acct_2Lk9QmV7xP",
        "ak_live_51b8e0d2c7f94a3e8d6b0c1f2a7e5d93": "acct_8Rt3WnZ1yH",
    }
    conversations: dict[str, dict[str, Any]] = {}

    def add(record: dict[str, Any]) -> None:
        conversations[record["id"]] = record

    add(
        {
            "id": "conv_3f8a2c91d7e64b0a",
            "accountId": "acct_2Lk9QmV7xP",
            "phoneNumberId": "pn_7c2e91f04ab3",
            "phoneNumber": "+14155550132",
            "participant": "+16505550187",
            "createdAt": _ts("2025-02-03T16:02:11"),
            "agentId": "agent_5d1b7e3a9c",
            "metadata": {
                "customerName": "Dana Whitfield",
                "orderId": "ORD-88412",
                "topic": "delivery window",
            },
            "messages": [
                {
                    "id": "msg_a1c4e7f0b2d5",
                    "body": "Hi, my order ORD-88412 still says processing.",
                    "fromNumber": "+16505550187",
                    "toNumber": "+14155550132",
                    "direction": "inbound",
                    "receivedAt": _ts("2025-02-03T16:02:11"),
                    "channel": "sms",
                    "mediaUrl": None,
                    "mediaUrls": [],
                    "reactions": [],
                },
                {
                    "id": "msg_b3d6f9a2c5e8",
                    "body": "Thanks Dana, it ships tomorrow morning. Here is the label.",
                    "fromNumber": "+14155550132",
                    "toNumber": "+16505550187",
                    "direction": "outbound",
                    "receivedAt": _ts("2025-02-03T16:03:40"),
                    "channel": "mms",
                    "mediaUrl": "https://media.agentphone.ai/m/7b1e/label.png",
                    "mediaUrls": ["https://media.agentphone.ai/m/7b1e/label.png"],
                    "reactions": [
                        {
                            "id": "rxn_4e2a9c7b1f",
                            "reactionType": "love",
                            "fromNumber": "+16505550187",
                            "direction": "inbound",
                            "createdAt": _ts("2025-02-03T16:04:02"),
                        }
                    ],
                },
                {
                    "id": "msg_c5e8b1d4f7a0",
                    "body": "Perfect. Can it be left with the concierge?",
                    "fromNumber": "+16505550187",
                    "toNumber": "+14155550132",
                    "direction": "inbound",
                    "receivedAt": _ts("2025-02-03T16:05:17"),
                    "channel": "sms",
                    "mediaUrl": None,
                    "mediaUrls": [],
                    "reactions": [],
                },
                {
                    "id": "msg_d7f0c3e6a9b2",
                    "body": "Done, I added a delivery note.",
                    "fromNumber": "+14155550132",
                    "toNumber": "+16505550187",
                    "direction": "outbound",
                    "receivedAt": _ts("2025-02-03T16:06:51"),
                    "channel": "sms",
                    "mediaUrl": None,
                    "mediaUrls": [],
                    "reactions": [
                        {
                            "id": "rxn_8b3f0d6e2a",
                            "reactionType": "like",
                            "fromNumber": "+16505550187",
                            "direction": "inbound",
                            "createdAt": _ts("2025-02-03T16:07:30"),
                        }
                    ],
                },
            ],
        }
    )
    add(
        {
            "id": "conv_9b27d04e6c13f8a5",
            "accountId": "acct_2Lk9QmV7xP",
            "phoneNumberId": "pn_7c2e91f04ab3",
            "phoneNumber": "+14155550132",
            "participant": "+12125550164",
            "createdAt": _ts("2025-02-05T09:14:00"),
            "agentId": None,
            "metadata": None,
            "messages": [],
        }
    )
    add(
        {
            "id": "conv_5e1d8b3a7f20c649",
            "accountId": "acct_8Rt3WnZ1yH",
            "phoneNumberId": "pn_2a9f6c81e7d0",
            "phoneNumber": "+13125550109",
            "participant": "+17735550146",
            "createdAt": _ts("2025-01-28T20:41:36"),
            "agentId": "agent_0c8e4a2f6b",
            "metadata": {"ticket": "T-1002", "priority": 2},
            "messages": [
                {
                    "id": "msg_e9a2d5b8c1f4",
                    "body": "Is the clinic open on Saturday?",
                    "fromNumber": "+17735550146",
                    "toNumber": "+13125550109",
                    "direction": "inbound",
                    "receivedAt": _ts("2025-01-28T20:41:36"),
                    "channel": "sms",
                    "mediaUrl": None,
                    "mediaUrls": [],
                    "reactions": [],
                }
            ],
        }
    )
    return keys, conversations


def create_app(
    *,
    metadata_byte_limit: int | None = None,
    legacy_bearer: bool = False,
    clamp_message_limit: bool = False,
    forbid_extra: bool = False,
    write_delay: float = 0.0,
    hold_lock_while_writing: bool = True,
    conflict_when_busy: bool = False,
    etags: bool = False,
) -> FastAPI:
    """A fresh seed-edition app with freshly seeded state (the options: see the module).

    ``app.state.accounts`` lists ``(api_key, [conversation ids])`` per account and
    ``app.state.metadata_snapshot()`` returns ``{conversation_id: metadata}``.
    """
    app = FastAPI(title="AgentPhone Conversations (seed edition)")
    keys, conversations = _seed()
    lock = threading.Lock()
    writing = threading.Lock()  # conflict_when_busy: held by the PATCH under way
    bearer = HTTPBearer(auto_error=not legacy_bearer)
    Update = StrictConversationUpdate if forbid_extra else ConversationUpdate
    limit_query = Query(ge=0) if clamp_message_limit else Query(ge=1, le=MAX_MESSAGE_LIMIT)

    def current_account(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        if credentials is None:  # only with legacy_bearer: HTTPBearer raises otherwise
            missing = "authorization" not in request.headers
            detail = "Not authenticated" if missing else "Invalid authentication credentials"
            raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=detail)
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

    def find(conversation_id: str, account_id: str) -> dict[str, Any]:
        record = conversations.get(conversation_id)
        if record is None or record["accountId"] != account_id:
            raise HTTPException(status_code=404, detail="Conversation not found")
        return record

    def render(record: dict[str, Any], message_limit: int) -> Conversation:
        messages = sorted(record["messages"], key=lambda m: m["receivedAt"], reverse=True)
        last = messages[0]["receivedAt"] if messages else record["createdAt"]
        return Conversation(
            id=record["id"],
            phoneNumberId=record["phoneNumberId"],
            phoneNumber=record["phoneNumber"],
            participant=record["participant"],
            lastMessageAt=last,
            messageCount=len(messages),
            createdAt=record["createdAt"],
            messages=[Message(**m) for m in messages[:message_limit]],
            agentId=record["agentId"],
            metadata=copy.deepcopy(record["metadata"]),
        )

    def tag(answer: Conversation) -> str:
        return '"' + hashlib.sha256(answer.model_dump_json().encode()).hexdigest()[:24] + '"'

    @app.get("/v1/conversations/{conversation_id}", response_model=Conversation)
    def get_conversation(
        conversation_id: str,
        account_id: Account,
        request: Request,
        response: Response,
        message_limit: Annotated[int, limit_query] = 50,
    ) -> Any:
        with lock:
            record = find(conversation_id, account_id)
            answer = render(record, min(message_limit, MAX_MESSAGE_LIMIT))
        if etags:
            response.headers["ETag"] = tag(answer)
            if request.headers.get("if-none-match") == tag(answer):
                return Response(status_code=304, headers={"ETag": tag(answer)})
        return answer

    @app.patch("/v1/conversations/{conversation_id}", response_model=Conversation)
    def update_conversation(
        conversation_id: str,
        account_id: Account,
        request: Request,
        response: Response,
        update: Annotated[Update, Body(default_factory=Update)],  # type: ignore[valid-type]
    ) -> Conversation:
        if metadata_byte_limit is not None and update.metadata is not None:
            refuse_oversized(update.metadata, metadata_byte_limit)
        if conflict_when_busy and not writing.acquire(blocking=False):
            raise HTTPException(
                status_code=409, detail="Another update of this conversation is in progress"
            )
        try:
            answer = write(conversation_id, account_id, update, request.headers.get("if-match"))
        finally:
            if conflict_when_busy:
                writing.release()
        if etags:
            response.headers["ETag"] = tag(answer)
        return answer

    def write(
        conversation_id: str, account_id: str, update: Any, if_match: str | None
    ) -> Conversation:
        if write_delay and not hold_lock_while_writing:
            # copy-on-write: the new document is made (slowly) outside the lock, then put in
            # place whole; reads meanwhile see the old one
            with lock:
                find(conversation_id, account_id)
            new = copy.deepcopy(update.metadata)
            time.sleep(write_delay)
            with lock:
                record = find(conversation_id, account_id)
                precondition(record, if_match)
                if "metadata" in update.model_fields_set:
                    record["metadata"] = new
                return render(record, 50)
        with lock:
            record = find(conversation_id, account_id)
            precondition(record, if_match)
            if write_delay:
                time.sleep(write_delay)  # a slow write, every other request waiting on it
            if "metadata" in update.model_fields_set:
                record["metadata"] = copy.deepcopy(update.metadata)
            return render(record, 50)

    def precondition(record: dict[str, Any], if_match: str | None) -> None:
        if etags and if_match is not None and if_match not in ("*", tag(render(record, 50))):
            raise HTTPException(status_code=412, detail="Precondition Failed")

    def refuse_oversized(metadata: dict[str, Any], limit: int) -> None:
        size = compact_size(metadata)
        if size > limit:
            message = f"Value error, metadata is {size} bytes as compact JSON, at most {limit}"
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "metadata"), "msg": message}]
            )

    def metadata_snapshot() -> dict[str, dict[str, Any] | None]:
        with lock:
            return {cid: copy.deepcopy(r["metadata"]) for cid, r in conversations.items()}

    by_account: dict[str, list[str]] = {}
    for cid, record in conversations.items():
        by_account.setdefault(record["accountId"], []).append(cid)

    app.state.edition = "seed"
    app.state.accounts = [(key, by_account[account]) for key, account in keys.items()]
    app.state.metadata_snapshot = metadata_snapshot
    app.state.seeded_metadata = metadata_snapshot()
    return app
