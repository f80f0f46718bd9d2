"""Load the OpenAPI document and validate bodies against its schemas.

The document is `openapi/agentphone-conversations.yaml` (shipped in the wheel as
`conformance/_openapi/`). Its schemas are JSON Schema 2020-12 (OpenAPI 3.1), so they are
checked with jsonschema's Draft 2020-12 validator, `$ref`s resolved against the whole
document and format checking on: a timestamp without an offset is a violation.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Final

import yaml
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from ..model import Edition

__all__ = [
    "EDITION_KEY",
    "SPEC_URI",
    "documented",
    "later_members",
    "load_spec",
    "response_schema",
    "schema_validator",
    "spec_path",
    "spec_registry",
    "validate_response_body",
]

SPEC_FILENAME: Final = "agentphone-conversations.yaml"
#: Marks what the vendor added after the seed page: `x-edition: current`.
EDITION_KEY: Final = "x-edition"

#: The URI the document is registered under, so `$ref`s into it resolve. Never fetched
#: (`.invalid` cannot resolve, and the registry has no retriever).
SPEC_URI: Final = "https://conformance.invalid/openapi/agentphone-conversations.yaml"

_JSON: Final = "application/json"
_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_MESSAGE: Final = 300


def spec_path() -> Path:
    """Where the document is: inside the installed package, else in the source checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_openapi" / SPEC_FILENAME
    if installed.is_file():
        return installed
    return package.parent / "openapi" / SPEC_FILENAME


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where PyYAML has it


@functools.cache
def _raw_spec() -> dict[str, Any]:
    """The parsed document, shared: never hand this object out."""
    path = spec_path()
    with path.open(encoding="utf-8") as f:
        document = yaml.load(f, Loader=_LOADER)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected an OpenAPI document (a mapping) at the top level")
    return document


def load_spec(edition: Edition = Edition.CURRENT) -> dict[str, Any]:
    """The OpenAPI document as plain data, for one edition of the contract: a fresh copy on
    each call, free to mutate. The seed edition is the document without every member,
    operation and schema marked `x-edition: current`."""
    document = copy.deepcopy(_raw_spec())
    if edition is Edition.SEED:
        _drop_later(document)
    return document


def _later(node: Any) -> bool:
    return isinstance(node, dict) and node.get(EDITION_KEY) == Edition.CURRENT.value


def _drop_later(node: Any) -> None:
    """Remove, in place, every mapping entry whose value is marked as a later addition."""
    if isinstance(node, dict):
        for key in [k for k, v in node.items() if _later(v)]:
            del node[key]
        for value in node.values():
            _drop_later(value)
    elif isinstance(node, list):
        for item in node:
            _drop_later(item)


def later_members(schema_name: str) -> frozenset[str]:
    """The properties of `#/components/schemas/<schema_name>` added after the seed page."""
    properties = _raw_spec()["components"]["schemas"][schema_name].get("properties", {})
    return frozenset(name for name, value in properties.items() if _later(value))


@functools.cache
def spec_registry() -> Registry[Any]:
    """The document registered under SPEC_URI: resolves `response_schema`'s `$ref`s."""
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, DRAFT202012.create_resource(_raw_spec())
    )
    return registry


def _validator(schema: dict[str, Any]) -> Validator:
    return Draft202012Validator(
        schema,
        registry=spec_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) to `parts`, e.g. `/components/schemas/Conversation`."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def _resolve_local(ref: str) -> tuple[str, dict[str, Any]]:
    """Follow a `#/...` reference within the document: (its pointer, its target)."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref!r}")
    node: Any = _raw_spec()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return ref[1:], node


def schema_validator(name: str) -> Validator:
    """A validator for `#/components/schemas/<name>`, format checking on."""
    schemas = _raw_spec()["components"]["schemas"]
    if name not in schemas:
        raise KeyError(f"no schema {name!r} in {SPEC_FILENAME}; known: {sorted(schemas)}")
    return _validator({"$ref": SPEC_URI + "#" + _pointer("components", "schemas", name)})


def _operation(operation_id: str) -> tuple[str, dict[str, Any]]:
    """The operation with this operationId: (its pointer, the Operation object)."""
    for path, item in _raw_spec()["paths"].items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is not None and operation.get("operationId") == operation_id:
                return _pointer("paths", path, method), operation
    raise KeyError(f"no operation {operation_id!r} in {SPEC_FILENAME}")


def documented(operation_id: str, status: int) -> bool:
    """Does the operation document this status (exactly, by its range, or by `default`)?"""
    responses = _operation(operation_id)[1].get("responses", {})
    return any(key in responses for key in (str(status), f"{status // 100}XX", "default"))


def response_schema(operation_id: str, status: int) -> dict[str, Any] | None:
    """The schema of the JSON body documented for `status`, or None if there is none.

    The result is a `$ref` into the document, resolvable with `spec_registry()`.
    A status matches its exact code, then its range (`4XX`), then `default`. None means the
    operation documents no such response, or documents it without a JSON body.
    Raises KeyError for an unknown operation_id.
    """
    pointer, operation = _operation(operation_id)
    responses = operation.get("responses", {})
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses:
            break
    else:
        return None
    pointer, response = pointer + _pointer("responses", key), responses[key]
    if "$ref" in response:
        pointer, response = _resolve_local(response["$ref"])
    if "schema" not in response.get("content", {}).get(_JSON, {}):
        return None
    return {"$ref": SPEC_URI + "#" + pointer + _pointer("content", _JSON, "schema")}


def validate_response_body(operation_id: str, status: int, body: Any) -> list[str]:
    """Why `body` is not what the document promises for `status`; empty when it is.

    `body` is the parsed JSON. A status the operation documents no JSON body for is itself
    an error message here; call `response_schema` first to treat it as not applicable.
    """
    schema = response_schema(operation_id, status)
    if schema is None:
        return [f"{operation_id} documents no JSON body for status {status}"]
    messages = (_describe(e.json_path, e.message) for e in _validator(schema).iter_errors(body))
    return sorted(messages)


def _describe(json_path: str, message: str) -> str:
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return f"{json_path}: {message}"


def _require_date_time_checking() -> None:
    """jsonschema silently skips `date-time` unless rfc3339-validator is importable."""
    if Draft202012Validator.FORMAT_CHECKER.conforms("2024-01-15T09:30:00", "date-time"):
        raise RuntimeError(
            "jsonschema is not checking format 'date-time', so timestamps without an offset "
            "would pass; install rfc3339-validator (a dependency of agentphone-conformance)"
        )


_require_date_time_checking()
