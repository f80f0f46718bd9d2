"""The storage model: every dimension sent on every profile, a difference named by its
dimension, a refusal narrowed down to what was refused, and limits reported, not failed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.checks._storage import DIMENSIONS, DOCUMENTS, ORDINARY, Latitude, ordinary
from conformance.checks.roundtrip import difference
from conformance.core import GivenOptions, resolve
from conformance.emulator import Emulator
from conformance.engine import run
from conformance.jobs import embedded_target
from conformance.model import Outcome, RunResult
from conformance.reports import write_reports

Refuse = Callable[[httpx.Request, Any], int | None]  # the request, its JSON -> a status or None


def test_every_dimension_is_a_plain_member_of_one_document() -> None:
    keys = [d.key for d in DIMENSIONS]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"[a-z][a-z0-9]*", key) for key in keys)  # no converter touches it
    assert all(d.name and d.layers for d in DIMENSIONS)
    assert sum(len(document.dimensions) for document in DOCUMENTS) == len(DIMENSIONS)


def test_documents_are_valid_json_of_what_they_hold() -> None:
    for document in DOCUMENTS:
        body = json.loads(document.body())
        assert body["metadata"].keys() == document.metadata.keys(), document.group
        plain = {d.key: d.value for d in document.dimensions if d.raw is None and not d.spread}
        for spread in (d for d in document.dimensions if d.spread):
            assert all(body["metadata"][k] == v for k, v in spread.value.items())
        assert all(body["metadata"][key] == value for key, value in plain.items())


def test_exact_documents_are_ordinary_and_limits_are_past_it() -> None:
    """An ordinary document must be accepted: every document of exact dimensions is one, and
    every document past the ordinary carries a member a server may refuse."""
    for document in DOCUMENTS:
        past = ordinary(document.metadata, len(document.body()))
        if all(d.latitude is Latitude.EXACT for d in document.dimensions):
            assert past is None, (document.group, past)
        if past is not None:
            assert any(d.latitude is not Latitude.EXACT for d in document.dimensions)


def test_what_is_ordinary() -> None:
    assert ordinary({"customerName": "Ada", "tier": 2}) is None
    assert "string of 256" in (ordinary({"s": "x" * 256}) or "")
    assert "51 members" in (ordinary({f"k{i}": i for i in range(51)}) or "")
    assert "U+0000" in (ordinary({"s": "a\x00"}) or "")
    assert "2^53" in (ordinary({"n": 2**53}) or "")
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(9):
        deep = {"n": deep}
    assert ordinary(deep) is None  # 10 levels, the metadata object included
    deep = {"n": deep}
    assert "nesting" in (ordinary(deep) or "")
    assert "bytes" in (ordinary({"s": "x" * 200}, size=ORDINARY.bytes + 1) or "")


def test_a_difference_is_shown_where_it_is() -> None:
    assert "lost the member 'b'" in difference({"a": 1, "b": 2}, {"a": 1})
    assert "at [1]" in difference({"x": [1, 2]}["x"], [1, 3])
    shown = difference("padded  ", "padded")
    assert "from character 6" in shown and "6 characters, sent 8" in shown
    assert "at inner.k" in difference({"inner": {"k": "a"}}, {"inner": {"k": "b"}})


class Refusing(httpx.BaseTransport):
    """The embedded emulator, behind a layer that refuses some PATCH bodies cleanly (a
    FastAPI 422) or crashes on them."""

    def __init__(self, emulator: Emulator, refuse: Refuse) -> None:
        self.inner, self.refuse = emulator.transport(), refuse

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            content = request.read()
            try:
                body = json.loads(content)
            except ValueError:
                body = None
            status = self.refuse(request, body)
            if status is not None:
                detail = [{"type": "value_error", "loc": ["body", "metadata"], "msg": "refused"}]
                body_out = {"detail": detail} if status == 422 else {"detail": "refused"}
                if status >= 500:
                    return httpx.Response(status, text="Internal Server Error")
                return httpx.Response(status, json=body_out)
        return self.inner.handle_request(request)


def _run(refuse: Refuse, seed: int = 1, **given: Any) -> RunResult:
    with Emulator() as emulator:
        transport = Refusing(emulator, refuse)
        return run(
            embedded_target(emulator),
            resolve(GivenOptions(seed=seed, **given)),
            transport=transport,
        )


def _failed(result: RunResult) -> dict[str, list[str]]:
    return {
        r.check.id: [f.message for f in r.findings]
        for r in result.checks
        if r.outcome in (Outcome.FAILED, Outcome.ERROR)
    }


def _holds(body: Any, needle: str) -> bool:
    return needle in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_size_limit_is_found_by_bisection_and_reported_not_failed(
    seed: int, tmp_path: Path
) -> None:
    limit = 16 * 1024
    result = _run(lambda request, body: 422 if len(request.content) > limit else None, seed)
    assert _failed(result) == {} and result.exit_code == 0
    (size,) = [lim for lim in result.limits if lim.what == "metadata size"]
    refused = int(size.refused.split()[3].replace(",", ""))
    accepted = int(size.accepted.split()[3].replace(",", ""))
    assert accepted <= limit < refused and refused - accepted < 500, size
    write_reports(result, tmp_path)
    shown = str(size)
    assert shown in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "report.json").read_text())["limits"][0]["what"]
    assert "metadata size: refused" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "metadata size: refused" in (tmp_path / "junit.xml").read_text(encoding="utf-8")


def test_a_refused_kind_of_value_is_a_limit_named_by_its_dimension() -> None:
    result = _run(lambda request, body: 422 if b"\\u0000" in request.content else None)
    assert _failed(result) == {}
    assert [str(lim) for lim in result.limits if lim.what.startswith("U+0000")] == [
        'U+0000 in strings: refused "before\\u0000after" (422)'
    ]


def test_a_refused_ordinary_dimension_fails_and_is_named() -> None:
    result = _run(lambda request, body: 422 if _holds(body, "<script>") else None)
    failed = _failed(result)
    assert any(
        m.startswith("markup: an ordinary value, refused (422)")
        for m in failed["ROUNDTRIP-METADATA"]
    )
    assert "VALIDATION-ACCEPTS-VALID" in failed


def test_a_crash_on_one_dimension_is_narrowed_down_to_it() -> None:
    result = _run(lambda request, body: 500 if _holds(body, "\u202e") else None)
    failed = _failed(result)
    assert "bidirectional marks: the server crashed (500)" in failed["ROUNDTRIP-METADATA"]
    assert "ROBUST-NO-5XX" in failed


def test_a_refusal_that_stores_anyway_fails() -> None:
    """Accepted and then stored changed is a failure at any size; so is refused and stored."""

    class StoresThenRefuses(Refusing):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            answer = self.inner.handle_request(request)
            if request.method == "PATCH" and len(request.content) > 60_000:
                return httpx.Response(413, json={"detail": "too large"})  # after storing it
            return answer

    with Emulator() as emulator:
        result = run(
            embedded_target(emulator),
            resolve(GivenOptions(seed=1)),
            transport=StoresThenRefuses(emulator, lambda request, body: None),
        )
    failed = _failed(result)
    assert any("was refused (413) but" in m for m in failed["ROUNDTRIP-METADATA"])
    assert "ROBUST-EDGE-VALUES" in failed


def test_a_limit_below_the_ordinary_fails_and_is_still_measured() -> None:
    """A server that refuses bodies over 1 KiB refuses ordinary documents: a failure, named,
    and its limit found all the same (by bisection below the ordinary document)."""
    result = _run(lambda request, body: 413 if len(request.content) > 1024 else None)
    failed = _failed(result)
    assert result.exit_code == 1
    assert any(
        "a body of 3,8" in m or "refused with 413" in m for m in failed["VALIDATION-ACCEPTS-VALID"]
    )
    assert any(
        m.startswith("a document of nearly 4 KiB: an ordinary value, refused (413)")
        for m in failed["ROUNDTRIP-METADATA"]
    )
    (size,) = [lim for lim in result.limits if lim.what == "metadata size"]
    refused = int(size.refused.split()[3].replace(",", ""))
    accepted = int(size.accepted.split()[3].replace(",", ""))
    assert accepted <= 1024 < refused, size
