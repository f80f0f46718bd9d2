"""Checks on every answer of the run, whichever check or generator sent the request.

Shape checks reuse schemathesis's own (status code, content type, response schema with
format checking); the rest are ours.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from schemathesis import checks as st_checks
from schemathesis.core.failures import FailureGroup, MalformedJson
from schemathesis.openapi import checks as st_failures

from ..core import json_body_of, schema_validator
from ..model import Edition, Level, redact
from ._context import CONVERSATION_PATH, LIST_PATH, RunContext
from ._registry import Verdict, on_every_response
from ._schemathesis import as_schemathesis
from ._storage import ordinary
from .sources import DOCS, FASTAPI, RFC9110_5XX, RFC9110_401, RFC9110_405, SEED

if TYPE_CHECKING:
    from ..core._http import Sent

__all__: list[str] = []

_DOCUMENTED_METHODS = {CONVERSATION_PATH: {"GET", "PATCH"}, LIST_PATH: {"GET"}}
_SHAPE_CHECKS = [
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]
_FAILURE_TO_CHECK: dict[type[Exception], str] = {
    st_failures.UndefinedStatusCode: "SHAPE-STATUS-DOCUMENTED",
    st_failures.UndefinedContentType: "SHAPE-CONTENT-TYPE",
    st_failures.MissingContentType: "SHAPE-CONTENT-TYPE",
    st_failures.MalformedMediaType: "SHAPE-CONTENT-TYPE",
    st_failures.JsonSchemaError: "SHAPE-SCHEMA",
    MalformedJson: "SHAPE-SCHEMA",
    st_failures.ContentDeserializationError: "SHAPE-SCHEMA",
}


def _judge_shape(run: RunContext, sent: Sent) -> dict[str, list[str]]:
    template = sent.path_template
    assert template is not None
    operation = run.schema[template][sent.exchange.method]
    if template == CONVERSATION_PATH:
        conversation_id = sent.response.request.url.path.rsplit("/", 1)[-1]
        case = operation.Case(path_parameters={"conversation_id": conversation_id})
    else:
        case = operation.Case()
    problems: dict[str, list[str]] = {}
    try:
        case.validate_response(as_schemathesis(sent.response), checks=_SHAPE_CHECKS)
    except FailureGroup as group:
        for failure in group.exceptions:
            check_id = _FAILURE_TO_CHECK.get(type(failure), "SHAPE-SCHEMA")
            message = f"{failure.title}: {failure.message.strip().splitlines()[0]}"
            problems.setdefault(check_id, []).append(message)
    return problems


def shape_problems(run: RunContext, sent: Sent) -> dict[str, list[str]] | None:
    """schemathesis's verdict on one answer, by our check ID; None if not a documented call.
    Judged once per answer, however many shape checks ask."""
    template = sent.path_template
    if template is None or sent.exchange.method not in _DOCUMENTED_METHODS.get(template, ()):
        return None
    if template == LIST_PATH and sent.status in (404, 405):
        return None  # a target without a list of conversations: a neighbour, not the contract
    if not sent.complete:
        return None  # cut at --max-answer-bytes: ROBUST-ANSWER-SIZE's finding, not a shape
    problems: dict[str, list[str]] = run.cached(sent, lambda s: _judged_once(run, s))
    return problems


_SHAPE_VERDICTS_KEPT = 4096  # answers told apart; past it the memory starts again


def _judged_once(run: RunContext, sent: Sent) -> dict[str, list[str]]:
    """`_judge_shape`, once per distinct answer: its verdict depends only on the operation,
    the path, the status, the content type and the body (many answers of a run repeat one:
    the same 401, the same conversation read again)."""
    response = sent.response
    key = (
        sent.exchange.method,
        sent.path_template,
        response.request.url.raw_path,
        response.status_code,
        tuple(response.headers.get_list("content-type")),
        hashlib.sha256(response.content).digest(),
    )
    verdict = run.shape_verdicts.get(key)
    if verdict is None:
        if len(run.shape_verdicts) >= _SHAPE_VERDICTS_KEPT:
            run.shape_verdicts.clear()
        verdict = run.shape_verdicts[key] = _judge_shape(run, sent)
    return verdict


def _shape(check_id: str, run: RunContext, sent: Sent) -> Verdict | str:
    problems = shape_problems(run, sent)
    if problems is None:
        return Verdict.NOT_APPLICABLE
    found = problems.get(check_id)
    return "; ".join(found) if found else Verdict.PASS


@on_every_response(
    "SHAPE-STATUS-DOCUMENTED",
    family="shape",
    requirement="Every answer to GET or PATCH of a conversation uses a status the fragment "
    "documents for it: 200, 401 or 403, 404, 422 (and FastAPI's 400 for a PATCH body that is "
    "not even text).",
    source=f"{SEED}; {DOCS}",
)
def status_documented(run: RunContext, sent: Sent) -> Verdict | str:
    return _shape("SHAPE-STATUS-DOCUMENTED", run, sent)


@on_every_response(
    "SHAPE-CONTENT-TYPE",
    family="shape",
    requirement="Every documented answer is labelled with the documented media type, "
    "application/json.",
    source=SEED,
)
def content_type(run: RunContext, sent: Sent) -> Verdict | str:
    return _shape("SHAPE-CONTENT-TYPE", run, sent)


@on_every_response(
    "SHAPE-SCHEMA",
    family="shape",
    requirement="Every documented answer's body matches the fragment's schema for its status: "
    "required fields, types, nullable fields, RFC 3339 timestamps with an offset.",
    source=f"{SEED}; {DOCS}",
)
def body_schema(run: RunContext, sent: Sent) -> Verdict | str:
    return _shape("SHAPE-SCHEMA", run, sent)


@on_every_response(
    "ROBUST-NO-5XX",
    family="robustness",
    requirement="No request, however odd, is answered with a 5xx status.",
    source=RFC9110_5XX,
)
def no_server_error(run: RunContext, sent: Sent) -> Verdict | str:
    if sent.status == 501 and sent.exchange.method not in DOCUMENTED_METHODS:
        return Verdict.PASS  # RFC 9110 15.6.2: a method the server implements for nothing
    if sent.status >= 500:
        return f"{sent.exchange.method} answered {sent.status}"
    return Verdict.PASS


#: The methods the fragment documents (HEAD: GET's, RFC 9110 9.3.2).
DOCUMENTED_METHODS = frozenset({"GET", "HEAD", "PATCH"})


@on_every_response(
    "ROBUST-ANSWER-SIZE",
    family="robustness",
    requirement="Every answer fits in --max-answer-bytes (8 MiB unless set) once decoded: a "
    "larger one, or one that inflates past it, is cut there and not read to the end.",
    source="ours: a bound that keeps the suite's memory small whatever a target sends",
)
def answer_size(run: RunContext, sent: Sent) -> Verdict | str:
    if sent.complete:
        return Verdict.PASS
    limit = run.options.max_answer_bytes
    return (
        f"{sent.exchange.method} answered more than {limit} bytes once decoded: read no "
        "further (raise --max-answer-bytes if an answer is really that large)"
    )


@on_every_response(
    "ROBUST-RESPONSE-TIME",
    family="robustness",
    level=Level.ADVISORY,
    requirement="Every answer arrives within --max-response-time seconds.",
    source="ours: a service budget, not a documented promise",
)
def response_time(run: RunContext, sent: Sent) -> Verdict | str:
    if sent.edge:
        return Verdict.NOT_APPLICABLE  # a megabyte of metadata may take its time
    seconds = sent.exchange.elapsed_ms / 1000
    if seconds > run.options.max_response_time:
        return f"answered in {seconds:.2f} s, over the {run.options.max_response_time:g} s budget"
    return Verdict.PASS


@on_every_response(
    "AUTH-NO-CREDENTIAL-ECHO",
    family="auth",
    requirement="No answer repeats the credential the request presented, in any spelling "
    "(as sent, escaped, percent-encoded, hex, base64).",
    source="ours: OWASP ASVS V7 (no credentials in responses or logs)",
)
def no_credential_echo(run: RunContext, sent: Sent) -> Verdict | str:
    presented = [c for c in sent.presented if len(c) >= 8 and c.lower() != "bearer"]
    if not presented:
        return Verdict.NOT_APPLICABLE
    body = sent.response.content.decode("utf-8", errors="replace")
    headers = "\n".join(f"{k}: {v}" for k, v in sent.response.headers.multi_items())
    text = f"{headers}\n{body}"
    if redact(text, presented) != text:  # in any spelling: raw, base64, hex, escaped...
        return "the answer repeats the credential it was sent (shown redacted)"
    return Verdict.PASS


@on_every_response(
    "AUTH-WWW-AUTHENTICATE",
    family="auth",
    level=Level.ADVISORY,
    requirement="A 401 answer carries a WWW-Authenticate header naming the Bearer scheme.",
    source=RFC9110_401,
)
def www_authenticate(run: RunContext, sent: Sent) -> Verdict | str:
    if sent.status != 401:
        return Verdict.NOT_APPLICABLE
    challenge = sent.response.headers.get("WWW-Authenticate", "")
    if "bearer" not in challenge.lower():
        if challenge:
            return f"a 401 whose WWW-Authenticate names no Bearer scheme: {challenge[:80]!r}"
        return "a 401 without a WWW-Authenticate header"
    return Verdict.PASS


@on_every_response(
    "HTTP-ALLOW-ON-405",
    family="http",
    level=Level.ADVISORY,
    requirement="A 405 answer carries an Allow header listing the supported methods.",
    source=RFC9110_405,
)
def allow_on_405(run: RunContext, sent: Sent) -> Verdict | str:
    if sent.status != 405:
        return Verdict.NOT_APPLICABLE
    return Verdict.PASS if sent.response.headers.get("Allow") else "405 without an Allow header"


@on_every_response(
    "VALIDATION-ERROR-SHAPE",
    family="validation",
    requirement='A 422 answer is FastAPI\'s validation error: {"detail": [{loc, msg, type}]}.',
    source=f"{SEED} (422 Unprocessable Entity); {FASTAPI}",
)
def validation_error_shape(run: RunContext, sent: Sent) -> Verdict | str:
    if sent.status != 422:
        return Verdict.NOT_APPLICABLE
    if sent.json_body is None:
        return "422 whose body is not JSON"
    errors = sorted(schema_validator("HTTPValidationError").iter_errors(sent.json_body), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "body"
        return f"422 body is not in the documented shape ({where}: {errors[0].message[:200]})"
    return Verdict.PASS


def _request_json(sent: Sent) -> Any:
    content_type = sent.response.request.headers.get("Content-Type", "")
    if "json" not in content_type:
        return None
    return json_body_of(sent.response.request.content)


@on_every_response(
    "VALIDATION-ACCEPTS-VALID",
    family="validation",
    requirement="A request the contract allows (PATCH metadata an object, null or absent; GET "
    "message_limit 1..100 or absent; the list's limit 1..100 and offset 0 or more) is never "
    "refused (400, 413, 415 or 422) when it is ordinary: metadata of a few KiB (past "
    "that, a refusal is the target's limit), labelled application/json with or without "
    "parameters.",
    source=f"{SEED}; {DOCS}",
)
def accepts_valid(run: RunContext, sent: Sent) -> Verdict | str:
    if sent.edge:
        return Verdict.NOT_APPLICABLE  # valid, but past limits a server may have
    if sent.path_template == LIST_PATH and sent.exchange.method == "GET":
        valid = _valid_query(sent.response.request.url.params, _QUERY[LIST_PATH])
        return _refused_if_valid(sent) if valid else Verdict.NOT_APPLICABLE
    if sent.path_template != CONVERSATION_PATH:
        return Verdict.NOT_APPLICABLE
    if sent.exchange.method == "PATCH":
        body = _request_json(sent)
        # Members the judged edition does not know are the server's call: not judged.
        known = {"metadata", "group_name"} if run.edition is Edition.CURRENT else {"metadata"}
        valid = (
            isinstance(body, dict)
            and set(body) <= known
            and isinstance(body.get("metadata", {}), dict | None)
            and isinstance(body.get("group_name"), str | None)
            # past an ordinary document (a few KiB, ...) a clean refusal is a limit
            and ordinary(body.get("metadata"), len(sent.response.request.content)) is None
        )
    elif sent.exchange.method == "GET":
        valid = _valid_query(sent.response.request.url.params, _QUERY[CONVERSATION_PATH])
    else:
        return Verdict.NOT_APPLICABLE
    return _refused_if_valid(sent) if valid else Verdict.NOT_APPLICABLE


def _refused_if_valid(sent: Sent) -> Verdict | str:
    if sent.status in (400, 413, 415, 422):
        return f"a valid request was refused with {sent.status}"
    return Verdict.PASS


_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: "¹" is a digit to str.isdigit

# The query parameters each GET documents: name -> (lowest, highest) whole number allowed.
_QUERY: dict[str, dict[str, tuple[int, int | None]]] = {
    CONVERSATION_PATH: {"message_limit": (1, 100)},
    LIST_PATH: {"limit": (1, 100), "offset": (0, None)},
}


def _valid_query(params: Any, allowed: dict[str, tuple[int, int | None]]) -> bool:
    """Only documented parameters, each a whole number within its documented range."""
    if not set(params) <= set(allowed):
        return False
    for name, (low, high) in allowed.items():
        value = params.get(name)
        if value is None:
            continue
        if (
            not _DIGITS.fullmatch(value)
            or int(value) < low
            or (high is not None and int(value) > high)
        ):
            return False
    return True
