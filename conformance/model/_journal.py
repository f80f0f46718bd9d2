"""The journal: every exchange of a run, in order, for `--har` - bounded, already redacted.

The client adds an entry for every request it sends (the snapshot's, the checks', the
replays', the restores', and one whose answer never came); the engine says which part of
the run is sending (`section`: a check's ID, "snapshot", "restore", ...), which becomes the
HAR's pages. Bodies are the ones an `Exchange` keeps (64 KiB each at most); past
MAX_JOURNAL_BYTES of bodies, entries keep their headers and lose their bodies, and past
MAX_JOURNAL_ENTRIES they are counted, not kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ._redaction import redact, secret_list
from ._results import Exchange

__all__ = ["MAX_JOURNAL_BYTES", "MAX_JOURNAL_ENTRIES", "Journal", "JournalEntry"]

MAX_JOURNAL_ENTRIES = 20_000
MAX_JOURNAL_BYTES = 32 * 1024 * 1024
BODY_NOT_KEPT = "[body not kept: the journal's bodies reached their size limit]"


@dataclass(frozen=True)
class JournalEntry:
    started: str  # RFC 3339, UTC, milliseconds: when the request was sent
    section: str  # the part of the run that sent it: a check's ID, "snapshot", ...
    exchange: Exchange  # status None: no answer (`error` says why)
    http_version: str = "HTTP/1.1"
    error: str | None = None
    # every header the request went with (the exchange shows the ones the suite chose)
    request_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Journal:
    """Entries in the order the requests were sent. Thread-safe: a run's client may send
    from worker threads."""

    entries: list[JournalEntry] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)  # section -> when it began
    section: str = "run"
    dropped: int = 0  # entries past MAX_JOURNAL_ENTRIES
    bodies_dropped: int = 0  # entries kept without their bodies
    _bytes: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self, section: str, at: str) -> None:
        """From now on, entries belong to `section` (first begun at `at`)."""
        with self._lock:
            self.section = section
            self.sections.setdefault(section, at)

    def scrub(self, secrets: Iterable[str]) -> None:
        """Redact `secrets` in every entry kept: for a secret the run learnt after it had
        already recorded exchanges holding it (a webhook's, from its registration)."""
        found = secret_list(secrets)
        if not found:
            return
        with self._lock:
            self.entries = [_scrubbed(entry, found) for entry in self.entries]

    def add(
        self,
        started: str,
        exchange: Exchange,
        http_version: str,
        error: str | None = None,
        request_headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            if len(self.entries) >= MAX_JOURNAL_ENTRIES:
                self.dropped += 1
                return
            size = len(exchange.request_body or "") + len(exchange.response_body or "")
            if self._bytes + size > MAX_JOURNAL_BYTES:
                self.bodies_dropped += 1
                exchange = replace(
                    exchange,
                    request_body=BODY_NOT_KEPT if exchange.request_body else None,
                    response_body=BODY_NOT_KEPT if exchange.response_body else None,
                )
            else:
                self._bytes += size
            self.sections.setdefault(self.section, started)
            entry = JournalEntry(
                started, self.section, exchange, http_version, error, request_headers or {}
            )
            self.entries.append(entry)


def _scrubbed(entry: JournalEntry, secrets: tuple[str, ...]) -> JournalEntry:
    exchange = entry.exchange

    def clean(text: str | None) -> str | None:
        return None if text is None else redact(text, secrets)

    return replace(
        entry,
        exchange=replace(
            exchange,
            url=redact(exchange.url, secrets),
            request_headers={k: redact(v, secrets) for k, v in exchange.request_headers.items()},
            request_body=clean(exchange.request_body),
            response_headers={k: redact(v, secrets) for k, v in exchange.response_headers.items()},
            response_body=clean(exchange.response_body),
            curl=redact(exchange.curl, secrets),
        ),
        error=clean(entry.error),
        request_headers={k: redact(v, secrets) for k, v in entry.request_headers.items()},
    )
