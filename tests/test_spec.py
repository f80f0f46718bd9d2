"""The OpenAPI document, and the validation `conformance.core._spec` builds on it.

Data under tests/data/spec/:
- conformant/*.json: 200 bodies that must validate. `seed-example.json` is the seed page's
  example response, verbatim; `later-vendor-fields.json` carries the fields the live API has
  added since the seed (values of fields whose type the vendor does not document are
  plausible placeholders).
- broken/*.json: 200 bodies that must NOT validate. Each one differs from some conformant
  file in exactly one place, and every error it raises must be about that place; the test
  checks both, so a failure is always attributable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from conformance.core import _spec
from conformance.core._spec import (
    load_spec,
    response_schema,
    schema_validator,
    spec_path,
    spec_registry,
    validate_response_body,
)

DATA = Path(__file__).parent / "data" / "spec"
CONFORMANT = sorted((DATA / "conformant").glob("*.json"))
BROKEN = sorted((DATA / "broken").glob("*.json"))
OPERATIONS = ("getConversation", "updateConversation")
PATH = "/v1/conversations/{conversation_id}"
NAIVE = "2024-01-15T09:30:00"

Path_ = tuple[str | int, ...]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (one level is all this document uses)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    assert isinstance(target, dict)
    return target


def _walk(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for item in load_spec()["paths"].values():
        for method in ("get", "put", "post", "delete", "patch"):
            if method in item:
                yield method, item[method]


def _differences(a: Any, b: Any, path: Path_ = ()) -> list[Path_]:
    """Where two JSON values differ: a list of paths (a missing key is one difference)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[Path_] = []
        for key in sorted(a.keys() | b.keys()):
            if key in a and key in b:
                found += _differences(a[key], b[key], (*path, key))
            else:
                found.append((*path, key))
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, (*path, i))
        ]
    if type(a) is type(b) and a == b:
        return []
    return [path]


# --- the document itself -----------------------------------------------------------------


def test_spec_path_points_at_the_document() -> None:
    path = spec_path()
    assert path.is_file()
    assert path.name == "agentphone-conversations.yaml"


def test_document_passes_openapi_spec_validator() -> None:
    validate(load_spec())


def test_document_is_openapi_3_1() -> None:
    assert load_spec()["openapi"].startswith("3.1.")


def test_document_has_no_nullable_keyword() -> None:
    """3.1 spells nullability as a type array; `nullable` is 3.0 and ignored by 3.1 tools."""
    offenders = [
        path for path, node in _walk(load_spec()) if isinstance(node, dict) and "nullable" in node
    ]
    assert offenders == []


def test_document_is_plain_json() -> None:
    """No YAML-only values: an unquoted timestamp loads as datetime, an unquoted 200 as int."""
    document = load_spec()
    assert json.loads(json.dumps(document)) == document


def test_load_spec_returns_a_fresh_copy() -> None:
    first = load_spec()
    first["paths"].clear()
    first["components"]["schemas"]["Conversation"]["required"].append("mutated")
    second = load_spec()
    assert PATH in second["paths"]
    assert "mutated" not in second["components"]["schemas"]["Conversation"]["required"]


def test_servers_and_global_bearer_security() -> None:
    document = load_spec()
    assert [server["url"] for server in document["servers"]] == ["https://api.agentphone.ai"]
    assert "https://api.agentphone.to" in document["servers"][0]["description"]
    assert document["security"] == [{"bearerAuth": []}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_operations_are_the_three_expected() -> None:
    found = {(method, operation["operationId"]) for method, operation in _operations()}
    assert found == {
        ("get", "getConversation"),
        ("patch", "updateConversation"),
        ("get", "listConversations"),  # a neighbour, read to see a PATCH writes nothing else
    }


def test_conversation_id_is_a_required_string_path_parameter() -> None:
    document = load_spec()
    (parameter,) = [_resolve(document, p) for p in document["paths"][PATH]["parameters"]]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "conversation_id",
        "path",
        True,
    )
    assert parameter["schema"]["type"] == "string"


def test_message_limit_query_parameter() -> None:
    (parameter,) = load_spec()["paths"][PATH]["get"]["parameters"]
    assert (parameter["name"], parameter["in"]) == ("message_limit", "query")
    assert parameter.get("required", False) is False
    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}


def test_patch_request_body_is_optional_with_nullable_metadata() -> None:
    document = load_spec()
    body = _resolve(document, document["paths"][PATH]["patch"]["requestBody"])
    assert body["required"] is False
    schema = _resolve(document, body["content"]["application/json"]["schema"])
    assert schema["type"] == "object"
    assert schema.get("required", []) == []
    assert schema["properties"]["metadata"]["type"] == ["object", "null"]
    assert schema["properties"]["group_name"]["type"] == ["string", "null"]
    assert schema.get("additionalProperties", True) is not False


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize("status", [200, 401, 403, 404, 422])
def test_every_status_has_a_json_body_schema(operation_id: str, status: int) -> None:
    assert response_schema(operation_id, status) is not None


@pytest.mark.parametrize(
    ("name", "required"),
    [
        (
            "Conversation",
            [
                "id",
                "phoneNumberId",
                "phoneNumber",
                "participant",
                "lastMessageAt",
                "messageCount",
                "createdAt",
                "messages",
            ],
        ),
        ("Message", ["id", "body", "fromNumber", "toNumber", "direction", "receivedAt"]),
        ("Reaction", ["id", "reactionType", "fromNumber", "direction", "createdAt"]),
        ("HTTPError", ["detail"]),
        ("HTTPValidationError", ["detail"]),
        ("ValidationError", ["loc", "msg", "type"]),
    ],
)
def test_required_fields_are_the_vendors(name: str, required: list[str]) -> None:
    schema = load_spec()["components"]["schemas"][name]
    assert sorted(schema["required"]) == sorted(required)


@pytest.mark.parametrize(
    ("name", "field", "type_"),
    [
        ("Conversation", "agentId", ["string", "null"]),
        ("Conversation", "metadata", ["object", "null"]),
        ("Conversation", "lastMessageAt", "string"),
        ("Message", "channel", ["string", "null"]),
        ("Message", "mediaUrl", ["string", "null"]),
        ("Message", "mediaUrls", "array"),
        ("Message", "reactions", "array"),
    ],
)
def test_nullability_is_as_documented(name: str, field: str, type_: str | list[str]) -> None:
    assert load_spec()["components"]["schemas"][name]["properties"][field]["type"] == type_


def test_every_timestamp_is_a_date_time() -> None:
    timestamps = [
        (name, field, prop)
        for name, schema in load_spec()["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if field.endswith("At")
    ]
    assert {(name, field) for name, field, _ in timestamps} == {
        ("Conversation", "lastMessageAt"),
        ("Conversation", "createdAt"),
        ("ConversationSummary", "lastMessageAt"),
        ("ConversationSummary", "createdAt"),
        ("Message", "receivedAt"),
        ("Reaction", "createdAt"),
    }
    for _, _, prop in timestamps:
        assert (prop["type"], prop["format"]) == ("string", "date-time")


def test_no_schema_forbids_additional_properties() -> None:
    closed = [
        path
        for path, node in _walk(load_spec()["components"]["schemas"])
        if isinstance(node, dict) and node.get("additionalProperties") is False
    ]
    assert closed == []


@pytest.mark.parametrize("name", sorted(load_spec()["components"]["schemas"]))
def test_component_schema_is_valid_json_schema_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(load_spec()["components"]["schemas"][name])


def test_every_operation_response_and_schema_has_a_description() -> None:
    document = load_spec()
    missing: list[str] = []
    for method, operation in _operations():
        if not operation.get("description", "").strip():
            missing.append(f"operation {method}")
        for status, response in operation["responses"].items():
            if not _resolve(document, response).get("description", "").strip():
                missing.append(f"{operation['operationId']} response {status}")
    components = document["components"]
    for name, schema in components["schemas"].items():
        if not schema.get("description", "").strip():
            missing.append(f"schema {name}")
        for field, prop in schema.get("properties", {}).items():
            if not prop.get("description", "").strip():
                missing.append(f"schema {name}.{field}")
    for kind in ("parameters", "requestBodies", "responses", "securitySchemes"):
        for name, node in components[kind].items():
            if not node.get("description", "").strip():
                missing.append(f"{kind} {name}")
    assert missing == []


def test_refusal_and_not_found_descriptions_say_why() -> None:
    responses = load_spec()["components"]["responses"]
    assert "403" in responses["Unauthorized"]["description"]
    assert "HTTPBearer" in responses["Forbidden"]["description"]
    assert "401" in responses["Forbidden"]["description"]
    assert "another account" in responses["NotFound"]["description"]
    assert "Our choice" in responses["NotFound"]["description"]


def test_the_200_example_is_the_seed_example() -> None:
    document = load_spec()
    media = document["components"]["responses"]["Conversation"]["content"]["application/json"]
    examples = [_resolve(document, example)["value"] for example in media["examples"].values()]
    assert _load(DATA / "conformant" / "seed-example.json") in examples


def test_the_request_examples_include_replace_and_clear() -> None:
    document = load_spec()
    body = _resolve(document, document["paths"][PATH]["patch"]["requestBody"])
    values = [e["value"] for e in body["content"]["application/json"]["examples"].values()]
    assert {"metadata": {"customerName": "Ada", "orderId": "ORD-1042"}} in values
    assert {"metadata": None} in values


def test_every_example_in_the_document_validates() -> None:
    document = load_spec()
    checked = 0
    for _, operation in _operations():
        for status, response in operation["responses"].items():
            content = _resolve(document, response).get("content")
            if content is None:
                continue  # 304: no body
            media = content["application/json"]
            for example in media.get("examples", {}).values():
                value = _resolve(document, example)["value"]
                assert validate_response_body(operation["operationId"], int(status), value) == []
                checked += 1
    body = _resolve(document, document["paths"][PATH]["patch"]["requestBody"])
    request = schema_validator("UpdateConversationRequest")
    for example in body["content"]["application/json"]["examples"].values():
        assert list(request.iter_errors(example["value"])) == []
        checked += 1
    assert checked >= 10


# --- the loader --------------------------------------------------------------------------


def test_date_time_format_is_really_checked() -> None:
    """jsonschema skips date-time silently without rfc3339-validator; prove it is not skipped."""
    assert not Draft202012Validator.FORMAT_CHECKER.conforms(NAIVE, "date-time")
    reaction = _load(DATA / "conformant" / "seed-example.json")["messages"][0]["reactions"][0]
    assert list(schema_validator("Reaction").iter_errors(reaction)) == []
    errors = list(schema_validator("Reaction").iter_errors({**reaction, "createdAt": NAIVE}))
    assert [(e.validator, list(e.absolute_path)) for e in errors] == [("format", ["createdAt"])]


def test_import_time_guard_refuses_unchecked_date_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `conformance.core._spec` does at import if rfc3339-validator were missing."""
    monkeypatch.setattr(Draft202012Validator.FORMAT_CHECKER, "conforms", lambda *_: True)
    with pytest.raises(RuntimeError, match="rfc3339-validator"):
        _spec._require_date_time_checking()


def test_schema_validator_resolves_refs_across_the_document() -> None:
    body = _load(DATA / "conformant" / "seed-example.json")
    body["messages"][0]["reactions"][0]["id"] = 1
    errors = list(schema_validator("Conversation").iter_errors(body))
    assert [e.json_path for e in errors] == ["$.messages[0].reactions[0].id"]


def test_schema_validator_rejects_an_unknown_name() -> None:
    with pytest.raises(KeyError, match="Nope"):
        schema_validator("Nope")


def test_response_schema_refs_resolve_with_the_shared_registry() -> None:
    schema = response_schema("updateConversation", 200)
    assert schema is not None
    assert schema["$ref"].endswith(
        "#/components/responses/Conversation/content/application~1json/schema"
    )
    seed = _load(DATA / "conformant" / "seed-example.json")
    validator = Draft202012Validator(schema, registry=spec_registry())
    assert list(validator.iter_errors(seed)) == []
    assert [e.json_path for e in validator.iter_errors({**seed, "id": 1})] == ["$.id"]


def test_response_schema_is_none_for_an_undocumented_status() -> None:
    assert response_schema("updateConversation", 500) is None
    assert validate_response_body("updateConversation", 500, {"detail": "boom"}) == [
        "updateConversation documents no JSON body for status 500"
    ]


def test_response_schema_rejects_an_unknown_operation() -> None:
    with pytest.raises(KeyError, match="deleteConversation"):
        response_schema("deleteConversation", 200)


def test_error_messages_name_the_place() -> None:
    body = _load(DATA / "conformant" / "seed-example.json")
    body["messageCount"] = -1
    del body["id"]
    assert validate_response_body("updateConversation", 200, body) == [
        "$.messageCount: -1 is less than the minimum of 0",
        "$: 'id' is a required property",
    ]


def test_long_error_messages_are_shortened() -> None:
    body = _load(DATA / "conformant" / "seed-example.json")
    body["metadata"] = "x" * 5000
    (message,) = validate_response_body("updateConversation", 200, body)
    assert message.startswith("$.metadata: ")
    assert message.endswith("…")
    assert len(message) < 400


# --- 200 bodies --------------------------------------------------------------------------


def test_the_data_sets_are_there() -> None:
    names = {path.name for path in CONFORMANT}
    assert {"seed-example.json", "later-vendor-fields.json"} <= names
    assert len(BROKEN) >= 30


def test_seed_example_is_verbatim() -> None:
    """Spot checks against the seed page text, so the fixture cannot drift into a variant."""
    seed = _load(DATA / "conformant" / "seed-example.json")
    assert seed["lastMessageAt"] == seed["createdAt"] == "2024-01-15T09:30:00Z"
    assert (seed["messageCount"], seed["metadata"], seed["agentId"]) == (1, {}, "string")
    assert seed["messages"][0]["mediaUrls"] == ["string"]
    assert len(seed) == 10
    assert len(seed["messages"][0]) == 10
    assert len(seed["messages"][0]["reactions"][0]) == 5


def test_later_vendor_fields_are_present() -> None:
    body = _load(DATA / "conformant" / "later-vendor-fields.json")
    later = {"isGroup", "groupId", "groupName", "groupIconUrl", "participants"}
    later |= {"lastMessagePreview", "channel", "capabilities"}
    assert later <= body.keys()
    assert (body["agentId"], body["metadata"]) == (None, None)
    message = body["messages"][0]
    assert {"senderIdentifier", "replyTo", "status"} <= message.keys()
    assert (message["channel"], message["mediaUrl"]) == (None, None)
    assert body["lastMessageAt"].endswith("+02:00")
    assert "." in body["lastMessageAt"]


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize("path", CONFORMANT, ids=lambda p: p.stem)
def test_conformant_body_validates(operation_id: str, path: Path) -> None:
    assert validate_response_body(operation_id, 200, _load(path)) == []


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_body_fails(operation_id: str, path: Path) -> None:
    assert validate_response_body(operation_id, 200, _load(path)) != []


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_body_is_one_change_away_and_every_error_is_about_it(path: Path) -> None:
    broken = _load(path)
    changes = [d for d in (_differences(_load(c), broken) for c in CONFORMANT) if len(d) == 1]
    assert changes, f"{path.name} is not one change away from any conformant body"
    errors = [tuple(e.absolute_path) for e in schema_validator("Conversation").iter_errors(broken)]
    assert errors

    def about(change: Path_, error: Path_) -> bool:
        return change[: len(error)] == error or error[: len(change)] == change

    assert any(all(about(change, error) for error in errors) for (change,) in changes), (
        f"{path.name}: errors at {errors} are not all about the one change in {changes}"
    )


# --- error bodies ------------------------------------------------------------------------

PYDANTIC_422 = {
    "detail": [
        {
            "type": "dict_type",
            "loc": ["body", "metadata"],
            "msg": "Input should be a valid dictionary",
            "input": "x",
        }
    ]
}


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize(
    "body",
    [
        PYDANTIC_422,
        {"detail": []},
        {
            "detail": [
                {"loc": ["query", "message_limit"], "msg": "m", "type": "t", "ctx": {"ge": 1}}
            ]
        },
        {"detail": [{"loc": ["body", "metadata", 0], "msg": "m", "type": "t", "url": "u"}]},
    ],
    ids=["pydantic-v2", "empty-list", "with-ctx", "integer-loc"],
)
def test_conformant_422_body(operation_id: str, body: Any) -> None:
    assert validate_response_body(operation_id, 422, body) == []


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize(
    "body",
    [
        {"detail": "x"},
        {"error": "x"},
        {"detail": [{"loc": ["body", 1.5], "msg": "m", "type": "t"}]},
        {"detail": [{"loc": ["body", "metadata"], "type": "t"}]},
        {"detail": [{"loc": "body.metadata", "msg": "m", "type": "t"}]},
        {"detail": [{"loc": ["body"], "msg": "m"}]},
        {"detail": [{"loc": ["body"], "msg": 1, "type": "t"}]},
        [{"loc": ["body"], "msg": "m", "type": "t"}],
    ],
    ids=[
        "detail-string",
        "no-detail",
        "float-loc",
        "no-msg",
        "loc-string",
        "no-type",
        "msg-integer",
        "bare-list",
    ],
)
def test_broken_422_body(operation_id: str, body: Any) -> None:
    assert validate_response_body(operation_id, 422, body) != []


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize("status", [401, 403, 404])
def test_conformant_error_body(operation_id: str, status: int) -> None:
    assert validate_response_body(operation_id, status, {"detail": "Not authenticated"}) == []


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize("status", [401, 403, 404])
@pytest.mark.parametrize(
    "body",
    [{"message": "x"}, {"detail": None}, {"detail": ["x"]}, "Not authenticated"],
    ids=["message", "detail-null", "detail-list", "bare-string"],
)
def test_broken_error_body(operation_id: str, status: int, body: Any) -> None:
    assert validate_response_body(operation_id, status, body) != []


# --- request bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"metadata": None},
        {"metadata": {}},
        {"metadata": {"customerName": "Ada", "nested": {"list": [1, "two", None]}}},
        {"group_name": "Weekend plans"},
        {"group_name": None},
        {"metadata": {"a": 1}, "unknown": "ignored by pydantic"},
    ],
)
def test_conformant_request_body(body: Any) -> None:
    assert list(schema_validator("UpdateConversationRequest").iter_errors(body)) == []


@pytest.mark.parametrize(
    "body",
    [{"metadata": "x"}, {"metadata": []}, {"metadata": 1}, {"group_name": 5}, [], "x", None],
)
def test_broken_request_body(body: Any) -> None:
    assert list(schema_validator("UpdateConversationRequest").iter_errors(body)) != []
