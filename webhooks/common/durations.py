"""Durations: the one parser and the one formatter.

Users write durations the way Prometheus (and the TruthCheck CRD) spells them: ``30s``, ``10m``,
``1h30m``, ``7d``, ``500ms``, units largest first, each at most once. ``parse_duration`` reads
that everywhere (TruthCheck fields, ``verify`` windows, ``intents --since``); ``format_duration``
writes it back, whole or cut to its largest units for a message (``1h30m``, ``45s``, ``12ms``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from webhooks.errors import BadRequestError

_UNIT_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
# The units in the only order Prometheus accepts them, each at most once ("1h30m", not "30m1h").
_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)
_FORMAT_UNITS = (("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000),
                 ("s", 1000), ("ms", 1))  # fmt: skip


def parse_duration(text: str) -> timedelta:
    """Parse ``30s``, ``10m``, ``2h``, ``1d``, ``1w``, ``1y``, ``1h30m``, ``500ms`` (and ``0``).

    Raises ValueError with a message fit for the user (the caller adds which field it was).
    """
    if text == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(
            f"{text!r} is not a duration: use a number with a unit (ms, s, m, h, d, w, y), "
            "largest unit first, like 30s, 10m, 1h30m or 7d"
        )
    parts = match.groupdict()
    seconds = sum(int(v) * _UNIT_SECONDS[u] for u, v in parts.items() if v and u != "ms")
    millis = int(match.group("ms") or 0)
    return timedelta(seconds=seconds, milliseconds=millis)


def duration_field(value: object, path: str) -> timedelta:
    """A spec field holding a duration; BadRequestError names the field when it is not one."""
    if not isinstance(value, str):
        raise BadRequestError(f"{path}: must be a duration string like 10m (quote it in YAML)")
    try:
        return parse_duration(value)
    except ValueError as e:
        raise BadRequestError(f"{path}: {e}") from e


def format_duration(value: timedelta | float, *, largest: int | None = None) -> str:
    """A duration (a timedelta, or seconds) as users write it: ``5400s`` → ``1h30m``.

    Exact to the millisecond, so the text parses back to the same duration; ``largest=2`` keeps
    only the two largest units for a message (``1h30m12s`` → ``1h30m``, and ``3h0m20s`` → ``3h``:
    the units next to the largest, not the next non-zero ones, so no ``3h20s`` to misread),
    counting in days as users write history offsets (``7d``, not ``1w``). Negative is zero; a
    positive duration under half a millisecond (a timing) is ``<1ms``, not zero.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    left = max(round(seconds * 1000), 0)
    if left == 0:
        return "<1ms" if seconds > 0 else "0s"
    units: tuple[tuple[str, int], ...] = _FORMAT_UNITS if largest is None else _FORMAT_UNITS[1:]
    if largest is not None:
        first = next(i for i, (_, size) in enumerate(units) if left >= size)
        units = units[first : first + largest]
        left -= left % units[-1][1]  # what the kept units cannot show is dropped: 3h59m → 3h
    out: list[str] = []
    for unit, size in units:
        if left >= size:
            out.append(f"{left // size}{unit}")
            left %= size
    return "".join(out)
