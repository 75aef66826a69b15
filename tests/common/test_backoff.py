"""Backoff: spaced out, capped, never in lockstep."""

from __future__ import annotations

import random

from webhooks.common.backoff import equal_jitter


def test_each_retry_waits_between_half_and_all_of_its_doubling_ceiling_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (500, 60.0)]:
        delays = [equal_jitter(attempt, base=1.0, cap=60.0, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays))
        assert len({round(d, 6) for d in delays}) > 150  # two clients rarely retry together
