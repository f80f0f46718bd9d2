"""Differential conformance: the suite's requests sent to a reference and a candidate.

- The embedded emulator seeded from each independent conformant server of the tests: no
  divergence the contract decides; the open ones (where the contract leaves it to the
  server) listed, and the same on every seed.
- A faulty candidate (emulator faults that change stored values, statuses, shapes): each a
  divergence the contract decides, against the candidate, with its request sequence, on
  every seed.
- Noise: what moves between the reference's own two answers is never a divergence.
- An external candidate: its metadata aligned first, what differed beforehand left out and
  said so, and its conversations put back at the end.
- The command: its exit codes (0, 1, 4, and 2 for bad input in one line), its reports (valid
  differential.json, the sequence in differential.md, a page in differential.html), and no
  key in any of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance.core import GivenOptions, TargetSpec
from conformance.core._target import load_target_file
from conformance.jobs import run_options
from conformance.jobs._differential import DifferentialJob, differential
from conformance.model import DifferentialResult
from conformance.reports import differential_schema

from .conftest import run_cli
from .servers import SERVERS, base_app, serve
from .servers._node import node_server

SEEDS = (1, 2, 3)
INDEPENDENT = ("seed-fastapi", "current-sqlite", "envelope-errors", "node-js")
# Faults that change what is stored, the status, or the shape of an answer.
FAULTY = (
    "semantics-merge-not-replace",
    "semantics-null-ignored",
    "semantics-not-persisted",
    "storage-numeric-strings-coerced",
    "storage-null-members-dropped",
    "validation-wrong-type-accepted",
    "shape-missing-required-field",
    "shape-wrong-type",
    "robust-500-unicode",
)


@contextmanager
def _reference(name: str) -> Iterator[tuple[str, Any]]:
    """A conformant server of the tests, serving: its base URL and its state."""
    if name == "node-js":
        with node_server() as node:
            yield node.base_url, node.state
        return
    app = SERVERS[name]()
    state = base_app(app).state
    with serve(app) as server:
        yield server.base_url, state


def _spec(base_url: str, state: Any) -> TargetSpec:
    (_, ids_1), (_, ids_2) = state.accounts
    return TargetSpec(
        base_url=base_url, conversation_ids=(ids_1[0],), second_conversation_ids=(ids_2[0],)
    )


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(state: Any) -> None:
        (key_1, _), (key_2, _) = state.accounts
        monkeypatch.setenv("AGENTPHONE_API_KEY", key_1)
        monkeypatch.setenv("AGENTPHONE_SECOND_API_KEY", key_2)

    return use


def _compare(spec: TargetSpec, candidate: TargetSpec, seed: int) -> DifferentialResult:
    job = DifferentialJob(spec, candidate, run_options(GivenOptions(seed=seed)))
    result, _, _ = differential(job, None)
    return result


def _open_groups(result: DifferentialResult) -> set[tuple[str, str, str]]:
    return {(g.kind, g.request, g.member) for g in result.groups() if not g.decided}


@pytest.mark.parametrize("name", INDEPENDENT)
def test_the_emulator_seeded_from_a_conformant_server_never_diverges_where_it_is_decided(
    name: str, keys: Any
) -> None:
    found = []
    with _reference(name) as (base_url, state):
        keys(state)
        for seed in SEEDS:
            result = _compare(_spec(base_url, state), TargetSpec(), seed)
            assert not result.decided, [
                (d.kind, d.request, d.member, d.decided) for d in result.decided
            ]
            assert result.exit_code in (0, 4)
            assert result.compared > 150
            found.append(_open_groups(result))
        left = state.metadata_snapshot()
    assert all(groups == found[0] for groups in found), found  # the same on every seed
    assert left == state.seeded_metadata  # the reference restored, as after any run


@pytest.mark.parametrize("fault", FAULTY)
def test_a_faulty_candidate_diverges_where_the_contract_decides_on_every_seed(fault: str) -> None:
    for seed in SEEDS:
        result = _compare(TargetSpec(), TargetSpec(faults=(fault,)), seed)
        assert result.exit_code == 1, (fault, seed)
        against = [d for d in result.decided if d.breaks == "candidate"]
        assert against, (fault, seed, [g.kind for g in result.groups()])
        assert all(d.steps and d.steps[-1].startswith("curl ") for d in against)
        assert not [d for d in result.decided if d.breaks == "reference"]


def test_the_same_emulator_on_both_sides_is_faithful() -> None:
    result = _compare(TargetSpec(), TargetSpec(), 1)
    assert (result.exit_code, result.divergences, result.dropped) == (0, [], 0)


def test_what_moves_between_the_references_own_answers_is_noise(keys: Any) -> None:
    with _reference("current-updated-at") as (base_url, state):
        keys(state)
        result = _compare(_spec(base_url, state), TargetSpec(), 1)
    assert result.noise.get("updatedAt", 0) > 0, result.noise
    assert not [
        d for d in result.divergences if d.member == "updatedAt" and d.request.startswith("PATCH")
    ]
    assert not result.decided


def test_an_external_candidate_is_aligned_compared_and_put_back(
    keys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate_app = SERVERS["envelope-errors"]()
    theirs = base_app(candidate_app).state
    (c1, j1), (c2, j2) = theirs.accounts
    monkeypatch.setenv("CANDIDATE_KEY", c1)
    monkeypatch.setenv("CANDIDATE_SECOND_KEY", c2)
    with _reference("seed-fastapi") as (base_url, state), serve(candidate_app) as other:
        keys(state)
        target = tmp_path / "candidate.toml"
        target.write_text(
            f'name = "candidate"\nbase_url = "{other.base_url}"\napi_key_env = "CANDIDATE_KEY"\n'
            f'conversation_ids = ["{j1[0]}"]\n[second_account]\n'
            f'api_key_env = "CANDIDATE_SECOND_KEY"\nconversation_ids = ["{j2[0]}"]\n',
            encoding="utf-8",
        )
        result = _compare(_spec(base_url, state), load_target_file(target), 1)
        left = theirs.metadata_snapshot()
    assert not result.decided, [(d.kind, d.member, d.decided) for d in result.decided]
    assert "metadata written to them first" in result.seeded_from
    assert "messages" in result.seeded_from  # their messages differ: left out, and said so
    envelopes = [g for g in result.groups() if g.member.startswith("(error body)")]
    assert envelopes and all(not g.decided for g in envelopes)  # both bodies are the contract's
    assert left == theirs.seeded_metadata  # the candidate's own metadata put back


def _one_conversation(tmp_path: Path, base_url: str, conversation_id: str) -> TargetSpec:
    """An external candidate of one conversation, its key in CANDIDATE_KEY."""
    target = tmp_path / "candidate.toml"
    target.write_text(
        f'base_url = "{base_url}"\napi_key_env = "CANDIDATE_KEY"\n'
        f'conversation_ids = ["{conversation_id}"]\n',
        encoding="utf-8",
    )
    return load_target_file(target)


def _cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli("differential", *args, env=env, timeout=300)


def test_the_command_exit_codes_and_reports(tmp_path: Path) -> None:
    same = _cli("--report-dir", str(tmp_path / "same"))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "FAITHFUL" in same.stdout
    broken = _cli(
        "--candidate-fault", "semantics-null-ignored", "--report-dir", str(tmp_path / "broken")
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    data = json.loads((tmp_path / "broken" / "differential.json").read_text(encoding="utf-8"))
    Draft202012Validator(differential_schema()).validate(data)
    assert data["exit_code"] == 1 and data["summary"]["decided"] > 0
    markdown = (tmp_path / "broken" / "differential.md").read_text(encoding="utf-8")
    assert "DIVERGES WHERE THE CONTRACT DECIDES" in markdown and "curl -i -X PATCH" in markdown
    html = (tmp_path / "broken" / "differential.html").read_text(encoding="utf-8")
    assert "<script" not in html and "The candidate answered" in html
    assert (tmp_path / "broken" / "candidate" / "report.json").is_file()
    assert "agentphone-conformance differential" in data["rerun"]


def test_an_open_divergence_alone_exits_4_and_no_key_is_written(keys: Any, tmp_path: Path) -> None:
    with _reference("seed-fastapi") as (base_url, state):
        (key_1, ids_1), (key_2, ids_2) = state.accounts
        done = _cli(
            *("--base-url", base_url, "--conversation-id", ids_1[0]),
            *("--second-conversation-id", ids_2[0], "--report-dir", str(tmp_path)),
            env={"AGENTPHONE_API_KEY": key_1, "AGENTPHONE_SECOND_API_KEY": key_2},
        )
    assert done.returncode == 4, done.stdout + done.stderr
    assert "FIDELITY GAP" in done.stdout
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert key_1 not in text and key_2 not in text, path


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _cli("--candidate-fault", "no-such-fault", "--report-dir", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no-such-fault" in errors[0] and "Traceback" not in done.stderr
    missing = _cli("--candidate", str(tmp_path / "nowhere.toml"), "--report-dir", str(tmp_path))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert os.path.basename("nowhere.toml") in missing.stderr


def test_the_matrix_takes_a_reference_and_counts_each_targets_divergences(tmp_path: Path) -> None:
    reference = tmp_path / "reference.toml"
    reference.write_text('name = "the trusted one"\n[emulator]\nfaults = []\n', encoding="utf-8")
    faulty = Path(__file__).parents[1] / "examples" / "targets" / "emulator-null-ignored.toml"
    done = run_cli(
        "matrix", str(faulty), "--reference", str(reference), "--seed", "1",
        "--report-dir", str(tmp_path / "matrix"), timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # the matrix's own exit code
    data = json.loads((tmp_path / "matrix" / "matrix.json").read_text(encoding="utf-8"))
    from conformance.reports import matrix_schema

    Draft202012Validator(matrix_schema()).validate(data)
    assert data["reference"] == str(reference)
    emulator, broken = data["targets"]
    assert emulator["divergences"] == {"decided": 0, "open": 0}, emulator["compared"]
    assert broken["divergences"]["decided"] > 0 and "DECIDES" in broken["compared"]
    markdown = (tmp_path / "matrix" / "matrix.md").read_text(encoding="utf-8")
    assert "Divergences from the reference (decided / open)" in markdown
    assert (
        tmp_path / "matrix" / "targets" / broken["slug"] / "differential" / "differential.md"
    ).is_file()
    html = (tmp_path / "matrix" / "matrix.html").read_text(encoding="utf-8")
    assert "Divergences from the reference" in html


def test_an_unreachable_reference_or_candidate_is_one_line_and_exit_3(tmp_path: Path) -> None:
    env = {"AGENTPHONE_API_KEY": "ape_test_0123456789", "CANDIDATE_KEY": "ape_test_9876543210"}
    gone = _cli(
        *("--base-url", "http://127.0.0.1:9", "--conversation-id", "conv_x"),
        *("--report-dir", str(tmp_path / "a")),
        env=env,
    )
    assert gone.returncode == 3, gone.stdout + gone.stderr
    assert "the reference (http://127.0.0.1:9) cannot be read" in gone.stderr
    assert "Traceback" not in gone.stderr
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(
        'base_url = "http://127.0.0.1:9"\napi_key_env = "CANDIDATE_KEY"\n'
        'conversation_ids = ["conv_y"]\n',
        encoding="utf-8",
    )
    with _reference("seed-fastapi") as (base_url, state):
        (key_1, ids_1), _ = state.accounts
        away = _cli(
            *("--base-url", base_url, "--conversation-id", ids_1[0]),
            *("--candidate", str(candidate), "--report-dir", str(tmp_path / "b")),
            env={**env, "AGENTPHONE_API_KEY": key_1},
        )
        left = state.metadata_snapshot()
    assert away.returncode == 3, away.stdout + away.stderr
    assert "the candidate (http://127.0.0.1:9) cannot be read" in away.stderr
    assert left == state.seeded_metadata  # nothing was written to the reference


@pytest.mark.parametrize("fault", ["auth-echoes-credential", "http-etag-stale"])
def test_a_violation_no_divergence_shows_still_fails_the_candidate(fault: str) -> None:
    """An echoed key is in an error's free text; a stale ETag only shows to a conditional
    request: no divergence, but the candidate's own run fails, and so does the comparison."""
    result = _compare(TargetSpec(), TargetSpec(faults=(fault,)), 1)
    assert not result.decided and result.candidate.failed
    assert result.exit_code == 1
    from conformance.reports import differential_headline

    assert differential_headline(result).startswith("THE CANDIDATE BREAKS THE CONTRACT")


def test_a_header_rfc_9110_asks_for_is_compared_for_presence() -> None:
    result = _compare(TargetSpec(), TargetSpec(faults=("http-405-without-allow",)), 1)
    members = {g.member for g in result.groups()}
    assert "(header Allow) true vs false" in members and result.exit_code == 4


def test_only_what_the_violation_touches_is_decided_against_a_faulty_candidate(
    keys: Any,
) -> None:
    """A reference of its own choices (FastAPI's seed edition: no list, its own limits) and
    a candidate that ignores null: what is decided against the candidate is the metadata,
    never the choices both are free to make."""
    with _reference("seed-fastapi") as (base_url, state):
        keys(state)
        result = _compare(_spec(base_url, state), TargetSpec(faults=("semantics-null-ignored",)), 1)
    assert result.decided and all(d.breaks == "candidate" for d in result.decided)
    for divergence in result.decided:
        assert "metadata" in divergence.member, (divergence.kind, divergence.member)
    open_kinds = {(g.kind, g.member) for g in result.groups() if not g.decided}
    assert any(kind == "status" for kind, _ in open_kinds)  # the list, the limits: open


def test_a_candidate_that_cannot_be_put_back_is_said_so(
    keys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .realistic.servers import create

    candidate_app = create("null-as-empty-object")  # stores {} for null: null never comes back
    theirs = base_app(candidate_app).state
    (c1, j1), _ = theirs.accounts
    bare = next(cid for cid in j1 if theirs.seeded_metadata[cid] is None)
    monkeypatch.setenv("CANDIDATE_KEY", c1)
    with _reference("seed-fastapi") as (base_url, state), serve(candidate_app) as other:
        keys(state)
        (_, ids_1), _ = state.accounts
        spec = TargetSpec(base_url=base_url, conversation_ids=(ids_1[0],))
        result = _compare(spec, _one_conversation(tmp_path, other.base_url, bare), 1)
    assert result.unrestored and result.unrestored[0].startswith("RESTORE FAILED")
    assert bare in result.unrestored[0]
    assert result.exit_code == 1  # the candidate's own run fails too (null is not null)


def test_a_value_no_terminal_can_encode_is_printed_spelled_out() -> None:
    import io

    from rich.console import Console

    from conformance.cli._differential import print_differential
    from conformance.core import json_bytes

    assert json_bytes({"a": "\ud800"}) == b'{"a": "\\ud800"}'  # its JSON escape
    result = _compare(TargetSpec(), TargetSpec(faults=("semantics-null-ignored",)), 1)
    first = result.divergences[0]
    result.divergences[0] = type(first)(**{**first.__dict__, "candidate": '"\ud800"'})
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    print_differential(Console(file=stream, width=160), result, {})
    stream.flush()
    assert "\\ud800" in stream.buffer.getvalue().decode("utf-8")  # type: ignore[attr-defined]


def test_a_merging_candidate_is_put_back_clean_and_its_misalignment_named(
    keys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .realistic.servers import create

    candidate_app = create("jsonb-concat")  # metadata || new: the reference's never replaces
    theirs = base_app(candidate_app).state
    (c1, j1), _ = theirs.accounts
    monkeypatch.setenv("CANDIDATE_KEY", c1)
    with _reference("envelope-errors") as (base_url, state), serve(candidate_app) as other:
        keys(state)
        (_, ids_1), _ = state.accounts
        ours = state.seeded_metadata[ids_1[0]]
        held = next(m for m in j1 if theirs.seeded_metadata[m] not in (None, ours))
        assert ours, "the reference's conversation has metadata of its own"
        spec = TargetSpec(base_url=base_url, conversation_ids=(ids_1[0],))
        result = _compare(spec, _one_conversation(tmp_path, other.base_url, held), 1)
        left = theirs.metadata_snapshot()
    assert not result.unrestored, result.unrestored
    assert left[held] == theirs.seeded_metadata[held]  # cleared first, then put back
    assert "would not take the reference's" in result.seeded_from
    assert result.exit_code == 1  # the merge fails the candidate's own run


def test_the_rerun_line_keeps_the_checks() -> None:
    options = run_options(GivenOptions(seed=3, checks=("META-REPLACE",)))
    line = DifferentialJob(TargetSpec(), TargetSpec(faults=("semantics-null-ignored",)), options)
    assert line.rerun(Path("out")).split() == [
        "agentphone-conformance", "differential", "--candidate-fault", "semantics-null-ignored",
        "--seed", "3", "--profile", "quick", "--check", "META-REPLACE", "--report-dir", "out",
    ]  # fmt: skip


def test_a_state_divergence_starts_with_the_write_that_set_it() -> None:
    """In the list as in a GET with a query: the request sequence begins with the PATCH of
    that conversation, then the read that shows what differs."""
    result = _compare(TargetSpec(), TargetSpec(faults=("semantics-null-ignored",)), 1)
    listed = [d for d in result.divergences if d.member.startswith("data[")]
    assert listed, [(d.kind, d.member) for d in result.divergences]
    for divergence in listed:
        assert len(divergence.steps) == 2 and "-X PATCH" in divergence.steps[0]
        assert "offset=0" in divergence.steps[1]
