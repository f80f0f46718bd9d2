"""What a check sees.

`RunContext` is the run, shared by every check: the target, the one client, the loaded
fragment, the options, the run's random source and its notes for people. `Context` is one
scenario check's own view of it: every request goes through it, and it records the
exchanges that check made and its findings, each naming the exchange that shows it.
Nothing of one check's lives on the shared object."""

from __future__ import annotations

import hashlib
import random
import urllib.parse
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ..core import (
    Account,
    Client,
    ConditionFailed,
    Profile,
    Receiver,
    RunOptions,
    Sent,
    Target,
    same_json,
)
from ..model import Edition, Exchange, Finding, HistoryOp, Limit

__all__ = [
    "LIST_PAGE",
    "LIST_PATH",
    "SUCCESS",
    "Abort",
    "Context",
    "Elsewhere",
    "Judge",
    "NotApplicable",
    "OtherWriter",
    "RunContext",
    "Snapshot",
    "Webhooks",
    "absent_id_like",
    "answer_cause",
    "conversation_path",
    "same_json",
]

CONVERSATION_PATH = "/v1/conversations/{conversation_id}"
LIST_PATH = "/v1/conversations"


def conversation_path(conversation_id: str) -> str:
    """The path of a conversation: its id percent-encoded as one path segment, whatever it
    holds (`?`, `#`, `/`, `..`): an id never addresses anything but a conversation."""
    return f"{LIST_PATH}/{urllib.parse.quote(conversation_id, safe='')}"


LIST_PAGE = {"limit": "100", "offset": "0"}  # the one page the suite reads of the list
# A write the semantic checks can build on. Whether 2xx was the documented 200 is
# SHAPE-STATUS-DOCUMENTED's question, so one wrong status does not fail every check.
SUCCESS = frozenset(range(200, 300))
MAX_FINDINGS_KEPT = 5
MAX_STEPS = 16  # the requests a finding's reproduction shows at most (the last ones)
SIZE = "metadata size"  # the limit every server has, found by bisection (ROBUST-EDGE-VALUES)
_UNSET: Any = object()


class Abort(Exception):
    """Stop the current check: a finding has been recorded and nothing more can be learnt."""


class NotApplicable(Exception):
    """Stop the current check: the target gives it nothing to judge (the message says why)."""


class OtherWriter(Exception):
    """Stop the current check: another client writes the conversation it would write, and
    the suite does not write over someone else's value."""


def absent_id_like(example: str, rng: random.Random) -> str:
    """`example` with every hex digit, digit and letter after its prefix redrawn at random
    (`conv_d554...` -> `conv_93be...`, a UUID -> another UUID). Too little randomness to be
    safe (a short id) falls back to an id that plainly cannot exist."""
    prefix, sep, rest = example.partition("_") if "_" in example else ("", "", example)
    drawn, randomness = [], 0.0
    for char in rest:
        if char in "0123456789abcdef":
            drawn.append(rng.choice("0123456789abcdef"))
            randomness += 4
        elif char in "0123456789ABCDEF":
            drawn.append(rng.choice("0123456789ABCDEF"))
            randomness += 4
        elif char.isascii() and char.isalpha():
            alphabet = "abcdefghijklmnopqrstuvwxyz"
            drawn.append(rng.choice(alphabet.upper() if char.isupper() else alphabet))
            randomness += 4.7
        else:
            drawn.append(char)
    if randomness < 64:
        return f"conv_conformance_absent_{rng.getrandbits(64):016x}"
    return prefix + sep + "".join(drawn)


Judge = Callable[[Sent], bool]  # does this answer break the requirement (again)?


@dataclass
class Snapshot:
    """What the run may touch, as it was before its first write."""

    # (the key's variable, id) -> the conversation as a GET showed it: the ones given
    conversations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (the key's variable, id) -> metadata: other conversations of the accounts, seen in the
    # first page of the list or given as witnesses; only ever read
    neighbours: dict[tuple[str, str], Any] = field(default_factory=dict)
    listed: set[str] = field(default_factory=set)  # the accounts whose list answered
    # id -> a given conversation's summary in its account's list, when it was on the page
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def before(self, account: Account, conversation_id: str) -> dict[str, Any] | None:
        return self.conversations.get((account.key_env, conversation_id))


@dataclass(frozen=True)
class Elsewhere:
    """A finding for a check other than the one whose request showed it, with what it takes
    to see it again (the answer, and how it was judged) when the failure is replayed."""

    finding: Finding
    sent: Sent | None = None
    judge: Judge | None = None


@dataclass
class Webhooks:
    """What the webhook checks use: the receiver, the webhook's secret, and how a message
    arrives on a conversation."""

    receiver: Receiver
    secret: str = field(repr=False)
    arrive: Callable[[Account, str], None]  # make a message arrive on that conversation
    wait: float  # seconds to wait for a delivery after an arrival
    foreign: bool  # can a message be made to arrive on the other account's conversation?


@dataclass
class RunContext:
    """The run every check shares."""

    target: Target
    client: Client
    options: RunOptions
    schema: Any = None  # schemathesis.openapi schema of the fragment, for the judged edition
    edition: Edition = Edition.CURRENT  # judged once the snapshot shows what the target is
    snapshot: Snapshot = field(default_factory=Snapshot)  # before the run's first write
    notes: list[str] = field(default_factory=list)  # for people: data the run could not undo
    # conversation id -> the first value another client wrote there, as the run read it
    others: dict[str, Any] = field(default_factory=dict)
    webhooks: Webhooks | None = None  # when the webhook checks can run (see WebhookSetup)
    # edge label -> (the PATCH answer, a GET right after) of an edge value a PATCH accepted,
    # from ROBUST-EDGE-VALUES, for ROUNDTRIP-EDGE-VALUES to judge once (a replay sends anew)
    accepted_edges: dict[str, tuple[Sent, Sent]] = field(default_factory=dict)
    limits: dict[str, Limit] = field(default_factory=dict)  # what -> the limit found
    largest_accepted: int = 0  # bytes of the largest PATCH body the target accepted
    rng: random.Random = field(init=False)
    _shape: tuple[Sent, Any] | None = field(default=None, init=False, repr=False)
    # what schemathesis found in an answer, by what it looks at (operation, path, status,
    # content type, body): the same answer again is not judged again
    shape_verdicts: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)
    # the history of requests sent at the same time that the consistency checks judge: sent
    # once by the first of them, judged by each (None: not sent yet; a replay sends anew)
    concurrent: Any = field(default=None, repr=False)
    # conversation id -> the last accepted PATCH of its metadata, whichever check sent it:
    # where a finding's steps start when the check itself set nothing before them
    last_writes: dict[str, Exchange] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.options.seed)

    @property
    def profile(self) -> Profile:
        return self.options.profile

    @property
    def seed(self) -> int:
        return self.options.seed

    @property
    def read_only(self) -> bool:
        return self.options.read_only

    @property
    def writable_id(self) -> str:
        """The conversation the semantic checks write to (the first one given)."""
        return self.target.primary.conversation_ids[0]

    def cached(self, sent: Sent, compute: Any) -> Any:
        """`compute(sent)`, computed once per answer however many checks ask: the latest
        answer's is kept, with the answer itself (so its identity cannot be reused)."""
        if self._shape is None or self._shape[0] is not sent:
            self._shape = (sent, compute(sent))
        return self._shape[1]

    def found_limit(self, limit: Limit, size: int = 0, precise: bool = False) -> None:
        """Record a limit of the target (a replay that finds it again changes nothing).
        `size`: the refused body's bytes. A refusal of a body larger than any the target
        accepted cannot be told from a size limit: it is recorded as one. `precise`: found by
        bisection, so it replaces a cruder one."""
        if size > self.largest_accepted and limit.what != SIZE:
            limit = Limit(SIZE, f"a body of {size:,} bytes ({limit.refused})", limit.status)
        if precise or limit.what not in self.limits:
            self.limits[limit.what] = limit

    def accepted(self, size: int) -> None:
        """A PATCH body of `size` bytes was accepted (a refusal of a smaller one is no size
        limit)."""
        self.largest_accepted = max(self.largest_accepted, size)

    def unknown_id(self) -> str:
        """An id no real conversation has, shaped like the real ones (a server that checks
        the id's format must still answer 404): probes never touch real data."""
        return absent_id_like(self.writable_id, self.rng)

    @staticmethod
    def bearer(account: Account) -> str:
        return f"Bearer {account.api_key}"


class Context:
    """One scenario check's view of the run: its requests and its findings."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.exchanges: list[Exchange] = []  # every exchange this check made, in order
        self._mark = 0  # where the steps of a finding start: see `mark`
        self._writes_at_mark = dict(run.last_writes)  # the state the steps start from
        self.causes: set[str] = set()  # what broke, of each failure that says (see `fail`)
        self.uncaused = 0  # failures that name no cause
        self.findings: list[Finding] = []  # the first MAX_FINDINGS_KEPT
        self.failure_count = 0
        self.elsewhere: dict[str, list[Elsewhere]] = {}  # findings for other checks
        self.detail = ""  # what a passing check did, when requests alone do not say it
        self.history: tuple[HistoryOp, ...] = ()  # a consistency check's, to draw

    # --- the run, as the check reads it -------------------------------------------------
    @property
    def target(self) -> Target:
        return self.run.target

    @property
    def profile(self) -> Profile:
        return self.run.profile

    @property
    def seed(self) -> int:
        return self.run.seed

    @property
    def read_only(self) -> bool:
        return self.run.read_only

    @property
    def rng(self) -> random.Random:
        return self.run.rng

    @property
    def notes(self) -> list[str]:
        return self.run.notes

    @property
    def writable_id(self) -> str:
        return self.run.writable_id

    def unknown_id(self) -> str:
        return self.run.unknown_id()

    @staticmethod
    def bearer(account: Account) -> str:
        return RunContext.bearer(account)

    # --- requests -----------------------------------------------------------------------
    def send(self, method: str, path: str, **kwargs: Any) -> Sent:
        """Any request, through the run's client; recorded as this check's. No write goes to
        a conversation another client is seen writing (`OtherWriter`)."""
        if method != "GET" and any(path == conversation_path(c) for c in self.run.others):
            raise OtherWriter(f"another client is writing {path.rsplit('/', 1)[-1]}")
        try:
            sent = self.run.client.send(method, path, **kwargs)
        except ConditionFailed as exc:  # If-Match refused: someone else wrote it
            conversation = urllib.parse.unquote(exc.path.rsplit("/", 1)[-1])
            self.run.others.setdefault(conversation, exc.metadata)
            raise OtherWriter(str(exc)) from None
        self.exchanges.append(sent.exchange)
        if _sets_metadata(sent.exchange):
            self.run.last_writes[_conversation_of(sent.exchange.url)] = sent.exchange
        return sent

    def get(
        self,
        conversation_id: str,
        *,
        account: Account | None = None,
        authorization: str | None = _UNSET,
        params: dict[str, str] | None = None,
    ) -> Sent:
        if authorization is _UNSET:
            authorization = self.bearer(account or self.target.primary)
        return self.send(
            "GET",
            conversation_path(conversation_id),
            authorization=authorization,
            params=params,
            path_template=CONVERSATION_PATH,
        )

    def patch(
        self,
        conversation_id: str,
        body: Any = _UNSET,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        account: Account | None = None,
        authorization: str | None = _UNSET,
        edge: bool = False,
    ) -> Sent:
        """`edge`: the request is at the edge of what the contract promises (see `Sent`)."""
        if authorization is _UNSET:
            authorization = self.bearer(account or self.target.primary)
        path = conversation_path(conversation_id)
        if raw is not None:
            return self.send(
                "PATCH",
                path,
                authorization=authorization,
                content=raw,
                headers={"Content-Type": content_type},
                path_template=CONVERSATION_PATH,
                edge=edge,
            )
        return self.send(
            "PATCH",
            path,
            authorization=authorization,
            json_body=body,
            path_template=CONVERSATION_PATH,
            edge=edge,
        )

    def read(self, conversation_id: str, account: Account | None = None) -> Sent:
        """A GET with the right key whose answer is a JSON object (`.json_body`); aborts
        with a finding if it is not, and stops the check unjudged if the answer was larger
        than the run reads (ROBUST-ANSWER-SIZE's finding, not this check's)."""
        sent = self.get(conversation_id, account=account)
        if not sent.complete:
            raise NotApplicable(
                f"not judged: reading {conversation_id} back gave an answer larger than "
                f"--max-answer-bytes ({self.run.options.max_answer_bytes} bytes), which "
                "ROBUST-ANSWER-SIZE judges"
            )
        if sent.status not in SUCCESS or not isinstance(sent.json_body, dict):
            what = "a body that is not a JSON object" if sent.status in SUCCESS else "not 200"
            self.fail(f"reading the conversation back answered {sent.status}, {what}", sent)
            raise Abort
        return sent

    # --- outcomes -----------------------------------------------------------------------
    def fail(
        self,
        message: str,
        sent: Sent | Exchange | None = None,
        check_id: str | None = None,
        judge: Judge | None = None,
        cause: str = "",
    ) -> None:
        """Record a finding, with the exchange that shows it (an answer, or an exchange the
        run did not send: a webhook delivery): for this check, or for `check_id` when
        another check's requirement is what the answer broke (`judge` then tells whether the
        same request's answer breaks it again, for the replay). `cause`: what broke, in
        words other checks' findings may share (a merge instead of a replace): the report
        leads with the first check a cause shows in, and groups the rest under it."""
        exchange = sent if isinstance(sent, Exchange) or sent is None else sent.exchange
        if not cause and exchange is not None and (exchange.status or 0) >= 500:
            cause = answer_cause(exchange)  # a crash: the answer is the cause
        finding = Finding(message, exchange, *self._reproduction(exchange), cause=cause)
        if check_id is not None:
            assert not isinstance(sent, Exchange), "a delivery is not replayed as a request"
            self.elsewhere.setdefault(check_id, []).append(Elsewhere(finding, sent, judge))
            return
        if cause:
            self.causes.add(cause)
        else:
            self.uncaused += 1
        self.failure_count += 1
        if len(self.findings) < MAX_FINDINGS_KEPT:
            self.findings.append(finding)

    def mark(self) -> None:
        """What this check sends from here on stands alone: a finding's steps start here
        (each probe of a loop of independent ones marks; by default, the check's start)."""
        self._mark = len(self.exchanges)
        self._writes_at_mark = dict(self.run.last_writes)

    def _reproduction(self, exchange: Exchange | None) -> tuple[tuple[Exchange, ...], str]:
        """The steps that lead to `exchange` (this check's requests since the mark, up to it)
        and what they assume; nothing when it alone shows the finding."""
        found = [i for i, sent in enumerate(self.exchanges) if sent is exchange]
        if not found:
            return (), ""
        at = found[-1]
        steps = self.exchanges[self._mark : at + 1]
        left_out = max(0, len(steps) - MAX_STEPS)
        steps = steps[left_out:]
        if not steps:  # an exchange sent before the mark (a pair judged side by side)
            return (), ""
        prior = self._state_set_before(steps[0]) if not left_out else None
        if prior is not None:  # a probe stands alone only on a server that replaces
            steps = [prior, *steps]
        assumes = _assumed(steps, left_out)
        return (tuple(steps) if len(steps) > 1 else ()), assumes

    def _state_set_before(self, first: Exchange) -> Exchange | None:
        """The write that set the metadata `first` starts from: this check's last accepted
        PATCH of the same conversation before the mark, if any. A probe that stands alone
        against a server that replaces does not against one that merges, or keeps what an
        earlier write left: with it, the steps start from a state they set themselves."""
        conversation = _conversation_of(first.url)
        if not conversation:
            return None
        for earlier in reversed(self.exchanges[: self._mark]):
            if _sets_metadata(earlier) and _conversation_of(earlier.url) == conversation:
                return earlier
        return self._writes_at_mark.get(conversation)  # another check's, before this one

    def absorb(self, other: Context) -> None:
        """Count `other`'s findings as this check's (its exchanges are the caller's call)."""
        self.failure_count += other.failure_count
        self.causes |= other.causes
        self.uncaused += other.uncaused
        self.findings += other.findings[: MAX_FINDINGS_KEPT - len(self.findings)]
        for check_id, found in other.elsewhere.items():
            self.elsewhere.setdefault(check_id, []).extend(found)

    def expect_status(self, sent: Sent, expected: AbstractSet[int] | int, what: str) -> bool:
        wanted = {expected} if isinstance(expected, int) else expected
        if sent.status in wanted:
            return True
        shown = "2xx" if wanted == SUCCESS else " or ".join(str(s) for s in sorted(wanted))
        self.fail(f"{what}: answered {sent.status}, expected {shown}", sent)
        return False


def _assumed(steps: list[Exchange], left_out: int) -> str:
    """The state a finding's steps start from, for people: the conversations they address,
    and whether the first step sets what they hold."""
    ids = list(dict.fromkeys(_conversation_of(step.url) for step in steps))
    named = [cid for cid in ids if cid]
    if not named:
        return ""
    first = steps[0]
    sets = first.method == "PATCH" and '"metadata"' in (first.request_body or "")
    held = "the first step sets its metadata" if sets else "whatever metadata it holds"
    which = ", ".join(named[:3]) + (" and more" if len(named) > 3 else "")
    text = f"conversation {which} exists, with the keys the steps name; {held}"
    if left_out:
        text += f"; the {left_out} requests of the check before these are left out"
    return text


def answer_cause(exchange: Exchange) -> str:
    """The cause a finding about one answer names: that answer, to that request (its body
    shown short, with a digest when cut). Checks failing the same answers fail by one cause
    (a crash judged by the check that sent the request and by the response checks); the
    same answer judged twice by one check is one finding."""
    body = exchange.request_body or ""
    shown = " ".join(body.split())
    if len(shown) > 80:
        digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        shown = f"{shown[:72]}… ({digest})"
    sent_with = f" with {shown}" if shown else ""
    return f"the {exchange.status} answer to {exchange.method} {exchange.url}{sent_with}"


def _sets_metadata(exchange: Exchange) -> bool:
    """An accepted PATCH that sent a metadata: it set what the conversation holds."""
    return (
        exchange.method == "PATCH"
        and exchange.status is not None
        and 200 <= exchange.status < 300
        and '"metadata"' in (exchange.request_body or "")
        and bool(_conversation_of(exchange.url))
    )


def _conversation_of(url: str) -> str:
    """The conversation id a URL addresses, or "" (the list, another route)."""
    path = urllib.parse.urlsplit(url).path
    prefix = LIST_PATH + "/"
    if not path.startswith(prefix):
        return ""
    return urllib.parse.unquote(path[len(prefix) :].split("/", 1)[0])
