"""Which cluster changes bring an audit forward, and to which Argo CD application."""

from __future__ import annotations

import copy
from typing import Any

from webhooks.audit.changes import change_reason, owning_app
from webhooks.cluster.resources import CONFIGMAP, DEPLOYMENT, EVENT, POD, REPLICASET, ResourceType
from webhooks.common.argocd import AppRef

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "generation": 3,
        "annotations": {"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"},
    },
    "status": {"observedGeneration": 3, "readyReplicas": 2, "replicas": 2},
}
RS: dict[str, Any] = {
    "kind": "ReplicaSet",
    "metadata": {
        "name": "web-1",
        "namespace": "shop",
        "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
    },
}
POD_OBJ: dict[str, Any] = {
    "kind": "Pod",
    "metadata": {
        "name": "web-1-a",
        "namespace": "shop",
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.1",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "web", "restartCount": 0}],
    },
}


def _find(rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
    known = {(DEPLOYMENT, "web"): DEPLOY, (REPLICASET, "web-1"): RS, (POD, "web-1-a"): POD_OBJ}
    return known.get((rtype, name)) if namespace == "shop" else None


def _with(obj: dict[str, Any], *path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur = out
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = value
    return out


def test_what_a_verdict_can_depend_on_is_a_reason_and_the_rest_is_noise() -> None:
    not_ready = _with(POD_OBJ, "status", "conditions", value=[{"type": "Ready", "status": "False"}])
    restarted = _with(POD_OBJ, "status", "containerStatuses", value=[{"restartCount": 1}])
    moved_ip = _with(POD_OBJ, "status", "podIP", value="10.0.0.2")
    assert change_reason(POD, POD_OBJ, not_ready) == "Pod shop/web-1-a not ready"
    assert change_reason(POD, POD_OBJ, restarted) == "Pod shop/web-1-a restarted"
    assert change_reason(POD, POD_OBJ, moved_ip) is None
    assert change_reason(POD, None, POD_OBJ) is None  # shows in its workload's status
    fewer = _with(DEPLOY, "status", "readyReplicas", value=1)
    newer = _with(DEPLOY, "metadata", "generation", value=4)
    assert change_reason(DEPLOYMENT, DEPLOY, fewer) == "Deployment shop/web readiness changed"
    assert change_reason(DEPLOYMENT, DEPLOY, newer) == "Deployment shop/web spec changed"
    assert change_reason(DEPLOYMENT, DEPLOY, None) == "Deployment shop/web deleted"
    touched = _with(DEPLOY, "metadata", "labels", value={"x": "y"})
    assert change_reason(DEPLOYMENT, DEPLOY, touched) is None
    assert change_reason(CONFIGMAP, None, {"kind": "ConfigMap", "metadata": {}}) is None


def test_warning_events_count_when_new_or_repeated_normal_ones_never() -> None:
    event = {
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "shop"},
        "type": "Warning",
        "reason": "BackOff",
        "count": 1,
        "involvedObject": {"kind": "Pod", "name": "web-1-a", "namespace": "shop"},
    }
    assert change_reason(EVENT, None, event) == "Warning BackOff on Pod/web-1-a"
    assert change_reason(EVENT, event, copy.deepcopy(event)) is None
    assert change_reason(EVENT, event, _with(event, "count", value=2)) is not None
    assert change_reason(EVENT, None, _with(event, "type", value="Normal")) is None


def test_the_application_is_found_through_owners_and_involved_objects() -> None:
    app = AppRef("shop-web")
    assert owning_app(DEPLOYMENT, DEPLOY, _find) == app
    assert owning_app(POD, POD_OBJ, _find) == app  # pod -> ReplicaSet -> Deployment
    event = {
        "kind": "Event",
        "metadata": {"namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "web-1-a", "namespace": "shop"},
    }
    assert owning_app(EVENT, event, _find) == app
    orphan = _with(POD_OBJ, "metadata", "ownerReferences", value=[])
    assert owning_app(POD, orphan, _find) is None
    elsewhere = _with(event, "involvedObject", value={"kind": "Pod", "name": "x"})
    assert owning_app(EVENT, elsewhere, _find) is None
    labelled = _with(
        orphan, "metadata", "labels", value={"app.kubernetes.io/instance": "team_billing"}
    )
    assert owning_app(POD, labelled, _find) == AppRef("billing", "team")
