"""A current-edition Conversations API whose errors follow the vendor's error page.

Every non-422 error (401, 403, 404, 405, 400, 429, 500) is answered with the
documented envelope::

    {"error": {"message": "...", "code": "NOT_FOUND", "type": "not_found", "details": []}}

through FastAPI exception handlers, while request validation errors keep FastAPI's
default ``422 {"detail": [...]}`` body, as the reference page documents.

Domain objects are dataclasses held by an in-memory service; handlers are async.
An optional per-key rate limit (``create_app(rate_limit=(requests, seconds))``) shows
how the app itself answers 429.

Webhooks (``/v1/webhooks``, see :mod:`._webhooks`): an ``agent.message`` delivery for
each message that arrives (``POST /testing/inbound``, this server's own test-support
route), with ``conversationState: null`` when the metadata is null and members of its
own beside the documented ones. It delivers at least once: every delivery is sent
again once acknowledged, with the same ``X-Webhook-ID`` and the same bytes, signed
afresh (``create_app(redeliver_after=seconds)`` sets the pause between the two).
"""

from __future__ import annotations

import copy
import json
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from ._webhooks import (
    DeliveryStyle,
    Dispatcher,
    Registration,
    Registrations,
    WebhookRequest,
    now_rfc3339,
)

# ---------------------------------------------------------------------------- errors

ERROR_KINDS: dict[int, tuple[str, str]] = {
    400: ("BAD_REQUEST", "invalid_request_error"),
    401: ("UNAUTHORIZED", "authentication_error"),
    403: ("FORBIDDEN", "permission_error"),
    404: ("NOT_FOUND", "not_found"),
    405: ("METHOD_NOT_ALLOWED", "invalid_request_error"),
    409: ("CONFLICT", "invalid_request_error"),
    413: ("PAYLOAD_TOO_LARGE", "invalid_request_error"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "invalid_request_error"),
    429: ("RATE_LIMIT_EXCEEDED", "rate_limit_error"),
    500: ("INTERNAL_ERROR", "api_error"),
}


def error_body(status_code: int, message: str, details: list[Any] | None = None) -> dict:
    if status_code in ERROR_KINDS:
        code, kind = ERROR_KINDS[status_code]
    elif status_code < 500:
        code, kind = "INVALID_REQUEST", "invalid_request_error"
    else:
        code, kind = "INTERNAL_ERROR", "api_error"
    return {"error": {"message": message, "code": code, "type": kind, "details": details or []}}


class ApiError(HTTPException):
    """An HTTPException that carries envelope details."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.details = details or []


async def http_exception_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    details = getattr(exc, "details", None)
    return JSONResponse(
        error_body(exc.status_code, message, details),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def _jsonable_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        try:
            encoded = jsonable_encoder(error)
            json.dumps(encoded, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (ValueError, RecursionError):  # the echoed input is not representable
            encoded = jsonable_encoder(
                {k: v for k, v in error.items() if k not in ("input", "ctx")}
            )
        errors.append(encoded)
    return errors


async def validation_exception_handler(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    """Validation errors keep FastAPI's default 422 body, as the reference page shows."""
    return JSONResponse({"detail": _jsonable_errors(exc)}, status_code=422)


async def unhandled_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body(500, "An unexpected error occurred."), status_code=500)


# ---------------------------------------------------------------------------- domain


@dataclass
class Reaction:
    id: str
    reaction_type: str
    from_number: str
    direction: str
    created_at: datetime


@dataclass
class Message:
    id: str
    body: str
    from_number: str
    to_number: str
    direction: str
    received_at: datetime
    channel: str | None = "sms"
    media_urls: list[str] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    sender_identifier: str | None = None
    reply_to: str | None = None
    status: str | None = None


@dataclass
class Conversation:
    id: str
    account_id: str
    phone_number_id: str
    phone_number: str
    participant: str
    created_at: datetime
    agent_id: str | None = None
    metadata: dict[str, Any] | None = None
    channel: str | None = "sms"
    is_group: bool = False
    group_id: str | None = None
    group_name: str | None = None
    group_icon_url: str | None = None
    participants: list[dict[str, str | None]] | None = None
    messages: list[Message] = field(default_factory=list)

    @property
    def last_message_at(self) -> datetime:
        return max((m.received_at for m in self.messages), default=self.created_at)


# --------------------------------------------------------------------------- schemas


class ReactionSchema(BaseModel):
    id: str
    reactionType: str
    fromNumber: str
    direction: str
    createdAt: datetime


class ReplyToSchema(BaseModel):
    messageId: str
    message: str | None = None
    mediaUrls: list[str] = []


class MessageSchema(BaseModel):
    id: str
    body: str
    fromNumber: str
    toNumber: str
    direction: str
    receivedAt: datetime
    channel: str | None = None
    mediaUrl: str | None = None
    mediaUrls: list[str] = []
    reactions: list[ReactionSchema] = []
    senderIdentifier: str | None = None
    replyTo: ReplyToSchema | None = None
    status: str | None = None


class ParticipantSchema(BaseModel):
    identifier: str
    name: str | None = None


class SummarySchema(BaseModel):
    id: str
    phoneNumberId: str
    phoneNumber: str
    participant: str
    lastMessageAt: datetime
    messageCount: int
    createdAt: datetime
    agentId: str | None = None
    metadata: dict[str, Any] | None = None
    channel: str | None = None
    isGroup: bool = False
    groupId: str | None = None
    groupName: str | None = None
    groupIconUrl: str | None = None
    participants: list[ParticipantSchema] | None = None


class ConversationSchema(SummarySchema):
    messages: list[MessageSchema]


class ListItemSchema(SummarySchema):
    lastMessagePreview: str | None = None


class ConversationListSchema(BaseModel):
    data: list[ListItemSchema]
    hasMore: bool
    total: int


def _json_safe(value: Any, depth: int = 0) -> bool:
    if depth > 100:
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return all(_json_safe(k, depth + 1) and _json_safe(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_safe(v, depth + 1) for v in value)
    return True


class UpdateConversationRequest(BaseModel):
    metadata: dict[str, Any] | None = Field(
        default=None, description="Replaces the stored metadata; null clears it."
    )
    group_name: str | None = Field(default=None, description="iMessage groups only.")

    @field_validator("metadata", "group_name")
    @classmethod
    def must_round_trip_as_json(cls, value: Any) -> Any:
        if not _json_safe(value):
            raise ValueError(
                "must be plain JSON: finite numbers, valid Unicode text, at most 100 levels deep"
            )
        return value


# --------------------------------------------------------------------------- service


def _message_schema(message: Message, by_id: dict[str, Message]) -> MessageSchema:
    reply = None
    if message.reply_to is not None:
        original = by_id.get(message.reply_to)
        reply = ReplyToSchema(
            messageId=message.reply_to,
            message=original.body if original else None,
            mediaUrls=list(original.media_urls) if original else [],
        )
    return MessageSchema(
        id=message.id,
        body=message.body,
        fromNumber=message.from_number,
        toNumber=message.to_number,
        direction=message.direction,
        receivedAt=message.received_at,
        channel=message.channel,
        mediaUrl=message.media_urls[0] if message.media_urls else None,
        mediaUrls=list(message.media_urls),
        reactions=[
            ReactionSchema(
                id=r.id,
                reactionType=r.reaction_type,
                fromNumber=r.from_number,
                direction=r.direction,
                createdAt=r.created_at,
            )
            for r in message.reactions
        ],
        senderIdentifier=message.sender_identifier,
        replyTo=reply,
        status=message.status,
    )


def _summary_fields(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "phoneNumberId": conversation.phone_number_id,
        "phoneNumber": conversation.phone_number,
        "participant": conversation.participant,
        "lastMessageAt": conversation.last_message_at,
        "messageCount": len(conversation.messages),
        "createdAt": conversation.created_at,
        "agentId": conversation.agent_id,
        "metadata": copy.deepcopy(conversation.metadata),
        "channel": conversation.channel,
        "isGroup": conversation.is_group,
        "groupId": conversation.group_id,
        "groupName": conversation.group_name,
        "groupIconUrl": conversation.group_icon_url,
        "participants": copy.deepcopy(conversation.participants),
    }


class ConversationService:
    def __init__(self, api_keys: dict[str, str], conversations: list[Conversation]) -> None:
        self.api_keys = api_keys
        self.conversations = {c.id: c for c in conversations}

    def account_for(self, api_key: str) -> str | None:
        return self.api_keys.get(api_key)

    def _owned(self, account_id: str, conversation_id: str) -> Conversation:
        conversation = self.conversations.get(conversation_id)
        if conversation is None or conversation.account_id != account_id:
            raise ApiError(404, "Conversation not found.", details=[{"field": "conversation_id"}])
        return conversation

    def view(self, account_id: str, conversation_id: str, limit: int = 50) -> ConversationSchema:
        conversation = self._owned(account_id, conversation_id)
        by_id = {m.id: m for m in conversation.messages}
        recent = sorted(conversation.messages, key=lambda m: m.received_at, reverse=True)[:limit]
        return ConversationSchema(
            **_summary_fields(conversation),
            messages=[_message_schema(m, by_id) for m in recent],
        )

    def update(
        self, account_id: str, conversation_id: str, request: UpdateConversationRequest
    ) -> ConversationSchema:
        conversation = self._owned(account_id, conversation_id)
        if "metadata" in request.model_fields_set:
            conversation.metadata = copy.deepcopy(request.metadata)
        if "group_name" in request.model_fields_set and conversation.is_group:
            conversation.group_name = request.group_name
        return self.view(account_id, conversation_id)

    def page(self, account_id: str, limit: int, offset: int) -> ConversationListSchema:
        mine = sorted(
            (c for c in self.conversations.values() if c.account_id == account_id),
            key=lambda c: (c.last_message_at, c.id),
            reverse=True,
        )
        window = mine[offset : offset + limit]
        items = []
        for conversation in window:
            latest = max(conversation.messages, key=lambda m: m.received_at, default=None)
            items.append(
                ListItemSchema(
                    **_summary_fields(conversation),
                    lastMessagePreview=None if latest is None else latest.body[:100],
                )
            )
        return ConversationListSchema(
            data=items, hasMore=offset + len(window) < len(mine), total=len(mine)
        )

    def arrive(self, account_id: str, conversation_id: str, text: str) -> Conversation:
        """A message arriving from the participant; the conversation it arrived on."""
        conversation = self._owned(account_id, conversation_id)
        conversation.messages.append(
            Message(
                id=f"msg_{uuid.uuid4().hex[:12]}",
                body=text,
                from_number=conversation.participant,
                to_number=conversation.phone_number,
                direction="inbound",
                received_at=datetime.now(UTC),
                channel=conversation.channel,
                sender_identifier=conversation.participant,
                status="received",
            )
        )
        return conversation

    def metadata_snapshot(self) -> dict[str, dict[str, Any] | None]:
        return {cid: copy.deepcopy(c.metadata) for cid, c in self.conversations.items()}


def build_service() -> ConversationService:
    t0 = datetime(2025, 4, 2, 10, 15, tzinfo=UTC)

    def at(minutes: float) -> datetime:
        return t0 + timedelta(minutes=minutes)

    support = Conversation(
        id="conv_8d41c7e2a95f4b06",
        account_id="acct_northwind",
        phone_number_id="pn_4be9a07c13d2",
        phone_number="+16175550128",
        participant="+18575550142",
        created_at=at(0),
        agent_id="agent_7f2c9e14b8",
        metadata={
            "customer": {"name": "Hiro Tanaka", "accountId": "NW-30417"},
            "intent": "reschedule",
            "slots": ["2025-04-08T15:00", "2025-04-09T10:30"],
        },
        channel="sms",
        messages=[
            Message(
                id="msg_5a0e3c9d71b2",
                body="Can I move my appointment to next week?",
                from_number="+18575550142",
                to_number="+16175550128",
                direction="inbound",
                received_at=at(0),
                sender_identifier="+18575550142",
                status="received",
            ),
            Message(
                id="msg_6b1f4dae82c3",
                body="Sure, here are the open slots.",
                from_number="+16175550128",
                to_number="+18575550142",
                direction="outbound",
                received_at=at(1.5),
                channel="mms",
                media_urls=["https://media.agentphone.ai/m/6b1f/slots.pdf"],
                reactions=[
                    Reaction(
                        id="react_2c7e0f9a41",
                        reaction_type="like",
                        from_number="+18575550142",
                        direction="inbound",
                        created_at=at(2),
                    )
                ],
                sender_identifier="+16175550128",
                status="delivered",
            ),
            Message(
                id="msg_7c2a5ebf93d4",
                body="Tuesday at 3pm please 🙏",
                from_number="+18575550142",
                to_number="+16175550128",
                direction="inbound",
                received_at=at(4),
                reply_to="msg_6b1f4dae82c3",
                sender_identifier="+18575550142",
                status="received",
            ),
        ],
    )
    bare = Conversation(
        id="conv_1f6b93d0e27c48a5",
        account_id="acct_northwind",
        phone_number_id="pn_4be9a07c13d2",
        phone_number="+16175550128",
        participant="+17815550176",
        created_at=at(-60 * 24),
    )
    other = Conversation(
        id="conv_c03e58b7f1a94d62",
        account_id="acct_lakeside",
        phone_number_id="pn_9d3a61f5c8e0",
        phone_number="+17205550113",
        participant="+13035550158",
        created_at=at(-30),
        agent_id="agent_3a9d5c71e0",
        metadata={"plan": "pro"},
        messages=[
            Message(
                id="msg_8d3b6fc0a4e5",
                body="Please cancel my subscription.",
                from_number="+13035550158",
                to_number="+17205550113",
                direction="inbound",
                received_at=at(-30),
                sender_identifier="+13035550158",
                status="received",
            )
        ],
    )
    return ConversationService(
        api_keys={
            "apk_northwind_3Jx8Vd2QmL6tRz9WcN4b": "acct_northwind",
            "apk_lakeside_7Gh1Ks5PyE0uXa3FqT8m": "acct_lakeside",
        },
        conversations=[support, bare, other],
    )


# ---------------------------------------------------------------------------- routes

bearer = HTTPBearer()


async def get_service(request: Request) -> ConversationService:
    return request.app.state.service


async def get_account(
    service: Annotated[ConversationService, Depends(get_service)],
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
) -> str:
    account_id = service.account_for(credentials.credentials)
    if account_id is None:
        raise ApiError(401, "Invalid API key.", headers={"WWW-Authenticate": "Bearer"})
    return account_id


class SlidingWindowLimiter:
    def __init__(self, requests: int, seconds: float) -> None:
        self.requests = requests
        self.seconds = seconds
        self.hits: dict[str, deque[float]] = {}

    async def __call__(self, request: Request) -> None:
        client = request.headers.get("authorization") or "anonymous"
        now = time.monotonic()
        hits = self.hits.setdefault(client, deque())
        while hits and now - hits[0] >= self.seconds:
            hits.popleft()
        if len(hits) >= self.requests:
            retry_after = max(1, math.ceil(self.seconds - (now - hits[0])))
            raise ApiError(
                429,
                "Too many requests. Please retry later.",
                details=[{"retryAfter": retry_after}],
                headers={"Retry-After": str(retry_after)},
            )
        hits.append(now)


async def no_limit() -> None:
    return None


Service = Annotated[ConversationService, Depends(get_service)]
Account = Annotated[str, Depends(get_account)]

router = APIRouter(prefix="/v1")


@router.get("/conversations", response_model=ConversationListSchema)
async def list_conversations(
    service: Service,
    account: Account,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ConversationListSchema:
    return service.page(account, limit, offset)


@router.get("/conversations/{conversation_id}", response_model=ConversationSchema)
async def get_conversation(
    conversation_id: str,
    service: Service,
    account: Account,
    message_limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ConversationSchema:
    return service.view(account, conversation_id, message_limit)


@router.patch("/conversations/{conversation_id}", response_model=ConversationSchema)
async def update_conversation(
    conversation_id: str,
    service: Service,
    account: Account,
    body: Annotated[UpdateConversationRequest, Body(default_factory=UpdateConversationRequest)],
) -> ConversationSchema:
    return service.update(account, conversation_id, body)


# -------------------------------------------------------------------------- webhooks

API_VERSION = "2025-04-01"


class Webhooks:
    """The app's webhook registrations and the thread that delivers to them."""

    def __init__(self, redeliver_after: float) -> None:
        self.registrations = Registrations()
        self.dispatcher = Dispatcher(DeliveryStyle(attempts=4, backoff=0.05))
        self.redeliver_after = redeliver_after

    def message_arrived(self, account_id: str, conversation: Conversation) -> bool:
        """Queue the agent.message delivery of the conversation's latest message, if the
        account has a webhook."""
        registration = self.registrations.get(account_id)
        if registration is None:
            return False
        payload = _agent_message(account_id, conversation, registration)
        self.dispatcher.enqueue(
            registration, payload, copies=2, redeliver_after=self.redeliver_after, compact=False
        )
        return True


def _when(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _agent_message(
    account_id: str, conversation: Conversation, registration: Registration
) -> dict[str, Any]:
    """The payload, as the conversation is now; the history is what came before the message."""
    message, *earlier = sorted(conversation.messages, key=lambda m: m.received_at, reverse=True)
    channel = conversation.channel or message.channel or "sms"
    history = list(reversed(earlier[: registration.context_limit]))
    return {
        "event": "agent.message",
        "apiVersion": API_VERSION,
        "accountId": account_id,
        "channel": channel,
        "timestamp": now_rfc3339(),
        "agentId": conversation.agent_id,
        "data": {
            "conversationId": conversation.id,
            "messageId": message.id,
            "from": message.from_number,
            "to": message.to_number,
            "message": message.body,
            "direction": message.direction,
            "receivedAt": _when(message.received_at),
            "mediaUrls": list(message.media_urls),
        },
        "conversationState": copy.deepcopy(conversation.metadata),
        "recentHistory": [
            {
                "messageId": m.id,
                "content": m.body,
                "direction": m.direction,
                "channel": m.channel or channel,
                "at": _when(m.received_at),
            }
            for m in history
        ],
    }


async def get_webhooks(request: Request) -> Webhooks:
    hooks: Webhooks = request.app.state.webhooks
    return hooks


Hooks = Annotated[Webhooks, Depends(get_webhooks)]


@router.post("/webhooks")
async def register_webhook(account: Account, hooks: Hooks, body: WebhookRequest) -> dict[str, Any]:
    return hooks.registrations.register(account, body).as_json()


@router.get("/webhooks")
async def get_webhook(account: Account, hooks: Hooks) -> dict[str, Any] | None:
    registration = hooks.registrations.get(account)
    return None if registration is None else registration.as_json()


@router.delete("/webhooks")
async def delete_webhook(account: Account, hooks: Hooks) -> dict[str, Any]:
    registration = hooks.registrations.remove(account)
    if registration is None:
        raise ApiError(404, "No webhook is registered for this account.")
    return {"id": registration.id, "deleted": True}


class Inbound(BaseModel):
    """This server's test-support request: a message from the participant."""

    conversation: str
    text: str = "A message from the test bench."


testing = APIRouter(prefix="/testing", include_in_schema=False)


@testing.post("/inbound", status_code=201)
async def inbound(
    service: Service, account: Account, hooks: Hooks, body: Inbound
) -> dict[str, Any]:
    """Make a message arrive on one of the account's conversations, as a phone would."""
    conversation = service.arrive(account, body.conversation, body.text)
    queued = hooks.message_arrived(account, conversation)
    return {
        "conversation": conversation.id,
        "messageCount": len(conversation.messages),
        "queued": queued,
    }


def create_app(
    *, rate_limit: tuple[int, float] | None = None, redeliver_after: float = 0.0
) -> FastAPI:
    """A fresh app with a freshly seeded service.

    ``rate_limit=(n, seconds)`` makes the app answer 429 (with ``Retry-After``) past
    ``n`` requests per API key within ``seconds``. ``redeliver_after``: the seconds between
    a webhook delivery's acknowledgement and its second copy.
    ``app.state.accounts`` lists ``(api_key, [conversation ids])`` per account and
    ``app.state.metadata_snapshot()`` returns ``{conversation_id: metadata}``.
    """
    service = build_service()
    limiter = SlidingWindowLimiter(*rate_limit) if rate_limit else no_limit
    app = FastAPI(
        title="AgentPhone Conversations API",
        dependencies=[Depends(limiter)],
        exception_handlers={
            StarletteHTTPException: http_exception_handler,
            RequestValidationError: validation_exception_handler,
            Exception: unhandled_exception_handler,
        },
    )
    app.include_router(router)
    app.include_router(testing)
    app.state.service = service
    app.state.webhooks = hooks = Webhooks(redeliver_after)
    app.state.close = hooks.dispatcher.close
    app.state.edition = "current"
    app.state.accounts = [
        (key, [c.id for c in service.conversations.values() if c.account_id == account])
        for key, account in service.api_keys.items()
    ]
    app.state.metadata_snapshot = service.metadata_snapshot
    app.state.seeded_metadata = service.metadata_snapshot()
    return app
