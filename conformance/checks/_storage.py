"""What storage layers and middleware do to a JSON document: a model, as data.

Each row is a *dimension* along which some real layer changes what it keeps - PostgreSQL
`json`/`jsonb`, MySQL `utf8mb3`, MongoDB, DynamoDB, Redis hashes, JavaScript numbers, ORMs,
HTML sanitizers and input filters, caches - with the values that show it. The round trip
(`ROUNDTRIP-METADATA`) sends every dimension on every profile, a group of dimensions per
document, each dimension as one top-level member under a plain key (lower-case letters and
digits: no key converter, trimmer or case folder touches it), so the member that came back
different names the dimension that broke.

A dimension's *latitude* says what the contract leaves open:
- `EXACT`: ordinary JSON; it must be accepted and come back exactly.
- `LIMIT`: it must come back exactly if accepted, but a server may refuse it cleanly (a
  documented 4xx, nothing stored): that is the target's limit, reported, not a failure.
- `DOUBLE`: a decimal with more digits than a double holds: the nearest double is what
  RFC 8259 (section 6) tells implementations to expect, so it is exact enough; a refusal is
  a limit; any other change is a failure.
- `INTEROP`: the rest of RFC 8259's interoperability latitude (integers beyond 2^53, the
  sign of -0, a lone surrogate): a change within that latitude is advisory, a refusal is
  a limit, and any other change is a failure.

`ordinary` says whether a whole document is one every conformant server must accept: the
seed's use cases, a few KiB. Anything larger may meet a server's limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "DIMENSIONS",
    "DOCUMENTS",
    "ORDINARY",
    "Dimension",
    "Document",
    "Latitude",
    "encode",
    "ordinary",
]


class Latitude(StrEnum):
    EXACT = "exact"
    LIMIT = "limit"
    DOUBLE = "double"  # the nearest double is what RFC 8259 tells every parser to expect
    INTEROP = "interop"


@dataclass(frozen=True)
class Dimension:
    """One way a layer changes a document, and the member that shows it."""

    key: str  # the member's key in its document: plain lower-case letters and digits
    name: str  # what it is, for a finding: "ASCII control characters"
    group: str  # the document it travels in
    layers: str  # who changes it, and how
    value: Any  # the member's value (what must come back)
    latitude: Latitude = Latitude.EXACT
    raw: str | None = None  # its JSON text, when json.dumps cannot write it (-0, 1e400...)
    # for a limit: the quantity it measures and how much of it this member holds, so that
    # the smallest refused and the largest accepted of one quantity are reported together
    quantity: tuple[str, str] | None = None
    spread: bool = False  # its value's members are the document's own top-level members

    @property
    def sent(self) -> Any:
        """The value as a JSON parser reads what is sent."""
        return json.loads(self.raw) if self.raw is not None else self.value


@dataclass(frozen=True)
class Document:
    """A group of dimensions sent as one metadata object."""

    group: str
    dimensions: tuple[Dimension, ...]
    latitude: Latitude = Latitude.EXACT  # the loosest of its members'

    @property
    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        for d in self.dimensions:
            metadata.update(d.value if d.spread else {d.key: d.sent})
        return metadata

    def body(self, keys: frozenset[str] | None = None) -> bytes:
        """The PATCH body, `{"metadata": {...}}`, with only `keys` if given."""
        chosen = [d for d in self.dimensions if keys is None or d.key in keys]
        return encode(chosen)

    def named(self, key: str) -> Dimension:
        return next(d for d in self.dimensions if d.key == key)


def encode(dimensions: list[Dimension] | tuple[Dimension, ...]) -> bytes:
    """`{"metadata": {key: value, ...}}` as UTF-8 JSON text, raw members spliced in as
    written."""
    members = []
    for d in dimensions:
        pairs = d.value.items() if d.spread else [(d.key, d.value)]
        for key, value in pairs:
            text = d.raw if d.raw is not None else json.dumps(value, ensure_ascii=False)
            members.append(f"{json.dumps(key)}: {text}")
    return ('{"metadata": {' + ", ".join(members) + "}}").encode("utf-8")


def _nested(depth: int) -> dict[str, Any]:
    """Objects `depth` levels deep; as a member of the metadata, one level more."""
    value: dict[str, Any] = {"leaf": "deep"}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


_E = Latitude.EXACT
_L = Latitude.LIMIT
_I = Latitude.INTEROP

# fmt: off
DIMENSIONS: tuple[Dimension, ...] = (
    # --- characters: what filters, sanitizers and encodings do to text -------------------
    Dimension("controls", "ASCII control characters", "characters",
              "input filters strip them; some loggers and XML layers refuse them",
              "a\x01b\x07c\x08d\x0be\x0cf\x1bg\x1fh\x7fi"),
    Dimension("cone", "C1 control characters", "characters",
              "Latin-1 round trips (MySQL latin1, Windows-1252 drivers) turn them into other text",
              "a\x80b\x85c\x9fd"),
    Dimension("escapes", "characters JSON must escape", "characters",
              "hand-built JSON and double encoding mangle quotes, backslashes and newlines",
              'quote " slash / backslash \\ newline \n return \r tab \t formfeed \f end'),
    Dimension("backslash", "backslashes", "characters",
              "layers that escape twice (a JSON string stored inside a JSON string) double them",
              "C:\\Users\\ada\\notes.txt and \\\\server\\share and \\u0041 as text"),
    Dimension("markup", "markup", "characters",
              "HTML sanitizers (xss-clean, bleach) escape or strip tags and entities",
              "<b>bold</b> <script>alert(1)</script> &amp; &lt;tag&gt; a < b > c"),
    Dimension("sql", "SQL metacharacters", "characters",
              "input filters and naive escaping drop or double quotes, dashes and semicolons",
              "O'Brien said \"hi\"; DROP TABLE conversations; -- 100% _wild_ `tick`"),
    Dimension("spaces", "leading and trailing whitespace", "characters",
              "ORMs and form layers trim strings",
              "  padded both sides  "),
    Dimension("whitespace", "whitespace kinds", "characters",
              "normalizers collapse runs, turn CRLF into LF, drop NBSP and separators",
              "two  spaces\tthen tab\r\nCRLF\nLF\u00a0nbsp\u2028line\u2029para\u3000ideographic"),
    Dimension("invisible", "zero-width characters and byte-order marks", "characters",
              "sanitizers strip 'invisible' characters",
              "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060wj"),
    Dimension("combining", "combining marks (NFD text)", "characters",
              "Unicode normalization (NFC, NFKC) in ORMs, search indexes and macOS file names",
              "cafe\u0301 \u1100\u1161\u11a8 n\u0303"),
    Dimension("compat", "compatibility characters", "characters",
              "NFKC normalization folds ligatures, full-width forms and superscripts",
              "\ufb01le \uff21\uff22 x\u00b2 \u2460"),
    Dimension("bidi", "bidirectional marks", "characters",
              "sanitizers strip direction marks and overrides",
              "\u200eltr\u200f rtl \u202eoverride\u202c \u2066isolate\u2069 "
              "\u0645\u0631\u062d\u0628\u0627"),
    Dimension("astral", "characters beyond the BMP", "characters",
              "MySQL utf8mb3 cuts the string at the first one, or stores '?'",
              "clef \U0001d11e grin \U0001f600 cjk \U00020000"),
    Dimension("emoji", "emoji sequences", "characters",
              "layers that split by code unit break joiners, selectors and skin tones",
              "\U0001f469\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f "
              "\U0001f44d\U0001f3fd \U0001f1eb\U0001f1f7"),
    Dimension("scripts", "letters of other scripts", "characters",
              "Latin-1 and ASCII-only columns replace them",
              "Zo\u00eb \u00c6gir \u043a\u043b\u044e\u0447 \u3053\u3093\u306b\u3061\u306f "
              "\ud55c\uad6d\uc5b4 \u05e2\u05d1\u05e8\u05d9\u05ea"),
    Dimension("specials", "noncharacters and the replacement character", "characters",
              "strict decoders replace or refuse U+FFFE, U+FFFF and U+FFFD",
              "\ufffd \ufffe \uffff \U0010ffff"),
    # --- strings that a layer may reinterpret ---------------------------------------------
    Dimension("numeric", "strings that look like numbers", "strings",
              "loose stores and ORMs coerce them: leading zeros, trailing zeros and exponents go",
              ["02139", "1.50", "1e3", "-0", "0x1F", "+1", "1_000", " 7 "]),
    Dimension("bigid", "long digit strings (ids)", "strings",
              "layers that parse digits as numbers round them past 2^53",
              ["12345678901234567890", "9007199254740993", "000000000000000001"]),
    Dimension("boolish", "strings that look like booleans", "strings",
              "form parsers and YAML-minded layers turn them into booleans",
              ["true", "false", "True", "FALSE", "yes", "no", "on", "off", "1", "0"]),
    Dimension("nullish", "strings that look like null", "strings",
              "layers that read 'null', 'None' or 'undefined' as missing",
              ["null", "None", "undefined", "NULL", "nil", "NaN", "Infinity"]),
    Dimension("empty", "empty and blank strings", "strings",
              "Oracle and some ORMs store '' as NULL; trimmers turn ' ' into ''",
              ["", " ", "\t"]),
    Dimension("dates", "strings that look like dates and timestamps", "strings",
              "JSON revivers and ORMs turn them into dates and write them back reformatted",
              ["2024-01-15", "2024-01-15T09:30:00Z", "2024-01-15T09:30:00+02:00",
               "2024-01-15T09:30:00.5Z", "01/15/2024", "1705311000", "09:30"]),
    Dimension("ids", "identifiers", "strings",
              "document stores turn 24-hex strings into ObjectIds; phone parsers reformat numbers",
              ["507f1f77bcf86cd799439011", "550e8400-e29b-41d4-a716-446655440000",
               "+14155550132", "conv_3f8a2c91d7e64b0a", "ORD-00042"]),
    Dimension("jsontext", "strings that hold JSON", "strings",
              "layers that decode twice turn them into objects, arrays or numbers",
              ['{"a": 1}', "[1, 2]", '"quoted"', "{}", "[]"]),
    Dimension("urls", "URLs, emails and encoded text", "strings",
              "sanitizers escape '&', decode percent-escapes or strip schemes",
              ["https://example.com/a?b=1&c=%20d#frag", "mailto:ada@example.com",
               "SGVsbG8gd29ybGQ=", "a+b%2Fc"]),
    # --- numbers at type boundaries ---------------------------------------------------------
    Dimension("int32", "integers around 32 bits", "numbers",
              "int columns overflow or refuse past 2^31 - 1; unsigned ones refuse negatives",
              [2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32, -1]),
    Dimension("int53", "integers around 2^53", "numbers",
              "the largest integers every JSON parser keeps exactly",
              [2**53 - 1, -(2**53) + 1, 2**53 - 2]),
    Dimension("decimals", "decimal fractions", "numbers",
              "float columns and single precision change the last digits",
              [0.1, 0.2, 0.30000000000000004, 1.0000000000000002, 123.456, 99.99]),
    Dimension("tiny", "very small and very large doubles", "numbers",
              "float columns lose subnormals and the largest doubles",
              [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e-7, 1e21]),
    Dimension("integral", "numbers written with a fraction or an exponent", "numbers",
              "decimal stores keep 1.0 as 1.0, others as 1: both are the same JSON number",
              [1.0, 100.0, -2.0, 1e3, 0.0]),
    Dimension("booleans", "true and false", "numbers",
              "MySQL's BOOLEAN is TINYINT(1): true and false come back as 1 and 0",
              [True, False, [True, False]]),
    Dimension("bigint", "integers beyond 2^53", "latitude",
              "JavaScript and every double-based parser round them (RFC 8259 section 6)",
              [2**53 + 1, 2**63, -(2**63) - 1, 2**64 + 1, 10**30], _I,
              quantity=("integers beyond 2^53", "2^53 + 1 to 10^30")),
    Dimension("precise", "decimals beyond a double's precision", "latitude",
              "double-based parsers round them; decimal stores keep every digit "
              "(RFC 8259 section 6)",
              None, Latitude.DOUBLE,
              raw="[0.1000000000000000055511151231257827, 3.14159265358979323846264338327950288]",
              quantity=("decimals beyond a double", "36 significant digits")),
    Dimension("negzero", "negative zero", "latitude",
              "JavaScript and most stores write -0 as 0 (RFC 8259 leaves it open)",
              None, _I, raw="[-0.0, 0.0]", quantity=("negative zero", "-0.0")),
    Dimension("surrogate", "lone surrogates", "surrogate",
              "not Unicode text: decoders refuse them or turn them into U+FFFD "
              "(RFC 8259 section 8.2)",
              None, _I, raw='"\\ud800 and \\udfff"',
              quantity=("lone surrogates in strings", '"\\ud800 and \\udfff"')),
    Dimension("nul", "U+0000 (NUL)", "nul",
              "PostgreSQL json/jsonb and C strings refuse or cut at it",
              "before\x00after", _L, quantity=("U+0000 in strings", '"before\\u0000after"')),
    # --- arrays -------------------------------------------------------------------------
    Dimension("order", "array order", "arrays",
              "set-typed stores (DynamoDB sets, Redis sets) and sorting layers reorder",
              [3, 1, 2, "b", "a", "c"]),
    Dimension("duplicates", "duplicate array items", "arrays",
              "set-typed stores drop them",
              ["a", "a", "b", 1, 1, None, None]),
    Dimension("mixed", "arrays of mixed types", "arrays",
              "typed columns and DynamoDB sets coerce every item to one type",
              [1, "1", True, None, 1.5, {"a": 1}, [1], ""]),
    Dimension("shapes", "empty, single and nested arrays", "arrays",
              "XML and PHP layers collapse single-item arrays and drop empty ones",
              {"empty": [], "single": ["only"], "nested": [[[]], [[1]]], "objects": [{}]}),
    Dimension("nullitems", "null array items", "arrays",
              "compacting layers drop them",
              [None, "x", None]),
    # --- objects --------------------------------------------------------------------------
    Dimension("nullmembers", "members whose value is null", "objects",
              "ORMs and 'omit null' serializers drop them",
              {"nothing": None, "inner": {"x": None}}),
    Dimension("emptyobjects", "empty objects", "objects",
              "layers that drop empty containers, or store {} as null",
              {"empty": {}, "inner": {"empty": {}}}),
    Dimension("casekeys", "keys that differ only in letter case", "objects",
              "case-insensitive collations (MySQL, SQL Server) make them one key",
              {"Key": 1, "key": 2, "KEY": 3}),
    Dimension("keystyles", "snake_case, camelCase and kebab-case keys", "objects",
              "key-case middleware (camelcase-keys, humps, alias generators) renames them",
              {"order_id": 1, "orderId": 2, "order-id": 3, "OrderID": 4, "_private": 5}),
    Dimension("dotkeys", "keys with '.', '$', '/' and spaces", "objects",
              "MongoDB and mongo-sanitize strip or expand them; path layers split them",
              {"a.b": 1, "$set": 2, "a/b": 3, "with space": 4, "a.b.c": {"d": 5}}),
    Dimension("oddkeys", "empty, padded and non-ASCII keys", "objects",
              "trimmers and ASCII-only layers drop or rewrite them",
              {"": "empty key", " padded ": 1, "\u043a\u043b\u044e\u0447": 2, "\U0001f389": 3,
               "e\u0301": 4}),
    Dimension("protokeys", "keys JavaScript objects treat specially", "objects",
              "JavaScript merges and Object.assign lose __proto__; some ORMs reserve id and type",
              {"__proto__": {"x": 1}, "constructor": 1, "toString": 2, "id": 3, "_id": 4,
               "type": 5}),
    Dimension("numkeys", "keys that are numbers", "objects",
              "PHP turns an object with keys 0, 1, 2 into a list",
              {"0": "a", "1": "b", "2": "c"}),
    Dimension("depth10", "nesting 10 levels deep", "objects",
              "document stores and ORMs flatten or cut deep objects", _nested(9)),
    Dimension("fourkib", "a document of nearly 4 KiB", "size",
              "stores and gateways with a body limit of 1 or 2 KiB refuse it",
              {f"s{i:02d}": "x" * 240 for i in range(15)}, spread=True),
    Dimension("members50", "an object of 50 members", "many",
              "key-value stores with a cap on members drop the rest",
              {f"m{i:02d}": i for i in range(50)}),
    # --- limits: past the ordinary, a clean refusal is the target's limit ------------------
    Dimension("depth33", "nesting 33 levels deep", "depth",
              "DynamoDB caps nesting at 32 levels", _nested(32), _L,
              quantity=("nesting depth", "33 levels")),
    Dimension("depth65", "nesting 65 levels deep", "depth",
              "parsers with a depth cap of 64", _nested(64), _L,
              quantity=("nesting depth", "65 levels")),
    Dimension("depth101", "nesting 101 levels deep", "depth",
              "MongoDB caps nesting at 100 levels", _nested(100), _L,
              quantity=("nesting depth", "101 levels")),
    Dimension("wide", "a metadata object of 100 members", "wide",
              "stores that cap the members of a document (a Redis hash, a column per key)",
              {f"w{i:03d}": f"v{i}" for i in range(100)}, _L,
              quantity=("members of the metadata object", "100 members"), spread=True),
    Dimension("members200", "an object of 200 members", "members",
              "member caps of 100 or 128", {f"m{i:03d}": i for i in range(200)}, _L,
              quantity=("members of one object", "200 members")),
    Dimension("members1100", "an object of 1,100 members", "members",
              "member caps of 1,000 or 1,024", {f"m{i:04d}": i for i in range(1100)}, _L,
              quantity=("members of one object", "1,100 members")),
    Dimension("str256", "a string of 256 characters", "strings256",
              "varchar(255) columns cut or refuse it", "s" * 255 + "t", _L,
              quantity=("string length", "256 characters")),
    Dimension("str4097", "a string of 4,097 characters", "strings4097",
              "4 KiB text columns cut or refuse it", "\u00e9" * 97 + "u" * 4000, _L,
              quantity=("string length", "4,097 characters")),
    Dimension("str65537", "a string of 65,537 characters", "strings65537",
              "MySQL TEXT (64 KiB) cuts or refuses it", "v" * 65_536 + "w", _L,
              quantity=("string length", "65,537 characters")),
)
# fmt: on


def _documents() -> tuple[Document, ...]:
    groups: dict[str, list[Dimension]] = {}
    for dimension in DIMENSIONS:
        groups.setdefault(dimension.group, []).append(dimension)
    documents = []
    for group, members in groups.items():
        loosest = max((d.latitude for d in members), key=list(Latitude).index)
        documents.append(Document(group, tuple(members), loosest))
    return tuple(documents)


DOCUMENTS = _documents()


@dataclass(frozen=True)
class Ordinary:
    """The bounds of an ordinary document (the seed's use cases: customer information,
    business context, session state). A server must accept every document within them;
    past any one of them, a clean refusal is the server's limit."""

    bytes: int = 4096  # the body as sent, UTF-8
    depth: int = 10  # levels of objects and arrays
    members: int = 50  # members of one object
    items: int = 200  # items of one array
    string: int = 255  # characters of one string or key


ORDINARY = Ordinary()


def _walk(value: Any, depth: int = 1) -> Iterator[tuple[Any, int]]:
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        yield item, level
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
            stack.extend((key, level + 1) for key in item)
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)


def ordinary(metadata: Any, size: int | None = None) -> str | None:
    """None if `metadata` is an ordinary document every server must accept; else what takes
    it past the ordinary ("a string of 2,000 characters"). `size`: the body's bytes, if known.
    Values that RFC 8259 leaves to each implementation (integers beyond 2^53, U+0000, lone
    surrogates) are never ordinary either."""
    if size is not None and size > ORDINARY.bytes:
        return f"a body of {size:,} bytes (ordinary: up to {ORDINARY.bytes:,})"
    for item, level in _walk(metadata):
        if isinstance(item, dict | list) and level > ORDINARY.depth:
            return f"nesting deeper than {ORDINARY.depth} levels"
        if isinstance(item, dict) and len(item) > ORDINARY.members:
            return f"an object of {len(item):,} members (ordinary: up to {ORDINARY.members})"
        if isinstance(item, list) and len(item) > ORDINARY.items:
            return f"an array of {len(item):,} items (ordinary: up to {ORDINARY.items})"
        if isinstance(item, str):
            if len(item) > ORDINARY.string:
                return f"a string of {len(item):,} characters (ordinary: up to {ORDINARY.string})"
            if "\x00" in item:
                return "U+0000 in a string"
            if any(0xD800 <= ord(c) <= 0xDFFF for c in item):
                return "a lone surrogate"
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53 - 1:
            return "an integer beyond 2^53 - 1"
    if size is None:
        encoded = json.dumps({"metadata": metadata}, ensure_ascii=False).encode("utf-8", "replace")
        if len(encoded) > ORDINARY.bytes:
            return f"a body of {len(encoded):,} bytes (ordinary: up to {ORDINARY.bytes:,})"
    return None


def member_map(documents: tuple[Document, ...] = DOCUMENTS) -> Mapping[str, Dimension]:
    """Every dimension by its key."""
    return {d.key: d for document in documents for d in document.dimensions}
