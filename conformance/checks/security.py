"""Security properties of the endpoint, from the OWASP API Security Top 10 (2023).

Each category that applies to one PATCH of one resource is a property with a deterministic
probe (README, "Security: the OWASP API Top 10"):
- API1, object level authorization: another account's conversation is answered exactly as an
  id that does not exist (`SECURITY-FOREIGN-LIKE-ABSENT`);
- API2, authentication: a refused credential is refused the same way whatever else the
  request holds (`SECURITY-AUTH-FIRST`);
- API3, object property level authorization: a body carrying the conversation's other
  members changes none of them (`SECURITY-READ-ONLY-MEMBERS`);
- API4, resource consumption: the limits the run finds are reported (`Limit`, found by the
  round trip and the edge values);
- API8, security misconfiguration: no error answer carries a stack trace, SQL, a server
  path or an internal host (`SECURITY-NO-INTERNALS`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..core import instant, same_member
from ._context import SUCCESS, Context, RunContext, absent_id_like
from ._registry import Verdict, needs_second_account, needs_writes, on_every_response, scenario
from .auth import REFUSED, unknown_key
from .semantics import canary, volatile
from .sources import DOCS, FASTAPI, SEED

if TYPE_CHECKING:
    from ..core._http import Sent

__all__ = ["LEAKS", "body_shape"]

OWASP = "OWASP API Security Top 10 (2023)"
VALIDATION_REFUSED = frozenset({400, 422})


def body_shape(value: Any) -> Any:
    """A JSON value with its values abstracted to their types: what a client can tell apart
    without reading the text."""
    if isinstance(value, dict):
        return {key: body_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [body_shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


_VARYING = re.compile(r"[\w-]*\d[\w.:-]*")  # request ids, timestamps, counters


def _told_apart(a: Sent, b: Sent, a_id: str, b_id: str) -> str | None:
    """How a client could tell answer `a` (about `a_id`) from `b` (about `b_id`), if it can:
    the status, the media type, the body's shape, or its text once the ids and anything that
    varies from answer to answer (ids of requests, timestamps) are masked."""
    if a.status != b.status:
        return f"{a.status} against {b.status}"
    media = (
        r.response.headers.get("content-type", "").split(";")[0].strip().lower() for r in (a, b)
    )
    if len(set(media)) > 1:
        return "answers of different media types"
    if body_shape(a.json_body) != body_shape(b.json_body):
        return (
            f"bodies of different shapes ({_compact(body_shape(a.json_body))} against "
            f"{_compact(body_shape(b.json_body))})"
        )
    texts = [
        _VARYING.sub("#", r.response.text.replace(the_id, "{id}"))
        for r, the_id in ((a, a_id), (b, b_id))
    ]
    if texts[0] != texts[1]:
        return f"different texts ({texts[0][:80]!r} against {texts[1][:80]!r})"
    return None


def _compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 80 else text[:79] + "…"


@scenario(
    "SECURITY-FOREIGN-LIKE-ABSENT",
    family="security",
    requirement="Another account's conversation is answered exactly as an id that does not "
    "exist, to GET and to PATCH: the same status, media type, body shape and text, so that a "
    "key cannot learn which ids exist in other accounts.",
    source=f"{OWASP}, API1 (Broken Object Level Authorization); {DOCS} (404 for unknown ids)",
)
@needs_second_account
def foreign_like_absent(ctx: Context) -> None:
    assert ctx.target.second is not None
    foreign = ctx.target.second.conversation_ids[0]
    absent = absent_id_like(foreign, ctx.rng)
    pairs = [("GET", ctx.get(foreign), ctx.get(absent))]
    if not ctx.read_only:
        body = {"metadata": canary(ctx, "foreign-like-absent")}
        ctx.mark()  # a pair stands alone: the two answers, side by side
        pairs.append(("PATCH", ctx.patch(foreign, body), ctx.patch(absent, body)))
    for method, theirs, nobodys in pairs:
        if theirs.status in SUCCESS:
            continue  # served: AUTH-CROSS-TENANT-READ and -WRITE judge that
        told = _told_apart(theirs, nobodys, foreign, absent)
        if told:
            ctx.fail(
                f"{method} of another account's conversation and of an id that does not exist "
                f"can be told apart: {told}",
                nobodys,  # the steps: both answers
            )


@scenario(
    "SECURITY-AUTH-FIRST",
    family="security",
    requirement="A request with a refused credential gets the same refusal (status and body "
    "shape) whatever else it holds: a valid or invalid body, its own conversation, another "
    "account's or one that does not exist, any query. Nothing about the resource is "
    "evaluated before the caller is known (a body that is not even JSON may be refused "
    "first, as FastAPI parses it before it authenticates).",
    source=f"{OWASP}, API2 (Broken Authentication); {SEED} (Authorization: Bearer); {FASTAPI}",
)
def auth_first(ctx: Context) -> None:
    own, absent = ctx.writable_id, ctx.unknown_id()
    second = ctx.target.second
    foreign = second.conversation_ids[0] if second is not None else None
    for label, header in (
        ("no Authorization header", None),
        ("an unknown key", f"Bearer {unknown_key(ctx)}"),
    ):
        ctx.mark()
        baseline = ctx.get(own, authorization=header)
        if baseline.status not in REFUSED:
            continue  # not refused at all: AUTH-MISSING-REJECTED / -UNKNOWN-KEY-REJECTED
        probes = [
            ("GET of an id that does not exist", ctx.get(absent, authorization=header)),
            (
                "GET with message_limit=abc",
                ctx.get(own, authorization=header, params={"message_limit": "abc"}),
            ),
        ]
        if foreign is not None:
            probes.append(
                ("GET of another account's conversation", ctx.get(foreign, authorization=header))
            )
        _same_refusal(ctx, label, "GET of the conversation", baseline, probes)
        if ctx.read_only:
            continue
        valid = {"metadata": canary(ctx, "auth-first")}
        ctx.mark()
        baseline = ctx.patch(own, valid, authorization=header)
        if baseline.status not in REFUSED:
            continue
        probes = [
            (
                "PATCH with metadata 12345",
                ctx.patch(own, {"metadata": 12345}, authorization=header),
            ),
            ("PATCH with a body that is a list", ctx.patch(own, ["x"], authorization=header)),
            ("PATCH of an id that does not exist", ctx.patch(absent, valid, authorization=header)),
        ]
        if foreign is not None:
            probes.append(
                (
                    "PATCH of another account's conversation",
                    ctx.patch(foreign, valid, authorization=header),
                )
            )
        _same_refusal(ctx, label, "PATCH of the conversation", baseline, probes)


def _same_refusal(
    ctx: Context, label: str, what: str, baseline: Sent, probes: list[tuple[str, Sent]]
) -> None:
    for probe, sent in probes:
        if sent.status == baseline.status and body_shape(sent.json_body) == body_shape(
            baseline.json_body
        ):
            continue
        how = (
            f"answered {sent.status} where the {what} answered {baseline.status}"
            if sent.status != baseline.status
            else f"answered a body shaped {_compact(body_shape(sent.json_body))} where the "
            f"{what} answered {_compact(body_shape(baseline.json_body))}"
        )
        ctx.fail(
            f"with {label}, {probe} {how}: the server looked at the request before it knew "
            "the caller",
            sent,
        )


# Members whose snake_case spelling is the documented request member itself.
_WRITABLE = frozenset({"metadata", "group_name"})


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _other(value: Any) -> Any:
    """A value of the same kind that the conversation does not hold, plainly the suite's."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1000
    if isinstance(value, str) and instant(value) is not None:
        return "2001-02-03T04:05:06Z" if value != "2001-02-03T04:05:06Z" else "2002-02-03T04:05:06Z"
    if isinstance(value, list):
        return [] if value else ["conformance-probe"]
    if isinstance(value, dict):
        return {"conformance": "probe"}
    return "conformance-probe" if value != "conformance-probe" else "conformance-probe-2"


@scenario(
    "SECURITY-READ-ONLY-MEMBERS",
    family="security",
    requirement="A PATCH body that also carries the conversation's other members (each with "
    "another value, camelCase and snake_case; never id or messages) changes none of them: a "
    "PATCH writes metadata (and the current edition's group_name) only. Refusing such a body "
    "is fine.",
    source=f"{OWASP}, API3 (Broken Object Property Level Authorization: mass assignment); "
    f"{SEED} (the request is metadata)",
)
@needs_writes
def read_only_members(ctx: Context) -> None:
    before = ctx.read(ctx.writable_id).json_body
    probe: dict[str, Any] = {}
    for name, value in before.items():
        if name in ("id", "messages") or name in _WRITABLE or volatile(name):
            continue
        probe[name] = _other(value)
        if _snake(name) not in _WRITABLE:
            probe.setdefault(_snake(name), probe[name])
    if not probe:
        return
    sent = ctx.patch(ctx.writable_id, {"metadata": canary(ctx, "read-only-members"), **probe})
    if sent.status not in SUCCESS:
        return  # refused: fine (how, the validation and status checks judge)
    after = ctx.read(ctx.writable_id)
    taken = [
        name
        for name in before
        if name in probe and same_member(name, after.json_body.get(name), probe[name])
    ]
    if not taken:
        return
    shown = ", ".join(f"{name} {json.dumps(after.json_body.get(name))}" for name in taken)
    ctx.fail(f"the PATCH body's other members were written: {shown}", sent)
    _put_back(ctx, {name: before[name] for name in taken})


def _put_back(ctx: Context, originals: dict[str, Any]) -> None:
    """Write the members a faulty target took back the same way, and say so."""
    body = {
        **originals,
        **{_snake(k): v for k, v in originals.items() if _snake(k) not in _WRITABLE},
    }
    ctx.patch(ctx.writable_id, body)
    now = ctx.read(ctx.writable_id).json_body
    undone = [name for name in originals if not same_member(name, now.get(name), originals[name])]
    where = f"conversation {ctx.writable_id}"
    if undone:
        ctx.notes.append(
            f"{where}: the target took {', '.join(originals)} from a PATCH body; the suite "
            f"could not put back {', '.join(undone)}: set them by hand to "
            f"{json.dumps({name: originals[name] for name in undone})}"
        )
    else:
        ctx.notes.append(
            f"{where}: the target took {', '.join(originals)} from a PATCH body; the suite "
            "wrote the original values back the same way, and a GET shows them again"
        )


# What an error answer must not carry (OWASP API8; ASVS V7.4): each a kind and its patterns.
LEAKS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("a stack trace", r"Traceback \(most recent call last\)"),
        ("a stack trace", r'File "[^"\n]+", line \d+'),
        ("a stack trace", r"\bat [\w$.<>\[\]]+ \((?:[\w./\\:-]+|<anonymous>):\d+:\d+\)"),
        ("a stack trace", r"\bat [\w$.]+\([\w$]+\.(?:java|kt|scala):\d+\)"),
        ("a stack trace", r"\bgoroutine \d+ \[\w+"),
        ("a stack trace", r"\.rb:\d+:in `"),
        ("a stack trace", r"#\d+ \S+\.php\(\d+\)"),
        ("a stack trace", r"\bat [\w.`<>]+\([^)]*\) in [^\n]+:line \d+"),
        ("SQL", r"\bSELECT\s+[\w*,\s.\"`]+?\s+FROM\s+[\w.\"`]+"),
        ("SQL", r"\bINSERT\s+INTO\s+[\w.\"`]+"),
        ("SQL", r"\bUPDATE\s+[\w.\"`]+\s+SET\s"),
        ("SQL", r"\bDELETE\s+FROM\s+[\w.\"`]+"),
        ("SQL", r"\bSQLSTATE\b|\bpsycopg2?\b|\bsqlalchemy\.exc\b|\bsqlite3\.\w*Error\b"),
        ("SQL", r"\bORA-\d{5}\b|\bPG::\w+|syntax error at or near|You have an error in your SQL"),
        ("SQL", r"duplicate key value violates|relation \"[^\"]+\" does not exist|\bE11000\b"),
        (
            "a server path",
            r"(?<![\w/.~:@-])/(?:usr|home|var|opt|srv|app|etc|root|tmp|code|workspace|lib)"
            r"(?:/[\w.@+-]+){2,}",
        ),
        (
            "a server path",
            r"\b[A-Za-z]:\\(?:[\w .-]+\\)+[\w .-]+|\bsite-packages\b|\bnode_modules/",
        ),
        (
            "an internal address",
            r"\b(?:10(?:\.\d{1,3}){3}|192\.168(?:\.\d{1,3}){2}|172\.(?:1[6-9]|2\d|3[01])"
            r"(?:\.\d{1,3}){2}|169\.254(?:\.\d{1,3}){2}|127(?:\.\d{1,3}){3})(?::\d+)?\b",
        ),
        (
            "an internal host",
            r"\b[\w-]+(?:\.[\w-]+)*\.(?:internal|local|localdomain|corp|lan|intranet|"
            r"svc\.cluster\.local)\b|\blocalhost:\d+\b",
        ),
    )
)


def _readable(sent: Sent) -> str:
    """An answer's body as a person reads it: a JSON body's strings (keys too) unescaped,
    one per line; any other body as text. At most 64 KiB of it."""
    if sent.json_body is None:
        return sent.response.text[:65536]
    return _strings(sent.json_body)


def _strings(value: Any, most: int = 65536) -> str:
    """Every string of a JSON value (keys too), one per line: at most `most` characters."""
    strings: list[str] = []
    stack, size = [value], 0
    while stack and size < most:
        item = stack.pop()
        if isinstance(item, dict):
            strings.extend(str(key) for key in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            strings.append(item)
            size += len(item)
    return "\n".join(strings)[:most]


def _request_text(sent: Sent) -> str:
    """What the request itself carried, raw and with its JSON strings unescaped: an answer
    that echoes it shows nothing of the server's."""
    request = sent.response.request
    url = str(request.url)
    text = f"{url}\n{urllib.parse.unquote_plus(url)}\n"  # the query as the server read it
    text += "\n".join(f"{k}: {v}" for k, v in request.headers.items())
    content = request.content.decode("utf-8", errors="replace") if request.content else ""
    try:
        decoded = json.dumps(json.loads(content), ensure_ascii=False) if content else ""
        strings = _strings(json.loads(content)) if content else ""
    except (ValueError, RecursionError):
        decoded = strings = ""
    return f"{text}\n{content}\n{decoded}\n{strings}"


@on_every_response(
    "SECURITY-NO-INTERNALS",
    family="security",
    requirement="No error answer's body and no answer's header carries a stack trace, an SQL "
    "statement or database error, a path on the server, or an internal host or address.",
    source=f"{OWASP}, API8 (Security Misconfiguration); OWASP ASVS V7.4 (error handling)",
)
def no_internals(run: RunContext, sent: Sent) -> Verdict | str:
    response = sent.response
    own = {response.request.url.host, response.request.url.netloc.decode("ascii", "replace")}
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items() if k.lower() != "location")
    text = headers if sent.status < 400 else f"{headers}\n{_readable(sent)}"
    asked = None
    for kind, pattern in LEAKS:
        for match in pattern.finditer(text):
            found = match.group(0)
            if found in own or found.split(":")[0] in own:
                continue  # the target's own address
            asked = asked if asked is not None else _request_text(sent)
            if found in asked:
                continue  # an echo of what the request itself carried
            return f"a {sent.status} answer carries {kind}: {found[:120]!r}"
    return Verdict.PASS
