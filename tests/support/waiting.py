"""Wait for something another thread does (an informer's watch, a server's loop), bounded."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(condition: Callable[[], object], within: float = 10.0, what: str = "") -> None:
    """Return once ``condition()`` is true; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g}s: {what or condition}")
        time.sleep(0.02)
