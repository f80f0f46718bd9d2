"""The only way the suite talks to a target: httpx, a request budget, a rate limit,
back-off on 429, and a redacted record of every exchange.
"""

from __future__ import annotations

import copy
import email.utils
import functools
import itertools
import json
import shlex
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from ..model import Exchange, Journal, redact
from ._fetch import ACCEPT_ENCODING, Answer, DeadlinePassed, read_answer
from ._json import same_json

__all__ = [
    "BudgetExhausted",
    "Client",
    "ConditionFailed",
    "DeadlineReached",
    "Dropped",
    "Sent",
    "TargetUnreachable",
    "Throttled",
    "TimedOut",
    "curl_command",
    "json_body_of",
]

MAX_RECORDED_BODY = 64 * 1024
MAX_429_RETRIES = 5
MAX_REDIRECTS = 3  # same-origin ones, followed; see _same_origin_redirect
# Headers of a request worth sending again in a replay (httpx adds the rest).
_KEPT = frozenset({"authorization", "content-type", "accept"})
MAX_RETRY_WAIT = 30.0
_UNSET: Any = object()


class BudgetExhausted(Exception):
    """The run has sent --max-requests requests: what is left is skipped, not failed."""


class TargetUnreachable(Exception):
    """The target did not answer (connection refused, DNS, TLS, time-out)."""


class TimedOut(TargetUnreachable):
    """No complete answer within --timeout: the target may still be working on the request."""


class Dropped(TargetUnreachable):
    """The target took the request and closed the connection without an answer: it may be
    gone, or it may have crashed on this very request. `exchange` is the request, redacted,
    with no answer (status None), for a finding if the target turns out to be up."""

    def __init__(self, message: str, exchange: Exchange | None = None) -> None:
        super().__init__(message)
        self.exchange = exchange


class Throttled(Exception):
    """The target kept asking the suite to wait (429, or 503 with Retry-After) after every
    retry: the request was not answered, which is nobody's violation."""


class ConditionFailed(Exception):
    """A write the suite sent with If-Match was refused (412), and the conversation now
    holds a value the run did not put there: another client wrote it. `path` is the
    conversation's; `metadata` what it holds now. Never the target's fault."""

    def __init__(self, path: str, metadata: Any) -> None:
        super().__init__(f"another client wrote {path.rsplit('/', 1)[-1]} (If-Match refused)")
        self.path = path
        self.metadata = metadata


class DeadlineReached(BudgetExhausted):
    """The run's --deadline has passed: what is left is skipped, as for the budget."""


def curl_command(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    secrets: Mapping[str, str],
) -> str:
    """A shell command reproducing the request; each secret appears as its shell spelling
    (a variable name, or an expression such as "${KEY%?}")."""
    parts = ["curl", "-i", "-X", method, shlex.quote(url)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body is not None:
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", errors="replace"))]
    command = " ".join(parts)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            # Leave the single-quoted word, expand the variable, re-enter single quotes.
            shell = secrets[secret]
            shell = shell if shell.startswith("$") else f"${{{shell}}}"
            command = command.replace(f"{secret}'", f'\'"{shell}"')  # it ended the word
            command = command.replace(secret, f"'\"{shell}\"'")
    return command


def json_bytes(value: Any) -> bytes:
    """A JSON body in UTF-8; a lone surrogate (a value another server accepted) written as
    its JSON escape, which UTF-8 cannot hold."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(data: bytes) -> str:
    text = data[:MAX_RECORDED_BODY].decode("utf-8", errors="replace")
    if len(data) > MAX_RECORDED_BODY:
        text += f"\n[... {len(data) - MAX_RECORDED_BODY} more bytes not recorded]"
    return text


@dataclass(frozen=True)
class Sent:
    """A request and its answer. `presented` holds the credentials this request carried:
    kept in memory for the echo check, never written anywhere."""

    response: httpx.Response
    exchange: Exchange
    presented: tuple[str, ...]
    path_template: str | None  # the fragment's path, when the request targets one
    json_body: Any  # the decoded answer, or None
    complete: bool = True  # False: the answer was larger than --max-answer-bytes, cut there
    edge: bool = False  # a request at the edge of the contract: refusing it or taking long
    # over it is the server's call (README, "choices where the contract is silent")
    path: str = ""  # the path as the suite named it (what its ETag is kept under)

    @property
    def status(self) -> int:
        return self.response.status_code


@dataclass(frozen=True)
class Unanswered:
    """A PATCH the target took and gave no answer to: what it carried, and when the run gave
    up on it; `timed_out`: it was still at work on it (else it dropped the connection)."""

    path: str
    metadata: Any
    at: float  # time.monotonic()
    timed_out: bool


def json_body_of(content: bytes | None) -> Any:
    """A request's JSON body, decoded; None when it has none or is not JSON."""
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


class Client:
    def __init__(
        self,
        base_url: str,
        secrets: Mapping[str, str],
        *,
        max_requests: int,
        rate_limit: float | None = None,
        timeout: float,
        max_answer_bytes: int,
        run_deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        journal: Journal | None = None,
    ) -> None:
        """`timeout`: seconds for a whole answer. `run_deadline`: a `time.monotonic()`
        reading after which no request but a reserved one (a restore) is sent."""
        self.base_url = base_url
        self.secrets = dict(secrets)
        self.max_requests = max_requests
        self.sent = 0
        self.exhausted = False  # a request was refused for the budget
        self.written: list[Any] = []  # every metadata value a PATCH of the run carried
        # the PATCHes that got no answer (a time-out, a dropped connection): the target may
        # still store them, late; each as (path, metadata, when it was given up on)
        self.unanswered: list[Unanswered] = []
        self.backoffs: list[float] = []  # seconds waited on 429s
        self.observers: list[Callable[[Sent], None]] = []
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self.run_deadline = run_deadline
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._last_start = 0.0
        self._sleep = sleep
        self._lock = threading.Lock()
        self._observing = threading.RLock()  # observers see one answer at a time (theirs too)
        # conditional writes: each conversation path's current ETag, as its last plain GET or
        # PATCH answer gave it; and whether a value is one the run put there (the runner
        # says, once the snapshot is taken)
        self.etags: dict[str, str] = {}
        self.ours: Callable[[Any], bool] = lambda metadata: True
        self._root: Client | None = None  # a lane's client: the one whose budget it spends
        self._transport = transport
        self.journal = journal  # every exchange, for --har (None: none kept)
        # differential: what sends each observed request to other targets too (`before` as
        # it leaves, `after` with its answer); None: nothing does
        self.mirror: Any = None
        self._http = self._open()
        self._worker = _worker()

    def deadline_passed(self) -> bool:
        """Has the run's --deadline passed? (Then no request but a restore is sent.)"""
        return self.run_deadline is not None and time.monotonic() >= self.run_deadline

    def _open(self) -> httpx.Client:
        self._connection = f"pool-{next(_POOLS)}"  # what an in-process target sees of it
        return httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            follow_redirects=False,
            transport=self._transport,
            verify=_tls_context() if self.base_url.lower().startswith("https:") else _no_tls(),
            headers={"User-Agent": "agentphone-conformance", "Accept-Encoding": ACCEPT_ENCODING},
        )

    def lane(self) -> Client:
        """A client for requests sent at the same time as others: a connection and a worker
        of its own; the budget, rate limit, deadline, secrets, journal and observers of this
        one. Close it when done."""
        root = self._root or self
        twin = copy.copy(root)
        twin._root = root
        twin._http = twin._open()
        twin._worker = _worker()
        return twin

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def _abandon(self) -> None:
        """A request outlived its deadline: close its connection (which ends the worker's
        wait) and go on with a fresh connection pool and worker."""
        stuck, self._http = self._http, self._open()
        worker, self._worker = (
            self._worker,
            ThreadPoolExecutor(1, thread_name_prefix="agentphone-request"),
        )
        threading.Thread(target=stuck.close, daemon=True).start()
        worker.shutdown(wait=False, cancel_futures=True)

    def send(
        self,
        method: str,
        path: str,
        *,
        authorization: str | None,
        json_body: Any = _UNSET,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        path_template: str | None = None,
        reserved: bool = False,
        observed: bool = True,
        edge: bool = False,
        conditional: bool = True,
    ) -> Sent:
        """Send one request. `reserved` requests (restores) may go past the budget; requests
        not `observed` (replays of a failure) are not shown to the observers. A PATCH of a
        conversation whose ETag the run knows carries If-Match with it, unless not
        `conditional` (or the caller set a precondition itself): another client's write in
        between is never overwritten (ConditionFailed)."""
        root = self._root or self
        tag = root.etags.get(path) if method == "PATCH" and conditional else None
        given = {name.lower() for name in headers or {}}
        if tag is not None and not given & {"if-match", "if-none-match"}:
            headers = {**(headers or {}), "If-Match": tag}
        sent = self._send(
            method, path, authorization, json_body, content, headers, params,
            path_template, reserved, observed, edge,
        )  # fmt: skip
        if tag is not None and sent.status == 412:
            sent = self._after_412(sent, method, path, authorization, json_body, content, headers)
        if method in ("GET", "PATCH") and not params:
            etag = sent.response.headers.get("ETag") if sent.status in (200, 304) else None
            if etag and not etag.startswith("W/"):
                root.etags[path] = etag
            elif method == "PATCH" and 200 <= sent.status < 300:
                root.etags.pop(path, None)  # written, and its tag no longer known
        return sent

    def _after_412(
        self,
        refused: Sent,
        method: str,
        path: str,
        authorization: str | None,
        json_body: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> Sent:
        """A conditional write refused: read the conversation. Still a value of the run's
        (its representation changed otherwise: a message arrived): the write again, with the
        new tag, once. Someone else's: ConditionFailed."""
        root = self._root or self
        root.etags.pop(path, None)
        now = self.send("GET", path, authorization=authorization, reserved=True)
        metadata = now.json_body.get("metadata") if isinstance(now.json_body, dict) else None
        if now.status != 200 or not root.ours(metadata) or path not in root.etags:
            raise ConditionFailed(path, metadata)
        retried = {**(headers or {}), "If-Match": root.etags[path]}
        again = self._send(
            method, path, authorization, json_body, content, retried, None,
            refused.path_template, False, True, refused.edge,
        )  # fmt: skip
        if again.status == 412:
            raise ConditionFailed(path, metadata)
        return again

    def _send(
        self,
        method: str,
        path: str,
        authorization: str | None,
        json_body: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        path_template: str | None,
        reserved: bool,
        observed: bool,
        edge: bool,
    ) -> Sent:
        sent_headers: dict[str, str] = {}
        if authorization is not None:
            sent_headers["Authorization"] = authorization
        if json_body is not _UNSET:
            content = json_bytes(json_body)
            sent_headers["Content-Type"] = "application/json"
        if method == "PATCH":
            self._remember(json_body if json_body is not _UNSET else content)
        sent_headers.update(headers or {})
        request = self._http.build_request(
            method, path, content=content, headers=sent_headers, params=params
        )
        return self._exchange(
            request, content, sent_headers, authorization, path_template, reserved, observed, edge,
            path,
        )  # fmt: skip

    def _remember(self, body: Any) -> None:
        """Keep the metadata a PATCH carries, however it is spelt (raw JSON bytes too)."""
        if isinstance(body, bytes):
            body = json_body_of(body)
        if isinstance(body, dict) and "metadata" in body:
            self.written.append(body["metadata"])

    def _unanswered(self, path: str, body: Any, timed_out: bool) -> None:
        if isinstance(body, dict) and "metadata" in body:
            root = self._root or self
            with root._lock:
                root.unanswered.append(
                    Unanswered(path, body["metadata"], time.monotonic(), timed_out)
                )

    def left_unanswered(self, path: str, metadata: Any) -> bool:
        """Is this the metadata of a PATCH of `path` that got no answer? (Then the target may
        have stored it late.)"""
        return any(u.path == path and same_json(metadata, u.metadata) for u in self.unanswered)

    def wrote(self, metadata: Any) -> bool:
        """Is this a metadata value some PATCH of this run carried? (Then a conversation
        that holds it holds it because of the run.)"""
        return any(same_json(metadata, value) for value in reversed(self.written))  # latest first

    def forward(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        content: bytes | None,
        path_template: str | None = None,
    ) -> Sent:
        """A request as another client sent it (`target`: its path and query, relative to
        this client's base URL), sent here; not shown to the observers, never mirrored."""
        sent_headers = dict(headers)
        request = self._http.build_request(method, target, content=content, headers=sent_headers)
        return self._exchange(
            request, content, sent_headers, sent_headers.get("Authorization"), path_template,
            False, False,
        )  # fmt: skip

    def resend(self, sent: Sent) -> Sent:
        """The same request once more (a failure's replay), not shown to the observers."""
        request = sent.response.request
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in request.headers.raw
            if name.lower().decode("latin-1") in _KEPT
        }
        tag = (self._root or self).etags.get(sent.path)
        if request.method == "PATCH" and tag is not None:
            headers["If-Match"] = tag  # a replayed write overwrites nobody's either
        authorization = request.headers.get("Authorization")
        again = self._http.build_request(
            request.method, request.url, content=request.content, headers=headers
        )
        content = request.content if request.content else None
        return self._exchange(
            again, content, headers, authorization, sent.path_template, False, False, sent.edge,
            sent.path,
        )  # fmt: skip

    def _exchange(
        self,
        request: httpx.Request,
        content: bytes | None,
        sent_headers: dict[str, str],
        authorization: str | None,
        path_template: str | None,
        reserved: bool,
        observed: bool,
        edge: bool = False,
        path: str = "",
    ) -> Sent:
        method = request.method
        started = _now()
        mirror = (self._root or self).mirror if observed else None
        token = mirror.before(request) if mirror is not None else None
        try:
            answer, elapsed = self._send_with_backoff(request, reserved)
        except TargetUnreachable as exc:
            if method == "PATCH" and isinstance(exc, (TimedOut, Dropped)):  # it had the request
                self._unanswered(path, json_body_of(content), isinstance(exc, TimedOut))
            unanswered = self._journal_failure(started, request, content, sent_headers, str(exc))
            if isinstance(exc, Dropped):
                raise Dropped(str(exc), unanswered) from None
            raise
        response = answer.response
        body = response.content
        presented = tuple(p for p in _credentials(authorization) if p)
        url = str(request.url)
        shown_headers = {k: v for k, v in sent_headers.items()}
        exchange = Exchange(
            method=method,
            url=redact(url, self.secrets),
            request_headers={k: redact(v, self.secrets) for k, v in shown_headers.items()},
            request_body=redact(_text(content), self.secrets) if content is not None else None,
            status=response.status_code,
            response_headers={k: redact(v, self.secrets) for k, v in response.headers.items()},
            response_body=redact(_text(body), self.secrets),
            elapsed_ms=round(elapsed * 1000, 2),
            curl=curl_command(method, url, shown_headers, content, self.secrets),
        )
        try:
            decoded = json.loads(body) if body and answer.complete else None
        except (ValueError, RecursionError):
            decoded = None
        result = Sent(
            response, exchange, presented, path_template, decoded, answer.complete, edge, path
        )
        if self.journal is not None:
            sent_with = {k: redact(v, self.secrets) for k, v in response.request.headers.items()}
            self.journal.add(started, exchange, response.http_version, None, sent_with)
        if mirror is not None:
            mirror.after(request, result, token)
        if observed and self.observers:
            with (self._root or self)._observing:
                for observer in self.observers:
                    observer(result)
        return result

    def _journal_failure(
        self,
        started: str,
        request: httpx.Request,
        content: bytes | None,
        headers: Mapping[str, str],
        error: str,
    ) -> Exchange:
        """A request whose answer never came (status None): in the journal if one is kept."""
        url = str(request.url)
        exchange = Exchange(
            method=request.method,
            url=redact(url, self.secrets),
            request_headers={k: redact(v, self.secrets) for k, v in headers.items()},
            request_body=redact(_text(content), self.secrets) if content is not None else None,
            status=None,
            response_headers={},
            response_body=None,
            elapsed_ms=0.0,
            curl=curl_command(request.method, url, dict(headers), content, self.secrets),
        )
        if self.journal is not None:
            self.journal.add(started, exchange, "HTTP/1.1", error=redact(error, self.secrets))
        return exchange

    def _send_with_backoff(self, request: httpx.Request, reserved: bool) -> tuple[Answer, float]:
        hops, counted = 0, True
        for attempt in range(MAX_429_RETRIES + MAX_REDIRECTS + 1):
            self._take_slot(reserved, counted)
            started = time.monotonic()
            answer = self._fetch(request, reserved)
            response = answer.response
            elapsed = time.monotonic() - started
            redirected = _same_origin_redirect(request, response)
            if redirected is not None and hops < MAX_REDIRECTS:
                # the same request, where the target moved it: it waits its turn under
                # --rate-limit but costs no more of the budget (a retry after 429 does)
                request, hops, counted = redirected, hops + 1, False
                continue
            counted = True
            if not _asks_to_wait(response):
                return answer, elapsed
            if attempt == MAX_429_RETRIES:
                raise Throttled(
                    f"{request.method} {request.url.path} was answered {response.status_code} "
                    f"{attempt + 1} times in a row: lower --rate-limit or try later"
                )
            wait = _retry_after(response.headers.get("Retry-After"), attempt)
            self.backoffs.append(wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch(self, request: httpx.Request, reserved: bool) -> Answer:
        """One exchange, within its deadline: `timeout` seconds, or less when the run's
        deadline comes first (never for a reserved request: a restore gets its full time)."""
        seconds = self.timeout
        if self.run_deadline is not None and not reserved:
            seconds = max(0.1, min(seconds, self.run_deadline - time.monotonic()))
        deadline = time.monotonic() + seconds
        request.extensions[CONNECTION] = self._connection
        job = self._worker.submit(
            read_answer,
            self._http,
            request,
            cap=self.max_answer_bytes,
            deadline=deadline,
            clock=time.monotonic,
        )
        where = f"{request.method} {request.url.path}"
        try:
            return job.result(timeout=seconds + 0.25)
        except (FutureTimeout, DeadlinePassed, httpx.TimeoutException):
            self._abandon()
            late = f"{where}: no complete answer within {seconds:g} s (--timeout)"
            raise TimedOut(late) from None
        except httpx.LocalProtocolError:
            raise  # we built a request HTTP cannot carry: our bug, not the target's
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise Dropped(f"{where}: {exc}") from None  # it had the request: a crash?
        except httpx.TransportError as exc:
            raise TargetUnreachable(f"{where}: {exc}") from None

    def _take_slot(self, reserved: bool, counted: bool = True) -> None:
        root = self._root or self  # a lane spends its root's budget, at its root's pace
        with root._lock:
            if not reserved and root.deadline_passed():
                raise DeadlineReached("the run's --deadline has passed")
            if counted and root.sent >= root.max_requests and not reserved:
                root.exhausted = True
                raise BudgetExhausted(f"the request budget ({root.max_requests}) is spent")
            root.sent += counted
            if root._interval:
                wait = root._last_start + root._interval - time.monotonic()
                if wait > 0:
                    root._sleep(wait)
                root._last_start = time.monotonic()


_POOLS = itertools.count(1)
#: The request extension naming the client's connection pool: an in-process target (the
#: embedded emulator) reads it where a server over the network sees a socket's address.
CONNECTION = "agentphone.connection"


def _worker() -> ThreadPoolExecutor:
    """The thread a client's exchanges run in, so that the caller can stop waiting."""
    return ThreadPoolExecutor(1, thread_name_prefix="agentphone-request")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's own default (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), loaded once per
    process rather than once per client: loading it costs a sixth of a second."""
    return httpx.create_ssl_context()


def _no_tls() -> ssl.SSLContext:
    """For a plain-HTTP target, which never speaks TLS (a redirect never leaves its origin):
    a context that trusts no certificate, so it costs nothing to make and could verify none."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _asks_to_wait(response: httpx.Response) -> bool:
    """429, or a 503 that says when to come back: a rate limit, nobody's violation."""
    return response.status_code == 429 or (
        response.status_code == 503 and "Retry-After" in response.headers
    )


def _same_origin_redirect(request: httpx.Request, response: httpx.Response) -> httpx.Request | None:
    """The request to send next when the answer redirects it within the same origin (scheme,
    host and port) in a way that keeps the method and body: 307 and 308, and 301, 302 and
    303 for a GET. A redirect anywhere else is the answer: credentials never leave the
    target's origin."""
    location = response.headers.get("Location")
    keeps = response.status_code in (307, 308) or (
        response.status_code in (301, 302, 303) and request.method == "GET"
    )
    if not location or not keeps:
        return None
    try:
        url = request.url.join(location)
    except httpx.InvalidURL:
        return None
    if (url.scheme, url.host, url.port) != (request.url.scheme, request.url.host, request.url.port):
        return None
    return httpx.Request(request.method, url, headers=request.headers, content=request.content)


def _credentials(authorization: str | None) -> list[str]:
    """What a target could echo back: the whole header value and its token part."""
    if not authorization:
        return []
    token = authorization.partition(" ")[2].strip()
    return [authorization.strip(), token] if token else [authorization.strip()]


def _retry_after(value: str | None, attempt: int) -> float:
    """Seconds to wait: Retry-After as seconds or an HTTP date, else exponential back-off."""
    fallback = min(2.0**attempt, MAX_RETRY_WAIT)
    if not value:
        return fallback
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_WAIT)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return fallback
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - datetime.now(UTC)).total_seconds(), MAX_RETRY_WAIT))
