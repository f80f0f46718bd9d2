"""The JSON Schemas the suite ships (report, comparison, matrix, accepted failures),
loaded from inside the package so an installed wheel has them too."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

__all__ = ["schema", "validator"]


@functools.cache
def _parsed(name: str) -> dict[str, Any]:
    text = (resources.files(__package__) / f"{name}.schema.json").read_text(encoding="utf-8")
    parsed: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(parsed)
    return parsed


def schema(name: str) -> dict[str, Any]:
    """The schema `<name>.schema.json` (Draft 2020-12): a fresh copy, free to mutate."""
    return copy.deepcopy(_parsed(name))


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A validator of `<name>.schema.json`, formats checked."""
    return Draft202012Validator(_parsed(name), format_checker=Draft202012Validator.FORMAT_CHECKER)
