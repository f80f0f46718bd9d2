"""From finding to fix: send a finding's steps again, in order, to a target, and put back
what they changed - the `reproduce` command.

The steps are read from the report's curl commands (the suite wrote them: method, URL,
headers, body, and each key spelt as the variable that holds it, `${AGENTPHONE_API_KEY}` or a
near miss of it such as `${AGENTPHONE_API_KEY%?}`). They go to the report's target, or to
`--base-url`: the same paths and queries, the origin replaced. Against the embedded emulator
(a report of it), an emulator with the report's faults and edition is started, and its keys
stand in for the variables. Every conversation a step PATCHes is read first and written back
at the end, as a run does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..core import Client, ExitCode, HarnessError, Sent, TargetUnreachable, same_json
from ..core._target import DEFAULT_KEY_ENV, DEFAULT_SECOND_KEY_ENV, validate_base_url
from ..emulator import Emulator
from ..model import Exchange, Finding, RunResult
from ..reports._common import rerun_check

__all__ = ["Reproduced", "Step", "choose_finding", "reproduce", "steps_of"]

# How a report's curl commands spell a key: the variable, or a near miss of it.
_KEY = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(%\?|~~)?\}")


@dataclass(frozen=True)
class Step:
    """One request of a reproduction, as its curl command has it (keys still spelt as
    variables) and what the run saw it answer."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    seen: int | None  # the status the run saw (None: no answer)

    @property
    def path(self) -> str:
        """Path and query: what is sent again, to whichever origin."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Reproduced:
    """What sending the steps again did."""

    answers: list[tuple[Step, int | None, str]] = field(default_factory=list)  # status, body
    restored: list[tuple[str, bool]] = field(default_factory=list)  # conversation path, ok
    stopped: str = ""  # why the steps stopped early (the target stopped answering)
    compared: str = ""  # the last answer beside the one the run judged, for people


def choose_finding(report: RunResult, check_id: str, number: int) -> Finding:
    """The `number`th finding (from 1) of check `check_id` (any letter case)."""
    wanted = check_id.upper()
    result = next((r for r in report.checks if r.check.id == wanted), None)
    if result is None:
        raise HarnessError(
            f"the report has no check {check_id}",
            "give a check ID of the report (agentphone-conformance checks lists them)",
        )
    if not result.findings:
        raise HarnessError(
            f"{wanted} has no finding in this report ({result.outcome.value})",
            "pick a check that failed",
        )
    if result.check.family == "consistency":
        again = rerun_check(report, wanted) or f"agentphone-conformance run --check {wanted}"
        raise HarnessError(
            f"{wanted}'s findings are requests sent at the same time: one request sent again "
            "cannot show them",
            f"run its check again, which sends a new history: {again}",
        )
    if not 1 <= number <= len(result.findings):
        raise HarnessError(
            f"{wanted} has {len(result.findings)} finding(s), not a number {number}",
            f"give --finding between 1 and {len(result.findings)}",
        )
    return result.findings[number - 1]


def steps_of(finding: Finding) -> list[Step]:
    """The finding's requests, in order, from their curl commands."""
    exchanges = finding.reproduction
    if not exchanges:
        raise HarnessError(
            "this finding has no request to send again (a webhook delivery, or no answer)",
            "see the finding in report.html",
        )
    return [_step(exchange) for exchange in exchanges]


def _step(exchange: Exchange) -> Step:
    words = shlex.split(exchange.curl)
    method, url, headers, body = "GET", "", [], None
    at = 1
    while at < len(words):
        word = words[at]
        if word == "-X":
            method, at = words[at + 1], at + 2
        elif word == "-H":
            name, _, value = words[at + 1].partition(": ")
            headers.append((name, value))
            at += 2
        elif word == "--data-binary":
            body, at = words[at + 1].encode("utf-8"), at + 2
        elif word.startswith("-"):
            at += 1  # -i
        else:
            url, at = word, at + 1
    return Step(method, url, tuple(headers), body, exchange.status)


def _expand(text: str, keys: Mapping[str, str]) -> str:
    """`${NAME}`, `${NAME%?}` and `${NAME~~}` with the keys the variables hold."""

    def one(match: re.Match[str]) -> str:
        name, how = match.group(1), match.group(2)
        if name not in keys or not keys[name]:
            raise HarnessError(
                f"the steps use the key in {name}, which is not set",
                f"export {name}=<the key the run used>",
            )
        key = keys[name]
        return key[:-1] if how == "%?" else key.swapcase() if how == "~~" else key

    return _KEY.sub(one, text)


@contextlib.contextmanager
def _origin(report: RunResult, base_url: str | None) -> Iterator[tuple[str, dict[str, str]]]:
    """Where the steps go, and the keys their variables hold: the given base URL with the
    environment's keys; else the report's target - for the embedded emulator, a fresh one
    with the report's faults, its own keys standing in."""
    if base_url is not None or not report.target.embedded:
        yield validate_base_url(base_url or report.target.base_url), dict(os.environ)
        return
    edition = report.target.emulator_edition or "current"
    with Emulator(faults=report.target.faults, edition=edition) as emulator:
        first, second = emulator.state.describe()
        keys = {**os.environ, DEFAULT_KEY_ENV: first["api_key"]}
        keys[DEFAULT_SECOND_KEY_ENV] = second["api_key"]
        yield emulator.base_url, keys


def reproduce(
    report: RunResult,
    finding: Finding,
    base_url: str | None = None,
    say: Callable[[str], None] = lambda line: None,
    timeout: float = 10.0,
) -> Reproduced:
    """Send the finding's steps again, in order; put back every conversation they PATCH."""
    steps = steps_of(finding)
    done = Reproduced()
    with _origin(report, base_url) as (origin, keys):
        secrets = {v: k for k, v in keys.items() if k in _variables(steps) and v}
        client = Client(
            origin,
            secrets,
            max_requests=len(steps) * 4 + 8,
            timeout=timeout,
            max_answer_bytes=8 * 1024 * 1024,
        )
        prepared = [{name: _expand(value, keys) for name, value in s.headers} for s in steps]
        if finding.assumes:  # the keys are there: the steps can be sent
            say(f"assumes: {finding.assumes}")
        try:
            originals = _read_first(client, steps, keys, origin)
            last: Sent | None = None
            for number, (step, headers) in enumerate(zip(steps, prepared, strict=True), 1):
                authorization = headers.pop("Authorization", None)
                try:
                    sent = client.send(
                        step.method,
                        step.path,
                        authorization=authorization,
                        content=step.body,
                        headers=headers,
                    )
                except TargetUnreachable as exc:
                    done.stopped = f"step {number}: {exc}"
                    break
                done.answers.append((step, sent.status, sent.exchange.response_body or ""))
                last = sent
                seen = f"the run saw {step.seen}"
                say(
                    f"{number}. {step.method} {step.path} -> {sent.status} ({seen}): {_shown(sent)}"
                )
            if last is not None and not done.stopped and finding.exchange is not None:
                done.compared = _beside(last, finding.exchange)
            done.restored = _put_back(client, originals)
        finally:
            client.close()
    return done


def _beside(last: Sent, judged: Exchange) -> str:
    """The last answer beside the one the run judged: the same, or how it differs."""
    if last.status in (401, 403) and judged.status not in (401, 403):
        return f"the key was refused now ({last.status}), not then: export the key the run used"
    if last.status != judged.status:
        return (
            f"not the run's answer: {last.status} now, {judged.status} then - the target "
            "changed, or the finding needs a state these steps do not set"
        )
    now = last.json_body.get("metadata") if isinstance(last.json_body, dict) else _ABSENT
    try:
        then_body = json.loads(judged.response_body or "")
    except ValueError:
        then_body = None
    then = then_body.get("metadata", _ABSENT) if isinstance(then_body, dict) else _ABSENT
    if now is _ABSENT or then is _ABSENT:
        return f"the run's answer again ({last.status})"
    if same_json(now, then):
        return f"the run's answer again ({last.status}, the same metadata)"
    shown = json.dumps(then, ensure_ascii=False)
    shown = shown if len(shown) <= 300 else shown[:299] + "…"
    return (
        f"the run's status ({last.status}), other metadata: the run's answer held {shown} "
        "(members the steps do not set: compare with the finding)"
    )


_ABSENT: Any = object()


def _variables(steps: list[Step]) -> set[str]:
    return {m.group(1) for step in steps for _, value in step.headers for m in _KEY.finditer(value)}


def _read_first(
    client: Client, steps: list[Step], keys: Mapping[str, str], origin: str
) -> dict[tuple[str, str], Any]:
    """The metadata of every conversation a step PATCHes, read with that step's key; a
    target that cannot be reached, or refuses the key, stops here (nothing sent yet)."""
    originals: dict[tuple[str, str], Any] = {}
    for step in steps:
        authorization = _expand(dict(step.headers).get("Authorization", ""), keys)
        key = (urlsplit(step.url).path, authorization)
        if step.method != "PATCH" or key in originals:
            continue
        try:
            sent = client.send("GET", key[0], authorization=authorization or None, reserved=True)
        except TargetUnreachable as exc:
            raise HarnessError(
                f"the target at {origin} is unreachable ({exc})",
                "check the URL and that the service is up (--base-url sends the steps elsewhere)",
                ExitCode.TARGET_UNUSABLE,
            ) from None
        if sent.status in (401, 403) and step.seen not in (401, 403):
            names = sorted(_variables([step])) or ["the steps' key"]
            raise HarnessError(
                f"the key in {names[0]} was refused ({sent.status}); the run's was not",
                f"export in {names[0]} the key the run used",
                ExitCode.TARGET_UNUSABLE,
            )
        if sent.status == 200 and isinstance(sent.json_body, dict):
            originals[key] = sent.json_body.get("metadata")
    return originals


def _put_back(client: Client, originals: dict[tuple[str, str], Any]) -> list[tuple[str, bool]]:
    """Each conversation the steps PATCHed, as it was: the original written back, and if the
    target merges, a clean slate first (as a run restores); then read again."""
    restored = []
    for (path, authorization), original in originals.items():
        try:
            now = client.send("GET", path, authorization=authorization, reserved=True)
            for writes in ((original,), (None, original)):
                if _holds(now, original):
                    break
                for value in writes:
                    client.send(
                        "PATCH",
                        path,
                        authorization=authorization,
                        json_body={"metadata": value},
                        reserved=True,
                    )
                now = client.send("GET", path, authorization=authorization, reserved=True)
            ok = _holds(now, original)
        except TargetUnreachable:
            ok = False
        restored.append((path, ok))
    return restored


def _holds(sent: Sent, metadata: Any) -> bool:
    return isinstance(sent.json_body, dict) and same_json(sent.json_body.get("metadata"), metadata)


def _shown(sent: Sent) -> str:
    """What a person looks at in an answer: a conversation's metadata, or the body, short."""
    body = sent.json_body
    if isinstance(body, dict) and "metadata" in body and "id" in body:
        text = json.dumps(body["metadata"], ensure_ascii=False)
        return f"metadata {text if len(text) <= 300 else text[:299] + '…'}"
    text = (sent.exchange.response_body or "").replace("\n", " ")
    return text if len(text) <= 300 else text[:299] + "…"
