"""Defense in depth: a report never carries a credential, even one something upstream missed.

Results are redacted where exchanges are recorded; a writer scrubs again, twice: every
free-text field of the result before rendering (so truncation cannot cut a secret in half
and escaping cannot disguise it), then the rendered text, in each escaped spelling.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from ..model._results import CheckResult, Exchange, Finding, RestoreRecord, RunResult

__all__ = ["REDACTED", "scrub_result", "scrub_text", "secret_list", "write_text"]

REDACTED: Final = "[REDACTED]"


def secret_list(secrets: Iterable[str]) -> tuple[str, ...]:
    """The non-empty secrets, longest first (so a secret containing another goes whole)."""
    return tuple(sorted({s for s in secrets if s}, key=len, reverse=True))


def _spellings(secret: str) -> list[str]:
    """The secret as it may appear in rendered text: raw, HTML/XML-escaped, JSON-escaped."""
    forms = [
        secret,
        html.escape(secret),
        html.escape(secret, quote=False),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
    ]
    return sorted({f for f in forms if f}, key=len, reverse=True)


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secret_list(secrets):
        for form in _spellings(secret):
            text = text.replace(form, REDACTED)
    return text


def _scrub_any(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {_scrub_any(k, secrets): _scrub_any(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub_any(v, secrets) for v in value)
    return value


def _scrub_exchange(exchange: Exchange, secrets: tuple[str, ...]) -> Exchange:
    def text(value: str | None) -> str | None:
        return None if value is None else scrub_text(value, secrets)

    def headers(values: dict[str, str]) -> dict[str, str]:
        return {scrub_text(k, secrets): scrub_text(v, secrets) for k, v in values.items()}

    return replace(
        exchange,
        method=scrub_text(exchange.method, secrets),
        url=scrub_text(exchange.url, secrets),
        request_headers=headers(exchange.request_headers),
        request_body=text(exchange.request_body),
        response_headers=headers(exchange.response_headers),
        response_body=text(exchange.response_body),
        curl=scrub_text(exchange.curl, secrets),
    )


def _scrub_check(result: CheckResult, secrets: tuple[str, ...]) -> CheckResult:
    findings = [
        Finding(
            scrub_text(f.message, secrets),
            _scrub_exchange(f.exchange, secrets) if f.exchange else None,
        )
        for f in result.findings
    ]
    info = result.check
    check = replace(
        info,
        id=scrub_text(info.id, secrets),
        family=scrub_text(info.family, secrets),
        requirement=scrub_text(info.requirement, secrets),
        source=scrub_text(info.source, secrets),
    )
    return replace(
        result, check=check, reason=scrub_text(result.reason, secrets), findings=findings
    )


def _scrub_restore(record: RestoreRecord, secrets: tuple[str, ...]) -> RestoreRecord:
    return replace(
        record,
        conversation_id=scrub_text(record.conversation_id, secrets),
        message=scrub_text(record.message, secrets),
        original_metadata=_scrub_any(record.original_metadata, secrets),
        manual_fix=None if record.manual_fix is None else scrub_text(record.manual_fix, secrets),
    )


def scrub_result(result: RunResult, secrets: Iterable[str]) -> RunResult:
    """A copy of `result` with every secret replaced in every free-text field."""
    found = secret_list(secrets)
    if not found:
        return result
    target = result.target
    return replace(
        result,
        tool_version=scrub_text(result.tool_version, found),
        target=replace(
            target,
            name=scrub_text(target.name, found),
            base_url=scrub_text(target.base_url, found),
            faults=tuple(scrub_text(f, found) for f in target.faults),
            conversation_ids=tuple(scrub_text(c, found) for c in target.conversation_ids),
        ),
        settings=replace(result.settings, profile=scrub_text(result.settings.profile, found)),
        started_at=scrub_text(result.started_at, found),
        checks=[_scrub_check(r, found) for r in result.checks],
        restore=[_scrub_restore(r, found) for r in result.restore],
        notes=[scrub_text(n, found) for n in result.notes],
    )


def write_text(path: Path, text: str, secrets: Iterable[str]) -> Path:
    """Scrub the rendered text, then write it as UTF-8 (creating the directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # backslashreplace: a lone surrogate from a mangled body becomes `\udcxx`, never a crash
    # (in report.json that is the JSON escape of the same character).
    path.write_text(
        scrub_text(text, secrets), encoding="utf-8", errors="backslashreplace", newline="\n"
    )
    return path
