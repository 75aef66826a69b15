"""The webhook as a monitored entity: did every change of the sync leave an intent?

Argo CD's sync result says, per resource, what ``kubectl apply`` did: ``configured``,
``created``, ``pruned`` — or ``unchanged``. Every such write went through the API server's
admission chain, so a write to a kind the webhook records must have left an intent in the
ledger. When the Evidence says the ledger was read (``intents`` present, even empty) and a
written object has no intent around the sync, the change went unrecorded: the webhook was down
under ``failurePolicy: Ignore``, its rules did not match, or it was bypassed.

The auditor judges this (``trigger: audit``): it re-reads the last sync's result against the
ledger between syncs, so a sync-time verdict stays about the application itself. Only kinds the
webhook records are judged: those of the chart's default rules, and any kind
the ledger holds an intent for in this Evidence. The finding is a warning: the application may
be fine; the record of what was asked is not.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.argocd import short_revision
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, ResourceRef

CHECK = "unrecorded-change"

#: (API group, kind) pairs of the chart's default webhook rules (charts/truthgate/values.yaml,
#: ``webhook.rules``; a test keeps the two in step).
RECORDED_KINDS = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Service"),
        ("", "ServiceAccount"),
        ("", "PersistentVolumeClaim"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("policy", "PodDisruptionBudget"),
    }
)

#: What the sync result's message says for a write, and the admission operation it implies.
_WRITES = {"configured": "UPDATE", "created": "CREATE", "pruned": "DELETE"}
#: Clock skew between the Argo CD controller and the webhook, and the apply's own latency.
_SLACK = timedelta(seconds=60)


def _write(message: str | None) -> str | None:
    words = (message or "").split()
    return next((w for w in reversed(words) if w in _WRITES), None)


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    if ctx.trigger != "audit" or "intents" not in evidence:
        return []  # judged by the auditor, against the ledger it read
    application = evidence.get("application") or {}
    op = kube.get_dict(application, "status", "operationState")
    started = try_parse_time(kube.get_str(op, "startedAt"))
    finished = try_parse_time(kube.get_str(op, "finishedAt")) or ctx.now
    if started is None:
        return []
    intents = [i for i in evidence.get("intents") or [] if isinstance(i, dict)]
    recorded_kinds = set(RECORDED_KINDS)
    seen: set[tuple[str, str | None, str]] = set()
    for intent in intents:
        group = kube.get_str(intent, "kind", "group") or ""
        kind = kube.get_str(intent, "kind", "kind") or ""
        recorded_kinds.add((group, kind))
        when = try_parse_time(intent.get("time"))
        if when is None or not _in_window(when, started, finished):
            continue
        seen.add((kind, kube.get_str(intent, "namespace"), kube.get_str(intent, "name") or ""))
    revision = short_revision(ctx.revision) if ctx.revision else "unknown revision"
    out: list[CheckFinding] = []
    for res in kube.dicts(op, "syncResult", "resources"):
        write = _write(kube.get_str(res, "message"))
        if write is None or kube.get_str(res, "hookType"):
            continue
        group, kind = kube.get_str(res, "group") or "", kube.get_str(res, "kind") or ""
        namespace, name = kube.get_str(res, "namespace") or None, kube.get_str(res, "name") or ""
        if (group, kind) not in recorded_kinds or (kind, namespace, name) in seen:
            continue
        ref: ResourceRef = {"kind": kind, "namespace": namespace, "name": name}
        out.append(
            finding(
                "declared",
                CHECK,
                ref,
                f"{kube.display_ref(ref)}: Argo CD {write} it at {revision} "
                f"({kube.fmt_time(started)}), but the ledger holds no {_WRITES[write]} intent for "
                "it: the webhook was down or bypassed, so this change is not on record",
                "warning",
            )
        )
    return out


def _in_window(when: datetime, started: datetime, finished: datetime | None) -> bool:
    end = (finished or started) + _SLACK
    return started - _SLACK <= when <= end
