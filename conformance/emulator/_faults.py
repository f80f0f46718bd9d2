"""The fault catalogue: named, composable switches that make the emulator non-conformant.

Each fault is one flag the handler consults at the single place where that behaviour
lives; any set of faults can be switched on together. Each names the check IDs of the
conformance run that must trip on it, so the suite can prove its own teeth. The IDs are
plain strings here: the emulator imports nothing from the checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EDITIONS", "FAMILIES", "FAULTS", "Fault", "UnknownFaultError", "parse_faults"]

FAMILIES = (
    "auth",
    "security",
    "validation",
    "shape",
    "semantics",
    "storage",
    "robustness",
    "http",
    "webhook",
    "consistency",
)


EDITIONS = ("seed", "current")  # of the contract, as the emulator can serve it


@dataclass(frozen=True)
class Fault:
    name: str
    family: str
    description: str
    trips: tuple[str, ...]
    editions: tuple[str, ...] = EDITIONS  # the editions in which it changes anything
    # Scenario checks whose own requests show it to `trips` when those judge every answer
    # (SHAPE-*, ROBUST-NO-5XX, ...): a focused self-test run runs them too.
    shown_by: tuple[str, ...] = ()


FAULTS: dict[str, Fault] = {}


def _fault(
    name: str,
    family: str,
    description: str,
    *trips: str,
    editions: tuple[str, ...] = EDITIONS,
    shown_by: tuple[str, ...] = (),
) -> str:
    assert family in FAMILIES, family
    assert name not in FAULTS, name
    assert set(editions) <= set(EDITIONS), editions
    FAULTS[name] = Fault(name, family, description, trips, editions, shown_by)
    return name


class UnknownFaultError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown fault {name!r}: run `agentphone-conformance faults` to list the names"
        )
        self.name = name


def parse_faults(names: Iterable[str]) -> frozenset[str]:
    """Validate fault names (comma-separated lists allowed) into a set."""
    result: set[str] = set()
    for item in names:
        for name in filter(None, (part.strip() for part in item.split(","))):
            if name not in FAULTS:
                raise UnknownFaultError(name)
            result.add(name)
    return frozenset(result)


# --- auth ---------------------------------------------------------------------------------
AUTH_MISSING_KEY_ACCEPTED = _fault(
    "auth-missing-key-accepted",
    "auth",
    "a request with no Authorization header is served as the first account",
    "AUTH-MISSING-REJECTED",
)
AUTH_ANY_KEY_ACCEPTED = _fault(
    "auth-any-key-accepted",
    "auth",
    "any well-formed bearer token, known or not, is served as the first account",
    "AUTH-UNKNOWN-KEY-REJECTED",
)
AUTH_KEY_LOOSELY_MATCHED = _fault(
    "auth-key-loosely-matched",
    "auth",
    "keys are compared ignoring letter case and by prefix, so near-misses are accepted",
    "AUTH-UNKNOWN-KEY-REJECTED",
)
AUTH_SCHEME_IGNORED = _fault(
    "auth-scheme-ignored",
    "auth",
    "a valid key is accepted under any scheme (Token, Basic) or with no scheme at all",
    "AUTH-MALFORMED-REJECTED",
)
AUTH_CROSS_TENANT_READ = _fault(
    "auth-cross-tenant-read",
    "auth",
    "GET serves another account's conversation",
    "AUTH-CROSS-TENANT-READ",
)
AUTH_CROSS_TENANT_WRITE = _fault(
    "auth-cross-tenant-write",
    "auth",
    "PATCH changes another account's conversation",
    "AUTH-CROSS-TENANT-WRITE",
)
AUTH_CROSS_TENANT_WRITE_ELSEWHERE = _fault(
    "auth-cross-tenant-write-elsewhere",
    "auth",
    "PATCH of another account's conversation answers 404 but writes its metadata into that "
    "account's other conversations",
    "AUTH-CROSS-TENANT-WRITE",
)
AUTH_LIST_CROSS_TENANT = _fault(
    "auth-list-cross-tenant",
    "auth",
    "the list of conversations shows every account's conversations, not only the key's",
    "AUTH-CROSS-TENANT-READ",
)
AUTH_SCHEME_CASE_SENSITIVE = _fault(
    "auth-scheme-case-sensitive",
    "auth",
    "the Bearer scheme is matched letter for letter: 'bearer KEY' is refused with 401",
    "AUTH-SCHEME-ANY-CASE",
)
AUTH_REFUSED_STILL_WRITES = _fault(
    "auth-refused-still-writes",
    "auth",
    "a PATCH refused with 401 still applies its change",
    "AUTH-REFUSED-NO-STATE-CHANGE",
)
AUTH_ECHOES_CREDENTIAL = _fault(
    "auth-echoes-credential",
    "auth",
    "the 401 body repeats the presented credential",
    "AUTH-NO-CREDENTIAL-ECHO",
    shown_by=("AUTH-UNKNOWN-KEY-REJECTED",),
)
AUTH_NO_WWW_AUTHENTICATE = _fault(
    "auth-no-www-authenticate",
    "auth",
    "401 answers carry no WWW-Authenticate header",
    "AUTH-WWW-AUTHENTICATE",
    shown_by=("AUTH-MISSING-REJECTED",),
)

# --- security: the OWASP API Top 10 (2023) properties ------------------------------------
SECURITY_FOREIGN_DISTINGUISHABLE = _fault(
    "security-foreign-distinguishable",
    "security",
    "another account's conversation answers 403 (it belongs to another account) where an id "
    "that does not exist answers 404",
    "SECURITY-FOREIGN-LIKE-ABSENT",
)
SECURITY_LOOKUP_BEFORE_AUTH = _fault(
    "security-lookup-before-auth",
    "security",
    "an id that does not exist answers 404 before the key is checked (a refused key learns "
    "which ids exist)",
    "SECURITY-AUTH-FIRST",
)
SECURITY_VALIDATES_BEFORE_AUTH = _fault(
    "security-validates-before-auth",
    "security",
    "a PATCH with a refused key whose body fails validation answers 422 with the errors, not 401",
    "SECURITY-AUTH-FIRST",
)
SECURITY_MASS_ASSIGNMENT = _fault(
    "security-mass-assignment",
    "security",
    "PATCH also writes agentId and participant (either spelling) when the body carries them",
    "SECURITY-READ-ONLY-MEMBERS",
)
SECURITY_INTERNALS_LEAKED = _fault(
    "security-internals-leaked",
    "security",
    "404 answers carry a debug member with the SQL query and the handler's file and line",
    "SECURITY-NO-INTERNALS",
    shown_by=("NOTFOUND-UNKNOWN-ID",),
)

# --- validation ---------------------------------------------------------------------------
VALIDATION_WRONG_TYPE_ACCEPTED = _fault(
    "validation-wrong-type-accepted",
    "validation",
    "metadata of any JSON type (string, number, list, ...) is stored and answered 200",
    "VALIDATION-REJECTS-INVALID",
)
VALIDATION_400_NOT_422 = _fault(
    "validation-400-not-422",
    "validation",
    "invalid bodies answer 400 with a string detail instead of 422",
    "VALIDATION-REJECTS-INVALID",
)
VALIDATION_ERROR_SHAPE = _fault(
    "validation-error-shape",
    "validation",
    '422 bodies are {"error": ...} instead of FastAPI\'s {"detail": [{loc, msg, type}]}',
    "VALIDATION-ERROR-SHAPE",
    shown_by=("VALIDATION-REJECTS-INVALID",),
)
VALIDATION_500_ON_MALFORMED_JSON = _fault(
    "validation-500-on-malformed-json",
    "validation",
    "a body that is not valid JSON crashes the handler: 500",
    "VALIDATION-REJECTS-INVALID",
    "ROBUST-NO-5XX",
)
VALIDATION_INVALID_STILL_WRITES = _fault(
    "validation-invalid-still-writes",
    "validation",
    "a PATCH rejected with 422 for its metadata type clears the stored metadata anyway",
    "VALIDATION-NO-STATE-CHANGE",
)
VALIDATION_REJECTS_VALID = _fault(
    "validation-rejects-valid",
    "validation",
    "metadata keys containing '.' or '$' are refused with 422, as a document store would",
    "VALIDATION-ACCEPTS-VALID",
    shown_by=("ROUNDTRIP-METADATA",),
)
VALIDATION_CHARSET_REFUSED = _fault(
    "validation-charset-refused",
    "validation",
    "a PATCH labelled application/json with a parameter (charset=utf-8) is refused with 415",
    "VALIDATION-ACCEPTS-VALID",
    shown_by=("ROUNDTRIP-METADATA",),
)
VALIDATION_JSON_STRING_METADATA = _fault(
    "validation-json-string-metadata",
    "validation",
    "metadata given as a string holding JSON ('{\"a\": 1}', 'null') is decoded and stored",
    "VALIDATION-REJECTS-INVALID",
)
VALIDATION_QUERY_UNCHECKED = _fault(
    "validation-query-unchecked",
    "validation",
    "GET accepts any message_limit (0, -5, 1000, 'abc') instead of answering 422",
    "VALIDATION-REJECTS-INVALID",
)
VALIDATION_GROUP_NAME_UNCHECKED = _fault(
    "validation-group-name-unchecked",
    "validation",
    "group_name of any JSON type is accepted (200) and, on a group, stored as its text",
    "VALIDATION-GROUP-NAME",
    editions=("current",),
)

# --- response shape -----------------------------------------------------------------------
SHAPE_MISSING_REQUIRED_FIELD = _fault(
    "shape-missing-required-field",
    "shape",
    "conversations are answered without the required messageCount",
    "SHAPE-SCHEMA",
)
SHAPE_WRONG_TYPE = _fault(
    "shape-wrong-type",
    "shape",
    "messageCount is answered as a string",
    "SHAPE-SCHEMA",
)
SHAPE_NULLABLE_MISHANDLED = _fault(
    "shape-nullable-mishandled",
    "shape",
    'null metadata is answered as the string "None"',
    "SHAPE-SCHEMA",
)
SHAPE_REACTIONS_NULL = _fault(
    "shape-reactions-null",
    "shape",
    "messages without reactions answer reactions: null instead of []",
    "SHAPE-SCHEMA",
)
SHAPE_NAIVE_TIMESTAMPS = _fault(
    "shape-naive-timestamps",
    "shape",
    "timestamps are answered without a UTC offset (2024-01-15T09:30:00)",
    "SHAPE-SCHEMA",
)
SHAPE_WRONG_CONTENT_TYPE = _fault(
    "shape-wrong-content-type",
    "shape",
    "JSON answers are labelled text/plain",
    "SHAPE-CONTENT-TYPE",
)
SHAPE_UNDOCUMENTED_STATUS = _fault(
    "shape-undocumented-status",
    "shape",
    "a successful PATCH answers 202 instead of 200",
    "SHAPE-STATUS-DOCUMENTED",
)

# --- semantics ----------------------------------------------------------------------------
SEMANTICS_MERGE = _fault(
    "semantics-merge-not-replace",
    "semantics",
    "PATCH merges the new metadata into the old instead of replacing it",
    "META-REPLACE",
)
SEMANTICS_NULL_IGNORED = _fault(
    "semantics-null-ignored",
    "semantics",
    "metadata: null leaves the stored metadata in place",
    "META-NULL-CLEARS",
)
SEMANTICS_OMITTED_CLEARS = _fault(
    "semantics-omitted-clears",
    "semantics",
    "a body without metadata clears the stored metadata",
    "META-OMITTED-UNTOUCHED",
)
SEMANTICS_EMPTY_BECOMES_NULL = _fault(
    "semantics-empty-becomes-null",
    "semantics",
    "metadata: {} is stored and answered as null",
    "META-EMPTY-OBJECT",
)
SEMANTICS_NOT_PERSISTED = _fault(
    "semantics-not-persisted",
    "semantics",
    "PATCH answers the new metadata but a later GET still shows the old",
    "META-PERSISTED",
)
SEMANTICS_UNRELATED_FIELD_CHANGED = _fault(
    "semantics-unrelated-field-changed",
    "semantics",
    "every PATCH also moves lastMessageAt to the current time",
    "META-OTHER-FIELDS-UNCHANGED",
    "META-IDEMPOTENT",
)
SEMANTICS_UNKNOWN_ID_UPSERTED = _fault(
    "semantics-unknown-id-upserted",
    "semantics",
    "PATCH of an unknown id creates that conversation and answers 200",
    "NOTFOUND-UNKNOWN-ID",
)
SEMANTICS_WRONG_CONVERSATION = _fault(
    "semantics-wrong-conversation",
    "semantics",
    "PATCH answers with another conversation than the one in the path",
    "META-ANSWER-IDENTITY",
)
SEMANTICS_FIRST_PATCH_RESETS_AGENT = _fault(
    "semantics-first-patch-resets-agent",
    "semantics",
    "the first PATCH of a conversation also sets its agentId to null (later ones change nothing)",
    "META-OTHER-FIELDS-UNCHANGED",
)
SEMANTICS_FIRST_PATCH_MOVES_CREATED = _fault(
    "semantics-first-patch-moves-created-at",
    "semantics",
    "the first PATCH of a conversation also moves its createdAt to the current time",
    "META-OTHER-FIELDS-UNCHANGED",
)
SEMANTICS_FIRST_PATCH_EMPTIES_MESSAGES = _fault(
    "semantics-first-patch-empties-messages",
    "semantics",
    "the first PATCH of a conversation also deletes its messages",
    "META-OTHER-FIELDS-UNCHANGED",
)
SEMANTICS_ANSWER_WITHOUT_MESSAGES = _fault(
    "semantics-answer-without-messages",
    "semantics",
    "PATCH answers the conversation with an empty messages list (the stored ones are intact)",
    "META-ANSWER-COMPLETE",
)
SEMANTICS_ANSWER_TRUNCATED = _fault(
    "semantics-answer-truncated",
    "semantics",
    "PATCH answers only the latest message of the conversation",
    "META-ANSWER-COMPLETE",
)
SEMANTICS_WRITES_NEIGHBOURS = _fault(
    "semantics-writes-neighbours",
    "semantics",
    "PATCH with an object as metadata also writes it into every other conversation of the account",
    "META-OTHERS-UNTOUCHED",
)
SEMANTICS_NESTED_MERGE = _fault(
    "semantics-nested-merge",
    "semantics",
    "PATCH replaces the top-level keys but merges nested objects and joins arrays under a key "
    "both documents have",
    "META-REPLACE",
)
SEMANTICS_OLDEST_MESSAGES = _fault(
    "semantics-oldest-messages",
    "semantics",
    "message_limit keeps the oldest messages of the conversation instead of the most recent",
    "META-RECENT-MESSAGES",
)
SEMANTICS_COUNT_LIMITED = _fault(
    "semantics-count-limited",
    "semantics",
    "messageCount counts the messages answered (at most message_limit), not the conversation's",
    "META-RECENT-MESSAGES",
)
SEMANTICS_LIST_OFFSET_IGNORED = _fault(
    "semantics-list-offset-ignored",
    "semantics",
    "the list of conversations ignores offset: every page starts at the first conversation",
    "LIST-PAGES",
)
SEMANTICS_GROUP_NAME_ANYWHERE = _fault(
    "semantics-group-name-anywhere",
    "semantics",
    "group_name names any conversation, group or not (a one-to-one conversation gets a groupName)",
    "VALIDATION-GROUP-NAME",
    editions=("current",),
)
SEMANTICS_LIST_NULL_AS_EMPTY = _fault(
    "semantics-list-null-as-empty",
    "semantics",
    "the list shows {} for a conversation whose metadata is null",
    "LIST-SHOWS-METADATA",
)
SEMANTICS_IDS_CASE_INSENSITIVE = _fault(
    "semantics-ids-case-insensitive",
    "semantics",
    "ids are matched ignoring letter case and trailing spaces, as a case-insensitive "
    "collation does (CONV_X finds conv_x)",
    "NOTFOUND-UNKNOWN-ID",
)
SEMANTICS_LAST_MESSAGE_AT_STALE = _fault(
    "semantics-last-message-at-stale",
    "semantics",
    "lastMessageAt stays at the conversation's creation, whatever messages arrive",
    "META-RECENT-MESSAGES",
)
SEMANTICS_LIST_STALE = _fault(
    "semantics-list-stale",
    "semantics",
    "the list of conversations shows each one's metadata as it was before its last PATCH",
    "LIST-SHOWS-METADATA",
)

# --- storage: how a JSON store mangles what it keeps --------------------------------------
STORAGE_NUMERIC_STRINGS = _fault(
    "storage-numeric-strings-coerced",
    "storage",
    'strings that look like numbers ("02139", "1.50") are stored as numbers',
    "ROUNDTRIP-METADATA",
)
STORAGE_BOOLEANS_AS_NUMBERS = _fault(
    "storage-booleans-as-numbers",
    "storage",
    "true and false are stored as 1 and 0",
    "ROUNDTRIP-METADATA",
)
STORAGE_UNICODE_NORMALIZED = _fault(
    "storage-unicode-normalized",
    "storage",
    "strings and keys are stored NFC-normalized (e + combining accent becomes é)",
    "ROUNDTRIP-METADATA",
)
STORAGE_STRINGS_TRIMMED = _fault(
    "storage-strings-trimmed",
    "storage",
    "leading and trailing whitespace is trimmed from strings and keys",
    "ROUNDTRIP-METADATA",
)
STORAGE_KEYS_CASE_INSENSITIVE = _fault(
    "storage-keys-case-insensitive",
    "storage",
    "keys that differ only in letter case are one key: the last one wins",
    "ROUNDTRIP-METADATA",
)
STORAGE_SINGLE_PRECISION = _fault(
    "storage-floats-single-precision",
    "storage",
    "numbers with a fraction are stored as 32-bit floats",
    "ROUNDTRIP-METADATA",
)
STORAGE_LONG_STRINGS_TRUNCATED = _fault(
    "storage-long-strings-truncated",
    "storage",
    "strings longer than 4,096 characters are cut to 4,096",
    "ROUNDTRIP-METADATA",
)
STORAGE_NULL_MEMBERS_DROPPED = _fault(
    "storage-null-members-dropped",
    "storage",
    "object members whose value is null are dropped",
    "ROUNDTRIP-METADATA",
)
STORAGE_EMPTY_KEYS_DROPPED = _fault(
    "storage-empty-keys-dropped",
    "storage",
    'members whose key is the empty string "" are dropped',
    "ROUNDTRIP-METADATA",
)

STORAGE_MARKUP_ESCAPED = _fault(
    "storage-markup-escaped",
    "storage",
    "strings are stored HTML-escaped (<, > and & become &lt;, &gt; and &amp;), as xss-clean does",
    "ROUNDTRIP-METADATA",
)
STORAGE_DATES_REFORMATTED = _fault(
    "storage-dates-reformatted",
    "storage",
    "strings that look like timestamps are read as dates and written back with milliseconds in "
    "UTC (2024-01-15T09:30:00.000Z), as a JSON reviver does",
    "ROUNDTRIP-METADATA",
)
STORAGE_KEYS_CAMELIZED = _fault(
    "storage-keys-camelized",
    "storage",
    "snake_case keys are stored camelCased (order_id becomes orderId), as key-case middleware does",
    "ROUNDTRIP-METADATA",
)
STORAGE_JSON_STRINGS_PARSED = _fault(
    "storage-json-strings-parsed",
    "storage",
    "strings that hold a JSON object or array are stored as the object or array",
    "ROUNDTRIP-METADATA",
)
STORAGE_CONTROLS_STRIPPED = _fault(
    "storage-controls-stripped",
    "storage",
    "ASCII control characters other than tab, line feed and carriage return are removed",
    "ROUNDTRIP-METADATA",
)
STORAGE_MEMBERS_CAPPED = _fault(
    "storage-members-capped",
    "storage",
    "objects keep their first 40 members; the rest are dropped without a word",
    "ROUNDTRIP-METADATA",
)
STORAGE_ARRAYS_DEDUPLICATED = _fault(
    "storage-arrays-deduplicated",
    "storage",
    "arrays are stored as sets: a repeated item is kept once",
    "ROUNDTRIP-METADATA",
)
STORAGE_EMPTY_STRINGS_NULL = _fault(
    "storage-empty-strings-null",
    "storage",
    "empty strings are stored as null, as Oracle does",
    "ROUNDTRIP-METADATA",
)
STORAGE_TOP_LEVEL_CAPPED = _fault(
    "storage-top-level-capped",
    "storage",
    "the metadata object keeps its first 64 members; the rest are dropped without a word",
    "ROUNDTRIP-METADATA",
)
STORAGE_ASTRAL_REPLACED = _fault(
    "storage-astral-replaced",
    "storage",
    "characters beyond the Basic Multilingual Plane (emoji, 𝄞) are stored as '?', as MySQL's "
    "utf8mb3 does",
    "ROUNDTRIP-METADATA",
)

# --- robustness ---------------------------------------------------------------------------
ROBUST_DEEP_NESTING = _fault(
    "robust-500-deep-nesting",
    "robustness",
    "metadata nested more than 4 levels deep crashes the handler: 500",
    "ROBUST-NO-5XX",
    shown_by=("ROUNDTRIP-METADATA",),
)
ROBUST_UNICODE = _fault(
    "robust-500-unicode",
    "robustness",
    "metadata with characters outside ASCII crashes the handler: 500",
    "ROBUST-NO-5XX",
    shown_by=("ROUNDTRIP-METADATA",),
)
ROBUST_LARGE_VALUES = _fault(
    "robust-500-large-values",
    "robustness",
    "metadata strings over 200 characters or integers beyond 32 bits crash the handler: 500",
    "ROBUST-NO-5XX",
    shown_by=("ROUNDTRIP-METADATA",),
)
ROBUST_UNUSUAL_KEYS = _fault(
    "robust-500-unusual-keys",
    "robustness",
    "metadata keys containing '.', '$' or spaces, or empty keys, crash the handler: 500",
    "ROBUST-NO-5XX",
    shown_by=("ROUNDTRIP-METADATA",),
)
ROBUST_500_HUGE_INTEGERS = _fault(
    "robust-500-huge-integers",
    "robustness",
    "metadata with integers beyond 64 bits crashes the handler: 500",
    "ROBUST-EDGE-VALUES",
    "ROBUST-NO-5XX",
)
ROBUST_ID_INJECTION = _fault(
    "robust-id-injection",
    "robustness",
    "an id with a quote breaks the lookup's SQL: 500, with the statement in the body",
    "NOTFOUND-UNKNOWN-ID",
    "ROBUST-NO-5XX",
    "SECURITY-NO-INTERNALS",
)
ROBUST_REFUSED_STILL_WRITES = _fault(
    "robust-refused-still-writes",
    "robustness",
    "a PATCH body over 64 KiB is refused with 413 but its metadata is stored anyway",
    "ROBUST-EDGE-VALUES",
)
ROBUST_EDGE_VALUES_MANGLED = _fault(
    "robust-edge-values-mangled",
    "robustness",
    "integers beyond 2^53 come back rounded to the nearest double, and -0.0 comes back as 0",
    "ROUNDTRIP-EDGE-VALUES",
)
ROBUST_HUGE_NOT_FOUND = _fault(
    "robust-huge-not-found",
    "robustness",
    "a GET of an unknown conversation answers 404 with a 9 MiB debug dump in its body",
    "ROBUST-ANSWER-SIZE",
    shown_by=("NOTFOUND-UNKNOWN-ID",),
)
ROBUST_SLOW = _fault(
    "robust-slow",
    "robustness",
    "every 25th PATCH (the first included) takes 1.2 s to answer",
    "ROBUST-RESPONSE-TIME",
)

# --- generic HTTP hygiene -----------------------------------------------------------------
HTTP_405_WITHOUT_ALLOW = _fault(
    "http-405-without-allow",
    "http",
    "405 answers carry no Allow header",
    "HTTP-ALLOW-ON-405",
    shown_by=("HTTP-UNSUPPORTED-METHOD",),
)
HTTP_UNSUPPORTED_METHOD_500 = _fault(
    "http-unsupported-method-500",
    "http",
    "PUT, POST and DELETE on a conversation crash the handler: 500",
    "HTTP-UNSUPPORTED-METHOD",
    "ROBUST-NO-5XX",
)

HTTP_ETAG_STALE = _fault(
    "http-etag-stale",
    "http",
    "conversations carry an ETag made of lastMessageAt alone, so a conditional GET after a "
    "PATCH of metadata is answered 304 Not Modified",
    "HTTP-VALIDATORS-CHANGE",
)

# --- consistency: what requests sent at the same time see ------------------------------
CONSISTENCY_TORN_WRITE = _fault(
    "consistency-torn-write",
    "consistency",
    "a PATCH stores the new metadata one member at a time and lets other requests in "
    "between: a GET at the same time sees part of the old document or part of the new one",
    "CONSISTENCY-ATOMIC-REPLACE",
    "CONSISTENCY-LINEARIZABLE",
)
CONSISTENCY_STALE_REPLICA = _fault(
    "consistency-stale-replica",
    "consistency",
    "a GET on a connection that never wrote is served by a replica 150 ms behind: a client "
    "that reads on another connection than it wrote on does not see its own write",
    "CONSISTENCY-READ-YOUR-WRITES",
    "CONSISTENCY-LINEARIZABLE",
)
CONSISTENCY_FLAPPING_REPLICAS = _fault(
    "consistency-flapping-replicas",
    "consistency",
    "GETs on a connection that never wrote alternate between the primary and a replica "
    "150 ms behind: a reader sees a write, then no longer sees it (nor sees a write that "
    "has answered)",
    "CONSISTENCY-MONOTONIC-READS",
    "CONSISTENCY-READ-YOUR-WRITES",
    "CONSISTENCY-LINEARIZABLE",
)
CONSISTENCY_WORKER_CACHES = _fault(
    "consistency-worker-caches",
    "consistency",
    "two workers behind a balancer that keeps each connection on one of them, each caching "
    "the conversations it read and forgetting only what it wrote itself: a GET on another "
    "connection than the PATCH's may show the document from before it, for good",
    "CONSISTENCY-READ-YOUR-WRITES",
    "CONSISTENCY-LINEARIZABLE",
)

# --- webhooks: what a message's arrival POSTs to the account's registered URL -------------
WEBHOOK_STATE_STALE = _fault(
    "webhook-state-stale",
    "webhook",
    "a delivery's conversationState is the metadata as it was before the conversation's last PATCH",
    "WEBHOOK-STATE-AFTER-PATCH",
)
WEBHOOK_STATE_ABSENT = _fault(
    "webhook-state-absent",
    "webhook",
    "agent.message payloads carry no conversationState member at all (read as null: only "
    "a conversation with metadata shows it)",
    "WEBHOOK-STATE-AFTER-PATCH",
)
WEBHOOK_TIMESTAMP_NOT_DATETIME = _fault(
    "webhook-timestamp-not-datetime",
    "webhook",
    "agent.message payloads carry their timestamp as unix seconds (a number), not the "
    "documented date-time string",
    "WEBHOOK-PAYLOAD-SHAPE",
)
WEBHOOK_STATE_OTHER_CONVERSATION = _fault(
    "webhook-state-other-conversation",
    "webhook",
    "a delivery's conversationState is the metadata of another conversation of the account",
    "WEBHOOK-STATE-AFTER-PATCH",
)
WEBHOOK_SIGNATURE_WRONG_BYTES = _fault(
    "webhook-signature-wrong-bytes",
    "webhook",
    "the signature covers the payload re-serialized with spaces, not the compact body sent",
    "WEBHOOK-SIGNED",
)
WEBHOOK_SIGNATURE_WRONG_SECRET = _fault(
    "webhook-signature-wrong-secret",
    "webhook",
    "deliveries are signed with the secret before the last registration (or a fixed wrong "
    "one when there was none)",
    "WEBHOOK-SIGNED",
)
WEBHOOK_ID_REUSED = _fault(
    "webhook-id-reused",
    "webhook",
    "every delivery carries the same X-Webhook-ID",
    "WEBHOOK-ID-UNIQUE",
)
WEBHOOK_DELIVERS_OTHER_ACCOUNT = _fault(
    "webhook-delivers-other-account",
    "webhook",
    "a message arriving on one account's conversation is also delivered to every other "
    "account's webhook",
    "WEBHOOK-ACCOUNT-ISOLATION",
)
