"""RFC 3339 times: the one parser and the one formatter.

Every time truthgate writes (intent records, Evidence, TruthCheck status, finding messages) comes
from ``format_time``: UTC, a ``Z`` suffix, millisecond precision, the fraction left out when it is
zero (``2026-11-27T10:00:03Z``, ``2026-11-27T10:00:03.250Z``). ``unix_seconds`` gives the same
instant as whole seconds, for readers that cannot parse text (Argo CD's Lua sandbox has no
string library). Every time it reads goes through
``parse_time`` (a clear error) or ``try_parse_time`` (None), which accept what the API server,
Argo CD and Prometheus write: ``Z`` or an offset, any fraction. A time without a zone is not
RFC 3339 and is refused rather than guessed. The one exception to the millisecond is what
Kubernetes itself demands: a Lease's times are MicroTime (``format_micro_time``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webhooks.errors import BadRequestError, short

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: object, *, what: str = "time") -> datetime:
    """RFC 3339 text to an aware UTC datetime; BadRequestError naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise BadRequestError(f"{what} must be an RFC 3339 string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith("z"):
        text = text[:-1] + "Z"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as e:
        raise BadRequestError(f"{what} {short(value, 64)!r} is not an RFC 3339 time") from e
    if parsed.tzinfo is None:
        raise BadRequestError(f"{what} {short(value, 64)!r} has no time zone")
    return parsed.astimezone(UTC)


def try_parse_time(value: object) -> datetime | None:
    """Like ``parse_time``, but None for a missing or malformed time (objects read from a
    cluster, where a bad timestamp means "unknown", not an error)."""
    try:
        return parse_time(value)
    except BadRequestError:
        return None


def format_time(value: datetime) -> str:
    """UTC, ``Z``, milliseconds, fraction left out when zero (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00").removesuffix(".000") + "Z"


def format_micro_time(value: datetime) -> str:
    """Kubernetes MicroTime (a Lease's ``acquireTime`` and ``renewTime``): UTC, six digits."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unix_seconds(value: datetime) -> int:
    """Whole seconds since the Unix epoch, rounded down (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(seconds=1)
