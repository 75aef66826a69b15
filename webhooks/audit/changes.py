"""Which cluster changes deserve an early audit, and whose application they belong to.

Pure: an informer reports ``(type, old, new)``; ``change_reason`` says whether it matters to a
verdict and why, ``owning_app`` follows Argo CD tracking (and owner references, and an Event's
involved object) to the application. What counts:

- a workload (Deployment, StatefulSet, DaemonSet): created or deleted, a new ``generation``
  (its spec changed), or a change in what its status says about readiness (replica counts,
  ``observedGeneration``, condition statuses);
- a pod: its phase, its readiness, or a container restarting;
- an Event of type Warning, new or seen again (its count or last time moved).

Everything else (a pod's IP, an annotation, a heartbeat time in a condition) is noise.
"""

from __future__ import annotations

from collections.abc import Callable

from webhooks.checks import kube
from webhooks.cluster.resources import (
    DAEMONSET,
    DEPLOYMENT,
    EVENT,
    JOB,
    POD,
    REPLICASET,
    STATEFULSET,
    ResourceType,
)
from webhooks.common.argocd import AppRef, tracked_app
from webhooks.evidence.model import KubeObject

WORKLOADS = (DEPLOYMENT, STATEFULSET, DAEMONSET)
#: The types whose changes are looked at (their informers' changes go to ``change_reason``).
TRIGGER_TYPES = frozenset({*WORKLOADS, POD, EVENT})
_BY_KIND = {r.kind: r for r in (*WORKLOADS, REPLICASET, JOB, POD)}
_READINESS = (
    "observedGeneration",
    "replicas",
    "readyReplicas",
    "availableReplicas",
    "updatedReplicas",
    "unavailableReplicas",
    "currentNumberScheduled",
    "numberReady",
    "numberAvailable",
    "numberUnavailable",
    "updatedNumberScheduled",
    "desiredNumberScheduled",
)
MAX_OWNER_HOPS = 3  # pod -> ReplicaSet -> Deployment, with one to spare

Find = Callable[[ResourceType, str | None, str], KubeObject | None]


def change_reason(
    rtype: ResourceType, old: KubeObject | None, new: KubeObject | None
) -> str | None:
    """Why this change deserves an early audit, or None (noise, or a type not looked at)."""
    obj = new or old
    if obj is None:
        return None
    what = kube.display(obj)
    if rtype in WORKLOADS:
        if old is None or new is None:
            return f"{what} {'created' if old is None else 'deleted'}"
        if kube.get_int(old, "metadata", "generation") != kube.get_int(
            new, "metadata", "generation"
        ):
            return f"{what} spec changed"
        if _readiness(old) != _readiness(new):
            return f"{what} readiness changed"
        return None
    if rtype == POD:
        if old is None or new is None:
            return None  # a pod coming or going shows in its workload's status
        if kube.get_str(old, "status", "phase") != kube.get_str(new, "status", "phase"):
            return f"{what} phase {kube.get_str(new, 'status', 'phase')}"
        if _ready(old) != _ready(new):
            return f"{what} {'ready' if _ready(new) else 'not ready'}"
        if _restarts(new) > _restarts(old):
            return f"{what} restarted"
        return None
    if rtype != EVENT or new is None or kube.get_str(new, "type") != "Warning":
        return None
    if old is not None and _seen(old) == _seen(new):
        return None
    return f"Warning {kube.get_str(new, 'reason') or 'event'} on {_involved(new)}"


def owning_app(rtype: ResourceType, obj: KubeObject, find: Find) -> AppRef | None:
    """The Argo CD application of ``obj``: its own tracking, else its controller's (owner
    references, at most ``MAX_OWNER_HOPS``), an Event's involved object's; ``find`` looks an
    object up where the caller keeps them (never the API)."""
    if rtype == EVENT:
        involved = kube.get_dict(obj, "involvedObject")
        itype = _BY_KIND.get(str(involved.get("kind")))
        name = involved.get("name")
        if itype is None or not isinstance(name, str):
            return None
        namespace = involved.get("namespace") or kube.namespace(obj)
        found = find(itype, namespace if isinstance(namespace, str) else None, name)
        return owning_app(itype, found, find) if found is not None else None
    current: KubeObject | None = obj
    for _ in range(MAX_OWNER_HOPS + 1):
        if current is None:
            return None
        app = tracked_app(current)
        if app is not None:
            return app
        current = _controller(current, find)
    return None


def _controller(obj: KubeObject, find: Find) -> KubeObject | None:
    for owner in kube.get_list(obj, "metadata", "ownerReferences"):
        if isinstance(owner, dict) and owner.get("controller") is True:
            otype = _BY_KIND.get(str(owner.get("kind")))
            name = owner.get("name")
            if otype is not None and isinstance(name, str):
                return find(otype, kube.namespace(obj), name)
    return None


def _readiness(obj: KubeObject) -> tuple[object, ...]:
    status = kube.get_dict(obj, "status")
    conditions = sorted(
        (str(c.get("type")), str(c.get("status"))) for c in kube.dicts(obj, "status", "conditions")
    )
    return (*(status.get(k) for k in _READINESS), tuple(conditions))


def _ready(pod: KubeObject) -> bool:
    return kube.condition_is(pod, "Ready", "True") is not None


def _restarts(pod: KubeObject) -> int:
    return sum(
        kube.get_int(c, "restartCount", default=0) or 0
        for c in kube.dicts(pod, "status", "containerStatuses")
    )


def _seen(event: KubeObject) -> tuple[object, object]:
    """How often and when last an Event was seen (it moves when the event repeats)."""
    last = kube.get(event, "lastTimestamp") or kube.get(event, "series", "lastObservedTime")
    return kube.get(event, "count"), last


def _involved(event: KubeObject) -> str:
    involved = kube.get_dict(event, "involvedObject")
    return f"{involved.get('kind')}/{involved.get('name')}"
