"""run.har: every exchange of a run as an HTTP Archive (HAR 1.2), for a browser's network
panel (Chrome and Firefox: "Import HAR") or any HAR viewer.

Each part of the run is a page (the snapshot, the generated requests, each check by its ID,
the replays, the restore), so the panel groups a check's requests. What the exchanges hold
is already redacted; the written text is scrubbed again, as every report is. A request whose
answer never came has status 0 and the reason in `_error` (as browsers write it).
"""

from __future__ import annotations

import http
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .. import __version__
from ..model import Journal, JournalEntry, RunResult
from ._common import TOOL_NAME
from ._output import write_text

__all__ = ["har_about", "render_har", "write_har"]

HAR_VERSION = "1.2"


def _headers(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _status_text(status: int | None) -> str:
    try:
        return http.HTTPStatus(status or 0).phrase
    except ValueError:
        return ""


def _request(entry: JournalEntry) -> dict[str, Any]:
    exchange = entry.exchange
    body = exchange.request_body
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": exchange.url,
        "httpVersion": entry.http_version,
        "cookies": [],
        "headers": _headers(entry.request_headers or exchange.request_headers),
        "queryString": [
            {"name": name, "value": value}
            for name, value in parse_qsl(urlsplit(exchange.url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": len(body.encode("utf-8", "backslashreplace")) if body is not None else 0,
    }
    if body is not None:
        mime = _header(exchange.request_headers, "content-type") or "application/octet-stream"
        request["postData"] = {"mimeType": mime, "params": [], "text": body}
    return request


def _response(entry: JournalEntry) -> dict[str, Any]:
    exchange = entry.exchange
    body = exchange.response_body or ""
    size = len(body.encode("utf-8", "backslashreplace"))
    response: dict[str, Any] = {
        "status": exchange.status or 0,
        "statusText": _status_text(exchange.status),
        "httpVersion": entry.http_version if exchange.status is not None else "",
        "cookies": [],
        "headers": _headers(exchange.response_headers),
        "content": {
            "size": size,
            "mimeType": _header(exchange.response_headers, "content-type"),
            "text": body,
        },
        "redirectURL": _header(exchange.response_headers, "location"),
        "headersSize": -1,
        "bodySize": size if exchange.status is not None else -1,
    }
    if entry.error is not None:
        response["_error"] = entry.error
    return response


def _entry(entry: JournalEntry) -> dict[str, Any]:
    elapsed = max(entry.exchange.elapsed_ms, 0.0)
    return {
        "pageref": entry.section,
        "startedDateTime": entry.started,
        "time": elapsed,
        "request": _request(entry),
        "response": _response(entry),
        "cache": {},
        # The client measures each answer whole (connect, send, wait, read): all of it is
        # given as the wait; the parts the suite does not measure are -1, as HAR allows.
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "send": 0,
            "wait": elapsed,
            "receive": 0,
        },
    }


def render_har(journal: Journal, about: str, titles: Mapping[str, str] | None = None) -> str:
    """The journal as HAR 1.2. `about`: what the run was (the log's comment); `titles`: a
    page title per section (a check's ID -> its requirement)."""
    titles = titles or {}
    used = {e.section for e in journal.entries}
    pages = [
        {
            "startedDateTime": started,
            "id": section,
            "title": titles.get(section, section),
            "pageTimings": {},
        }
        for section, started in journal.sections.items()
        if section in used
    ]
    comment = [about, f"{len(journal.entries)} exchanges"]
    if journal.bodies_dropped:
        comment.append(f"{journal.bodies_dropped} kept without their bodies (size limit)")
    if journal.dropped:
        comment.append(f"{journal.dropped} more not kept (entry limit)")
    har = {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": TOOL_NAME, "version": __version__},
            "pages": pages,
            "entries": [_entry(e) for e in journal.entries],
            "comment": "; ".join(comment),
        }
    }
    return json.dumps(har, indent=1, ensure_ascii=False) + "\n"


def har_about(result: RunResult) -> tuple[str, dict[str, str]]:
    """What a finished run tells its HAR: the comment and the pages' titles."""
    about = (
        f"{TOOL_NAME} run of {result.target.name} ({result.target.base_url}), seed "
        f"{result.settings.seed}"
    )
    return about, {r.check.id: f"{r.check.id}: {r.check.requirement}" for r in result.checks}


def write_har(
    journal: Journal,
    path: Path,
    about: str,
    titles: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> Path:
    return write_text(path, render_har(journal, about, titles), tuple(secrets))
