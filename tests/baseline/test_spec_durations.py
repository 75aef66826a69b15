"""Durations as users write them in a TruthCheck: Prometheus' own spelling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from webhooks.common.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1y", timedelta(days=365)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("168h", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
        ("1s500ms", timedelta(seconds=1, milliseconds=500)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
    ],
)
def test_prometheus_durations_are_understood(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "10", "m", "10 m", "1.5h", "-5m", "30m1h", "1h1h", "10M", "1mo"]
)
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration: .* like 30s, 10m, 1h30m or 7d"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45, "45s"), (5400, "1h30m"), (86400, "1d"), (691200, "1w1d")]
)
def test_durations_print_the_way_users_write_them(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text
    assert parse_duration(text) == timedelta(seconds=seconds)
