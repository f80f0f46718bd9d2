"""differential.json: the comparison as data, valid against its JSON Schema."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from ...model import DifferentialResult
from ._common import headline

__all__ = ["differential_schema", "render_differential_json"]


@cache
def differential_schema() -> dict[str, Any]:
    text = resources.files("conformance.schemas").joinpath("differential.schema.json")
    schema: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return schema


def render_differential_json(result: DifferentialResult) -> str:
    data = result.to_dict()
    data["headline"] = headline(result)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
