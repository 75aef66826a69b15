"""How long a published verdict stays current, and the status fields that say so.

A verdict is a claim about one moment. The auditor re-verifies a TruthCheck every
``spec.audit.interval`` but rewrites its status only on news, plus a heartbeat (at least every
``heartbeat``) that refreshes ``status.lastVerifiedAt``. So with a working auditor
``lastVerifiedAt`` is never much older than one heartbeat; once it is older than two
(``stale_after``), the auditor has stopped or keeps failing for this TruthCheck.

Argo CD's Lua health check reads these fields to show a verdict's age, but its sandbox has no
string library and cannot parse RFC 3339: every verification therefore also writes
``lastVerifiedEpoch`` (the same instant in Unix seconds) and, when the TruthCheck is audited,
``staleAfterSeconds`` (the bound above), so the Lua compares numbers and owns no rule of its
own. The bound is first written by an auditor: the hook keeps it once it is there, but does
not start it, so an install that runs no auditor never warns that its auditor stopped. Both the PostSync hook and the auditor stamp their statuses here, the one place the rule
lives (the hook sits below the auditor in the floors, hence this module's floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from webhooks.checks import kube
from webhooks.common.durations import duration_field
from webhooks.common.times import format_time, unix_seconds
from webhooks.errors import BadRequestError
from webhooks.evidence.model import KubeObject

VerifiedBy = Literal["sync", "audit"]

DEFAULT_INTERVAL = timedelta(minutes=5)
DEFAULT_WINDOW = timedelta(minutes=30)
#: The auditor rewrites an unchanged verdict at least this often (or six intervals).
HEARTBEAT_FLOOR = timedelta(minutes=30)
#: A verdict not re-verified for this many heartbeats is stale.
STALE_HEARTBEATS = 2


@dataclass(frozen=True)
class AuditSettings:
    enabled: bool
    interval: timedelta
    window: timedelta  # the span judged against what came before it

    @classmethod
    def from_truthcheck(cls, truthcheck: KubeObject) -> AuditSettings:
        audit = kube.get_dict(truthcheck, "spec", "audit")
        observe = kube.get(truthcheck, "spec", "baseline", "windows", "observe")
        try:
            interval = (
                duration_field(audit["interval"], "spec.audit.interval")
                if audit.get("interval") is not None
                else DEFAULT_INTERVAL
            )
            window = (
                duration_field(observe, "spec.baseline.windows.observe")
                if observe is not None
                else DEFAULT_WINDOW
            )
        except BadRequestError:
            interval, window = DEFAULT_INTERVAL, DEFAULT_WINDOW
        return cls(
            enabled=audit.get("enabled") is not False,
            interval=max(interval, timedelta(seconds=30)),
            window=window if window > timedelta(0) else DEFAULT_WINDOW,
        )

    @property
    def heartbeat(self) -> timedelta:
        """An unchanged verdict is rewritten at least this often."""
        return max(HEARTBEAT_FLOOR, 6 * self.interval)

    @property
    def stale_after(self) -> timedelta:
        """Past this age a verdict of an audited TruthCheck means a stopped or failing auditor:
        a working one rewrites it within a heartbeat plus one interval."""
        return STALE_HEARTBEATS * self.heartbeat


def verified_stamp(truthcheck: KubeObject, now: datetime, by: VerifiedBy) -> dict[str, Any]:
    """The status fields of a verification at ``now`` by ``by``: when (as text and as Unix
    seconds), who, and — when the TruthCheck is audited and an auditor has looked at it —
    after how many seconds its verdict is stale. Absent ``staleAfterSeconds``: nothing promises
    to look again before a sync."""
    stamp: dict[str, Any] = {
        "lastVerifiedAt": format_time(now),
        "lastVerifiedEpoch": unix_seconds(now),
        "verifiedBy": by,
    }
    settings = AuditSettings.from_truthcheck(truthcheck)
    status = truthcheck.get("status")
    audited = by == "audit" or (isinstance(status, dict) and "staleAfterSeconds" in status)
    if settings.enabled and audited:
        stamp["staleAfterSeconds"] = int(settings.stale_after.total_seconds())
    return stamp
