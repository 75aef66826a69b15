"""The one RFC 3339 parser and formatter every part of truthgate reads and writes times with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from webhooks.common.times import format_micro_time, format_time, parse_time, try_parse_time
from webhooks.errors import BadRequestError


def test_times_parse_with_z_offsets_and_fractions_and_reject_garbage() -> None:
    a = try_parse_time("2026-11-27T10:00:00Z")
    b = try_parse_time("2026-11-27T11:00:00.123456+01:00")
    assert a is not None and b is not None and abs((b - a).total_seconds()) < 1
    assert try_parse_time("yesterday") is None and try_parse_time(17) is None


def test_parsed_times_are_utc_whatever_offset_they_were_written_with() -> None:
    assert parse_time("2026-11-27T11:00:00+01:00") == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parse_time("2026-11-27T10:00:00z").utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "changeAt 'yesterday' is not an RFC 3339 time"),
        ("2026-11-27T10:00:00", "changeAt '2026-11-27T10:00:00' has no time zone"),
        (1764237600, "changeAt must be an RFC 3339 string, got int"),
    ],
)
def test_a_bad_time_is_an_error_naming_the_field(value: object, message: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_time(value, what="changeAt")
    assert str(caught.value) == message
    assert try_parse_time(value) is None


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 27, 10, 0, 3, tzinfo=UTC), "2026-11-27T10:00:03Z"),
        (datetime(2026, 11, 27, 10, 0, 3, 250_999, tzinfo=UTC), "2026-11-27T10:00:03.250Z"),
        (
            datetime(2026, 11, 27, 11, 0, 3, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-27T10:00:03Z",
        ),
        (datetime(2026, 11, 27, 10, 0, 3), "2026-11-27T10:00:03Z"),  # naive is taken as UTC
    ],
)
def test_times_are_written_in_utc_to_the_millisecond(moment: datetime, text: str) -> None:
    assert format_time(moment) == text


def test_a_written_time_reads_back_to_the_millisecond() -> None:
    moment = datetime(2026, 11, 27, 10, 0, 3, 250_999, tzinfo=UTC)
    assert parse_time(format_time(moment)) == moment.replace(microsecond=250_000)


def test_lease_times_are_kubernetes_micro_time_in_utc_and_read_back_exactly() -> None:
    moment = datetime(2026, 11, 27, 11, 0, 3, 250, tzinfo=timezone(timedelta(hours=1)))
    text = format_micro_time(moment)
    assert text == "2026-11-27T10:00:03.000250Z"  # six digits, as the API server demands
    assert parse_time(text) == moment
    assert format_micro_time(datetime(2026, 11, 27, 10, 0, 3)) == "2026-11-27T10:00:03.000000Z"
