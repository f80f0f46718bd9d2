"""Faulty servers: each is the conformant base app with ONE habit of a real backend.

Every habit is something teams really ship: a storage layer's quirk, a piece of
middleware copied from a tutorial, an ORM idiom, an update written the easy way, a limit
enforced by cutting, an authorization shortcut. Each server still serves the ordinary
happy path (read a conversation, replace its metadata with a plain object, clear it with
null, list the account's conversations); the habit shows only where it applies.

``FAULTY`` maps each name to its :class:`Habit` subclass (``.description`` says what real
habit it imitates); ``create(name)`` builds a fresh app. ``CONTROL`` names the base app
with no habit, which must pass.
"""

from __future__ import annotations

import asyncio
import copy
import decimal
import hashlib
import json
import re
import sqlite3
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from starlette.types import ASGIApp, Receive, Scope, Send

from . import _base
from ._base import Conversations, Habit, Record, create_app, not_found
from ._middleware import (
    NO_JSON,
    Answer,
    Json,
    RequestJson,
    ResponseJson,
    capture,
    dump,
    header,
    is_api,
    json_answer,
    map_keys,
    map_numbers,
    map_strings,
    parse,
    read_body,
    replaying,
    respond,
)

# ============================================================================ storage layers


class PostgresJsonbNul(Habit):
    name = "postgres-jsonb-nul"
    description = (
        "PostgreSQL jsonb cannot hold \\u0000 in a string: the UPDATE raises "
        "'unsupported Unicode escape sequence' and the PATCH answers 500"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        found: list[str] = []
        map_strings(metadata, lambda s: found.append(s) if "\x00" in s else None, keys=True)
        if found:  # psycopg.errors.UntranslatableCharacter, caught by a generic handler
            raise HTTPException(status_code=500, detail="Internal Server Error")
        return super().store(metadata, previous)


def _bmp_only(text: str) -> str:
    return "".join("?" if ord(c) > 0xFFFF else c for c in text)


class MysqlUtf8mb3(Habit):
    name = "mysql-utf8mb3"
    description = (
        "metadata in a MySQL TEXT column of charset utf8 (utf8mb3), written unescaped by "
        "the driver: every character outside the BMP (emoji, rare CJK) is stored as '?'"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        return map_strings(copy.deepcopy(metadata), _bmp_only, keys=True)


def _minimize(value: Any) -> Any:
    """Mongoose's minimize: empty objects are not saved (recursively), arrays untouched."""
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        smaller = _minimize(item)
        if isinstance(item, dict) and smaller is None:
            continue  # an object that was (or became) empty
        kept[key] = smaller
    return kept or None


class MongooseMinimize(Habit):
    name = "mongoose-minimize"
    description = (
        "a Mongoose schema with the default minimize: true: empty objects are not saved, "
        "so {} reads back as null and nested {} members vanish"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        return _minimize(copy.deepcopy(metadata))


DYNAMODB_CONTEXT = decimal.Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[
        decimal.Clamped,
        decimal.Overflow,
        decimal.Inexact,
        decimal.Rounded,
        decimal.Underflow,
    ],
)


class DynamodbNumbers(Habit):
    name = "dynamodb-number-limits"
    description = (
        "metadata in a DynamoDB map through boto3 (floats parsed as Decimal): a number "
        "past 38 digits or outside 1E-130..9.9E+125 raises Inexact/Overflow -> 500"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        def to_number(number: int | float) -> int | float:
            try:
                DYNAMODB_CONTEXT.create_decimal(repr(number))
            except decimal.DecimalException:
                raise HTTPException(status_code=500, detail="Internal Server Error") from None
            return number

        return map_numbers(copy.deepcopy(metadata), to_number)


def _redis_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)  # ints, and bools as "True"/"False"


class RedisHash(Habit):
    name = "redis-hash"
    description = (
        "metadata kept as a Redis hash (HSET conv:<id>:meta): every value comes back a "
        "string from HGETALL, null members are skipped, an empty hash is no key at all"
    )

    def _hash(self, metadata: Any) -> Any:
        if not isinstance(metadata, dict):
            return None
        fields = {k: _redis_value(v) for k, v in metadata.items() if v is not None}
        return fields or None

    def store(self, metadata: Any, previous: Any) -> Any:
        return self._hash(metadata)

    def load(self, stored: Any) -> Any:
        return self._hash(stored)


class SqlalchemyInPlace(Habit):
    name = "sqlalchemy-json-in-place"
    description = (
        "an SQLAlchemy JSON column (no MutableDict) updated in place with .clear() and "
        ".update(): the PATCH answers the new metadata but no UPDATE is ever issued"
    )

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        new = members.get("metadata")
        if "metadata" not in members or record["metadata"] is None or new is None:
            return super().apply(record, members, conversations)
        session_copy = dict(record)  # the session's object; the row is never written
        session_copy["metadata"] = copy.deepcopy(new)
        return session_copy


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict | list) and item:
            flat.update(_flatten(item, path))
        else:
            flat[path] = item
    return flat


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """The npm ``flat`` package's unflatten: numeric path segments make arrays."""
    result: dict[str, Any] = {}
    for path, item in flat.items():
        parts = path.split(".")
        here: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            key: Any = int(part) if isinstance(here, list) and part.isdigit() else part
            if isinstance(here, list):
                if not isinstance(key, int):
                    break  # a member name where an index was expected: dropped
                while len(here) <= key:
                    here.append(None)
            if last:
                here[key] = copy.deepcopy(item)
                break
            nxt = here[key] if (isinstance(here, list) or key in here) else None
            if not isinstance(nxt, dict | list):
                nxt = [] if parts[index + 1].isdigit() else {}
                here[key] = nxt
            here = nxt
    return result


class EavDottedPaths(Habit):
    name = "eav-dotted-paths"
    description = (
        "metadata kept as rows (conversation_id, path, value) with dotted paths, rebuilt on "
        "read like npm 'flat': a key holding a dot comes back nested, '0'-keys as arrays"
    )

    def load(self, stored: Any) -> Any:
        if not isinstance(stored, dict):
            return None
        return _unflatten(_flatten(stored)) if stored else {}


# ========================================================================= JavaScript numbers


def _js_number(number: int | float) -> int | float | None:
    """JSON.parse then JSON.stringify: an IEEE double, integral ones written as integers."""
    try:
        double = float(number)
    except OverflowError:
        return None  # Infinity, which JSON.stringify writes as null
    if double.is_integer() and abs(double) < 1e21:
        return int(double)
    return double


class NodeJsonNumbers(Habit):
    name = "node-json-numbers"
    description = (
        "a Node.js backend: JSON.parse makes every number a double, so integers past 2^53 "
        "come back rounded (9007199254740993 -> 9007199254740992) and 1.0 as 1"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        return map_numbers(copy.deepcopy(metadata), _js_number)


# ================================================================ input filters, revivers, case


class XssClean(Habit):
    name = "xss-clean"
    description = (
        "Express's xss-clean on every request: the body is JSON.stringified, every '<' "
        "becomes '&lt;' (values and member names), and parsed again"
    )

    def install(self, app: FastAPI) -> None:
        def clean(body: Json) -> Json:
            return json.loads(json.dumps(body).replace("<", "&lt;"))

        app.add_middleware(RequestJson, transform=clean)


def _mongo_sanitize(value: Json) -> Json:
    if isinstance(value, list):
        return [_mongo_sanitize(item) for item in value]
    if isinstance(value, dict):
        return {
            k: _mongo_sanitize(v) for k, v in value.items() if not (k.startswith("$") or "." in k)
        }
    return value


class MongoSanitize(Habit):
    name = "express-mongo-sanitize"
    description = (
        "express-mongo-sanitize on every request: members whose name starts with '$' or "
        "holds a '.' are silently removed from the body, at any depth"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(RequestJson, transform=_mongo_sanitize)


PHP_TRIM = " \t\n\r\0\x0b"


class LaravelTrimStrings(Habit):
    name = "laravel-trim-strings"
    description = (
        "Laravel's default global middleware TrimStrings and ConvertEmptyStringsToNull: "
        "every string in the body is trimmed, and '' becomes null"
    )

    def install(self, app: FastAPI) -> None:
        def trim(text: str) -> str | None:
            return text.strip(PHP_TRIM) or None

        app.add_middleware(RequestJson, transform=lambda body: map_strings(body, trim))


DATE_LIKE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$"
)


def _revive(text: str) -> str | None:
    """A date-looking string as ``new Date(text)`` then JSON.stringify write it."""
    match = DATE_LIKE.match(text)
    if not match:
        return text
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:3].ljust(3, "0")) * 1000,
            tzinfo=UTC,
        )
    except ValueError:
        return None  # Invalid Date: its toJSON() is null
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 60 + int(zone[4:6]))
        moment = datetime.fromtimestamp(moment.timestamp() - offset * 60, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class DateReviver(Habit):
    name = "date-reviver"
    description = (
        "a JSON body parser with a date reviver: ISO-looking strings become Dates and are "
        "written back as toISOString() ('2025-03-01' -> '2025-03-01T00:00:00.000Z')"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(RequestJson, transform=lambda body: map_strings(body, _revive))


CAMEL_TO_SNAKE = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")
SNAKE_TO_CAMEL = re.compile(r"[a-z0-9]?_[a-z0-9]")


def _underscore(name: str) -> str:
    return CAMEL_TO_SNAKE.sub(r"_\1", name).lower()


def _camelize(name: str) -> str:
    def join(match: re.Match[str]) -> str:
        group = match.group()
        return group[0] + group[2].upper() if len(group) == 3 else group[1].upper()

    return SNAKE_TO_CAMEL.sub(join, name)


class CaseConverter(Habit):
    name = "case-converter"
    description = (
        "djangorestframework-camel-case style parser and renderer: request member names "
        "to snake_case and answer names to camelCase, all the way into metadata"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(ResponseJson, transform=lambda body: map_keys(body, _camelize))
        app.add_middleware(RequestJson, transform=lambda body: map_keys(body, _underscore))


# ==================================================================================== caches


class _ReadCache:
    """Cache 200 answers of GETs; ``shared``: keyed by URL alone and served before auth,
    purged by any successful write (a reverse proxy without ``Vary: Authorization``)."""

    def __init__(self, app: ASGIApp, *, shared: bool, ttl: float = 60.0) -> None:
        self.app = app
        self.shared = shared
        self.ttl = ttl
        self.entries: dict[tuple[str, ...], tuple[float, Answer]] = {}

    def key(self, scope: Scope) -> tuple[str, ...]:
        url = (str(scope["path"]), scope["query_string"].decode("latin-1"))
        return url if self.shared else (header(scope, "authorization") or "", *url)

    def cacheable(self, scope: Scope) -> bool:
        if self.shared:
            return True
        return str(scope["path"]).count("/") == 3  # /v1/conversations/{id}: the @cache'd view

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET" or not self.cacheable(scope):
            answer = await capture(self.app, scope, receive)
            if self.shared and scope["method"] != "GET" and answer.status < 300:
                self.entries.clear()
            await respond(send, answer)
            return
        key = self.key(scope)
        hit = self.entries.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            age = str(int(time.monotonic() - hit[0]))
            await respond(send, hit[1].replaced(hit[1].body, Age=age, **{"X-Cache": "HIT"}))
            return
        answer = await capture(self.app, scope, receive)
        if answer.status == 200:
            self.entries[key] = (time.monotonic(), answer)
        await respond(send, answer.replaced(answer.body, **{"X-Cache": "MISS"}))


class StaleReadCache(Habit):
    name = "stale-read-cache"
    description = (
        "GET /v1/conversations/{id} memoized per key and URL for 60 s (fastapi-cache style "
        "@cache(expire=60)), and the PATCH does not invalidate it"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_ReadCache, shared=False)


class SharedCacheNoVary(Habit):
    name = "shared-cache-no-vary"
    description = (
        "a caching reverse proxy keyed by URL only (no Vary: Authorization), purged on "
        "writes: an answer cached for one key is served to another key, or to none"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_ReadCache, shared=True)


class _EtagFromLastMessage:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope) or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        answer = await capture(self.app, scope, receive)
        body = parse(answer.body) if answer.status == 200 else NO_JSON
        if not isinstance(body, dict) or "lastMessageAt" not in body:
            await respond(send, answer)
            return
        stamp = f"{body['id']}|{body['lastMessageAt']}|{body['messageCount']}"
        etag = 'W/"' + hashlib.sha1(stamp.encode()).hexdigest()[:20] + '"'
        if header(scope, "if-none-match") == etag:
            await respond(send, Answer(304, [(b"etag", etag.encode())], b""))
            return
        await respond(send, answer.replaced(answer.body, ETag=etag))


class EtagFromLastMessage(Habit):
    name = "etag-from-last-message"
    description = (
        "GET sends an ETag made from the row's lastMessageAt (its 'version'), which a "
        "metadata PATCH does not change: a conditional GET gets 304 and the old metadata"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_EtagFromLastMessage)


# ================================================================ partial updates done wrong


def _lodash_merge(target: Any, source: Any) -> Any:
    if isinstance(target, dict) and isinstance(source, dict):
        for key, value in source.items():
            target[key] = _lodash_merge(target.get(key), value) if key in target else value
        return target
    if isinstance(target, list) and isinstance(source, list):
        for index, value in enumerate(source):
            if index < len(target):
                target[index] = _lodash_merge(target[index], value)
            else:
                target.append(value)
        return target
    return copy.deepcopy(source)


class DeepMerge(Habit):
    name = "deep-merge"
    description = (
        "the PATCH does _.merge(conversation.metadata, body.metadata): members it leaves "
        "out survive, nested objects and arrays are merged instead of replaced"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        if metadata is None or not isinstance(previous, dict):
            return copy.deepcopy(metadata)
        return _lodash_merge(copy.deepcopy(previous), copy.deepcopy(metadata))


class JsonbConcat(Habit):
    name = "jsonb-concat"
    description = (
        "UPDATE ... SET metadata = COALESCE(metadata, '{}') || $1: PostgreSQL's jsonb || "
        "is a top-level merge, so old members the PATCH leaves out stay"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        if metadata is None:
            return None  # anything || NULL is NULL
        return {**copy.deepcopy(previous or {}), **copy.deepcopy(metadata)}


class NullAsEmptyObject(Habit):
    name = "null-as-empty-object"
    description = (
        "a Django JSONField(default=dict) with null=False: the serializer turns a null "
        "metadata into {} before saving, so null never clears to null"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        return {} if metadata is None else copy.deepcopy(metadata)


class ExcludeNone(Habit):
    name = "exclude-none"
    description = (
        "the PATCH applies patch.model_dump(exclude_unset=True, exclude_none=True): a "
        "metadata of null is dropped with the unset members, so null clears nothing"
    )

    def members(self, update: BaseModel) -> dict[str, Any]:
        return update.model_dump(exclude_unset=True, exclude_none=True)


class OmittedClears(Habit):
    name = "omitted-clears"
    description = (
        "conversation.metadata = patch.metadata, without looking at model_fields_set: a "
        "body without metadata (e.g. {} or only other members) clears it"
    )

    def members(self, update: BaseModel) -> dict[str, Any]:
        return {"metadata": getattr(update, "metadata", None)}


# ========================================================================= limits done wrong


class KeyCapSilent(Habit):
    name = "key-cap-silent"
    description = (
        "'metadata holds at most 50 keys', enforced by keeping the first 50 members and "
        "silently dropping the rest (no 4xx)"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        if isinstance(metadata, dict) and len(metadata) > 50:
            return copy.deepcopy(dict(list(metadata.items())[:50]))
        return copy.deepcopy(metadata)


class TruncateStrings(Habit):
    name = "truncate-varchar-255"
    description = (
        "metadata values in VARCHAR(255) cells on MySQL without strict mode: longer "
        "strings are cut at 255 characters with only a warning"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        return map_strings(copy.deepcopy(metadata), lambda s: s[:255])


def _normalize(value: Any, depth: int, limit: int) -> Any:
    if isinstance(value, dict | list) and value and depth >= limit:
        return "[Object]" if isinstance(value, dict) else "[Array]"
    if isinstance(value, dict):
        return {k: _normalize(v, depth + 1, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v, depth + 1, limit) for v in value]
    return value


class DepthNormalizer(Habit):
    name = "depth-normalizer"
    description = (
        "a 'safe JSON' normalizer (Sentry-style normalize(depth=5)) run before saving: "
        "objects and arrays deeper than 5 levels become the strings '[Object]'/'[Array]'"
    )

    def store(self, metadata: Any, previous: Any) -> Any:
        return _normalize(copy.deepcopy(metadata), 0, 5)


# ==================================================================== authorization mistakes


class TenantForbidden(Habit):
    name = "tenant-403"
    description = (
        "the lookup finds the row first, then checks its owner: another account's "
        "conversation answers 403 Forbidden where a missing one answers 404"
    )

    def find(self, conversations: Conversations, conversation_id: str, account_id: str) -> Record:
        record = conversations.get(conversation_id)
        if record is None:
            raise not_found()
        if record["accountId"] != account_id:
            raise HTTPException(403, detail="You do not have access to this conversation")
        return record


def _fastapi_422(error_type: str, loc: list[Any], msg: str, value: Any) -> Answer:
    return json_answer(
        422, {"detail": [{"type": error_type, "loc": loc, "msg": msg, "input": value}]}
    )


class _ValidateFirst:
    """An OpenAPI request validator mounted app-wide, in front of the auth middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope) or scope["method"] != "PATCH":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        value = parse(body)
        problem: Answer | None = None
        if value is NO_JSON and body.strip():
            problem = _fastapi_422("json_invalid", ["body", 0], "JSON decode error", {})
        elif value is not NO_JSON and not isinstance(value, dict):
            problem = _fastapi_422(
                "model_attributes_type",
                ["body"],
                "Input should be a valid dictionary or object to extract fields from",
                value,
            )
        elif isinstance(value, dict) and not isinstance(value.get("metadata", {}), dict | None):
            problem = _fastapi_422(
                "dict_type", ["body", "metadata"], "Input should be a valid dictionary", value
            )
        if problem is not None:
            await respond(send, problem)
            return
        await self.app(scope, replaying(body, receive), send)


class ValidateBeforeAuth(Habit):
    name = "validate-before-auth"
    description = (
        "request validation (express-openapi-validator style) mounted before "
        "authentication: a bad body answers 422 to a caller with no key or a wrong one"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_ValidateFirst)


class _LoadConversationFirst:
    """``router.param('id', loadConversation)``: runs before the route's auth middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = str(scope.get("path", "")).split("/")
        if is_api(scope) and len(parts) >= 4 and parts[3]:
            conversations = scope["app"].state.conversations
            if parts[3] not in conversations:
                await respond(send, json_answer(404, {"detail": "Conversation not found"}))
                return
        await self.app(scope, receive, send)


class LookupBeforeAuth(Habit):
    name = "lookup-before-auth"
    description = (
        "the conversation is loaded by a route-param loader before authentication: an "
        "unknown id answers 404 without a key, an existing one 401/403 (an id oracle)"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_LoadConversationFirst)


class OpenUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")
    metadata: _base.Metadata = None


class MassAssignment(Habit):
    name = "mass-assignment"
    description = (
        "the PATCH does Object.assign(conversation, req.body) / setattr for every member: "
        "agentId, participant, phoneNumber, even accountId can be written"
    )
    update_model = OpenUpdate

    def members(self, update: BaseModel) -> dict[str, Any]:
        members = super().members(update)
        members.update(update.model_extra or {})
        return members

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        for key, value in members.items():
            if key in record and key not in ("id", "messages", "createdAt", "metadata"):
                record[key] = copy.deepcopy(value)
        return super().apply(record, members, conversations)


SECRET_MEMBERS = {"password", "token", "apiKey", "secret"}


class _AuditLog:
    """Logs every write with secrets redacted; assumes the body is a JSON object."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope) or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body:
            payload = json.loads(body)
            redacted = {k: "***" if k in SECRET_MEMBERS else v for k, v in payload.items()}
            self.log.append(f"{scope['method']} {scope['path']} {dump(redacted)[:200]!r}")
        await self.app(scope, replaying(body, receive), send)


class _TracebackOn500:
    """What DEBUG=True / a 'helpful' catch-all handler does: the traceback as the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            body = traceback.format_exc().encode("utf-8")
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            await respond(send, Answer(500, headers, b"").replaced(body))


class DebugTraceback(Habit):
    name = "debug-traceback"
    description = (
        "deployed with debug on, and an audit-log middleware does json.loads(body).items(): "
        "a malformed or non-object body answers 500 with a traceback and file paths"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_AuditLog)
        app.add_middleware(_TracebackOn500)


class SqlStringFormat(Habit):
    name = "sql-string-format"
    description = (
        "the lookup is an f-string SQL query and the error handler returns str(exc): an id "
        "with a quote answers 500 with the driver's message and the SQL text"
    )

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None

    def _db(self, conversations: Conversations) -> sqlite3.Connection:
        if self.db is None:
            self.db = sqlite3.connect(":memory:", check_same_thread=False)
            self.db.execute("CREATE TABLE conversations (id TEXT PRIMARY KEY, account_id TEXT)")
            self.db.executemany(
                "INSERT INTO conversations VALUES (?, ?)",
                [(cid, r["accountId"]) for cid, r in conversations.items()],
            )
        return self.db

    def find(self, conversations: Conversations, conversation_id: str, account_id: str) -> Record:
        sql = (
            "SELECT id FROM conversations "
            f"WHERE id = '{conversation_id}' AND account_id = '{account_id}'"
        )
        try:
            row = self._db(conversations).execute(sql).fetchone()
        except sqlite3.Error as exc:
            detail = f"({type(exc).__module__}.{type(exc).__name__}) {exc}\n[SQL: {sql}]"
            raise HTTPException(status_code=500, detail=detail) from None
        if row is None:
            raise not_found()
        return conversations[row[0]]


class MysqlCaseInsensitiveIds(Habit):
    name = "mysql-ci-collation"
    description = (
        "ids in a MySQL column with the default *_ci, PAD SPACE collation: "
        "'CONV_3F8A...' and 'conv_3f8a... ' find conversation conv_3f8a..."
    )

    def find(self, conversations: Conversations, conversation_id: str, account_id: str) -> Record:
        wanted = conversation_id.rstrip(" ").casefold()
        for cid, record in conversations.items():
            if cid.casefold() == wanted and record["accountId"] == account_id:
                return record
        raise not_found()


class EchoKeyIn401(Habit):
    name = "echo-key-in-401"
    description = (
        "the 401 says which key was refused: {'detail': 'Invalid API key: <the key sent>'} "
        "(the key lands in clients' logs and error trackers)"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_EchoKey)


class _EchoKey:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope):
            await self.app(scope, receive, send)
            return
        answer = await capture(self.app, scope, receive)
        sent = header(scope, "authorization") or ""
        token = sent.split(" ", 1)[1] if " " in sent else sent
        if answer.status == 401 and token:
            body = {"detail": f"Invalid API key: {token}"}
            answer = json_answer(401, body, **{"WWW-Authenticate": "Bearer"})
        await respond(send, answer)


# ============================================================================ everything else


class ReturnsDocumentBefore(Habit):
    name = "returns-document-before"
    description = (
        "MongoDB findOneAndUpdate without returnDocument: 'after' (the driver's default is "
        "'before'): the PATCH answers the conversation as it was before the update"
    )

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        before = copy.deepcopy(record)
        super().apply(record, members, conversations)
        return before


class OnUpdateLastMessageAt(Habit):
    name = "onupdate-last-message-at"
    description = (
        "lastMessageAt declared with onupdate=func.now() (copied from updatedAt): every "
        "metadata PATCH moves lastMessageAt to now and the conversation up the list"
    )

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        super().apply(record, members, conversations)
        record["lastMessageAt"] = datetime.now(UTC)
        return record


class WhereTooBroad(Habit):
    name = "update-where-too-broad"
    description = (
        "UPDATE conversations SET metadata = $1 WHERE account_id = $2 AND phone_number_id "
        "= $3 (the id condition lost in a refactor): every conversation on that number"
    )

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        if "metadata" in members:
            for other in conversations.values():
                if (other["accountId"], other["phoneNumberId"]) == (
                    record["accountId"],
                    record["phoneNumberId"],
                ):
                    other["metadata"] = self.store(members["metadata"], other["metadata"])
        return record


class PatchWithoutMessages(Habit):
    name = "patch-without-messages"
    description = (
        "the PATCH answer is built from UPDATE ... RETURNING *, without loading the "
        "messages relation: it answers messages: [] where GET shows the messages"
    )

    def shape(self, kind: str, body: dict[str, Any], record: Record) -> dict[str, Any]:
        if kind == "patch":
            body["messages"] = []
        return body


DATE_MEMBERS = ("lastMessageAt", "createdAt", "receivedAt")


def _naive(value: Any) -> Any:
    """Every timestamp member without its "Z" (metadata is left alone by the caller)."""
    if isinstance(value, list):
        return [_naive(item) for item in value]
    if isinstance(value, dict):
        return {
            k: v.removesuffix("Z") if k in DATE_MEMBERS and isinstance(v, str) else _naive(v)
            for k, v in value.items()
        }
    return value


class NaiveDatetimes(Habit):
    name = "naive-datetimes"
    description = (
        "timestamps stored with datetime.utcnow() (naive) and serialized as such: "
        "'2025-02-03T16:02:11' with no offset, which is not an RFC 3339 date-time"
    )

    def shape(self, kind: str, body: dict[str, Any], record: Record) -> dict[str, Any]:
        metadata = body.get("metadata")
        body = _naive({k: v for k, v in body.items() if k != "metadata"})
        body["metadata"] = metadata
        return body


def _object_or_array(value: Any) -> Any:
    _base._check_json(value)
    return value


class LooseUpdate(BaseModel):
    metadata: Annotated[dict[str, Any] | list[Any] | None, AfterValidator(_object_or_array)] = None


class TypeofObject(Habit):
    name = "typeof-object"
    description = (
        "validation written as typeof metadata === 'object': an array passes for an "
        "object and is stored as the metadata"
    )
    update_model = LooseUpdate


class ListFromStaleIndex(Habit):
    name = "list-stale-index"
    description = (
        "GET /v1/conversations reads a search index (Elasticsearch) fed by message events; "
        "a metadata PATCH is never reindexed, so the list shows the old metadata"
    )

    def __init__(self) -> None:
        self.index: dict[str, Any] = {}

    def install(self, app: FastAPI) -> None:
        self.index = app.state.metadata_snapshot()

    def shape(self, kind: str, body: dict[str, Any], record: Record) -> dict[str, Any]:
        if kind == "summary":
            body["metadata"] = copy.deepcopy(self.index.get(record["id"]))
        return body


class ListNullAsEmpty(Habit):
    name = "list-null-as-empty"
    description = (
        "the list's summary serializer writes metadata: c.metadata || {} while GET writes "
        "the column as is: a cleared conversation is null in one view and {} in the other"
    )

    def shape(self, kind: str, body: dict[str, Any], record: Record) -> dict[str, Any]:
        if kind == "summary" and body["metadata"] is None:
            body["metadata"] = {}
        return body


def _decoded(value: Any) -> Any:
    """A metadata that arrives JSON-encoded (a client that encodes it twice) is decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # left for the type check to refuse
    return value


class _TolerantMetadata(BaseModel):
    metadata: Annotated[
        dict[str, Any] | None,
        BeforeValidator(_decoded),
        AfterValidator(_base._valid_metadata),
    ] = None


class JsonStringMetadata(Habit):
    name = "json-string-metadata"
    description = (
        "lenient for clients that JSON-encode twice: a metadata string holding a JSON "
        "object is decoded and stored as the object instead of refused"
    )
    update_model = _TolerantMetadata


def _without_nulls(value: Json) -> Json:
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


class GsonOmitsNulls(Habit):
    name = "gson-omits-nulls"
    description = (
        "a Java backend serializing with Gson's defaults (no serializeNulls()): null members "
        "are left out of every answer, inside metadata too, and so are agentId/metadata: null"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(ResponseJson, transform=_without_nulls)


class _NoContentForPatch:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope) or scope["method"] != "PATCH":
            await self.app(scope, receive, send)
            return
        answer = await capture(self.app, scope, receive)
        if answer.status == 200:
            answer = Answer(204, [], b"")
        await respond(send, answer)


class PatchNoContent(Habit):
    name = "patch-204"
    description = (
        "the PATCH answers 204 No Content after the update ('an update needs no body'), "
        "where the contract answers 200 with the conversation"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_NoContentForPatch)


class UpsertUnknownId(Habit):
    name = "upsert-unknown-id"
    description = (
        "updateOne({_id, accountId}, {$set: {metadata}}, {upsert: true}) copied from a "
        "sync job: a PATCH of an unknown id creates that conversation and answers 200"
    )

    def find_for_update(
        self, conversations: Conversations, conversation_id: str, account_id: str
    ) -> Record:
        if conversation_id not in conversations:
            conversations[conversation_id] = {
                "id": conversation_id,
                "accountId": account_id,
                "phoneNumberId": "",
                "phoneNumber": "",
                "participant": "",
                "createdAt": datetime.now(UTC),
                "agentId": None,
                "metadata": None,
                "messages": [],
            }
        return self.find(conversations, conversation_id, account_id)


class PatchIdor(Habit):
    name = "patch-idor"
    description = (
        "GET filters by the caller's account but the PATCH is UPDATE ... WHERE id = $1 "
        "RETURNING *: any key can write (and read back) another account's conversation"
    )

    def find_for_update(
        self, conversations: Conversations, conversation_id: str, account_id: str
    ) -> Record:
        record = conversations.get(conversation_id)
        if record is None:
            raise not_found()
        return record


# ================================================================================= registry

# ============================================================================ concurrency
# Each of these is invisible to one request at a time: the suite sees it only when writes
# and reads overlap, or come on connections of their own.


class _Unlocked:
    """The app's lock, let go for a while inside a handler (a habit's ``apply`` runs under
    it): what a handler does between two statements that are not in one transaction."""

    lock: Any = None

    def install(self, app: FastAPI) -> None:
        self.lock = app.state.lock

    def outside(self, seconds: float) -> None:
        self.lock.release()
        try:
            time.sleep(seconds)
        finally:
            self.lock.acquire()


class EavRowPerKey(_Unlocked, Habit):
    name = "eav-row-per-key"
    description = (
        "metadata kept one row per key (an EAV table): a replacement deletes the rows, then "
        "inserts each key in a statement of its own, autocommit, no transaction"
    )

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        if "metadata" not in members:
            return record
        new = members["metadata"]
        record["metadata"] = None if new is None else {}
        for key, value in (new or {}).items():
            self.outside(0.0005)  # one round trip to the database per row
            record["metadata"] = {**(record["metadata"] or {}), key: copy.deepcopy(value)}
        return copy.deepcopy(record)


class DiffThenApply(_Unlocked, Habit):
    name = "diff-then-apply"
    description = (
        "a replacement computed as a diff against the document read at the request's start "
        "(jsondiffpatch style), then only the changed keys written: two replacements at once "
        "each apply their own diff, and the stored object mixes both"
    )

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        if "metadata" not in members:
            return record
        new, before = members["metadata"], copy.deepcopy(record["metadata"])
        self.outside(0.01)  # the diff, and the round trip that reads the row again
        if new is None or before is None or record["metadata"] is None:
            record["metadata"] = copy.deepcopy(new)
        else:
            merged = dict(record["metadata"])
            for key in before:
                if key not in new:
                    merged.pop(key, None)
            for key, value in new.items():
                if before.get(key) != value:
                    merged[key] = copy.deepcopy(value)
            record["metadata"] = merged
        return copy.deepcopy(record)


class WriteBehind(_Unlocked, Habit):
    name = "write-behind"
    description = (
        "a write-behind cache: the PATCH answers with the new document at once and a worker "
        "saves it about 150 ms later (a queue, a Celery task)"
    )
    delay = 0.15

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        if "metadata" not in members:
            return record
        shown = copy.deepcopy(record)
        shown["metadata"] = self.store(members["metadata"], record["metadata"])
        saved = copy.deepcopy(shown["metadata"])

        def save() -> None:
            with self.lock:
                record["metadata"] = saved

        timer = threading.Timer(self.delay, save)
        timer.daemon = True
        timer.start()
        return shown


class _ConversationCache:
    """GETs of a conversation memoized, a write forgetting what its own cache holds of it.
    `workers`: worker processes behind a round-robin balancer that keeps each connection on
    the worker it was given, a cache each; `fill_delay`: seconds between reading a miss and
    putting it in the cache (a round trip to Redis, cache-aside)."""

    def __init__(self, app: ASGIApp, workers: int = 1, fill_delay: float = 0.0) -> None:
        self.app = app
        self.caches: list[dict[tuple[str, ...], Answer]] = [{} for _ in range(workers)]
        self.workers: dict[Any, int] = {}  # connection -> worker
        self.fill_delay = fill_delay

    def cache(self, scope: Scope) -> dict[tuple[str, ...], Answer]:
        connection = tuple(scope.get("client") or ("", 0))
        if connection not in self.workers:
            self.workers[connection] = len(self.workers) % len(self.caches)
        return self.caches[self.workers[connection]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_api(scope) or str(scope["path"]).count("/") != 3:
            await self.app(scope, receive, send)
            return
        cache, path = self.cache(scope), str(scope["path"])
        if scope["method"] != "GET":
            answer = await capture(self.app, scope, receive)
            if answer.status < 300:
                for key in [k for k in cache if k[1] == path]:
                    del cache[key]
            await respond(send, answer)
            return
        key = (header(scope, "authorization") or "", path, scope["query_string"].decode())
        hit = cache.get(key)
        if hit is None:
            hit = await capture(self.app, scope, receive)
            if self.fill_delay:
                await asyncio.sleep(self.fill_delay)
            if hit.status == 200:
                cache[key] = hit
        await respond(send, hit)


class PerWorkerCache(Habit):
    name = "per-worker-cache"
    description = (
        "two worker processes, each with an in-process cache of conversations "
        "(functools.lru_cache) that a write clears in its own worker only; a connection "
        "stays with one worker"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_ConversationCache, workers=2)


class CacheAsideRace(Habit):
    name = "cache-aside-race"
    description = (
        "a cache-aside read path: a miss reads the database and fills the cache a round trip "
        "later; a PATCH writes the database and deletes the key. A read that missed before a "
        "write and fills after it leaves the old document cached until the next write"
    )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_ConversationCache, fill_delay=0.05)  # a busy Redis


class ConflictStillWrites(_Unlocked, Habit):
    name = "conflict-still-writes"
    description = (
        "an optimistic-lock check made after the UPDATE instead of before it: a PATCH that "
        "met another write under way is answered 409 Conflict, but its document was stored"
    )
    in_flight = 0

    def apply(
        self, record: Record, members: dict[str, Any], conversations: Conversations
    ) -> Record:
        self.in_flight += 1
        try:
            busy = self.in_flight > 1  # another write began first: its version is newer
            self.outside(0.02)  # the transaction's other statements
            super().apply(record, members, conversations)
            if busy:
                raise HTTPException(
                    status_code=409, detail="Another update of this conversation is in progress"
                )
            return copy.deepcopy(record)
        finally:
            self.in_flight -= 1


HABITS: tuple[type[Habit], ...] = (
    PostgresJsonbNul,
    MysqlUtf8mb3,
    MongooseMinimize,
    DynamodbNumbers,
    RedisHash,
    SqlalchemyInPlace,
    EavDottedPaths,
    NodeJsonNumbers,
    XssClean,
    MongoSanitize,
    LaravelTrimStrings,
    DateReviver,
    CaseConverter,
    StaleReadCache,
    SharedCacheNoVary,
    EtagFromLastMessage,
    DeepMerge,
    JsonbConcat,
    NullAsEmptyObject,
    ExcludeNone,
    OmittedClears,
    KeyCapSilent,
    TruncateStrings,
    DepthNormalizer,
    TenantForbidden,
    ValidateBeforeAuth,
    LookupBeforeAuth,
    MassAssignment,
    DebugTraceback,
    SqlStringFormat,
    MysqlCaseInsensitiveIds,
    EchoKeyIn401,
    ReturnsDocumentBefore,
    OnUpdateLastMessageAt,
    WhereTooBroad,
    PatchWithoutMessages,
    NaiveDatetimes,
    TypeofObject,
    ListFromStaleIndex,
    ListNullAsEmpty,
    JsonStringMetadata,
    GsonOmitsNulls,
    PatchNoContent,
    UpsertUnknownId,
    PatchIdor,
    EavRowPerKey,
    DiffThenApply,
    WriteBehind,
    PerWorkerCache,
    CacheAsideRace,
    ConflictStillWrites,
)

FAULTY: dict[str, type[Habit]] = {habit.name: habit for habit in HABITS}
CONTROL = "conformant"


def create(name: str) -> FastAPI:
    """A fresh app: the faulty server ``name``, or the conformant base for CONTROL."""
    if name == CONTROL:
        return create_app(Habit())
    return create_app(FAULTY[name]())


def describe(name: str) -> str:
    return Habit.description if name == CONTROL else FAULTY[name].description
