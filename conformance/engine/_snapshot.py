"""Before the first write, read everything the run may touch; at the end, put back what the
run changed and verify it with a GET, saying loudly what could not be restored.

The snapshot holds the conversations given (whole: the state checks compare with them) and
their neighbours: the other conversations of each account on the first page of
`GET /v1/conversations`, and the witnesses given with `--witness-conversation-id` (metadata
only: they are only read). A neighbour is written back only when it holds a value the run
itself wrote - a faulty target put it there - never over anyone else's write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

from ..checks import (
    CONVERSATION_PATH,
    LIST_PAGE,
    LIST_PATH,
    RunContext,
    Snapshot,
    conversation_path,
    same_json,
)
from ..core import (
    Account,
    BudgetExhausted,
    ConditionFailed,
    Dropped,
    ExitCode,
    HarnessError,
    Sent,
    TargetUnreachable,
    Throttled,
    curl_command,
    json_bytes,
)
from ..model import Edition, EditionJudged, RestoreRecord

__all__ = ["accounts", "judge_edition", "restore", "settle", "take_snapshot"]


def accounts(run: RunContext) -> list[Account]:
    target = run.target
    return [target.primary] + ([target.second] if target.second else [])


def take_snapshot(run: RunContext) -> Snapshot:
    """Read every conversation the run may touch, and its neighbours; a given conversation
    that cannot be read makes the target unusable."""
    snapshot = Snapshot()
    for account in accounts(run):
        for conversation_id in account.conversation_ids:
            body = _read_original(run, account, conversation_id, "conversation")
            snapshot.conversations[(account.key_env, conversation_id)] = body
        _read_neighbours(run, account, snapshot)
    primary = run.target.primary
    for witness in run.target.witness_ids:
        body = _read_original(run, primary, witness, "witness conversation")
        snapshot.neighbours[(primary.key_env, witness)] = body["metadata"]
    return snapshot


def _read_neighbours(run: RunContext, account: Account, snapshot: Snapshot) -> None:
    """The first page of the account's list, if it has one (a target without it: none)."""
    try:
        sent = run.client.send(
            "GET",
            LIST_PATH,
            authorization=run.bearer(account),
            params=LIST_PAGE,
            path_template=LIST_PATH,
        )
    except (TargetUnreachable, Throttled):
        return
    page = sent.json_body.get("data") if isinstance(sent.json_body, dict) else None
    if sent.status != 200 or not isinstance(page, list):
        return
    snapshot.listed.add(account.key_env)
    given = {cid for other in accounts(run) for cid in other.conversation_ids}
    for summary in page:
        if isinstance(summary, dict) and isinstance(summary.get("id"), str):
            key = (account.key_env, summary["id"])
            if key in snapshot.conversations:
                snapshot.summaries[summary["id"]] = summary
            elif summary["id"] in given:
                continue  # another account's, in this account's list: AUTH-CROSS-TENANT-READ
            elif "metadata" in summary:
                snapshot.neighbours[key] = summary["metadata"]


def _read_original(
    run: RunContext, account: Account, conversation_id: str, what: str
) -> dict[str, Any]:
    try:
        sent = run.client.send(
            "GET",
            conversation_path(conversation_id),
            authorization=run.bearer(account),
            path_template=CONVERSATION_PATH,
        )
    except (TargetUnreachable, Throttled) as exc:
        raise HarnessError(
            f"the target at {run.target.base_url} is unreachable ({exc})",
            "check the URL, the network and that the service is up",
            ExitCode.TARGET_UNUSABLE,
        ) from None
    if sent.status in (401, 403):
        raise HarnessError(
            f"the key in {account.key_env} was refused ({sent.status})",
            f"export a valid API key in {account.key_env}",
            ExitCode.TARGET_UNUSABLE,
        )
    if sent.status == 404:
        raise HarnessError(
            f"{what} {conversation_id} does not exist for the key in {account.key_env} (404)",
            "pass the id of an existing conversation of that account",
            ExitCode.TARGET_UNUSABLE,
        )
    body = sent.json_body
    if isinstance(body, dict) and "metadata" not in body and body.get("id") == conversation_id:
        body = {**body, "metadata": None}  # a null member left out reads as null
    if sent.status != 200 or not isinstance(body, dict) or "metadata" not in body:
        raise HarnessError(
            f"cannot snapshot {what} {conversation_id}: GET answered {_unreadable(sent)}",
            "the suite will not write what it cannot restore; fix the target or use --read-only",
            ExitCode.TARGET_UNUSABLE,
        )
    return body


def _unreadable(sent: Sent) -> str:
    """Why an answer is no conversation, in a few words."""
    if not sent.complete:
        return (
            f"{sent.status} with more than --max-answer-bytes once decoded (raise it if the "
            "conversation is really that large)"
        )
    if 300 <= sent.status < 400:
        location = sent.response.headers.get("Location", "?")
        return (
            f"{sent.status}, a redirect to {location} that the suite does not follow with the "
            "key (give --base-url the address it redirects to)"
        )
    media = sent.response.headers.get("Content-Type", "no media type")
    if "json" not in media.lower():
        return f"{sent.status} with {media}, not JSON (is --base-url an API's address?)"
    return f"{sent.status} without a metadata field"


#: The member whose presence shows a target implements the current edition: it is what the
#: current edition's `group_name` writes (README, "Contract editions").
EDITION_MARKER = "groupName"


def judge_edition(asked: str, snapshot: Snapshot) -> EditionJudged:
    """The edition to judge: the one asked for, or (auto) the one the answers show."""
    if asked != "auto":
        return EditionJudged(Edition(asked), f"pinned with --edition {asked}")
    if any(EDITION_MARKER in body for body in snapshot.conversations.values()):
        return EditionJudged(
            Edition.CURRENT,
            f"auto: its answers carry {EDITION_MARKER}, which the current edition's group_name "
            "writes",
        )
    return EditionJudged(
        Edition.SEED,
        f"auto: its answers carry no {EDITION_MARKER}, the member the current edition adds for "
        "group_name; pin --edition current to judge the later additions anyway",
    )


def restore(
    run: RunContext,
    snapshot: Snapshot,
    ours: Callable[[Any], bool] | None = None,
    uncertain: Collection[str] = (),
) -> list[RestoreRecord]:
    """Put back every given conversation's metadata, and any neighbour's that holds a value
    the run wrote; verify with a GET; say loudly what failed. Once the target stops
    answering, the rest is not tried (each try would cost a whole --timeout). `ours(value)`:
    did the run put that value there? A value that is not is someone else's: kept.
    `uncertain`: the paths of conversations a write that got no answer may still change
    (`settle`): their restore is not known to hold, and says so, with the fix by hand."""
    by_env = {a.key_env: a for a in accounts(run)}
    records: list[RestoreRecord] = []
    gone = False
    for (key_env, conversation_id), original in snapshot.conversations.items():
        account, metadata = by_env[key_env], original["metadata"]
        if gone:
            records.append(_unrestored(run, account, conversation_id, metadata, _NOT_TRIED))
            continue
        try:
            records.append(_restore_one(run, account, conversation_id, metadata, ours))
        except TargetUnreachable as exc:
            gone = True
            records.append(_unrestored(run, account, conversation_id, metadata, f"{_GONE} ({exc})"))
    if gone:
        return records
    for (key_env, conversation_id), original in snapshot.neighbours.items():
        record = _restore_neighbour(run, by_env[key_env], conversation_id, original)
        if record is not None:
            records.append(record)
    records = _verified(run, snapshot, records, by_env)
    if not uncertain:
        return records
    owners = _owners(run, snapshot)
    return [
        _unsure(run, r, owners[r.conversation_id])
        if conversation_path(r.conversation_id) in uncertain
        else r
        for r in records
    ]


_UNCERTAIN = (
    "RESTORE UNCERTAIN: put back, but a write of the run that got no answer (past --timeout) "
    "never showed and may still land (read it again later)"
)


def _owners(run: RunContext, snapshot: Snapshot) -> dict[str, Account]:
    """The account of each conversation the snapshot read (given, witness, neighbour)."""
    by_env = {a.key_env: a for a in accounts(run)}
    return {cid: by_env[env] for env, cid in [*snapshot.conversations, *snapshot.neighbours]}


def _unsure(run: RunContext, record: RestoreRecord, account: Account) -> RestoreRecord:
    if not record.restored or record.kept:
        return record  # not put back (or another client's value kept): it says so already
    return _unrestored(run, account, record.conversation_id, record.original_metadata, _UNCERTAIN)


# How long the restore waits, at most, for a write that got no answer to show (the restore then
# comes after it): twice --timeout after the run gave up on it, at least 5 s, at most 30 s.
SETTLE_SECONDS = (5.0, 30.0)
SETTLE_POLL = 0.5


def settle(
    run: RunContext, snapshot: Snapshot, landed: Collection[str] = ()
) -> tuple[str | None, set[str]]:
    """Before the restore: wait for each write of the run's that timed out (the target still
    at work on it) to show in its conversation, reading it every SETTLE_POLL seconds, so
    that the restore puts back what was there before it rather than being overwritten by it.
    `landed`: the paths where one was seen stored already. What it did, for the run's notes
    (None when there was nothing to wait for), and the paths where one never showed: their
    restore is uncertain (`restore(uncertain=...)`)."""
    unanswered = [u for u in run.client.unanswered if u.timed_out and u.path not in landed]
    where = {conversation_path(cid): (a, cid) for cid, a in _owners(run, snapshot).items()}
    pending = {u.path for u in unanswered if u.path in where}
    if not pending:
        return None, set()
    low, high = SETTLE_SECONDS
    deadline = max(u.at for u in unanswered) + min(max(2 * run.client.timeout, low), high)
    started = time.monotonic()
    while pending:
        for path in sorted(pending):
            account, conversation_id = where[path]
            try:
                now = _current(run, account, conversation_id)
            except (TargetUnreachable, Throttled):
                continue  # the restore says what became of it
            if any(u.path == path and same_json(now, u.metadata) for u in unanswered):
                pending.discard(path)
        if not pending or time.monotonic() + SETTLE_POLL > deadline:
            break
        time.sleep(SETTLE_POLL)
    waited = time.monotonic() - started
    if pending:
        return (
            f"the restore waited {waited:.1f} s for the writes that got no answer to show; "
            f"{len(pending)} never did (stored and written over since, or still to come): "
            "its restore is uncertain"
        ), pending
    return (
        f"the restore waited {waited:.1f} s, until every write that got no answer showed in "
        "its conversation, and came after them"
    ), pending


_GONE = "RESTORE FAILED: the target stopped answering"
_NOT_TRIED = "RESTORE NOT TRIED: the target had stopped answering before this one"


def _verified(
    run: RunContext,
    snapshot: Snapshot,
    records: list[RestoreRecord],
    by_env: dict[str, Account],
) -> list[RestoreRecord]:
    """Each restored conversation read once more after every restore: a target that leaks one
    conversation's write into another can undo an earlier restore."""
    originals = {
        cid: (env, body["metadata"]) for (env, cid), body in snapshot.conversations.items()
    }
    originals.update({cid: (env, metadata) for (env, cid), metadata in snapshot.neighbours.items()})
    checked = []
    for record in records:
        env, original = originals[record.conversation_id]
        account = by_env[env]
        if record.restored and not record.kept:
            try:
                still = same_json(_current(run, account, record.conversation_id), original)
            except (TargetUnreachable, BudgetExhausted, Throttled):
                still = False
            if not still:
                record = _unrestored(
                    run,
                    account,
                    record.conversation_id,
                    original,
                    "RESTORE UNDONE: restoring another conversation changed it again (the "
                    "target writes one conversation's metadata into another)",
                )
        checked.append(record)
    return checked


def _current(run: RunContext, account: Account, conversation_id: str) -> Any:
    sent = run.client.send(
        "GET", conversation_path(conversation_id), authorization=run.bearer(account), reserved=True
    )
    body = sent.json_body
    if sent.status == 200 and isinstance(body, dict) and "metadata" in body:
        return body["metadata"]
    if sent.status == 200 and isinstance(body, dict) and body.get("id") == conversation_id:
        return None  # a null member left out reads as null
    return UNREADABLE


class _Unreadable:
    """No metadata could be read: equal to no value, not anyone's write."""

    def __repr__(self) -> str:
        return "<unreadable>"


UNREADABLE: Any = _Unreadable()


def _put(run: RunContext, account: Account, conversation_id: str, metadata: Any) -> None:
    run.client.send(
        "PATCH",
        conversation_path(conversation_id),
        authorization=run.bearer(account),
        json_body={"metadata": metadata},
        reserved=True,
    )


def _restore_one(
    run: RunContext,
    account: Account,
    conversation_id: str,
    original: Any,
    ours: Callable[[Any], bool] | None = None,
) -> RestoreRecord:
    def unrestored(message: str) -> RestoreRecord:
        return _unrestored(run, account, conversation_id, original, message)

    try:
        try:
            now = _current(run, account, conversation_id)
        except Dropped:  # it answers nothing about this conversation: mend it blind
            return _mend(run, account, conversation_id, original, unrestored)
        if same_json(now, original):
            return RestoreRecord(conversation_id, True, "unchanged", original)
        if ours is not None and now is not UNREADABLE and not ours(now):
            return RestoreRecord(
                conversation_id,
                True,
                "kept: another client wrote it during the run; the suite does not write over "
                "a value it did not write",
                original,
                kept=True,
            )
        if run.read_only:
            return unrestored("changed during a read-only run (by someone else?): not written")
        try:
            _put(run, account, conversation_id, original)
        except ConditionFailed as exc:  # If-Match refused: written between read and write
            run.others.setdefault(conversation_id, exc.metadata)
            return RestoreRecord(
                conversation_id,
                True,
                "kept: another client wrote it between the suite's read and its write (If-Match "
                "refused); the suite does not write over a value it did not write",
                original,
                kept=True,
            )
        if same_json(_current(run, account, conversation_id), original):
            return RestoreRecord(conversation_id, True, "restored", original)
        late = _seen_late(run, account, conversation_id, original)
        if late is not None:
            return RestoreRecord(
                conversation_id,
                True,
                f"restored (shown only {late:g} s later: the target shows a write late)",
                original,
            )
        _put(run, account, conversation_id, None)  # a target that merges needs a clean slate
        _put(run, account, conversation_id, original)
        if same_json(_current(run, account, conversation_id), original):
            return RestoreRecord(
                conversation_id, True, "restored (after clearing it first)", original
            )
        return unrestored("RESTORE FAILED: the target does not store what it is sent back")
    except (BudgetExhausted, Throttled) as exc:  # a target that stops answering: the caller's
        return unrestored(f"RESTORE FAILED: {exc}")


# Seconds to wait before each read again of a restored conversation that does not show its
# original yet (a replica, a write-behind cache): bounded, 1.5 s in all.
LATE_READS = (0.25, 0.5, 0.75)


def _seen_late(
    run: RunContext, account: Account, conversation_id: str, original: Any
) -> float | None:
    """Does the conversation show `original` when read again a little later? The seconds
    waited, or None."""
    waited = 0.0
    for pause in LATE_READS:
        time.sleep(pause)
        waited += pause
        if same_json(_current(run, account, conversation_id), original):
            return waited
    return None


def _mend(
    run: RunContext,
    account: Account,
    conversation_id: str,
    original: Any,
    unrestored: Callable[[str], RestoreRecord],
) -> RestoreRecord:
    """A conversation whose GET gets no answer (the target crashes on what it holds now, a
    value of the run's most likely): the original written back without reading first."""
    if run.read_only:
        return unrestored(
            "RESTORE FAILED: its GET answers nothing, and a read-only run writes none"
        )
    _put(run, account, conversation_id, original)
    try:
        mended = same_json(_current(run, account, conversation_id), original)
    except Dropped:
        mended = False
    if mended:
        return RestoreRecord(
            conversation_id,
            True,
            "restored: its GET answered nothing (the target crashed on what it held) until the "
            "original was written back",
            original,
        )
    return unrestored(
        "RESTORE FAILED: its GET answers nothing, even with the original written back"
    )


def _restore_neighbour(
    run: RunContext, account: Account, conversation_id: str, original: Any
) -> RestoreRecord | None:
    """A neighbour is only read: it gets a record only when the run's own value landed in
    it (then it is written back), or when it could not even be read."""
    try:
        now = _current(run, account, conversation_id)
    except (TargetUnreachable, BudgetExhausted, Throttled):
        return None  # nothing of ours is known to be there
    if now is UNREADABLE or same_json(now, original) or not run.client.wrote(now):
        return None  # untouched, unreadable, or changed by someone else: theirs to keep
    try:
        record = _restore_one(run, account, conversation_id, original)
    except TargetUnreachable as exc:
        return _unrestored(run, account, conversation_id, original, f"{_GONE} ({exc})")
    if record.restored:
        message = "restored: the target had put a value the run wrote to another conversation here"
        return RestoreRecord(conversation_id, True, message, original)
    return record


def _unrestored(
    run: RunContext, account: Account, conversation_id: str, original: Any, message: str
) -> RestoreRecord:
    body = json_bytes({"metadata": original})
    fix = curl_command(
        "PATCH",
        f"{run.target.base_url}{conversation_path(conversation_id)}",
        {"Authorization": run.bearer(account), "Content-Type": "application/json"},
        body,
        run.target.secrets,
    )
    return RestoreRecord(conversation_id, False, message, original, fix)
