"""Reachability: Services that select nothing or have no ready endpoint."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import EARLY, evidence, obj, pod, run
from webhooks.checks import reachability

SEL = {"app": "web"}


def _svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    return obj("Service", name, spec={"type": "ClusterIP", "selector": SEL, **spec})


def _slice(service: str, *ready: bool | None) -> dict[str, Any]:
    endpoints = [
        {"addresses": [f"10.0.0.{i}"], **({} if r is None else {"conditions": {"ready": r}})}
        for i, r in enumerate(ready)
    ]
    return obj(
        "EndpointSlice",
        f"{service}-abc",
        api="discovery.k8s.io/v1",
        metadata={"labels": {"kubernetes.io/service-name": service}},
        endpoints=endpoints,
    )


def test_ready_endpoint_means_reachable() -> None:
    ev = evidence([_svc(), pod("web-1", labels=SEL), _slice("web", True, False)])
    assert run(reachability.check, ev) == []


def test_zero_ready_endpoints_is_critical_after_grace() -> None:
    ev = evidence([_svc(), pod("web-1", labels=SEL, ready=False), _slice("web", False, False)])
    [f] = run(reachability.check, ev)
    assert f["severity"] == "critical"
    assert f["message"].startswith("Service shop/web has 0 ready endpoints (2 not ready)")


def test_absent_ready_condition_counts_as_ready_as_the_api_says() -> None:
    ev = evidence([_svc(), pod("web-1", labels=SEL), _slice("web", None)])
    assert run(reachability.check, ev) == []


def test_selector_matching_no_pod_names_the_selector() -> None:
    ev = evidence([_svc(), pod("web-1", labels={"app": "web-frontend"}), _slice("web")], now=EARLY)
    [f] = run(reachability.check, ev)
    assert f["check"] == "reachability/selector" and f.get("converging") is True
    assert "selector app=web matches none of the 1 pods in namespace shop" in f["message"]


def test_external_name_services_are_skipped() -> None:
    ev = evidence(
        [
            _svc(type="ExternalName", externalName="db.example.com", selector=None),
            _slice("other", True),
        ]
    )
    assert run(reachability.check, ev) == []


def test_headless_service_is_judged_on_its_slices() -> None:
    ev = evidence([_svc(clusterIP="None"), pod("web-1", labels=SEL), _slice("web", False)])
    [f] = run(reachability.check, ev)
    assert "0 ready endpoints" in f["message"]


def test_without_collected_endpoint_slices_no_endpoint_verdict_is_made() -> None:
    ev = evidence([_svc(), pod("web-1", labels=SEL)])
    assert run(reachability.check, ev) == []


def test_service_without_selector_is_judged_on_manual_slices_only() -> None:
    ev = evidence([_svc(selector=None), _slice("web", True), pod("x", labels={"a": "b"})])
    assert run(reachability.check, ev) == []


def _deployment(replicas: int) -> dict[str, Any]:
    template = {"metadata": {"labels": SEL}, "spec": {"containers": [{"name": "web"}]}}
    return obj(
        "Deployment", "web", api="apps/v1", spec={"replicas": replicas, "template": template}
    )


def test_a_service_in_front_of_a_workload_scaled_to_zero_on_purpose_is_left_alone() -> None:
    other = pod("api-1", labels={"app": "api"})
    assert run(reachability.check, evidence([_svc(), _deployment(0), other, _slice("web")])) == []
    [f] = run(reachability.check, evidence([_svc(), _deployment(2), other, _slice("web")]))
    assert f["check"] == "reachability/selector"


def test_ready_pods_no_endpoint_lists_names_the_target_port_they_lack() -> None:
    web = pod(
        "web-1",
        labels=SEL,
        spec={"containers": [{"name": "web", "ports": [{"name": "web", "containerPort": 8080}]}]},
    )
    named = _svc(ports=[{"port": 80, "targetPort": "http"}])
    [f] = run(reachability.check, evidence([named, web, _slice("web")]))
    assert f["message"].startswith(
        "Service shop/web has 0 ready endpoints; 1 ready pods match its selector, but none has a "
        "port named http (its targetPort)"
    )
    numbered = _svc(ports=[{"port": 80, "targetPort": 8080}])
    [f] = run(reachability.check, evidence([numbered, web, _slice("web")]))
    assert (
        "1 ready pods match its selector, but none is listed in its EndpointSlices"
        in (f["message"])
    )
