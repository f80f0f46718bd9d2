"""What a check sees: the target, a client, the loaded fragment, the run's seed and budget."""

from __future__ import annotations

import random
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ..core._http import Client, Sent
from ..core._target import Account, Target
from ..model._results import Finding

__all__ = ["PROFILES", "SUCCESS", "Abort", "Context", "Profile", "absent_id_like", "same_json"]

CONVERSATION_PATH = "/v1/conversations/{conversation_id}"
# A write the semantic checks can build on. Whether 2xx was the documented 200 is
# SHAPE-STATUS-DOCUMENTED's question, so one wrong status does not fail every check.
SUCCESS = frozenset(range(200, 300))
MAX_FINDINGS_KEPT = 5
_UNSET: Any = object()


@dataclass(frozen=True)
class Profile:
    """How hard to look: examples per property, per generated operation mode."""

    name: str
    roundtrip_examples: int
    invalid_examples: int
    generated_examples: int
    max_requests: int  # the default budget for this profile


PROFILES = {
    "quick": Profile(
        "quick", roundtrip_examples=12, invalid_examples=10, generated_examples=12, max_requests=400
    ),
    "ci": Profile(
        "ci", roundtrip_examples=30, invalid_examples=20, generated_examples=25, max_requests=700
    ),
    "thorough": Profile(
        "thorough",
        roundtrip_examples=150,
        invalid_examples=80,
        generated_examples=100,
        max_requests=2500,
    ),
}


class Abort(Exception):
    """Stop the current check: a finding has been recorded and nothing more can be learnt."""


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


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: objects ignore key order, numbers compare by value, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@dataclass
class Context:
    target: Target
    client: Client
    schema: Any  # schemathesis.openapi schema of the fragment
    profile: Profile
    seed: int
    read_only: bool
    max_response_time: float
    snapshot: dict[str, Any] = field(default_factory=dict)  # id -> the conversation at start
    findings: list[Finding] = field(default_factory=list)  # the current check's
    failure_count: int = 0
    memo: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # per-answer cache
    last_sent: Sent | None = None  # the latest answer a check kept, to show with a finding
    notes: list[str] = field(default_factory=list)  # for people: data the run could not undo
    elsewhere: dict[str, list[Finding]] = field(default_factory=dict)  # findings for other checks
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- identities ---------------------------------------------------------------------
    @property
    def writable_id(self) -> str:
        """The conversation the semantic checks write to (the first one given)."""
        return self.target.primary.conversation_ids[0]

    def unknown_id(self) -> str:
        """An id no real conversation has, shaped like the real ones (a server that checks
        the id's format must still answer 404): probes never touch real data."""
        return absent_id_like(self.writable_id, self.rng)

    @staticmethod
    def bearer(account: Account) -> str:
        return f"Bearer {account.api_key}"

    # --- requests -----------------------------------------------------------------------
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
        return self.client.send(
            "GET",
            f"/v1/conversations/{conversation_id}",
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
    ) -> Sent:
        if authorization is _UNSET:
            authorization = self.bearer(account or self.target.primary)
        path = f"/v1/conversations/{conversation_id}"
        if raw is not None:
            return self.client.send(
                "PATCH",
                path,
                authorization=authorization,
                content=raw,
                headers={"Content-Type": content_type},
                path_template=CONVERSATION_PATH,
            )
        return self.client.send(
            "PATCH",
            path,
            authorization=authorization,
            json_body=body,
            path_template=CONVERSATION_PATH,
        )

    def read(self, conversation_id: str, account: Account | None = None) -> Any:
        """The conversation as a GET with the right key shows it; aborts if it cannot."""
        sent = self.get(conversation_id, account=account)
        if sent.status not in SUCCESS or not isinstance(sent.json_body, dict):
            self.fail(f"reading the conversation back answered {sent.status}, not 200", sent)
            raise Abort
        return sent.json_body

    # --- outcomes -----------------------------------------------------------------------
    def fail(self, message: str, sent: Sent | None = None, check_id: str | None = None) -> None:
        """Record a finding for the running check, or for `check_id` when another check's
        requirement is what the answer broke."""
        finding = Finding(message, sent.exchange if sent else None)
        if check_id is not None:
            self.elsewhere.setdefault(check_id, []).append(finding)
            return
        self.failure_count += 1
        if len(self.findings) < MAX_FINDINGS_KEPT:
            self.findings.append(finding)

    def expect_status(self, sent: Sent, expected: AbstractSet[int] | int, what: str) -> bool:
        wanted = {expected} if isinstance(expected, int) else expected
        if sent.status in wanted:
            return True
        shown = "2xx" if wanted == SUCCESS else " or ".join(str(s) for s in sorted(wanted))
        self.fail(f"{what}: answered {sent.status}, expected {shown}", sent)
        return False
