"""Two answers compared as the contract means them, not as a server happens to spell them.

The fragment says which members are `format: date-time`: those compare as instants
(`2024-01-15T09:30:00Z`, `2024-01-15T09:30:00+00:00` and `2024-01-15T11:30:00.000+02:00`
are one instant; a value written at a coarser precision is the same instant when the finer
one rounds or truncates to it). Everything else compares as JSON (`same_json`: numbers by
value, key order ignored, `true` is not `1`) - the metadata above all, which is the
customer's data: a date-looking string in it is a string, compared exactly.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ._json import same_json
from ._spec import _raw_spec

__all__ = ["Difference", "differences", "instant", "same_documented", "same_instant", "same_member"]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$"
)


def instant(text: str) -> tuple[Fraction, int] | None:
    """An RFC 3339 timestamp as (seconds since the epoch, exactly; digits of its fraction),
    or None if it is not one (no offset, not a date)."""
    match = _RFC3339.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7) or "", match.group(8)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    whole = calendar.timegm((year, month, day, hour, minute, min(second, 59), 0, 0, 0))
    if offset not in ("Z", "z"):
        sign = -1 if offset[0] == "+" else 1  # +02:00 is two hours ahead of UTC
        whole += sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    seconds = Fraction(whole) + (Fraction(int(fraction), 10 ** len(fraction)) if fraction else 0)
    return seconds + max(second - 59, 0), len(fraction)


def same_instant(a: str, b: str) -> bool:
    """Do two RFC 3339 timestamps name the same instant? At the coarser of their two
    precisions: `...:00.123456Z` is `...:00.123Z` (truncated) and `...:00.124Z` (rounded)."""
    if a == b:
        return True
    first, second = instant(a), instant(b)
    if first is None or second is None:
        return False
    (x, x_digits), (y, y_digits) = first, second
    if x == y:
        return True
    scale = 10 ** min(x_digits, y_digits)
    coarse, fine = (x, y) if x_digits <= y_digits else (y, x)
    return coarse * scale in (int(fine * scale), round(fine * scale))


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = _raw_spec()["components"]["schemas"]
    return schemas


def _resolved(schema: Any) -> Any:
    """A schema with its local `$ref` followed (one level at a time, as far as it goes)."""
    while isinstance(schema, dict) and "$ref" in schema:
        schema = _schemas()[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _object_schema(schema: Any) -> Any:
    """The alternative of a `oneOf`/`anyOf` that describes an object, if one does."""
    schema = _resolved(schema)
    if not isinstance(schema, dict):
        return None
    for key in ("oneOf", "anyOf"):
        for option in schema.get(key, ()):
            option = _resolved(option)
            if isinstance(option, dict) and "properties" in option:
                return option
    return schema


@functools.cache
def _schema_named(name: str) -> Any:
    return _schemas()[name]


def same_documented(a: Any, b: Any, schema: str | dict[str, Any] | None) -> bool:
    """JSON equality, but members the fragment documents as `format: date-time` compare as
    instants. `schema`: a schema of the fragment, or its name (`"Conversation"`)."""
    node = _schema_named(schema) if isinstance(schema, str) else schema
    return _same(a, b, node)


def _same(a: Any, b: Any, schema: Any) -> bool:
    schema = _resolved(schema)
    if not isinstance(schema, dict) or not schema:
        return same_json(a, b)
    if isinstance(a, str) and isinstance(b, str):
        return same_instant(a, b) if schema.get("format") == "date-time" else a == b
    if isinstance(a, dict) and isinstance(b, dict):
        properties = (_object_schema(schema) or {}).get("properties")
        if not properties:
            return same_json(a, b)
        if a.keys() != b.keys():
            return False
        return all(_same(value, b[key], properties.get(key)) for key, value in a.items())
    if isinstance(a, list) and isinstance(b, list):
        items = schema.get("items")
        if items is None:
            return same_json(a, b)
        return len(a) == len(b) and all(_same(x, y, items) for x, y in zip(a, b, strict=True))
    return same_json(a, b)


def same_member(name: str, a: Any, b: Any, schema: str = "Conversation") -> bool:
    """`same_documented` for one member of an object of the fragment (a conversation's
    `createdAt`, its `messages`): compared as that member is documented."""
    properties = (_object_schema(_schema_named(schema)) or {}).get("properties", {})
    return _same(a, b, properties.get(name))


@dataclass(frozen=True)
class Difference:
    """One place where two JSON answers differ, as the contract compares them. `member`: a
    path like `metadata.tags[2]` ("" for the whole body); `kind`: "type", "value",
    "absent" (only the first answer has it) or "added" (only the second has it)."""

    member: str
    kind: str
    first: Any
    second: Any


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def differences(
    first: Any, second: Any, schema: str | dict[str, Any] | None = None, limit: int = 50
) -> list[Difference]:
    """Where `second` differs from `first`: numbers by value, key order ignored, members
    the fragment documents as `format: date-time` as instants (`schema`: a schema of the
    fragment or its name). At most `limit` differences, the outermost first; nesting past
    64 levels is compared whole."""
    found: list[Difference] = []
    node = _schema_named(schema) if isinstance(schema, str) else schema
    if _same(first, second, node):
        return found
    queue: deque[tuple[str, Any, Any, Any, int]] = deque([("", first, second, node, 0)])
    while queue and len(found) < limit:
        path, a, b, node, depth = queue.popleft()
        node = _resolved(node)
        if _kind(a) != _kind(b):
            found.append(Difference(path, "type", a, b))
        elif isinstance(a, dict) and depth < 64:
            properties = (_object_schema(node) or {}).get("properties") or {}
            for key in a.keys() - b.keys():
                found.append(Difference(_join(path, key), "absent", a[key], None))
            for key in b.keys() - a.keys():
                found.append(Difference(_join(path, key), "added", None, b[key]))
            for key in sorted(a.keys() & b.keys()):
                queue.append((_join(path, key), a[key], b[key], properties.get(key), depth + 1))
        elif isinstance(a, list) and depth < 64:
            items = node.get("items") if isinstance(node, dict) else None
            for index in range(max(len(a), len(b))):
                if index >= len(b):
                    found.append(Difference(_join(path, index), "absent", a[index], None))
                elif index >= len(a):
                    found.append(Difference(_join(path, index), "added", None, b[index]))
                else:
                    queue.append((_join(path, index), a[index], b[index], items, depth + 1))
        elif not _same(a, b, node):
            found.append(Difference(path, "value", a, b))
    return found[:limit]
