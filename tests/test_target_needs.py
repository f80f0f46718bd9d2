"""README, "What a target must implement": held to the fragment it summarises, and to what
a run does against a server with none of the optional parts (the seed-edition FastAPI
server: no list, no validators, no webhooks configured, one account) and one without the
required GET."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.checks import REGISTRY
from conformance.model import Outcome

from .conftest import run_cli
from .servers._serve import serve
from .servers.seed_app import create_app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### What a target must implement", 1)[1].split("\n### ", 1)[0]
FRAGMENT = yaml.safe_load((ROOT / "openapi" / "agentphone-conversations.yaml").read_text())
SCHEMAS = FRAGMENT["components"]["schemas"]


def _ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _rows() -> dict[str, list[str]]:
    """The optional parts' table: part -> its cells."""
    rows = {}
    for line in SECTION.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 3 and cells[0] not in ("part",):
            rows[cells[0]] = cells
    return rows


def _current(schema: str) -> list[str]:
    properties = SCHEMAS[schema]["properties"]
    return [name for name, value in properties.items() if value.get("x-edition") == "current"]


def test_the_required_operations_are_the_fragments() -> None:
    required = SECTION.split("**Optional**", 1)[0]
    operations = re.findall(r"`(GET|PATCH) (/v1/[^`]+)`", required)
    assert operations == [
        ("PATCH", "/v1/conversations/{conversation_id}"),
        ("GET", "/v1/conversations/{conversation_id}"),
    ]
    for method, path in operations:
        assert method.lower() in FRAGMENT["paths"][path]
    members = required.split("a conversation object with the seed page's members:", 1)[1]
    members, messages = members.split("each message with", 1)
    messages = messages.split("every member", 1)[0]
    assert _ticked(messages) == SCHEMAS["Message"]["required"]
    seed_required = [
        m for m in SCHEMAS["Conversation"]["required"] if m not in _current("Conversation")
    ]
    assert [m for m in _ticked(members) if m != "metadata"] == seed_required
    assert "metadata" in _ticked(members)


def test_the_required_behaviours_are_the_fragments() -> None:
    required = SECTION.split("**Optional**", 1)[0]
    behaviours = required.split("And the behaviours the required checks hold it to:", 1)[1]
    conversation = FRAGMENT["paths"]["/v1/conversations/{conversation_id}"]
    for status in ("401", "403", "404", "422", "400", "415"):
        assert f"`{status}`" in behaviours and status in conversation["patch"]["responses"]
    limit = next(p for p in conversation["get"]["parameters"] if p["name"] == "message_limit")
    bounds = f"`{limit['schema']['minimum']}`..`{limit['schema']['maximum']}`"
    assert f"`message_limit`\n  outside {bounds}" in behaviours or f"outside {bounds}" in behaviours
    assert "422" in conversation["get"]["responses"]
    assert "50 when not given" in behaviours and limit["schema"]["default"] == 50
    validation = SCHEMAS["HTTPValidationError"]
    assert validation["required"] == ["detail"]
    assert SCHEMAS["ValidationError"]["required"] == ["loc", "msg", "type"]
    assert '{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}' in behaviours


def test_the_optional_parts_are_the_fragments() -> None:
    rows = _rows()
    listed = rows["the list, `GET /v1/conversations`"]
    assert "get" in FRAGMENT["paths"]["/v1/conversations"]
    assert SCHEMAS["ConversationList"]["required"] == ["data"]
    assert SCHEMAS["ConversationSummary"]["required"] == ["id"]
    parameters = [p["name"] for p in FRAGMENT["paths"]["/v1/conversations"]["get"]["parameters"]]
    assert all(f"`{name}`" in listed[1] for name in parameters)
    current = _ticked(rows["the current edition"][1])
    assert current == _current("UpdateConversationRequest") + _current("Conversation")
    get = FRAGMENT["paths"]["/v1/conversations/{conversation_id}"]["get"]
    assert "304" in get["responses"] and "`304`" in rows["validators"][1]
    assert "agentMessage" in FRAGMENT["webhooks"]


def _not_run_checks(cells: list[str]) -> set[str]:
    return {name for name in _ticked(cells[2]) if name in REGISTRY}


@pytest.fixture(scope="module")
def bare_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bare")
    app = create_app()
    with serve(app) as server:
        key, ids = app.state.accounts[0]
        done = run_cli(
            *("run", "--base-url", server.base_url, "--conversation-id", ids[0]),
            *("--seed", "4", "--report-dir", str(out)),
            env={"AGENTPHONE_API_KEY": key},
        )
    assert done.returncode == 0, done.stdout + done.stderr  # conformant without them
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_without_the_optional_parts_exactly_the_named_checks_do_not_run(
    bare_run: dict[str, Any],
) -> None:
    named = {row[0]: _not_run_checks(row) for row in _rows().values()}
    assert all(named.values()), named
    not_run = {
        c["check"]["id"]: c
        for c in bare_run["checks"]
        if c["outcome"] in (Outcome.NOT_APPLICABLE.value, Outcome.NOT_IMPLEMENTED.value)
    }
    assert set(not_run) == set().union(*named.values())
    for part, checks in named.items():  # one reason per missing part (the witness aside)
        reasons = {not_run[c]["reason"] for c in checks - {"META-OTHERS-UNTOUCHED"}}
        assert len(reasons) == 1, (part, reasons)


class _NoGet:
    """The seed server, its GET of a conversation gone (405)."""

    def __init__(self) -> None:
        self.app = create_app()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "GET" and path.count("/") == 3:
            await send({"type": "http.response.start", "status": 405, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def test_without_the_get_of_a_conversation_nothing_is_written(tmp_path: Path) -> None:
    wrapped = _NoGet()
    with serve(wrapped) as server:
        key, ids = wrapped.app.state.accounts[0]
        before = wrapped.app.state.metadata_snapshot()
        done = run_cli(
            *("run", "--base-url", server.base_url, "--conversation-id", ids[0]),
            *("--report-dir", str(tmp_path)),
            env={"AGENTPHONE_API_KEY": key},
        )
        assert wrapped.app.state.metadata_snapshot() == before
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "cannot snapshot" in done.stderr
