"""Pods evicted since the sync: the app keeps losing pods while its counts look whole.

When a node runs short of memory, disk or process ids, its kubelet evicts pods (phase
``Failed``, reason ``Evicted``, a message naming the resource and what each container used
against its request); to admit a critical pod the kubelet preempts others (reason
``Preempting``); the scheduler preempts lower-priority pods, and the taint manager deletes pods
from a node tainted ``NoExecute`` (condition ``DisruptionTarget``, the pod terminating). The
workload's controller replaces them, so its replica counts and Argo CD's health read whole while
the app keeps being thrown off its nodes.

``stability/evicted``, per workload: the pods evicted since the sync, with the cause in the
words of the kubelet's message (``the node was low on resource: memory (container app using
900Mi, request 128Mi)``). An eviction is dated by the pod's ``DisruptionTarget`` condition, else
its ``Evicted``/``Preempted``/``TaintManagerEviction`` event, else its ``Ready`` condition turning
False; a pod created after the sync was evicted after it; an older pod that cannot be dated is
left out. A warning; critical when evictions repeat (two or more since the sync) and the
workload is short of available replicas now: it is losing pods faster than it gets them back.

Not counted: a node drain (the Eviction API, governed by PodDisruptionBudgets, a planned act),
a graceful node shutdown, and pods already removed (a preempted pod once it terminated): the
Evidence holds the pods that exist. Messages come from pod status and events only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.checks.index import Event
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import KubeObject, Severity

#: DisruptionTarget reasons that are an eviction, in the words a finding uses.
_DISRUPTIONS = {
    "PreemptionByScheduler": "preempted by the scheduler for a higher-priority pod",
    "DeletionByTaintManager": "deleted by the taint manager (its node was tainted NoExecute)",
}
#: Events that say the same, for clusters that write no DisruptionTarget condition.
_EVENT_CAUSES = {
    "Preempted": _DISRUPTIONS["PreemptionByScheduler"],
    "TaintManagerEviction": _DISRUPTIONS["DeletionByTaintManager"],
}
_EVICTION_EVENTS = frozenset({"Evicted", *_EVENT_CAUSES})

_LOW = re.compile(r"The node was low on resource: (?P<resource>[\w./-]+)\.")
_CONTAINER = re.compile(
    r"Container (?P<name>\S+) was using (?P<using>\S+), request is (?P<request>[^,]+),"
)
_EPHEMERAL = re.compile(
    r'Container (?P<name>\S+) exceeded its local ephemeral storage limit "(?P<limit>[^"]+)"'
)
_EMPTYDIR = re.compile(
    r'Usage of EmptyDir volume "(?P<name>[^"]+)" exceeds the limit "(?P<limit>[^"]+)"'
)


#: ``status.reason`` of a pod its kubelet evicted (node pressure) or preempted (to admit a
#: critical pod): phase Failed, it lingers until garbage-collected, replaced by its controller.
EVICTED_REASONS = frozenset({"Evicted", "Preempting"})


def is_evicted(pod: KubeObject) -> bool:
    """Evicted or preempted by its kubelet (and so replaced by its controller, if it has one)."""
    return kube.get_str(pod, "status", "phase") == "Failed" and (
        kube.get_str(pod, "status", "reason") in EVICTED_REASONS
    )


@dataclass(frozen=True)
class Eviction:
    pod: KubeObject
    at: datetime | None
    cause: str  # "the node was low on resource: memory"
    detail: str = ""  # "container app using 900Mi, request 128Mi"


def _mebi(quantity: str) -> str:
    """The kubelet writes memory used in Ki (``3525604Ki``); Mi reads better (``3443Mi``)."""
    if quantity.endswith("Ki") and quantity[:-2].isdigit() and int(quantity[:-2]) >= 1024:
        return f"{round(int(quantity[:-2]) / 1024)}Mi"
    return quantity


def cause_of(message: str) -> tuple[str, str]:
    """The kubelet's eviction message in a few words, as (cause, detail): ``the node was low on
    resource: memory`` and ``container app using 900Mi, request 128Mi``."""
    if low := _LOW.search(message):
        used = [
            f"container {m['name']} using {_mebi(m['using'])}, request {m['request'].strip()}"
            for m in _CONTAINER.finditer(message)
        ]
        return f"the node was low on resource: {low['resource']}", "; ".join(used)
    if over := _EPHEMERAL.search(message):
        return (
            f"container {over['name']} exceeded its local ephemeral storage limit {over['limit']}",
            "",
        )
    if over := _EMPTYDIR.search(message):
        return f"emptyDir volume {over['name']} exceeded its size limit {over['limit']}", ""
    return clip(message.strip().rstrip("."), 160, one_line=True) or "evicted", ""


def eviction(pod: KubeObject, events: list[Event]) -> Eviction | None:
    """How and when ``pod`` was evicted (``events``: the events about it); None if it was not."""
    said = [e for e in events if e.reason in _EVICTION_EVENTS]
    latest = max(said, key=Event.sort_key) if said else None
    target = kube.condition_is(pod, "DisruptionTarget", "True")
    at = try_parse_time(kube.get(target, "lastTransitionTime")) or (
        latest.last_seen if latest else None
    )
    if is_evicted(pod):
        if at is None and (ready := kube.condition_is(pod, "Ready", "False")) is not None:
            at = try_parse_time(ready.get("lastTransitionTime"))
        message = kube.get_str(pod, "status", "message") or ""
        if kube.get_str(pod, "status", "reason") == "Preempting":
            return Eviction(pod, at, "preempted by the kubelet to admit a critical pod")
        return Eviction(pod, at, *cause_of(message))
    if (why := _DISRUPTIONS.get(kube.get_str(target, "reason") or "")) is not None:
        return Eviction(pod, at, why)
    if (
        latest is not None
        and latest.reason in _EVENT_CAUSES
        and kube.get(pod, "metadata", "deletionTimestamp")
    ):
        return Eviction(pod, at, _EVENT_CAUSES[latest.reason])
    return None


def _since_sync(ev: Eviction, ctx: CheckContext) -> bool:
    if ev.at is not None:
        return ctx.since_change(ev.at)
    return ctx.since_change(try_parse_time(kube.get(ev.pod, "metadata", "creationTimestamp")))


def _available(workload: KubeObject) -> tuple[int, int] | None:
    """(available, wanted) replicas of a pod-creating controller; None for other kinds."""
    wkind = kube.kind(workload)
    if wkind == "DaemonSet":
        want = kube.get_int(workload, "status", "desiredNumberScheduled", default=0) or 0
        return kube.get_int(workload, "status", "numberAvailable", default=0) or 0, want
    if wkind not in ("Deployment", "ReplicaSet", "StatefulSet"):
        return None
    want = kube.get_int(workload, "spec", "replicas", default=1) or 0
    have = kube.get_int(workload, "status", "availableReplicas")
    if have is None:  # a StatefulSet of an older API server reports readyReplicas only
        have = kube.get_int(workload, "status", "readyReplicas", default=0) or 0
    return have, want


def _causes(evictions: list[Eviction]) -> str:
    """Each cause once, most frequent first, with the detail of its latest eviction."""
    counts = Counter(e.cause for e in evictions)
    latest: dict[str, Eviction] = {}
    for e in sorted(evictions, key=lambda e: e.at.timestamp() if e.at else float("-inf")):
        latest[e.cause] = e
    parts = []
    for cause, n in counts.most_common(3):
        detail = latest[cause].detail
        text = f"{cause} ({detail})" if detail else cause
        parts.append(text if len(counts) == 1 else f"{text}: {_plural(n, 'pod')}")
    return "; ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def findings(ctx: CheckContext) -> list[CheckFinding]:
    by_owner: dict[tuple[str, str | None, str], list[Eviction]] = {}
    owners: dict[tuple[str, str | None, str], KubeObject] = {}
    for pod in ctx.index.members("Pod"):
        ev = eviction(pod, ctx.index.events_for(pod))
        if ev is None or not _since_sync(ev, ctx):
            continue
        owner = ctx.index.top_owner(pod)
        okey = (kube.kind(owner), kube.namespace(owner), kube.name(owner))
        owners[okey] = owner
        by_owner.setdefault(okey, []).append(ev)
    out: list[CheckFinding] = []
    for okey in sorted(by_owner, key=lambda k: kube.display(owners[k])):
        owner, evictions = owners[okey], by_owner[okey]
        dated = [e.at for e in evictions if e.at is not None]
        nodes = sorted({n for e in evictions if (n := kube.get_str(e.pod, "spec", "nodeName"))})
        tail = [f"last at {kube.fmt_time(max(dated))}"] if dated else []
        if nodes:
            more = f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
            tail.append(f"on node{'s' if len(nodes) > 1 else ''} {', '.join(nodes[:3])}{more}")
        why = _causes(evictions)
        # Critical: evictions repeat and the workload is short of available replicas now.
        severity: Severity = "warning"
        short = ""
        counts = _available(owner)
        if len(evictions) >= 2 and counts is not None and counts[0] < counts[1]:
            severity = "critical"
            short = f", {counts[0]} of {counts[1]} available now"
        message = (
            f"{kube.display(owner)}: {_plural(len(evictions), 'pod')} evicted since sync{short}: "
            f"{why}" + (f"; {' '.join(tail)}" if tail else "")
        )
        out.append(finding("runtime", "stability/evicted", owner, message, severity))
    return out
