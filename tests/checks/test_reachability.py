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
