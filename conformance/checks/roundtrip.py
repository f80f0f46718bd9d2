"""The property at the heart of the endpoint: any JSON object written comes back exactly."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ._context import SUCCESS, Context, same_json
from ._drive import drive
from ._registry import needs_writes, scenario
from .semantics import _short, differing_fields
from .sources import DOCS, SEED

__all__ = ["metadata_objects"]

# Text a JSON document can carry and any reasonable store keeps: no NUL (PostgreSQL's jsonb
# refuses it), no lone surrogates (not Unicode scalar values).
_text_chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_keys = st.text(_text_chars, max_size=24) | st.sampled_from(
    ["a.b", "$set", "with space", "", "emoji 🎉", "ключ", "키", "a/b"]
)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)  # exact in every JSON parser
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_text_chars, max_size=60)
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A named function, not a lambda: hypothesis describes a lambda by parsing its source.
    return st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4)


_values = st.recursive(_leaves, _containers, max_leaves=16)
metadata_objects = st.dictionaries(_keys, _values, max_size=8)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "deep"}
    for level in range(depth, 0, -1):
        value = {f"level{level}": value}
    return value


# Always tried, whatever the seed: each is a way real stores and frameworks break. The
# storage-fidelity ones name the mangling they catch (README, the check table).
EXPLICIT_EXAMPLES: list[dict[str, Any]] = [
    {"customerName": "Ada Lovelace", "orderId": "ORD-1042", "tier": 2},
    _nested(10),
    {"name": "Zoë Ægir", "greeting": "こんにちは 🎉👩‍👩‍👧", "rtl": "مرحبا", "combining": "e\u0301"},
    {
        "long": "x" * 2000,
        "big": 2**53 - 1,
        "small": -(2**53) + 1,
        "huge": 1.7976931348623157e308,
        "many": list(range(200)),
    },
    {"a.b": 1, "$set": 2, "with space": 3, "": "empty key", "a/b": 4, "ключ": 5},
    {
        "true": True,
        "false": False,
        "null": None,
        "zero": 0,
        "one": 1,
        "half": 0.5,
        "list": [],
        "object": {},
    },
    # type coercion: strings that look like numbers or booleans stay strings; booleans stay
    # booleans
    {"zip": "02139", "amount": "1.50", "exp": "1e3", "int": "42", "flag": "true", "on": True},
    # Unicode: no normalization (NFD stays NFD, in values and keys), characters outside the
    # BMP, a byte-order mark
    {"e\u0301": "cafe\u0301", "clef": "𝄞", "faces": "🙂🙃", "bom": "\ufeffx"},
    # whitespace and letter case: kept as sent, in values and keys; keys differing by case
    {" padded key ": "  padded value  ", "tab": "\tx\n", "Key": 1, "key": 2, "KEY": 3},
    # numbers: every double survives, to the last bit
    {"tenth": 0.1, "sum": 0.30000000000000004, "next": 1.0000000000000002, "tiny": 5e-324},
    # a long string, whole
    {"long": "é" * 3000 + "y" * 7000},
    # null members and empty keys are members
    {"": "", "nothing": None, "nested": {"": None, "x": None}, "list": [None, None]},
]


@scenario(
    "ROUNDTRIP-METADATA",
    family="semantics",
    requirement="PATCH with any JSON object as metadata (nested, unicode, emoji, numbers, empty, "
    "keys with '.', '$', spaces) answers 200 with exactly that metadata, the path's id, every "
    "other field unchanged, and a later GET shows it: no string becomes a number, no "
    "boolean a number, no text is normalized, trimmed or cut, no double loses a bit, no "
    "null member or empty key is dropped, no two keys that differ in case become one.",
    source=f"{SEED}; {DOCS}",
)
@needs_writes
def round_trip(ctx: Context) -> None:
    cid = ctx.writable_id
    baseline = ctx.read(cid).json_body

    def one(metadata: dict[str, Any]) -> None:
        nonlocal baseline
        sent = ctx.patch(cid, {"metadata": metadata})
        if not ctx.expect_status(sent, SUCCESS, f"PATCH with metadata {_short(metadata, 80)}"):
            return
        answer = sent.json_body
        if not isinstance(answer, dict):
            ctx.fail(f"the {sent.status} answer is not a JSON object", sent)
            return
        if not same_json(answer.get("metadata"), metadata):
            ctx.fail(
                f"answered metadata {_short(answer.get('metadata'))}, sent {_short(metadata)}", sent
            )
        if answer.get("id") != cid:
            ctx.fail(f"answered for id {answer.get('id')!r}, not {cid!r}", sent)
        changed = differing_fields(baseline, answer)
        if changed:
            ctx.fail(f"the PATCH also changed {', '.join(changed)}", sent)
            baseline = answer  # report each drift once, not on every example
        read = ctx.get(cid)
        if read.status in SUCCESS and isinstance(read.json_body, dict):
            if not same_json(read.json_body.get("metadata"), metadata):
                ctx.fail(f"a later GET shows {_short(read.json_body.get('metadata'))}", read)
        else:
            ctx.expect_status(read, SUCCESS, "reading the metadata back")

    drive(ctx, metadata_objects, ctx.profile.roundtrip_examples, one, explicit=EXPLICIT_EXAMPLES)
