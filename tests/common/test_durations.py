"""The one duration formatter: exact for specs, cut to its largest units for messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from webhooks.common.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.012, "12ms"), (1.5, "1s500ms"), (5400, "1h30m"), (604800, "1w"), (-3, "0s")],
)
def test_written_durations_read_back_the_same(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == timedelta(seconds=max(seconds, 0))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (45, "45s"),
        (90, "1m30s"),
        (1800, "30m"),
        (5412, "1h30m"),
        (90061, "1d1h"),
        (604800, "7d"),
        (10820, "3h"),  # 3h0m20s: the minutes are the second unit, not the seconds
        (86400 + 59, "1d"),
        (3600 + 59.9, "1h"),
        (61.5, "1m1s"),
        (0.00005, "<1ms"),
    ],
)
def test_messages_keep_the_two_largest_units(seconds: float, text: str) -> None:
    assert format_duration(seconds, largest=2) == text
