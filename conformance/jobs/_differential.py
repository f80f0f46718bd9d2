"""Differential conformance: is a stand-in faithful to the implementation one trusts?

A reference target (the real API, a vendor's staging) and a candidate (by default the
embedded emulator) get the same requests: the suite runs against the reference as it always
does, and every request it sends goes again to the reference (noise: what moves between its
own two answers) and to the candidate (`engine.Mirror`). Then the suite runs against the
candidate on its own, so a divergence the contract decides names the check the breaking
side fails.

The candidate starts where the reference is. The embedded emulator is seeded from what the
reference answered (the given conversations of both accounts with their messages, and the
list's other conversations, summarised); an external candidate's given conversations get
the reference's metadata written first (and their own back at the end), and whatever else
differs beforehand (messages, the list) is left out of the comparison and said so.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..checks import CONVERSATION_PATH, LIST_PATH, REGISTRY, conversation_path
from ..core import (
    BudgetExhausted,
    Client,
    ExitCode,
    HarnessError,
    RunOptions,
    Target,
    TargetSpec,
    TargetUnreachable,
    Throttled,
    differences,
    same_json,
    short_json,
)
from ..core._target import Account, load_target_file
from ..emulator import Emulator, UnknownFaultError, state_from_answers
from ..emulator._state import LATER_CONVERSATION_FIELDS
from ..engine import Mirror, Progress, decide_by_checks, run
from ..model import DifferentialResult, RunResult, SideRun
from ._rerun import _target_args
from ._run import Job, ensure_writable, open_target, writing_to

__all__ = ["DifferentialJob", "differential", "execute_differential", "plan_differential"]

LIST_QUERY = "limit=100&offset=0"  # the one page of the list a snapshot reads
# The check families a differential run leaves out, and why.
LEFT_OUT = {
    "consistency": "the consistency histories (each target's timing is its own)",
    "webhook": "the webhook checks (a delivery is the target's, not an answer to a request)",
}


@dataclass(frozen=True)
class DifferentialJob:
    reference: TargetSpec
    candidate: TargetSpec  # embedded (seeded from the reference) or external
    options: RunOptions

    def rerun(self, report_dir: Path | None) -> str:
        args = _target_args(self.reference)
        if self.candidate.embedded:
            args += [a for f in self.candidate.faults for a in ("--candidate-fault", f)]
        elif self.candidate.source is not None:
            args += ["--candidate", str(self.candidate.source)]
        args += ["--seed", str(self.options.seed), "--profile", self.options.profile.name]
        args += [a for check in self.options.checks for a in ("--check", check)]
        if report_dir is not None:
            args += ["--report-dir", str(report_dir)]
        return " ".join(["agentphone-conformance differential", *(shlex.quote(a) for a in args)])


@dataclass
class _Snapshot:
    """What the reference answered before anything was sent: per account, its key, its
    given conversations (GET, as many messages as it shows) and the list's others."""

    accounts: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = field(
        default_factory=list
    )
    edition: str = "current"
    witnesses: list[dict[str, Any]] = field(default_factory=list)  # the first account's

    @property
    def conversations(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for _, given, _ in self.accounts for c in given}


def _client(target: Target, options: RunOptions, requests: int) -> Client:
    return Client(
        target.base_url,
        target.secrets,
        max_requests=requests,
        rate_limit=options.rate_limit,
        timeout=options.timeout,
        max_answer_bytes=options.max_answer_bytes,
        transport=target.transport,
    )


def _accounts(target: Target) -> list[Account]:
    return [target.primary] + ([target.second] if target.second else [])


def _read(client: Client, key: str, path: str, query: str = "") -> tuple[int, Any]:
    """A GET: its status, and its JSON object (None unless a 200 with one)."""
    sent = client.send(
        "GET",
        path + (f"?{query}" if query else ""),
        authorization=f"Bearer {key}",
    )
    if sent.status != 200 or not isinstance(sent.json_body, dict):
        return sent.status, None
    return sent.status, sent.json_body


def _conversation(
    client: Client, account: Account, conversation_id: str, side: str, kind: str = ""
) -> dict[str, Any]:
    """A given conversation of a side, as its GET shows it (its messages, up to 100); one
    line and exit 3 when it cannot be read."""
    status, body = _read(
        client, account.api_key, conversation_path(conversation_id), "message_limit=100"
    )
    if body is None:
        raise HarnessError(
            f"cannot read {kind}conversation {conversation_id} of the {side} ({status})",
            f"check the key in {account.key_env} and that the conversation is its",
            ExitCode.TARGET_UNUSABLE,
        )
    return dict(body)


@contextmanager
def _reading(side: str, target: Target) -> Iterator[None]:
    """A target that does not answer while the job reads or aligns it: one line, exit 3."""
    try:
        yield
    except (TargetUnreachable, Throttled, BudgetExhausted) as exc:
        raise HarnessError(
            f"the {side} ({target.base_url}) cannot be read: {exc}",
            f"check that the {side} is up and reachable from here",
            ExitCode.TARGET_UNUSABLE,
        ) from None


def take_reference(target: Target, options: RunOptions) -> _Snapshot:
    """Read the reference's given conversations and its list's first page, per account."""
    with _reading("reference", target):
        return _take_reference(target, options)


def _take_reference(target: Target, options: RunOptions) -> _Snapshot:
    snapshot = _Snapshot()
    wanted = sum(len(a.conversation_ids) + 1 for a in _accounts(target)) + len(target.witness_ids)
    client = _client(target, options, wanted)
    try:
        for account in _accounts(target):
            given = []
            for conversation_id in account.conversation_ids:
                given.append(_conversation(client, account, conversation_id, "reference"))
            _, page = _read(client, account.api_key, LIST_PATH, LIST_QUERY)
            data = page.get("data") if isinstance(page, dict) else None
            ids = {c["id"] for c in given}
            others = [
                s
                for s in (data if isinstance(data, list) else [])
                if isinstance(s, dict) and s.get("id") not in ids
            ]
            snapshot.accounts.append((account.api_key, given, others))
        for witness in target.witness_ids:
            body = _conversation(client, target.primary, witness, "reference", "witness ")
            snapshot.witnesses.append(body)
    finally:
        client.close()
    later = any(k in c for c in snapshot.conversations.values() for k in LATER_CONVERSATION_FIELDS)
    snapshot.edition = "current" if later else "seed"
    return snapshot


@dataclass
class _Candidate:
    target: Target
    keys: dict[str, str]  # reference key -> the candidate's
    ids: dict[str, str]  # reference conversation id -> the candidate's
    unaligned: dict[str, frozenset[str]]  # reference conversation id -> members left out
    seeded_from: str
    restore: list[tuple[str, str, Any]] = field(default_factory=list)  # key, id, metadata
    absent: frozenset[str] = frozenset()  # the reference's conversations it has none of
    misaligned: list[str] = field(default_factory=list)  # metadata it would not take
    unrestored: list[str] = field(default_factory=list)  # what could not be put back


def _with_witnesses(
    snapshot: _Snapshot,
) -> list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
    """The accounts to seed an emulator with: the witnesses among the first's conversations."""
    accounts = list(snapshot.accounts)
    if accounts and snapshot.witnesses:
        key, given, others = accounts[0]
        accounts[0] = (key, given + snapshot.witnesses, others)
    return accounts


@contextmanager
def _embedded_candidate(
    spec: TargetSpec, reference: Target, snapshot: _Snapshot
) -> Iterator[_Candidate]:
    try:
        emulator = Emulator(
            faults=spec.faults,
            host="127.0.0.1",
            port=0,
            edition=snapshot.edition,
            state=state_from_answers(_with_witnesses(snapshot)),
        )
    except UnknownFaultError as exc:
        raise HarnessError(
            f"unknown fault {exc.name!r}", "run `agentphone-conformance faults` for the names"
        ) from None
    with emulator:
        target = replace(
            reference,
            name="embedded emulator" + (f" ({', '.join(spec.faults)})" if spec.faults else ""),
            base_url=emulator.base_url,
            embedded=True,
            faults=tuple(sorted(spec.faults)),
            emulator_edition=snapshot.edition,
            transport=emulator.transport(),
        )
        neighbours = {s["id"] for _, _, others in snapshot.accounts for s in others}
        unaligned = {n: frozenset({"messages", "messageCount"}) for n in neighbours}
        given = sum(len(g) for _, g, _ in snapshot.accounts)
        seeded = (
            f"the reference's answers: {given} conversation(s) with their messages and "
            f"{len(neighbours)} from its list, both accounts, the {snapshot.edition} edition"
        )
        yield _Candidate(target, {}, {}, unaligned, seeded)


@contextmanager
def _external_candidate(
    spec: TargetSpec, reference: Target, snapshot: _Snapshot, options: RunOptions
) -> Iterator[_Candidate]:
    try:
        target = spec.resolve()
    except HarnessError as error:
        raise HarnessError(f"the candidate: {error.message}", error.hint, error.code) from None
    pairs = list(zip(_accounts(reference), _accounts(target), strict=False))
    ids: dict[str, str] = {}
    keys: dict[str, str] = {}
    for number, (ours, theirs) in enumerate(pairs, 1):
        if len(ours.conversation_ids) != len(theirs.conversation_ids):
            account = "first" if number == 1 else "second"
            raise HarnessError(
                f"the candidate's {account} account is given {len(theirs.conversation_ids)} "
                f"conversation(s), the reference's {len(ours.conversation_ids)}",
                "give the candidate one conversation for each of the reference's, in order",
            )
        ids.update(zip(ours.conversation_ids, theirs.conversation_ids, strict=True))
        keys[ours.api_key] = theirs.api_key
    wanted = 3 * len(ids) + 2 * len(pairs) + 4
    client = _client(target, options, wanted)
    candidate = _Candidate(target, keys, ids, {}, "")
    try:
        with _reading("candidate", target):
            _align(client, pairs, snapshot, candidate)
        given = {c["id"] for _, conversations, _ in snapshot.accounts for c in conversations}
        others = {s["id"] for _, _, summaries in snapshot.accounts for s in summaries}
        others |= {w["id"] for w in snapshot.witnesses}
        candidate.absent = frozenset(others - given)
        yield candidate
    finally:
        for key, path, metadata in candidate.restore:
            _put_back(client, key, path, metadata, candidate.unrestored)
        client.close()


def _put_back(client: Client, key: str, path: str, metadata: Any, failed: list[str]) -> None:
    """Write the candidate's own metadata back and read it again; say what did not stay."""
    held = _short(metadata)
    authorization = f"Bearer {key}"

    def write(value: Any) -> None:
        body = {"metadata": value}
        client.send("PATCH", path, authorization=authorization, json_body=body, reserved=True)

    def stored() -> Any:
        now = client.send("GET", path, authorization=authorization, reserved=True)
        return now.json_body.get("metadata") if isinstance(now.json_body, dict) else _GONE

    try:
        write(metadata)
        shown = stored()
        if not same_json(shown, metadata):
            write(None)  # a target that merges needs a clean slate
            write(metadata)
            shown = stored()
    except (HarnessError, TargetUnreachable, Throttled, BudgetExhausted) as exc:
        failed.append(f"RESTORE FAILED: {path} of the candidate ({exc}); it held {held}")
        return
    if not same_json(shown, metadata):
        failed.append(
            f"RESTORE FAILED: {path} of the candidate holds {_short(shown)}; it held {held}: "
            "put it back by hand"
        )


_GONE = object()


def _short(value: Any, limit: int = 120) -> str:
    return short_json(value, limit) if value is not _GONE else "no readable answer"


def _align(
    client: Client,
    pairs: list[tuple[Account, Account]],
    snapshot: _Snapshot,
    candidate: _Candidate,
) -> None:
    """Write the reference's metadata to the candidate's conversations (keeping theirs to
    put back), and note what differs beforehand: left out of the comparison."""
    ids = candidate.ids
    for (_, theirs), (_, given, _) in zip(pairs, snapshot.accounts, strict=False):
        for body in given:
            theirs_id = ids[body["id"]]
            path = conversation_path(theirs_id)
            before = _conversation(client, theirs, theirs_id, "candidate")
            candidate.restore.append((theirs.api_key, path, before.get("metadata")))
            client.send(
                "PATCH",
                path,
                authorization=f"Bearer {theirs.api_key}",
                json_body={"metadata": body.get("metadata")},
                path_template=CONVERSATION_PATH,
            )
            after = _read(client, theirs.api_key, path, "message_limit=100")[1] or {}
            moved = {d.member.split(".")[0].split("[")[0] for d in differences(body, after)}
            candidate.unaligned[body["id"]] = frozenset(moved - {"metadata"})
            if not same_json(after.get("metadata"), body.get("metadata")):
                candidate.misaligned.append(body["id"])
    candidate.unaligned[LIST_PATH] = frozenset({"data", "hasMore", "total"})
    left = sorted({m for v in candidate.unaligned.values() for m in v})
    candidate.seeded_from = (
        f"its own {len(ids)} conversation(s), the reference's metadata written to them "
        f"first; not compared, as they differed beforehand: {', '.join(left) or 'nothing'}"
    )
    if candidate.misaligned:
        candidate.seeded_from += (
            "; the metadata of " + ", ".join(candidate.misaligned) + " would not take the "
            "reference's (what its answers show of it is not compared)"
        )


@contextmanager
def _candidate(
    spec: TargetSpec, reference: Target, snapshot: _Snapshot, options: RunOptions
) -> Iterator[_Candidate]:
    if spec.embedded:
        with _embedded_candidate(spec, reference, snapshot) as candidate:
            yield candidate
    else:
        with _external_candidate(spec, reference, snapshot, options) as candidate:
            yield candidate


def _side(result: RunResult, target: Target) -> SideRun:
    failed = tuple(
        r.check.id
        for r in result.checks
        if r.outcome.value == "failed" and r.check.level.value == "required"
    )
    return SideRun(
        target.name, target.base_url, result.exit_code, failed, result.edition.edition.value
    )


def differential(
    job: DifferentialJob, report_dir: Path | None, progress: Progress | None = None
) -> tuple[DifferentialResult, RunResult, RunResult]:
    """Send the run's requests to both targets and compare; then run the suite on the
    candidate alone. Returns the comparison and both runs."""
    checks = tuple(
        check.id
        for check in REGISTRY.values()
        if check.info.family not in LEFT_OUT
        and (not job.options.checks or check.id in job.options.checks)
    )
    options = replace(
        job.options,
        checks=checks,
        no_concurrency=True,  # a history's timing is each target's own: not comparable
        max_requests=2 * job.options.max_requests,  # each request goes twice to it
    )
    started, clock = datetime.now(UTC), time.monotonic()
    with open_target(job.reference) as reference:
        snapshot = take_reference(reference, job.options)
        mirrors: list[Mirror] = []
        with _candidate(job.candidate, reference, snapshot, job.options) as candidate:
            other = _client(candidate.target, job.options, 2 * job.options.max_requests)

            def mirror(client: Client) -> Mirror:
                made = Mirror(
                    client,
                    other,
                    keys=candidate.keys,
                    ids=candidate.ids,
                    unaligned=candidate.unaligned,
                    absent=candidate.absent,
                    apart={conversation_path(c) for c in candidate.misaligned},
                )
                mirrors.append(made)
                return made

            try:
                reference_run = run(reference, options, progress, mirror=mirror)
            finally:
                for made in mirrors:
                    made.close()
                other.close()
            seeded_from = candidate.seeded_from
        mirrored = candidate
        with _candidate(job.candidate, reference, snapshot, job.options) as fresh:
            alone = replace(job.options, checks=checks, no_concurrency=True)
            candidate_run = run(fresh.target, alone, progress)
            candidate_target = fresh.target
            ids = fresh.ids
    (made,) = mirrors
    unrestored = mirrored.unrestored + fresh.unrestored
    origins = {"reference": reference.base_url, "candidate": candidate_target.base_url}
    back = {theirs: ours for ours, theirs in ids.items()}

    def relative(side: str, url: str) -> str:
        path = urlsplit(url).path
        prefix = urlsplit(origins[side]).path.rstrip("/")
        path = path[len(prefix) :] if prefix and path.startswith(prefix) else path
        if side == "candidate":
            path = "/".join(back.get(part, part) for part in path.split("/"))
        query = urlsplit(url).query
        return path + (f"?{query}" if query else "")

    divergences = decide_by_checks(
        made.divergences, reference_run.checks, candidate_run.checks, relative
    )
    left_out = dict(made.left_out)
    left_out.update({why: 1 for why in LEFT_OUT.values()})
    if made.trouble:
        left_out[made.trouble] = left_out.get(made.trouble, 0)
    result = DifferentialResult(
        reference=_side(reference_run, reference),
        candidate=_side(candidate_run, candidate_target),
        candidate_embedded=job.candidate.embedded,
        seed=job.options.seed,
        profile=job.options.profile.name,
        started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=time.monotonic() - clock,
        compared=made.compared,
        divergences=divergences,
        dropped=made.dropped,
        noise=dict(made.noise),
        left_out=left_out,
        seeded_from=seeded_from,
        rerun=job.rerun(report_dir),
        unrestored=unrestored,
    )
    return result, reference_run, candidate_run


def as_json(result: DifferentialResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False)


def plan_differential(
    reference: Job,
    candidate_file: Path | None = None,
    candidate_faults: tuple[str, ...] = (),
) -> DifferentialJob:
    """The `differential` command's job: the reference as `run` takes a target; the
    candidate from a target file, or the embedded emulator (with faults, if given)."""
    if candidate_file is not None:
        candidate = load_target_file(candidate_file)
        if candidate_faults:
            if not candidate.embedded:
                raise HarnessError(
                    "--candidate-fault given with an external candidate",
                    "faults only apply to the embedded emulator: drop them or --candidate",
                )
            candidate = replace(candidate, faults=tuple(candidate.faults) + candidate_faults)
    else:
        candidate = TargetSpec(faults=candidate_faults)
    return DifferentialJob(reference.spec, candidate, reference.options)


def execute_differential(
    job: DifferentialJob, report_dir: Path | None, progress: Progress | None = None
) -> tuple[DifferentialResult, dict[str, Path]]:
    """The differential run and its reports: differential.md/.json/.html, and each side's
    own run reports under reference/ and candidate/."""
    from ..reports import write_differential, write_reports

    if report_dir is not None:
        ensure_writable(report_dir)
    result, reference_run, candidate_run = differential(job, report_dir, progress)
    written: dict[str, Path] = {}
    if report_dir is not None:
        secrets = secrets_of(job.reference) + secrets_of(job.candidate)
        with writing_to(report_dir):
            written |= write_differential(result, report_dir, secrets)
            for side, side_run in (("reference", reference_run), ("candidate", candidate_run)):
                files = write_reports(side_run, report_dir / side, secrets=secrets)
                written[f"{side} report"] = files.get("html", report_dir / side)
    return result, written


def secrets_of(spec: TargetSpec) -> list[str]:
    """The keys an external target's variables hold (none for the embedded emulator, none
    when unreadable): scrubbed from every report."""
    if spec.embedded:
        return []
    try:
        return list(spec.resolve().secrets)
    except HarnessError:
        return []
