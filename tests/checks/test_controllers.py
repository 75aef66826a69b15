"""Controllers as monitored entities: a controller that stopped reconciling is named, with how long."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import LATE, SYNC, application, evidence, obj, only, owned, pod, run
from webhooks.checks import controllers

CHECK = "controller-stale"


def _app(**status: Any) -> dict[str, Any]:
    app = application()
    app["status"].update(status)
    return app


def test_argocd_controller_that_stopped_reconciling_is_named() -> None:
    ev = evidence(app=_app(reconciledAt="2026-11-27T09:00:00Z"), now=LATE)
    [f] = only(run(controllers.check, ev), CHECK)
    assert f["severity"] == "critical"
    assert f["message"].startswith("Argo CD application controller: application shop-web last")
    assert "1h30m ago" in f["message"]


def test_recent_reconcile_is_not_stale() -> None:
    ev = evidence(app=_app(reconciledAt="2026-11-27T10:27:00Z"), now=LATE)
    assert only(run(controllers.check, ev), CHECK) == []


def test_bound_comes_from_the_truthcheck() -> None:
    tc = {"spec": {"audit": {"controllerStaleAfter": "2h"}}}
    ev = evidence(app=_app(reconciledAt="2026-11-27T09:00:00Z"), now=LATE, truthCheck=tc)
    assert only(run(controllers.check, ev), CHECK) == []


def test_operation_stuck_running_and_comparison_errors() -> None:
    app = application(phase="Running", started="2026-11-27T08:00:00Z")
    app["status"]["conditions"] = [
        {"type": "ComparisonError", "message": "rpc error: repository not accessible"}
    ]
    findings = only(run(controllers.check, evidence(app=app, now=LATE)), CHECK)
    messages = " | ".join(f["message"] for f in findings)
    assert "sync operation of shop-web has been Running for 2h" in messages
    assert "ComparisonError on shop-web: rpc error: repository not accessible" in messages


def test_a_sync_running_its_post_sync_hooks_is_not_stuck() -> None:
    app = application(phase="Running", started="2026-11-27T08:00:00Z")
    app["status"]["operationState"]["syncResult"]["resources"] = [
        {"kind": "Job", "name": "verify", "hookType": "PostSync", "syncPhase": "PostSync"}
    ]
    assert only(run(controllers.check, evidence(app=app, now=LATE)), CHECK) == []


def test_workload_generation_unobserved_past_the_bound_names_its_controller() -> None:
    dep = obj(
        "Deployment",
        "web",
        api="apps/v1",
        metadata={
            "generation": 4,
            "managedFields": [
                {"manager": "argocd-controller", "time": "2026-11-27T10:02:00Z"},
                {"manager": "kcm", "subresource": "status", "time": "2026-11-27T10:29:00Z"},
            ],
        },
        status={"observedGeneration": 3},
    )
    [f] = only(run(controllers.check, evidence([dep], now=LATE)), CHECK)
    assert f["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    assert f["message"].startswith("deployment controller: Deployment shop/web generation 4")
    young = evidence([dep], now="2026-11-27T10:05:00Z")
    assert only(run(controllers.check, young), CHECK) == []


def test_hpa_without_metrics_for_long_is_stale() -> None:
    hpa = obj(
        "HorizontalPodAutoscaler",
        "web",
        api="autoscaling/v2",
        status={
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "False",
                    "reason": "FailedGetResourceMetric",
                    "message": "unable to get metrics for resource cpu",
                    "lastTransitionTime": "2026-11-27T09:40:00Z",
                }
            ],
        },
    )
    [f] = only(run(controllers.check, evidence([hpa], now=LATE)), CHECK)
    assert "ScalingActive=False for 50m (FailedGetResourceMetric" in f["message"]
    assert f["message"].startswith("horizontal pod autoscaler: HorizontalPodAutoscaler shop/web")


def test_an_hpa_disabled_because_its_target_is_at_zero_is_not_stale() -> None:
    disabled = {
        "type": "ScalingActive",
        "status": "False",
        "reason": "ScalingDisabled",
        "message": "scaling is disabled since the replica count of the target is zero",
        "lastTransitionTime": "2026-11-20T09:40:00Z",
    }
    status = {"currentReplicas": 0, "desiredReplicas": 0, "conditions": [disabled]}
    hpa = obj("HorizontalPodAutoscaler", "web", api="autoscaling/v2", status=status)
    assert only(run(controllers.check, evidence([hpa], now=LATE)), CHECK) == []


def test_pods_on_a_notready_node_are_reported() -> None:
    dep = obj("Deployment", "web", api="apps/v1")
    rs = owned(obj("ReplicaSet", "web-1", api="apps/v1"), dep)
    p = owned(pod("web-1-a"), rs)
    p["spec"] = {"nodeName": "node-3"}
    node = obj(
        "Node",
        "node-3",
        ns=None,
        status={
            "conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]
        },
    )
    healthy = obj(
        "Node", "node-1", ns=None, status={"conditions": [{"type": "Ready", "status": "True"}]}
    )
    [f] = only(run(controllers.check, evidence([dep, rs, p, node, healthy], now=LATE)), CHECK)
    assert f["message"].startswith("kubelet on node node-3: NotReady (NodeStatusUnknown)")
    assert "web-1-a" in f["message"]


def test_nothing_to_say_about_a_fresh_application() -> None:
    ev = evidence(app=_app(reconciledAt=SYNC), now="2026-11-27T10:03:00Z")
    assert run(controllers.check, ev) == []


def test_a_cordoned_node_is_a_warning_and_says_nothing_of_daemonset_pods() -> None:
    node = obj("Node", "node-3", ns=None, spec={"unschedulable": True})
    ds = obj("DaemonSet", "agent", api="apps/v1")
    agent = owned(pod("agent-a"), ds)
    agent["spec"] = {"nodeName": "node-3"}
    assert only(run(controllers.check, evidence([ds, agent, node], now=LATE)), CHECK) == []
    dep = obj("Deployment", "web", api="apps/v1")
    web = owned(pod("web-a"), dep)
    web["spec"] = {"nodeName": "node-3"}
    [f] = only(run(controllers.check, evidence([ds, agent, dep, web, node], now=LATE)), CHECK)
    assert f["severity"] == "warning"
    assert f["message"] == (
        "kubelet on node node-3: cordoned; the app's pods web-a run there and a drain would "
        "evict them"
    )
