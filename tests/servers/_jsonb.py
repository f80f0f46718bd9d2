"""Metadata kept the way PostgreSQL's ``jsonb`` keeps it (``current_app.create_app(jsonb=True)``).

- Numbers are exact decimals: read as :class:`decimal.Decimal` and written back as
  PostgreSQL's ``numeric`` writes them, in positional notation with their scale:
  ``1.50`` stays ``1.50``, ``1e400`` is written with its 400 zeros (still a number),
  ``-0`` becomes ``0``. Beyond ``numeric``'s range (131072 digits before the point, 16383
  after) a number is refused.
- Object keys come back in jsonb's order: shorter keys first, then bytewise (UTF-8); of
  duplicate keys the last is kept.
- Text containing U+0000 is refused (jsonb cannot hold it), as are lone surrogates.
- Nesting deeper than 32 levels is refused (the cap of the DynamoDB-like store behind it);
  the metadata object itself is the first level.

No JSON library writes a Decimal as a number, so :func:`encode` is this module's own.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 131072
MAX_FRACTION_DIGITS = 16383


class NotStorable(ValueError):
    """A value the store refuses; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse(text: str | bytes) -> Any:
    """JSON with every number an exact :class:`Decimal` (NaN and Infinity refused)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_refuse_constant)


def check(value: Any, depth: int = 1) -> None:
    """Raise :class:`NotStorable` if jsonb (or the store behind it) would refuse ``value``."""
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise NotStorable(f"nesting deeper than {MAX_DEPTH} levels is not supported")
        items = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict):
            for key in value:
                _check_text(key)
        for item in items:
            check(item, depth + 1)
    elif isinstance(value, str):
        _check_text(value)
    elif isinstance(value, Decimal):
        _check_number(value)
    elif isinstance(value, float):
        raise NotStorable("numbers must be read exactly")  # (parse gives Decimals)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise NotStorable("unsupported Unicode escape sequence: \\u0000 cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NotStorable("text must be valid Unicode (no lone surrogates)") from None


def _check_number(number: Decimal) -> None:
    if not number.is_finite():
        raise NotStorable("NaN and infinite numbers are not JSON")
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    before = len(digits) + exponent
    after = max(-exponent, 0)
    if before > MAX_INTEGER_DIGITS or after > MAX_FRACTION_DIGITS:
        raise NotStorable("value overflows numeric format")


def _key_order(item: tuple[str, Any]) -> tuple[int, bytes]:
    raw = item[0].encode("utf-8")
    return len(raw), raw


def canonical(value: Any) -> Any:
    """``value`` with every object's keys in jsonb's order."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in sorted(value.items(), key=_key_order)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def number(value: Decimal) -> str:
    """A Decimal as ``numeric`` writes it: positional, its scale kept, no negative zero."""
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def encode(value: Any, separators: tuple[str, str] = (",", ":")) -> str:
    """JSON text of ``value`` (Decimals written by :func:`number`, text not escaped)."""
    parts: list[str] = []
    _write(value, parts, *separators)
    return "".join(parts)


def _write(value: Any, parts: list[str], comma: str, colon: str) -> None:
    if value is None or isinstance(value, bool | int | float | str):
        parts.append(json.dumps(value, ensure_ascii=False, allow_nan=False))
    elif isinstance(value, Decimal):
        parts.append(number(value))
    elif isinstance(value, dict):
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                parts.append(comma)
            parts.append(json.dumps(str(key), ensure_ascii=False))
            parts.append(colon)
            _write(item, parts, comma, colon)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(comma)
            _write(item, parts, comma, colon)
        parts.append("]")
    else:
        raise TypeError(f"not JSON: {type(value).__name__}")


def store(value: Any) -> str | None:
    """The stored text of checked metadata (None stays NULL)."""
    return None if value is None else encode(canonical(value))


def load(text: str | None) -> Any:
    """Stored metadata, numbers exact, keys in the stored (jsonb) order."""
    return None if text is None else parse(text)
