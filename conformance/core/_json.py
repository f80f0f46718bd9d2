"""JSON as the contract compares it."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

__all__ = ["same_json", "same_number", "short_json"]


def same_number(a: int | float, b: int | float) -> bool:
    """Two JSON numbers, compared as the numbers their texts write: `1` is `1.0`, and the
    double a parser read from `6.162613770769921e+16` is the same number whether another
    stack writes it in its shortest digits (`61626137707699210`, JavaScript) or in full
    (`61626137707699208`, its exact value) (RFC 8259 section 6). An integer a double cannot
    hold (2^53 + 1) is not the double nearest to it."""
    if type(a) is type(b) or not (isinstance(a, float) or isinstance(b, float)):
        return a == b
    whole, fraction = (a, b) if isinstance(b, float) else (b, a)
    if not math.isfinite(fraction):
        return False
    return whole == fraction or Decimal(whole) == Decimal(repr(fraction))


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: objects ignore key order, numbers compare by value, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return same_number(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        for key, x in a.items():
            y = b[key]
            if type(x) is str:  # most members of real metadata: compared here, no call
                if type(y) is not str or x != y:
                    return False
            elif not same_json(x, y):
                return False
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def short_json(value: Any, limit: int = 160, *, sort_keys: bool = False) -> str:
    """`value` as JSON text on one line, cut to `limit` characters with an ellipsis."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys)
    return text if len(text) <= limit else text[: limit - 1] + "…"
