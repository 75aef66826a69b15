"""Exponential backoff with "equal jitter", the one formula for retries.

The delay for the ``attempt``-th retry (1-based) is at least half of ``base * 2**(attempt-1)``
(capped at ``cap``) plus a random part up to the other half: retries stay spaced out, and many
clients failing together (hooks against one Prometheus, informers against one API server) do
not come back in lockstep.
"""

from __future__ import annotations

import random


def equal_jitter(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 30))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
