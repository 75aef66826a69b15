"""Capacity: quota refusals, unschedulable pods, HPAs that cannot get what they want."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import AFTER, EARLY, LATE, evidence, obj, owned, pod, run
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
    # What preemption could do is not why the pod waits.
    assert f["message"] == (
        "Deployment shop/web: 1 of 2 pods Pending, FailedScheduling: 0/6 nodes are available: "
        "6 Insufficient cpu. (30m after sync)"
    )


def test_a_pod_waiting_on_its_claim_names_the_claim_and_why_it_is_not_bound() -> None:
    sts = obj("StatefulSet", "db", api="apps/v1", spec={"replicas": 1})
    pending = owned(pod("db-0", phase="Pending", ready=False, statuses=[]), sts)
    pending["spec"]["volumes"] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}
    ]
    claim = obj("PersistentVolumeClaim", "data-db-0", status={"phase": "Pending"})
    message = (
        "0/6 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: "
        "0/6 nodes are available: 6 Preemption is not helpful for scheduling."
    )
    ev = evidence(
        [
            sts,
            pending,
            claim,
            _event_v1(pending, "FailedScheduling", message, "2026-11-27T10:03:00Z"),
            _core_event(
                claim,
                "ProvisioningFailed",
                'storageclass.storage.k8s.io "fast-ssd" not found',
                "2026-11-27T10:04:00Z",
            ),
        ]
    )
    [f] = run(capacity.check, ev)
    assert f["message"] == (
        "StatefulSet shop/db: 1 of 1 pods Pending on claim data-db-0 (ProvisioningFailed: "
        'storageclass.storage.k8s.io "fast-ssd" not found), FailedScheduling: 0/6 nodes are '
        "available: pod has unbound immediate PersistentVolumeClaims. (30m after sync)"
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


def test_an_hpa_at_its_cap_says_since_when_and_how_far_over_target_its_load_is() -> None:
    def resource(name: str, **values: object) -> dict[str, object]:
        return {"type": "Resource", "resource": {"name": name, **values}}

    hpa = obj(
        "HorizontalPodAutoscaler",
        "web",
        api="autoscaling/v2",
        spec={
            "maxReplicas": 10,
            "metrics": [
                resource("cpu", target={"type": "Utilization", "averageUtilization": 70}),
                resource("memory", target={"type": "AverageValue", "averageValue": "1Gi"}),
            ],
        },
        status={
            "currentReplicas": 10,
            "desiredReplicas": 10,
            "currentMetrics": [
                resource("cpu", current={"averageUtilization": 243, "averageValue": "1216m"}),
                resource("memory", current={"averageValue": "900Mi"}),
            ],
            "conditions": [
                {
                    "type": "ScalingLimited",
                    "status": "True",
                    "reason": "TooManyReplicas",
                    "message": "the desired replica count is more than the maximum replica count",
                    "lastTransitionTime": AFTER,
                }
            ],
        },
    )
    [f] = run(capacity.check, evidence([hpa]))
    assert f["message"] == (
        f"HorizontalPodAutoscaler shop/web: capped at maxReplicas 10 since {AFTER}: cpu 243% of "
        "request (target 70%), memory 900Mi per pod (target 1Gi)"
    )


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


# --- how often a refusal happened: each event object once, distinct objects added up -----------


def _named(event: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    event["metadata"]["name"] = name
    event["metadata"]["uid"] = f"uid-{name}"
    return {**event, **fields}


def _tally(*events: dict[str, Any], want: int = 8, have: int = 5) -> str:
    dep, rs = _dep_rs(want, have)
    [f] = run(capacity.check, evidence([dep, rs, *events], now=EARLY))
    return f["message"].rsplit("(", 1)[1]


def test_one_event_object_listed_through_both_event_apis_counts_once() -> None:
    _, rs = _dep_rs(8, 5)
    text = f"Error creating: {QUOTA_MSG}"
    core = _named(_core_event(rs, "FailedCreate", text, "2026-11-27T10:05:00Z", 6), "web.a1")
    # The same stored object as events.k8s.io/v1 serves it: same name, its count deprecated.
    same = _named(
        _event_v1(rs, "FailedCreate", text, "2026-11-27T10:05:00Z"),
        "web.a1",
        deprecatedCount=6,
        deprecatedLastTimestamp="2026-11-27T10:05:00Z",
    )
    assert _tally(core, same) == "FailedCreate x6)"


def test_one_event_object_read_twice_counts_its_newest_reading() -> None:
    _, rs = _dep_rs(8, 5)
    text = f"Error creating: {QUOTA_MSG}"
    earlier = _named(_core_event(rs, "FailedCreate", text, "2026-11-27T10:03:00Z", 4), "web.a1")
    later = _named(_core_event(rs, "FailedCreate", text, "2026-11-27T10:05:00Z", 6), "web.a1")
    assert _tally(earlier, later) == "FailedCreate x6)"


def test_a_refusal_repeated_across_two_event_objects_adds_up() -> None:
    # The controller-manager restarted at 10:03: its recorder began a new event object.
    dep, rs = _dep_rs(8, 5)
    text = f"Error creating: {QUOTA_MSG}"
    before = _named(_core_event(rs, "FailedCreate", text, "2026-11-27T10:03:00Z", 6), "web.a1")
    after = _named(_core_event(rs, "FailedCreate", text, "2026-11-27T10:05:00Z", 31), "web.b2")
    [f] = run(capacity.check, evidence([dep, rs, before, after], now=EARLY))
    assert f["severity"] == "critical"
    assert f["message"] == (
        "Deployment shop/web: 5 of 8 pods created (ReplicaSet web-7c9f8d6b5): exceeded quota "
        "compute (requested pods=1, used pods=10, limited pods=10) (FailedCreate x37)"
    )


def test_a_series_and_the_object_before_it_add_up() -> None:
    _, rs = _dep_rs(8, 5)
    text = f"Error creating: {QUOTA_MSG}"
    single = _named(_core_event(rs, "FailedCreate", text, "2026-11-27T10:01:00Z"), "web.a1")
    series = _named(
        _event_v1(rs, "FailedCreate", text, "2026-11-27T10:02:00Z"),
        "web.b2",
        series={"count": 12, "lastObservedTime": "2026-11-27T10:09:00Z"},
    )
    assert _tally(single, series) == "FailedCreate x13)"


def test_different_refusals_still_add_up() -> None:
    _, rs = _dep_rs(8, 5)
    other = QUOTA_MSG.replace("k8mzq", "p4x7t")
    assert (
        _tally(
            _named(_core_event(rs, "FailedCreate", QUOTA_MSG, "2026-11-27T10:02:00Z", 3), "a"),
            _named(_core_event(rs, "FailedCreate", other, "2026-11-27T10:03:00Z", 4), "b"),
        )
        == "FailedCreate x7)"
    )


def test_a_copy_from_before_the_sync_adds_nothing() -> None:
    _, rs = _dep_rs(8, 5)
    old = _named(_core_event(rs, "FailedCreate", QUOTA_MSG, "2026-11-27T09:00:00Z", 50), "old")
    new = _named(_core_event(rs, "FailedCreate", QUOTA_MSG, "2026-11-27T10:03:00Z", 3), "new")
    assert _tally(old, new) == "FailedCreate x3)"


def test_a_statefulset_claim_refusal_and_its_pod_echo_count_once() -> None:
    sts = obj("StatefulSet", "db", api="apps/v1", spec={"replicas": 4}, status={"replicas": 3})
    why = (
        'persistentvolumeclaims "data-db-3" is forbidden: exceeded quota: storage, requested: '
        "requests.storage=10Gi, used: requests.storage=30Gi, limited: requests.storage=32Gi"
    )
    claim = f"create Claim data-db-3 for Pod db-3 in StatefulSet db failed error: {why}"
    echo = f"create Pod db-3 in StatefulSet db failed error: failed to create PVC data-db-3: {why}"
    events = [
        _named(_core_event(sts, "FailedCreate", claim, "2026-11-27T10:05:00Z", 9), "db.1"),
        _named(_core_event(sts, "FailedCreate", echo, "2026-11-27T10:05:00Z", 9), "db.2"),
    ]
    [f] = run(capacity.check, evidence([sts, *events], now=EARLY))
    assert f["message"] == (
        "StatefulSet shop/db: 3 of 4 pods created: exceeded quota storage (requested "
        "requests.storage=10Gi, used requests.storage=30Gi, limited requests.storage=32Gi) "
        "(FailedCreate x9)"
    )


def test_a_statefulset_refusal_recorded_across_objects_counts_each_attempt_once() -> None:
    # Nine attempts, the recorder restarted, two more: each attempt writes a claim refusal and
    # its pod echo, so claims add up to 11 and so do echoes; the attempts are 11, not 22.
    sts = obj("StatefulSet", "db", api="apps/v1", spec={"replicas": 4}, status={"replicas": 3})
    why = 'persistentvolumeclaims "data-db-3" is forbidden: exceeded quota: storage'
    claim = f"create Claim data-db-3 for Pod db-3 in StatefulSet db failed error: {why}"
    echo = f"create Pod db-3 in StatefulSet db failed error: failed to create PVC data-db-3: {why}"
    at = "2026-11-27T10:05:00Z"
    events = [
        _named(_core_event(sts, "FailedCreate", claim, at, 9), "db.1"),
        _named(_core_event(sts, "FailedCreate", echo, at, 9), "db.2"),
        _named(_core_event(sts, "FailedCreate", claim, at, 2), "db.3"),
        _named(_core_event(sts, "FailedCreate", echo, at, 2), "db.4"),
    ]
    [f] = run(capacity.check, evidence([sts, *events], now=EARLY))
    assert f["message"].endswith("(FailedCreate x11)")
