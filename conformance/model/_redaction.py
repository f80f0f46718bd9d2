"""The one redactor: a credential never reaches anything the suite records or writes.

`redact` replaces every secret in a text, in each spelling it may take there (raw,
HTML-escaped, JSON-escaped). The client redacts each exchange as it records it; the report
writers scrub again, twice: every free-text field of the result before rendering (so
truncation cannot cut a secret in half), then the rendered text.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Final

from ._results import CheckResult, Exchange, Finding, RestoreRecord, RunResult

__all__ = ["REDACTED", "redact", "scrub_result", "secret_list"]

REDACTED: Final = "[REDACTED]"


def secret_list(secrets: Iterable[str]) -> tuple[str, ...]:
    """The non-empty secrets, longest first (so a secret containing another goes whole)."""
    return tuple(sorted({s for s in secrets if s}, key=len, reverse=True))


def _spellings(secret: str) -> list[str]:
    """The secret as it may appear in text: raw, HTML-escaped, JSON-escaped, percent-encoded
    (as a URL or a form writes it), in hex, and in base64 - standard or URL-safe, padded or
    not, wherever it sits in what was encoded (see `_base64_cores`)."""
    raw = secret.encode("utf-8")
    return [
        secret,
        html.escape(secret),
        html.escape(secret, quote=False),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret, safe=""),
        raw.hex(),
        raw.hex().upper(),
        *_base64_cores(raw),
    ]


def _base64_cores(raw: bytes) -> list[str]:
    """The part of any base64 text that holds `raw` and depends on nothing else: base64
    turns each 3 bytes into 4 characters, so for each of the 3 places `raw` can start within
    a 3-byte group, the characters of the groups that lie wholly inside `raw` are the same
    whatever surrounds it. (A few characters at each end stay visible: too few to matter.)"""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        first = -(-offset // 3) * 4  # the first group that starts inside raw
        last = (offset + len(raw)) // 3 * 4  # the end of the last group wholly inside it
        core = encoded[first:last].decode("ascii")
        if len(core) >= 8:
            cores += [core, core.replace("+", "-").replace("/", "_")]
    return cores


@functools.lru_cache(maxsize=64)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One expression for every spelling of every secret, the longest first (so a secret
    containing another goes whole). Built once per set of secrets."""
    forms = sorted({f for s in secrets for f in _spellings(s) if f}, key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in forms)) if forms else None


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, in every spelling, replaced by [REDACTED]."""
    pattern = _pattern(secret_list(secrets))
    return text if pattern is None else pattern.sub(REDACTED, text)


def _scrub_any(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_scrub_any(k, secrets): _scrub_any(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub_any(v, secrets) for v in value)
    return value


def _scrub_exchange(exchange: Exchange, secrets: tuple[str, ...]) -> Exchange:
    def text(value: str | None) -> str | None:
        return None if value is None else redact(value, secrets)

    def headers(values: dict[str, str]) -> dict[str, str]:
        return {redact(k, secrets): redact(v, secrets) for k, v in values.items()}

    return replace(
        exchange,
        method=redact(exchange.method, secrets),
        url=redact(exchange.url, secrets),
        request_headers=headers(exchange.request_headers),
        request_body=text(exchange.request_body),
        response_headers=headers(exchange.response_headers),
        response_body=text(exchange.response_body),
        curl=redact(exchange.curl, secrets),
    )


def _scrub_check(result: CheckResult, secrets: tuple[str, ...]) -> CheckResult:
    findings = [
        Finding(
            redact(f.message, secrets),
            _scrub_exchange(f.exchange, secrets) if f.exchange else None,
            tuple(_scrub_exchange(step, secrets) for step in f.steps),
            redact(f.assumes, secrets),
        )
        for f in result.findings
    ]
    info = result.check
    check = replace(
        info,
        id=redact(info.id, secrets),
        family=redact(info.family, secrets),
        requirement=redact(info.requirement, secrets),
        source=redact(info.source, secrets),
    )
    return replace(
        result,
        check=check,
        reason=redact(result.reason, secrets),
        findings=findings,
        cause=redact(result.cause, secrets),
        replay_note=redact(result.replay_note, secrets),
    )


def _scrub_restore(record: RestoreRecord, secrets: tuple[str, ...]) -> RestoreRecord:
    return replace(
        record,
        conversation_id=redact(record.conversation_id, secrets),
        message=redact(record.message, secrets),
        original_metadata=_scrub_any(record.original_metadata, secrets),
        manual_fix=None if record.manual_fix is None else redact(record.manual_fix, secrets),
    )


def scrub_result(result: RunResult, secrets: Iterable[str]) -> RunResult:
    """A copy of `result` with every secret replaced in every free-text field."""
    found = secret_list(secrets)
    if not found:
        return result
    target = result.target
    return replace(
        result,
        tool_version=redact(result.tool_version, found),
        target=replace(
            target,
            name=redact(target.name, found),
            base_url=redact(target.base_url, found),
            faults=tuple(redact(f, found) for f in target.faults),
            conversation_ids=tuple(redact(c, found) for c in target.conversation_ids),
        ),
        settings=replace(result.settings, profile=redact(result.settings.profile, found)),
        started_at=redact(result.started_at, found),
        checks=[_scrub_check(r, found) for r in result.checks],
        restore=[_scrub_restore(r, found) for r in result.restore],
        notes=[redact(n, found) for n in result.notes],
    )
