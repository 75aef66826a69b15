"""Pure decisions of the auditor: what to audit now, and whether a verdict is news.

A TruthCheck is audited when its interval has passed, or sooner when the ledger holds an
intent of its application newer than its last verification (a change nobody has judged yet).

Argo CD refreshes an application on every status write of a resource it tracks, so the
auditor writes a TruthCheck's status only when the verdict or the findings changed — "changed"
meaning another verdict, or another set of (check, object, severity): messages carry ages
("12m after sync") that differ on every run and are not news — or when the verdict is the first
for a new generation of the TruthCheck (its spec was edited: until ``observedGeneration``
catches up, the health check says the change awaits verification). A heartbeat write, rare, keeps
``status.lastVerifiedAt`` honest so a stopped auditor is visible on the TruthCheck itself (the
heartbeat and the age past which a verdict is stale are one rule, in
:mod:`webhooks.verdict.freshness`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from webhooks.checks import kube
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import KubeObject, Verdict
from webhooks.verdict.freshness import AuditSettings

#: A new intent brings an audit forward, but never sooner than this after the last one.
EARLY_FLOOR = timedelta(minutes=1)
#: A sync marks its TruthCheck Pending (PreSync) and Verifying (PostSync): hands off.
SYNC_PHASES = frozenset({"Pending", "Verifying"})


def skip_reason(truthcheck: KubeObject) -> str | None:
    """Why the auditor leaves this TruthCheck alone now, or None."""
    if not AuditSettings.from_truthcheck(truthcheck).enabled:
        return "spec.audit.enabled is false"
    phase = kube.get_str(truthcheck, "status", "phase")
    if phase in SYNC_PHASES:
        return f"a sync is verifying it (phase {phase})"
    return None


def last_verified(truthcheck: KubeObject) -> datetime | None:
    status = kube.get_dict(truthcheck, "status")
    times = [try_parse_time(status.get(k)) for k in ("lastVerifiedAt", "verifiedAt")]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def is_due(truthcheck: KubeObject, now: datetime, last_audit: datetime | None) -> bool:
    """Its interval has passed since the last verification (by anyone) or the last audit."""
    settings = AuditSettings.from_truthcheck(truthcheck)
    known = [t for t in (last_verified(truthcheck), last_audit) if t is not None]
    return not known or now - max(known) >= settings.interval


def intents_cut(last_times: Iterable[datetime | None]) -> datetime | None:
    """Where the pass's one ledger query starts: the oldest last verification among the
    TruthChecks still waiting for their interval (None: none is waiting, no query). Those were
    all verified within their interval, so the query never reaches further back than that."""
    known = [t for t in last_times if t is not None]
    return min(known) if known else None


def newest_intents(records: Iterable[Mapping[str, Any]]) -> dict[str, datetime]:
    """The time of each application's newest intent that changed something (admitted, not a
    dry run)."""
    newest: dict[str, datetime] = {}
    for record in records:
        app, at = record.get("app"), try_parse_time(record.get("time"))
        decision = record.get("decision")
        allowed = isinstance(decision, Mapping) and decision.get("allowed") is True
        if not isinstance(app, str) or at is None or not allowed or record.get("dryRun"):
            continue
        if app not in newest or at > newest[app]:
            newest[app] = at
    return newest


def is_triggered(
    truthcheck: KubeObject,
    now: datetime,
    last_audit: datetime | None,
    newest_change: datetime | None,
) -> bool:
    """A change of its application (an intent, or a change seen in the cluster) came after
    its last verification (by anyone) or audit: audit it before its interval passes — at most
    once per ``EARLY_FLOOR``."""
    known = [t for t in (last_verified(truthcheck), last_audit) if t is not None]
    if newest_change is None or not known:
        return False  # no news, or never verified (then it is due anyway)
    last = max(known)
    return newest_change > last and now - last >= EARLY_FLOOR


def _signature(findings: Any) -> Counter[tuple[str, str, str]]:
    out: Counter[tuple[str, str, str]] = Counter()
    for f in findings if isinstance(findings, list) else []:
        if not isinstance(f, dict):
            continue
        res = f.get("resource") if isinstance(f.get("resource"), dict) else {}
        where = f"{res.get('kind')}/{res.get('namespace')}/{res.get('name')}" if res else ""
        out[(str(f.get("check")), where, str(f.get("severity")))] += 1
    return out


def is_news(truthcheck: KubeObject, verdict: Verdict) -> bool:
    """Whether the verdict differs from what the TruthCheck's status already says, or judges
    a generation of the TruthCheck the status does not name."""
    status = kube.get_dict(truthcheck, "status")
    if status.get("verdict") != verdict["verdict"] or status.get("phase") != "Verified":
        return True
    observed = kube.get_int(truthcheck, "status", "observedGeneration")
    generation = kube.get_int(truthcheck, "metadata", "generation")
    if observed is not None and generation is not None and observed != generation:
        return True
    return _signature(status.get("findings")) != _signature(verdict.get("findings"))


def heartbeat_due(truthcheck: KubeObject, now: datetime) -> bool:
    settings = AuditSettings.from_truthcheck(truthcheck)
    last = last_verified(truthcheck)
    return last is None or now - last >= settings.heartbeat
