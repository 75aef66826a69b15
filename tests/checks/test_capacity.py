"""Capacity: quota refusals, unschedulable pods, HPAs that cannot get what they want."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import EARLY, LATE, evidence, obj, owned, pod, run
from webhooks.checks import capacity

QUOTA_MSG = (
    'pods "web-7c9f8d6b5-k8mzq" is forbidden: exceeded quota: compute, requested: '
    "pods=1, used: pods=10, limited: pods=10"
)


def _event_v1(target: dict[str, Any], reason: str, note: str, at: str) -> dict[str, Any]:
    return obj(
        "Event",
        f"{target['metadata']['name']}.1",
        api="events.k8s.io/v1",
        regarding={
            "kind": target["kind"],
            "namespace": "shop",
            "name": target["metadata"]["name"],
            "uid": target["metadata"]["uid"],
        },
        reason=reason,
        note=note,
        type="Warning",
        eventTime=at,
    )


def _core_event(
    target: dict[str, Any], reason: str, message: str, at: str, count: int = 1
) -> dict[str, Any]:
    return obj(
        "Event",
        f"{target['metadata']['name']}.2",
        involvedObject={
            "kind": target["kind"],
            "namespace": "shop",
            "name": target["metadata"]["name"],
        },
        reason=reason,
        message=message,
        type="Warning",
        lastTimestamp=at,
        count=count,
    )


def _dep_rs(want: int, have: int) -> tuple[dict[str, Any], dict[str, Any]]:
    dep = obj("Deployment", "web", api="apps/v1", spec={"replicas": want})
    rs = owned(
        obj(
            "ReplicaSet",
            "web-7c9f8d6b5",
            api="apps/v1",
            spec={"replicas": want},
            status={"replicas": have},
        ),
        dep,
    )
    return dep, rs


def test_quota_refusal_on_a_short_replicaset_names_the_deployment() -> None:
    dep, rs = _dep_rs(8, 5)
    ev = evidence(
        [
            dep,
            rs,
            _core_event(
                rs, "FailedCreate", f"Error creating: {QUOTA_MSG}", "2026-11-27T10:05:00Z", count=6
            ),
        ],
        now=EARLY,
    )
    [f] = run(capacity.check, ev)
    assert f["severity"] == "critical"  # no grace: it will not fix itself
    assert f["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    assert f["message"] == (
        "Deployment shop/web: 5 of 8 pods created (ReplicaSet web-7c9f8d6b5): exceeded quota "
        "compute (requested pods=1, used pods=10, limited pods=10) (FailedCreate x6)"
    )


def test_quota_refusal_before_the_sync_or_on_a_full_replicaset_is_ignored() -> None:
    dep, rs = _dep_rs(5, 5)
    old_dep, old_rs = _dep_rs(8, 5)
    assert (
        run(
            capacity.check,
            evidence([dep, rs, _core_event(rs, "FailedCreate", QUOTA_MSG, "2026-11-27T10:05:00Z")]),
        )
        == []
    )
    assert (
        run(
            capacity.check,
            evidence(
                [
                    old_dep,
                    old_rs,
                    _core_event(old_rs, "FailedCreate", QUOTA_MSG, "2026-11-27T09:00:00Z"),
                ]
            ),
        )
        == []
    )


def test_pending_pod_quotes_the_scheduler_event() -> None:
    dep, rs = _dep_rs(2, 2)
    pending = owned(pod("web-7c9f8d6b5-a", phase="Pending", ready=False, statuses=[]), rs)
    message = "0/6 nodes are available: 6 Insufficient cpu. preemption: 0/6 nodes are available"
    ev = evidence(
        [
            dep,
            rs,
            pending,
            owned(pod("web-7c9f8d6b5-b"), rs),
            _event_v1(pending, "FailedScheduling", message, "2026-11-27T10:03:00Z"),
        ]
    )
    [f] = run(capacity.check, ev)
    assert f["check"] == "capacity/unschedulable" and f["severity"] == "critical"
    assert f["message"].startswith(
        f"Deployment shop/web: 1 of 2 pods Pending, FailedScheduling: {message}"
    )


def test_hpa_short_of_desired_replicas_after_grace_is_critical() -> None:
    hpa = obj(
        "HorizontalPodAutoscaler",
        "web",
        api="autoscaling/v2",
        spec={"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 10},
        status={"currentReplicas": 5, "desiredReplicas": 8},
    )
    [f] = run(capacity.check, evidence([hpa]))
    assert f["severity"] == "critical"
    assert "wants 8 replicas of Deployment web, has 5" in f["message"]


def test_hpa_capped_at_max_replicas_is_a_warning() -> None:
    hpa = obj(
        "HorizontalPodAutoscaler",
        "web",
        api="autoscaling/v2",
        spec={"maxReplicas": 10},
        status={
            "currentReplicas": 10,
            "desiredReplicas": 10,
            "conditions": [
                {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}
            ],
        },
    )
    [f] = run(capacity.check, evidence([hpa]))
    assert f["severity"] == "warning" and "maxReplicas 10" in f["message"]


def test_exhausted_quota_in_the_apps_namespace_is_a_warning() -> None:
    q = obj(
        "ResourceQuota",
        "compute",
        status={
            "hard": {"pods": "10", "requests.memory": "16Gi", "requests.cpu": "8"},
            "used": {"pods": "10", "requests.memory": "17179869184", "requests.cpu": "7500m"},
        },
    )
    [f] = run(capacity.check, evidence([obj("Service", "web"), q]))
    assert f["message"] == (
        "ResourceQuota shop/compute is exhausted: pods 10/10, requests.memory 17179869184/16Gi used"
    )


def test_a_pod_pending_for_a_minute_long_after_the_sync_is_still_on_its_way() -> None:
    # An HPA scaled up a minute ago; the cluster autoscaler is adding a node for the new pod.
    dep, rs = _dep_rs(2, 2)
    fresh = pod("web-7c9f8d6b5-a", phase="Pending", ready=False, statuses=[], start=LATE)
    fresh["metadata"]["creationTimestamp"] = "2026-11-27T10:29:00Z"
    message = "0/6 nodes are available: 6 Insufficient cpu."
    ev = evidence([dep, rs, owned(fresh, rs), _event_v1(fresh, "FailedScheduling", message, LATE)])
    [f] = run(capacity.check, ev)
    assert f["severity"] == "warning" and f.get("converging") is True
    assert f["message"].endswith("(still converging, started 1m ago)")
