"""Another writer: a client other than the suite writing a conversation the run writes.

The suite knows every value it wrote, and every value the target answered to its writes
(a target may store what it was sent in its own way: a merge, a normalization). A GET of
a conversation given to the run that shows anything else shows someone else's write. Then
the check that saw it is not judged (a harness outcome, never a finding), the run stops
writing that conversation, and the restore leaves that value in place.

Without conditional requests (the API has none) a write of someone else that the suite
overwrote before it could read it cannot be seen: the README says so plainly.

A write of the run's own that got no answer (a time-out, a dropped connection) may still be
stored, late, in the middle of a later check. A read that shows such a document where the
conversation showed another before is that late write landing: the check that saw it is not
judged either (`landed`).
"""

from __future__ import annotations

import datetime
import urllib.parse
from typing import Any

from ..checks import (
    CONVERSATION_PATH,
    LIST_PATH,
    SUCCESS,
    RunContext,
    Snapshot,
    conversation_path,
    same_json,
)
from ..core import Sent

__all__ = ["OtherWriters", "live_use"]

RECENT = datetime.timedelta(minutes=10)  # a message this recent: the conversation is live
_NOTHING = object()


class OtherWriters:
    """Watches every answer of the run (a client observer) for another client's writes."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.answered: list[Any] = [None]  # values the target answered to the run's writes
        self.seen = run.others  # conversation id -> the first value of someone else's
        self.count = 0  # how many times such a value was read
        self.shown: dict[str, Any] = {}  # path -> what it last showed (a GET, a PATCH's answer)
        self.landed: list[str] = []  # a write that got no answer, seen stored late: its path

    def watch(self, snapshot: Snapshot) -> None:
        """From now on (the snapshot taken), judge every read against what is known."""
        self.answered += [body.get("metadata") for body in snapshot.conversations.values()]
        self.answered += list(snapshot.neighbours.values())
        self.run.client.observers.append(self)

    def ours(self, metadata: Any) -> bool:
        """Did this value come from the run (or was it there before it)? A document made
        only of members the run wrote is the run's too, mixed by the target (a torn or
        merged write: the consistency checks' to judge, not another client's)."""
        return (
            self.run.client.wrote(metadata)
            or any(same_json(metadata, known) for known in reversed(self.answered))
            or self._members_written(metadata)
        )

    def _members_written(self, metadata: Any) -> bool:
        if not isinstance(metadata, dict) or not metadata:
            return False
        written = [v for v in self.run.client.written if isinstance(v, dict)]
        return all(
            any(key in value and same_json(value[key], member) for value in written)
            for key, member in metadata.items()
        )

    def __call__(self, sent: Sent) -> None:
        body = sent.json_body
        if sent.path_template == LIST_PATH and sent.status in SUCCESS:
            self._late_in_list(body)
        if sent.path_template != CONVERSATION_PATH or sent.status not in SUCCESS:
            return
        if not isinstance(body, dict) or "metadata" not in body:
            return
        if sent.exchange.method == "PATCH":
            self.answered.append(body["metadata"])
            self.shown[sent.path] = body["metadata"]
            return
        if self._shows_late(sent.path, body["metadata"]):
            self.landed.append(sent.path)
        self.shown[sent.path] = body["metadata"]
        conversation_id = urllib.parse.unquote(sent.response.request.url.path.rsplit("/", 1)[-1])
        if conversation_id not in _given(self.run) or self.ours(body["metadata"]):
            return
        self.count += 1
        self.seen.setdefault(conversation_id, body["metadata"])

    def _shows_late(self, path: str, metadata: Any) -> bool:
        """Does `metadata`, shown for `path`, show a write of the run's that got no answer,
        stored since the conversation last showed something else?"""
        before = self.shown.get(path, _NOTHING)
        if before is not _NOTHING and same_json(metadata, before):
            return False
        return self.run.client.left_unanswered(path, metadata)

    def _late_in_list(self, body: Any) -> None:
        """The same, for the summaries of a page of the list (a view of its own: what it
        shows is not what the conversation last showed, and is not kept as such)."""
        items = body.get("data") if isinstance(body, dict) else None
        if not self.run.client.unanswered or not isinstance(items, list):
            return
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            path = conversation_path(item["id"])
            if self._shows_late(path, item.get("metadata")):
                self.landed.append(path)

    def writing(self, conversation_id: str) -> bool:
        return conversation_id in self.seen


def _given(run: RunContext) -> set[str]:
    target = run.target
    second = target.second.conversation_ids if target.second else ()
    return {*target.primary.conversation_ids, *second}


def live_use(snapshot: Snapshot, now: datetime.datetime) -> list[str]:
    """Signs that a conversation given to the run is in live use: a message very recently,
    or its list summary already differing from the GET the snapshot read."""
    signs = []
    for (_env, conversation_id), body in snapshot.conversations.items():
        last = _timestamp(body.get("lastMessageAt"))
        if last is not None and now - last < RECENT:
            minutes = max(0, int((now - last).total_seconds() // 60))
            signs.append(f"conversation {conversation_id} had a message {minutes} min ago")
        listed = snapshot.summaries.get(conversation_id)
        if listed is None:
            continue
        for field in ("metadata", "messageCount"):
            if field in listed and not same_json(listed[field], body.get(field)):
                signs.append(f"conversation {conversation_id}'s {field} changed while it was read")
    return signs


def _timestamp(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
