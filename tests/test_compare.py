"""Answers compared as the contract means them: instants as instants, numbers as numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from conformance.core import instant, same_documented, same_instant, same_json, same_member
from conformance.core._json import same_number


def test_one_instant_in_every_spelling_is_the_same() -> None:
    spellings = [
        "2024-01-15T09:30:00Z",
        "2024-01-15T09:30:00z",
        "2024-01-15T09:30:00+00:00",
        "2024-01-15T09:30:00.000Z",
        "2024-01-15T09:30:00.000000+00:00",
        "2024-01-15T11:30:00+02:00",
        "2024-01-15T04:00:00-05:30",
        "2024-01-15 09:30:00Z",
    ]
    for spelling in spellings:
        assert same_instant(spellings[0], spelling), spelling


def test_different_instants_and_timestamps_without_an_offset_differ() -> None:
    assert not same_instant("2024-01-15T09:30:00Z", "2024-01-15T09:30:01Z")
    assert not same_instant("2024-01-15T09:30:00Z", "2024-01-15T09:30:00+01:00")
    assert not same_instant("2024-01-15T09:30:00Z", "2024-01-15T09:30:00")  # no offset: not one
    assert not same_instant("2024-01-15T09:30:00Z", "yesterday")
    assert instant("2024-13-01T00:00:00Z") is None


def test_a_coarser_spelling_is_the_same_instant_rounded_or_cut() -> None:
    assert same_instant("2024-01-15T09:30:00.123456Z", "2024-01-15T09:30:00.123Z")  # cut
    assert same_instant("2024-01-15T09:30:00.1236Z", "2024-01-15T09:30:00.124Z")  # rounded
    assert same_instant("2024-01-15T09:30:00.123456789Z", "2024-01-15T09:30:00.123456Z")
    assert not same_instant("2024-01-15T09:30:00.123Z", "2024-01-15T09:30:00.125Z")


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
    st.integers(min_value=0, max_value=6),
)
def test_an_instant_written_at_any_offset_and_precision_is_itself(
    moment: datetime, offset_minutes: int, digits: int
) -> None:
    moment = moment.replace(
        microsecond=moment.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits)
    )
    zone = timezone(timedelta(minutes=offset_minutes))
    shifted = moment.astimezone(zone).isoformat(timespec="microseconds")
    utc = (
        moment.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "")
        + "Z"
    )
    assert same_instant(utc, shifted)
    later = (moment + timedelta(seconds=1)).isoformat(timespec="microseconds")
    assert not same_instant(utc, later)


def test_conversations_compare_their_timestamps_as_instants_but_never_their_metadata() -> None:
    a = {
        "createdAt": "2024-01-15T09:30:00Z",
        "messages": [{"id": "m", "receivedAt": "2024-01-15T09:30:00Z", "reactions": []}],
        "metadata": {"when": "2024-01-15T09:30:00Z"},
    }
    b = {
        "createdAt": "2024-01-15T09:30:00.000+00:00",
        "messages": [{"id": "m", "receivedAt": "2024-01-15T10:30:00+01:00", "reactions": []}],
        "metadata": {"when": "2024-01-15T09:30:00Z"},
    }
    assert same_documented(a, b, "Conversation")
    assert same_member("createdAt", a["createdAt"], b["createdAt"])
    b["metadata"] = {"when": "2024-01-15T09:30:00.000Z"}  # the customer's string: exact
    assert not same_documented(a, b, "Conversation")
    assert not same_member("metadata", a["metadata"], b["metadata"])
    b["metadata"], b["createdAt"] = a["metadata"], "2024-01-15T09:30:01Z"
    assert not same_documented(a, b, "Conversation")


def test_numbers_compare_as_the_numbers_their_texts_write() -> None:
    assert same_number(1, 1.0)
    assert same_number(61626137707699210, 6.162613770769921e16)  # JavaScript writes digits
    assert same_number(61626137707699208, 6.162613770769921e16)  # the double's exact value
    assert same_number(17976931348623157 * 10**292, 1.7976931348623157e308)
    assert not same_number(2**53 + 1, float(2**53 + 1))  # rounded to 2^53: a different number
    assert not same_number(1, 1.5)
    assert same_json({"n": [1, 2.0]}, {"n": [1.0, 2]})
    assert not same_json(True, 1)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_double_and_the_integer_its_shortest_text_writes_are_one_number(value: float) -> None:
    written = Decimal(repr(value))
    if written == written.to_integral_value():
        assert same_number(int(written), value)
