"""Evictions: pods the kubelet, the scheduler or the taint manager threw off their nodes since
the sync, while the controller's replacements keep the counts whole."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import SYNC, evidence, obj, owned, pod, run
from webhooks.checks import convergence, stability
from webhooks.checks.context import CheckFinding

MEMORY = (
    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 81920Ki. "
    "Container app was using 921600Ki, request is 128Mi, has larger consumption of memory. "
)


def _deployment(available: int = 3) -> tuple[dict[str, Any], dict[str, Any]]:
    dep = obj(
        "Deployment",
        "web",
        api="apps/v1",
        spec={"replicas": 3},
        status={"replicas": 3, "updatedReplicas": 3, "availableReplicas": available},
    )
    return dep, owned(obj("ReplicaSet", "web-1", api="apps/v1"), dep)


def _evicted(
    name: str,
    rs: dict[str, Any],
    at: str | None,
    *,
    created: str = "2026-11-27T09:00:00Z",
    reason: str = "Evicted",
    message: str = MEMORY,
    node: str = "node-b",
) -> dict[str, Any]:
    p = owned(pod(name, phase="Failed", ready=False, statuses=[]), rs)
    p["metadata"]["creationTimestamp"] = created
    p["spec"]["nodeName"] = node
    p["status"].update(reason=reason, message=message, conditions=[])
    if at is not None:
        p["status"]["conditions"] = [
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "TerminationByKubelet",
                "lastTransitionTime": at,
            }
        ]
    return p


def _disrupted(name: str, rs: dict[str, Any], reason: str, at: str) -> dict[str, Any]:
    """A pod being deleted (terminating) with a DisruptionTarget condition of ``reason``."""
    p = owned(pod(name), rs)
    p["metadata"]["deletionTimestamp"] = "2026-11-27T10:20:30Z"
    p["status"]["conditions"].append(
        {"type": "DisruptionTarget", "status": "True", "reason": reason, "lastTransitionTime": at}
    )
    return p


def _evictions(*objects: dict[str, Any]) -> list[CheckFinding]:
    return [f for f in run(stability.check, evidence(list(objects))) if "evicted" in f["check"]]


def test_a_pod_evicted_since_the_sync_is_a_warning_quoting_the_kubelet() -> None:
    dep, rs = _deployment()
    [f] = _evictions(dep, rs, _evicted("web-1-a", rs, "2026-11-27T10:20:00Z"))
    assert f["check"] == "stability/evicted" and f["severity"] == "warning"
    assert f["message"] == (
        "Deployment shop/web: 1 pod evicted since sync: the node was low on resource: memory "
        "(container app using 900Mi, request 128Mi); last at 2026-11-27T10:20:00Z on node node-b"
    )
    assert f["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}


def test_evictions_before_the_sync_are_not_this_syncs() -> None:
    dep, rs = _deployment()
    assert _evictions(dep, rs, _evicted("web-1-a", rs, "2026-11-27T09:40:00Z")) == []


def test_an_undated_eviction_counts_only_for_a_pod_created_after_the_sync() -> None:
    dep, rs = _deployment()
    old = _evicted("web-1-a", rs, None)
    new = _evicted("web-1-b", rs, None, created="2026-11-27T10:02:00Z")
    [f] = _evictions(dep, rs, old, new)
    assert f["message"].startswith("Deployment shop/web: 1 pod evicted since sync: ")
    assert f["message"].endswith("request 128Mi); on node node-b")


def test_the_eviction_event_dates_a_pod_without_a_disruption_condition() -> None:
    dep, rs = _deployment()
    p = _evicted("web-1-a", rs, None)
    event = obj(
        "Event",
        "web-1-a.17",
        involvedObject={"kind": "Pod", "namespace": "shop", "name": "web-1-a"},
        reason="Evicted",
        message=MEMORY.strip(),
        type="Warning",
        lastTimestamp="2026-11-27T10:07:00Z",
    )
    [f] = _evictions(dep, rs, p, event)
    assert "; last at 2026-11-27T10:07:00Z" in f["message"]


def test_repeated_evictions_with_the_workload_short_now_are_critical() -> None:
    dep, rs = _deployment(available=2)
    a = _evicted("web-1-a", rs, "2026-11-27T10:11:20Z")
    b = _evicted("web-1-b", rs, "2026-11-27T10:27:40Z", node="node-c")
    [f] = _evictions(dep, rs, a, b)
    assert f["severity"] == "critical"
    assert f["message"].startswith(
        "Deployment shop/web: 2 pods evicted since sync, 2 of 3 available now: the node was low "
        "on resource: memory"
    )
    assert f["message"].endswith("last at 2026-11-27T10:27:40Z on nodes node-b, node-c")


def test_repeated_evictions_with_whole_counts_or_one_eviction_while_short_stay_warnings() -> None:
    dep, rs = _deployment(available=3)
    a = _evicted("web-1-a", rs, "2026-11-27T10:11:20Z")
    b = _evicted("web-1-b", rs, "2026-11-27T10:27:40Z")
    assert [f["severity"] for f in _evictions(dep, rs, a, b)] == ["warning"]
    short, rs2 = _deployment(available=2)
    assert [f["severity"] for f in _evictions(short, rs2, a)] == ["warning"]


def test_preemption_and_the_taint_manager_are_evictions_a_drain_is_not() -> None:
    dep, rs = _deployment()
    at = "2026-11-27T10:20:00Z"
    kubelet = _evicted(
        "web-1-a", rs, at, reason="Preempting", message="Preempted in order to admit critical pod"
    )
    scheduler = _disrupted("web-1-b", rs, "PreemptionByScheduler", at)
    taint = _disrupted("web-1-c", rs, "DeletionByTaintManager", at)
    drain = _disrupted("web-1-d", rs, "EvictionByEvictionAPI", at)
    [f] = _evictions(dep, rs, kubelet, scheduler, taint, drain)
    assert f["message"].startswith("Deployment shop/web: 3 pods evicted since sync: ")
    for cause in (
        "preempted by the kubelet to admit a critical pod: 1 pod",
        "preempted by the scheduler for a higher-priority pod: 1 pod",
        "deleted by the taint manager (its node was tainted NoExecute): 1 pod",
    ):
        assert cause in f["message"]


def test_other_kubelet_messages_are_quoted_in_short() -> None:
    dep, rs = _deployment()
    ephemeral = (
        "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. Container app "
        'exceeded its local ephemeral storage limit "500Mi". '
    )
    [f] = _evictions(dep, rs, _evicted("web-1-a", rs, SYNC, message=ephemeral))
    assert f["message"].startswith(
        "Deployment shop/web: 1 pod evicted since sync: container app exceeded its local "
        "ephemeral storage limit 500Mi;"
    )


def test_an_evicted_pod_its_controller_replaced_is_no_failed_rollout() -> None:
    # One replacement is still starting: converging, not a hard failure named "Evicted".
    dep, rs = _deployment(available=2)
    dep["status"]["readyReplicas"] = 2
    starting = owned(pod("web-1-n", ready=False, start="2026-11-27T10:28:00Z"), rs)
    starting["metadata"]["creationTimestamp"] = "2026-11-27T10:28:00Z"
    ev = evidence([dep, rs, _evicted("web-1-a", rs, "2026-11-27T10:27:40Z"), starting])
    [f] = run(convergence.check, ev)
    assert f["severity"] == "warning" and "Evicted" not in f["message"], f["message"]
