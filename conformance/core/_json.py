"""JSON as the contract compares it."""

from __future__ import annotations

from typing import Any

__all__ = ["same_json"]


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: objects ignore key order, numbers compare by value, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
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
