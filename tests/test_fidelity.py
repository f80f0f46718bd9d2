"""Fidelity of the emulator, judged by clients nobody here wrote.

Two outside clients talk to a running `Emulator` over real sockets on 127.0.0.1:

- the vendor's own Python SDK (`agentphone`), which must parse every answer into its
  models, raise its own error classes for 401 and 404, and round-trip metadata;
- the schemathesis CLI, run as a subprocess with all of its checks against our OpenAPI
  fragment. The same invocation is also run against a deliberately broken emulator and
  must fail there, so a green run is not a harness that cannot fail.

Neither client is configured to be lenient: no schemathesis check is excluded (see
`bench/schemathesis_cli.py`, the one place that builds the schemathesis command line for this
test and for the benchmark, for why none needs to be).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from agentphone import AgentPhone, AuthenticationError, NotFoundError

from bench.schemathesis_cli import (
    EVENTS,
    REPORT,
    SCHEMATHESIS,
    Failure,
    Invocation,
    read_findings,
)
from bench.schemathesis_cli import run as run_schemathesis
from conformance.emulator import Emulator

# --- fixtures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """The emulator and the seeded ids/keys it describes (account 1: busy, bare; 2: other)."""

    emulator: Emulator
    key_1: str
    key_2: str
    busy: str
    bare: str
    other: str
    quiet: str


def _seeded(emulator: Emulator) -> Seeded:
    first, second = emulator.describe()["accounts"]
    busy, bare = first["conversation_ids"]
    other, quiet = second["conversation_ids"]
    return Seeded(emulator, first["api_key"], second["api_key"], busy, bare, other, quiet)


@pytest.fixture
def emu() -> Iterator[Seeded]:
    with Emulator() as emulator:
        yield _seeded(emulator)


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests (inside the SDK) honours proxy variables: make sure 127.0.0.1 is direct."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _client(emu: Seeded, key: str | None = None) -> AgentPhone:
    return AgentPhone(api_key=key or emu.key_1, base_url=emu.emulator.base_url, timeout=10)


# --- 1. the vendor SDK -------------------------------------------------------------------------


def test_sdk_get_parses_the_busy_conversation_field_by_field(emu: Seeded) -> None:
    stored = emu.emulator.state.conversations[emu.busy]
    with _client(emu) as client:
        got = client.conversations.get(emu.busy)

    assert got.id == emu.busy
    assert got.phone_number == stored.phone_number
    assert got.phone_number_id == stored.phone_number_id
    assert got.participant == stored.participant
    assert got.created_at == stored.created_at
    assert got.last_message_at == stored.last_message_at
    # The SDK defaults a missing messageCount to 0: compare with the real count, not truthiness.
    assert got.message_count == len(stored.messages) == 3
    assert got.agent_id == stored.agent_id is not None
    assert stored.metadata == {"customerName": "Ada Lovelace", "orderId": "ORD-1042", "tier": 2}
    assert got.metadata == stored.metadata
    assert got.is_group is False
    assert got.channel == "sms"

    assert [m.id for m in got.messages] == [m.id for m in stored.messages]
    for parsed, message in zip(got.messages, stored.messages, strict=True):
        assert parsed.body == message.body
        assert parsed.from_number == message.from_number
        assert parsed.to_number == message.to_number
        assert parsed.direction == message.direction
        assert parsed.received_at == message.received_at
        assert parsed.channel == message.channel
        assert parsed.media_urls == message.media_urls
        assert parsed.media_url == (message.media_urls[0] if message.media_urls else None)
        assert parsed.status == message.status
        assert parsed.reply_to is None
        assert [
            (r.id, r.reaction_type, r.from_number, r.direction, r.created_at)
            for r in parsed.reactions
        ] == [
            (r.id, r.reaction_type, r.from_number, r.direction, r.created_at)
            for r in message.reactions
        ]
    # The seed has exactly one reaction (a "like" on the second message) and an emoji body.
    assert [len(m.reactions) for m in got.messages] == [0, 1, 0]
    assert got.messages[1].reactions[0].reaction_type == "like"
    assert got.messages[2].body == "Thanks! 🎉"
    assert got.messages[2].channel is None


def test_sdk_get_parses_the_bare_conversation(emu: Seeded) -> None:
    with _client(emu) as client:
        got = client.conversations.get(emu.bare)
    assert got.id == emu.bare
    assert got.agent_id is None
    assert got.metadata is None
    assert got.messages == []
    assert got.message_count == 0
    # No messages: the last message time falls back to the creation time.
    assert got.last_message_at == got.created_at == "2024-02-01T12:00:00Z"


def test_sdk_message_limit_is_honoured(emu: Seeded) -> None:
    with _client(emu) as client:
        got = client.conversations.get(emu.busy, message_limit=1)
    assert got.message_count == 3  # the count is of all messages, not of those returned
    assert [m.body for m in got.messages] == ["Thanks! 🎉"]  # the most recent one


NESTED_METADATA: dict[str, Any] = {
    "customer": {
        "name": "Zoë Ñúñez-Łukasiewicz",
        "greeting": "こんにちは 👋🏽",
        "address": {"city": "Zürich", "lines": ["Bahnhofstraße 1", None, ""]},
    },
    "flags": [True, False, None],
    "scores": [1, -2, 3.5, 2**53],
    "mood": "🎉🚀👨‍👩‍👧",
    "empty": {},
    "deep": {"a": {"b": {"c": {"d": {"e": "f"}}}}},
    # Keys a document store might trip on; JSON allows them, so the API must keep them.
    "order.id": "ORD-1042",
    "$set": "not an operator",
    "key with spaces": 1,
    "": "empty key",
}


@pytest.mark.parametrize("target", ["bare", "busy"])
def test_sdk_update_round_trips_nested_unicode_metadata(emu: Seeded, target: str) -> None:
    conversation_id = getattr(emu, target)
    with _client(emu) as client:
        before = client.conversations.get(conversation_id)
        answered = client.conversations.update(conversation_id, metadata=NESTED_METADATA)
        # Replaced, not merged: none of the busy conversation's old keys survive.
        assert answered.metadata == NESTED_METADATA
        after = client.conversations.get(conversation_id)
        assert after.metadata == NESTED_METADATA
    # The answer is this conversation, with nothing but its metadata changed.
    assert replace(answered, metadata=None) == replace(before, metadata=None)
    assert replace(after, metadata=None) == replace(before, metadata=None)
    assert emu.emulator.state.conversations[conversation_id].metadata == NESTED_METADATA
    # Another tenant's conversation is untouched.
    assert emu.emulator.state.conversations[emu.other].metadata == {"source": "web"}


def test_sdk_update_with_an_empty_object_stores_an_empty_object(emu: Seeded) -> None:
    with _client(emu) as client:
        answered = client.conversations.update(emu.busy, metadata={})
        assert answered.metadata == {}
        assert client.conversations.get(emu.busy).metadata == {}


def test_sdk_update_without_metadata_leaves_it_untouched(emu: Seeded) -> None:
    # The SDK drops None arguments before sending (`_patch` keeps only non-None values), so
    # `update(id)` and `update(id, metadata=None)` both send the body `{}`: the SDK cannot
    # express `metadata: null` (clearing), only "leave it alone". Clearing is therefore not
    # testable through this client; the body `{}` must change nothing.
    before = dict(emu.emulator.state.conversations[emu.busy].metadata or {})
    assert before
    with _client(emu) as client:
        answered = client.conversations.update(emu.busy, metadata=None)
        assert answered.metadata == before
        assert client.conversations.update(emu.busy).metadata == before
        assert client.conversations.get(emu.busy).metadata == before
    assert emu.emulator.state.conversations[emu.busy].metadata == before


def test_sdk_list_parses(emu: Seeded) -> None:
    with _client(emu) as client:
        page = client.conversations.list()
        assert page.total == 2
        assert page.has_more is False
        # Newest first; the list view has no messages but a preview of the latest one.
        assert [c.id for c in page.data] == [emu.bare, emu.busy]
        assert all(c.messages == [] for c in page.data)
        assert [c.last_message_preview for c in page.data] == [None, "Thanks! 🎉"]
        assert [c.message_count for c in page.data] == [0, 3]

        first = client.conversations.list(limit=1)
        assert (first.total, first.has_more, [c.id for c in first.data]) == (2, True, [emu.bare])
        rest = client.conversations.list(limit=1, offset=1)
        assert (rest.total, rest.has_more, [c.id for c in rest.data]) == (2, False, [emu.busy])

    with _client(emu, emu.key_2) as client:
        other = client.conversations.list()
        ids = [c.id for c in other.data]
        assert (other.total, other.has_more, ids) == (2, False, [emu.other, emu.quiet])


def test_sdk_unknown_id_raises_not_found(emu: Seeded) -> None:
    with _client(emu) as client:
        with pytest.raises(NotFoundError) as unknown:
            client.conversations.get("conv_does_not_exist")
        assert unknown.value.status == 404
        assert unknown.value.message == "Conversation not found"
        with pytest.raises(NotFoundError):
            client.conversations.update("conv_does_not_exist", metadata={"a": 1})
        # Another account's conversation is indistinguishable from a missing one.
        with pytest.raises(NotFoundError):
            client.conversations.get(emu.other)
        with pytest.raises(NotFoundError):
            client.conversations.update(emu.other, metadata={"stolen": True})
    assert "conv_does_not_exist" not in emu.emulator.state.conversations
    assert emu.emulator.state.conversations[emu.other].metadata == {"source": "web"}


def test_sdk_wrong_key_raises_authentication_error(emu: Seeded) -> None:
    before = emu.emulator.state.conversations[emu.busy].metadata
    with _client(emu, "ape_test_not_a_real_key") as client:
        with pytest.raises(AuthenticationError) as refused:
            client.conversations.get(emu.busy)
        assert refused.value.status == 401
        assert refused.value.message == "Invalid API key"
        with pytest.raises(AuthenticationError):
            client.conversations.update(emu.busy, metadata={"a": 1})
        with pytest.raises(AuthenticationError):
            client.conversations.list()
    assert emu.emulator.state.conversations[emu.busy].metadata == before


# --- 2 and 3. schemathesis -------------------------------------------------------------------

SEED = 20240115
MAX_EXAMPLES = 10  # per operation and phase; the coverage phase adds its own (~130 cases in all)
RUN_TIMEOUT = 75  # seconds; a run takes ~8 s on 2 cores
ALL_CHECKS = frozenset(
    {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
        "object_level_authorization",
    }
)


@dataclass
class Run:
    """One schemathesis run: its exit status, output and the two reports, parsed."""

    command: list[str]  # the key shown as <key>
    returncode: int | None
    output: str
    report: dict[str, Any]  # --report json: exit code, failures, errors, test case counts
    checks: Counter[tuple[str, str]]  # (check name, status) over every case, from --report ndjson
    failures: tuple[Failure, ...]  # the failure records of failed checks, with the check name
    statuses: Counter[tuple[str, int]]  # (method, status) of every recorded interaction
    uris: frozenset[str]

    def explain(self) -> str:
        return f"$ {' '.join(self.command)}\n{self.output[-4000:]}"


def _run_schemathesis(tmp_path: Path, emu: Seeded) -> Run:
    """The shared invocation (bench/schemathesis_cli.py: every check, nothing excluded, the
    path parameter pinned to account 1's busy conversation through the config file)."""
    if not SCHEMATHESIS.is_file():  # fail, never skip: this test is the point of the file
        pytest.fail(f"schemathesis console script not found at {SCHEMATHESIS}")
    invocation = Invocation(
        base_url=emu.emulator.base_url,
        api_key=emu.key_1,
        conversation_id=emu.busy,
        seed=SEED,
        max_examples=MAX_EXAMPLES,
        request_timeout=10,
    )
    completed = run_schemathesis(invocation, tmp_path, timeout=RUN_TIMEOUT)
    command = invocation.command(tmp_path, redacted=True)
    output = completed.output()
    if completed.timed_out:
        pytest.fail(
            f"schemathesis did not finish in {RUN_TIMEOUT} s: $ {' '.join(command)}\n"
            f"{output[-4000:]}"
        )
    for name in (REPORT, EVENTS):
        assert (tmp_path / name).is_file(), f"schemathesis wrote no {name}:\n{output[-4000:]}"
    findings = read_findings(tmp_path)
    assert findings.report is not None, f"{REPORT} is not a JSON object:\n{output[-4000:]}"
    assert findings.broken_lines == 0, f"{EVENTS} has lines that are not JSON events"
    return Run(
        command,
        completed.exit_code,
        output,
        findings.report,
        findings.checks,
        findings.failures,
        findings.statuses,
        findings.uris,
    )


@pytest.mark.timeout(RUN_TIMEOUT + 15)
def test_schemathesis_all_checks_pass_against_the_emulator(emu: Seeded, tmp_path: Path) -> None:
    run = _run_schemathesis(tmp_path, emu)

    assert run.returncode == 0, run.explain()
    assert run.report["exit_code"] == 0, run.explain()
    assert run.report["stop_reason"] == "completed"
    assert run.report["failures"] == [], run.explain()
    assert run.report["errors"] == [], run.explain()
    assert run.failures == (), run.explain()
    cases = run.report["test_cases"]
    assert cases["with_failures"] == cases["errored"] == 0

    # Not vacuous: many cases, all four phases ran, every check was applied to many responses
    # (schemathesis records a check with nothing to act on, e.g. use_after_free here, as a
    # success too, so the per-check count proves it was selected, not that it had work).
    assert cases["generated"] >= 80, cases
    assert {name: p["status"] for name, p in run.report["phases"].items()} == dict.fromkeys(
        ("examples", "coverage", "fuzzing", "stateful"), "success"
    )
    ran = Counter({name: n for (name, status), n in run.checks.items() if status == "success"})
    assert set(ran) >= ALL_CHECKS, sorted(ALL_CHECKS - set(ran))
    assert all(ran[name] >= 50 for name in ALL_CHECKS), ran
    # The responses covered the contract's answers: valid reads and writes, validation
    # errors, refusals without (valid) credentials, and undeclared methods.
    for method in ("GET", "PATCH"):
        for status in (200, 401, 422):
            assert run.statuses[method, status] >= 1, (method, status, run.statuses)
    assert any(status == 405 for _, status in run.statuses), run.statuses
    assert run.statuses["GET", 200] + run.statuses["PATCH", 200] >= 30, run.statuses

    # The pin held, and only the emulator was contacted.
    base = urlsplit(emu.emulator.base_url)
    for uri in run.uris:
        parts = urlsplit(uri)
        assert (parts.scheme, parts.netloc) == (base.scheme, base.netloc), uri
        # the pinned conversation, or the list of conversations (read-only)
        assert parts.path in (f"/v1/conversations/{emu.busy}", "/v1/conversations"), uri
    # Only the pinned conversation could have been written to.
    state = emu.emulator.state.conversations
    assert state[emu.bare].metadata is None
    assert state[emu.other].metadata == {"source": "web"}
    assert set(state) == {emu.busy, emu.bare, emu.other, emu.quiet}


@pytest.mark.timeout(RUN_TIMEOUT + 15)
@pytest.mark.parametrize(
    ("fault", "evidence", "listed"),
    [
        pytest.param(
            "shape-missing-required-field",
            '"messageCount" is a required property',
            False,  # a summary of the list need not carry messageCount
            id="shape-missing-required-field",
        ),
        pytest.param(
            "shape-naive-timestamps",
            'is not a "date-time"',
            True,  # the list's summaries carry the same timestamps
            id="shape-naive-timestamps",
        ),
    ],
)
def test_schemathesis_harness_fails_on_a_broken_response_shape(
    tmp_path: Path, fault: str, evidence: str, listed: bool
) -> None:
    with Emulator(faults=[fault]) as broken:
        run = _run_schemathesis(tmp_path, _seeded(broken))

    assert run.returncode == 1, run.explain()  # 1 = failures found (2 would be a usage error)
    assert run.report["exit_code"] == 1
    assert run.report["errors"] == [], run.explain()  # failed on the API, not on the network
    # Exactly the response-schema violation, on both operations, and nothing else.
    assert {(f["code"], f["type"]) for f in run.report["failures"]} == {
        ("ST108", "JsonSchemaError")
    }, run.report["failures"]
    (schema_failure,) = run.report["failures"]
    assert set(schema_failure["operations"]) == {
        "GET /v1/conversations/{conversation_id}",
        "PATCH /v1/conversations/{conversation_id}",
        *(["GET /v1/conversations"] if listed else []),
    }
    assert run.failures, run.explain()
    assert {f.check for f in run.failures} == {"response_schema_conformance"}
    assert all(evidence in f.message for f in run.failures), [f.message[:300] for f in run.failures]
