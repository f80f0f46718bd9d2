"""Before the first write, read every conversation the run may touch; at the end, put each
one's metadata back and verify it with a GET, saying loudly what could not be restored."""

from __future__ import annotations

import json
from typing import Any

from ..checks import CONVERSATION_PATH, RunContext, same_json
from ..core import (
    Account,
    BudgetExhausted,
    ExitCode,
    HarnessError,
    TargetUnreachable,
    curl_command,
)
from ..model import Edition, EditionJudged, RestoreRecord

__all__ = ["Snapshot", "judge_edition", "restore", "take_snapshot"]

# (the key's variable, conversation id) -> the conversation as a GET showed it before the run
Snapshot = dict[tuple[str, str], dict[str, Any]]


def accounts(run: RunContext) -> list[Account]:
    target = run.target
    return [target.primary] + ([target.second] if target.second else [])


def _path(conversation_id: str) -> str:
    return f"/v1/conversations/{conversation_id}"


def take_snapshot(run: RunContext) -> Snapshot:
    """Read every conversation the run may touch; any problem makes the target unusable."""
    snapshot: Snapshot = {}
    for account in accounts(run):
        for conversation_id in account.conversation_ids:
            snapshot[(account.key_env, conversation_id)] = _read_original(
                run, account, conversation_id
            )
    return snapshot


def _read_original(run: RunContext, account: Account, conversation_id: str) -> dict[str, Any]:
    try:
        sent = run.client.send(
            "GET",
            _path(conversation_id),
            authorization=run.bearer(account),
            path_template=CONVERSATION_PATH,
        )
    except TargetUnreachable as exc:
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
            f"conversation {conversation_id} does not exist for the key in {account.key_env} (404)",
            "pass the id of an existing conversation of that account",
            ExitCode.TARGET_UNUSABLE,
        )
    body = sent.json_body
    if sent.status != 200 or not isinstance(body, dict) or "metadata" not in body:
        raise HarnessError(
            f"cannot snapshot conversation {conversation_id}: GET answered "
            f"{sent.status} without a metadata field",
            "the suite will not write what it cannot restore; fix the target or use --read-only",
            ExitCode.TARGET_UNUSABLE,
        )
    return body


#: The member whose presence shows a target implements the current edition: it is what the
#: current edition's `group_name` writes (README, "Contract editions").
EDITION_MARKER = "groupName"


def judge_edition(asked: str, snapshot: Snapshot) -> EditionJudged:
    """The edition to judge: the one asked for, or (auto) the one the answers show."""
    if asked != "auto":
        return EditionJudged(Edition(asked), f"pinned with --edition {asked}")
    if any(EDITION_MARKER in body for body in snapshot.values()):
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


def restore(run: RunContext, snapshot: Snapshot) -> list[RestoreRecord]:
    """Put back every conversation's metadata; verify with a GET; say loudly what failed."""
    by_env = {a.key_env: a for a in accounts(run)}
    return [
        _restore_one(run, by_env[key_env], conversation_id, original["metadata"])
        for (key_env, conversation_id), original in snapshot.items()
    ]


def _restore_one(
    run: RunContext, account: Account, conversation_id: str, original: Any
) -> RestoreRecord:
    path, bearer = _path(conversation_id), run.bearer(account)

    def current() -> Any:
        sent = run.client.send("GET", path, authorization=bearer, reserved=True)
        body = sent.json_body
        return body.get("metadata", "<absent>") if isinstance(body, dict) else "<unreadable>"

    def put(metadata: Any) -> None:
        run.client.send(
            "PATCH", path, authorization=bearer, json_body={"metadata": metadata}, reserved=True
        )

    def unrestored(message: str) -> RestoreRecord:
        return _unrestored(run, account, conversation_id, original, message)

    try:
        if same_json(current(), original):
            return RestoreRecord(conversation_id, True, "unchanged")
        if run.read_only:
            return unrestored("changed during a read-only run (by someone else?): not written")
        put(original)
        if same_json(current(), original):
            return RestoreRecord(conversation_id, True, "restored")
        put(None)  # a target that merges needs a clean slate first
        put(original)
        if same_json(current(), original):
            return RestoreRecord(conversation_id, True, "restored (after clearing it first)")
        return unrestored("RESTORE FAILED: the target does not store what it is sent back")
    except (TargetUnreachable, BudgetExhausted) as exc:
        return unrestored(f"RESTORE FAILED: {exc}")


def _unrestored(
    run: RunContext, account: Account, conversation_id: str, original: Any, message: str
) -> RestoreRecord:
    body = json.dumps({"metadata": original}, ensure_ascii=False).encode("utf-8")
    fix = curl_command(
        "PATCH",
        f"{run.target.base_url}{_path(conversation_id)}",
        {"Authorization": run.bearer(account), "Content-Type": "application/json"},
        body,
        run.target.secrets,
    )
    return RestoreRecord(conversation_id, False, message, original, fix)
