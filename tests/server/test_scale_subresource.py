"""`kubectl scale` on a GitOps-managed workload is judged and recorded like any other edit.

The API server sends the scale subresource's object, an autoscaling/v1 Scale with no labels or
annotations. The webhook reads the workload being scaled from the Kubernetes API (the real
client against the mock API server over HTTP) and ties the request to that workload's app.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import kmock
import pytest
from flask.testing import FlaskClient

from tests.admission.reviews import ALICE, ARGOCD, deployment
from tests.cluster.fakeapi import ApiServer, serve_api
from tests.server.test_app import post
from tests.support.net import free_port
from webhooks.admission.config import AdmissionConfig
from webhooks.cluster.reader import scale_parent_fetch
from webhooks.cluster.resources import DEPLOYMENT
from webhooks.ledger.store import IntentStore
from webhooks.policy.engine import PolicyEngine
from webhooks.server.app import create_app
from webhooks.server.metrics import Metrics


def scale_review(username: str, replicas: int = 0, name: str = "web") -> dict[str, Any]:
    scale: dict[str, Any] = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": "0b0c5e4e-2f35-4c43-9d6b-6a3c1b3c3f11",
            "resourceVersion": "48213",
            "creationTimestamp": "2026-11-20T09:00:00Z",
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": 2, "selector": "app.kubernetes.io/name=web"},
    }
    old = copy.deepcopy(scale)
    old["spec"]["replicas"] = 2
    gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    gvr = {"group": "apps", "version": "v1", "resource": "deployments"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "5d3c2a4e-1f0d-4f5e-9a55-3c2d1e0f9a8b",
            "kind": gvk,
            "resource": gvr,
            "subResource": "scale",
            "requestKind": gvk,
            "requestResource": gvr,
            "requestSubResource": "scale",
            "name": name,
            "namespace": "shop",
            "operation": "UPDATE",
            "userInfo": {"username": username, "groups": ["system:authenticated"]},
            "object": scale,
            "oldObject": old,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"},
        },
    }


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with serve_api() as server:
        server.put(DEPLOYMENT, deployment())
        yield server


def client_for(
    url: str, config: AdmissionConfig, engine: PolicyEngine, store: IntentStore
) -> FlaskClient:
    app = create_app(
        config, engine, store, Metrics(), parents=scale_parent_fetch(timeout=1, server=url)
    )
    return app.test_client()


def test_a_person_scaling_a_managed_deployment_to_zero_is_denied_and_recorded(
    api: ApiServer, config: AdmissionConfig, engine: PolicyEngine, store: IntentStore
) -> None:
    client = client_for(api.url, config, engine, store)
    answer = post(client, scale_review(ALICE))
    assert answer["allowed"] is False
    assert "managed by Argo CD app shop-web" in answer["status"]["message"]
    [intent] = list(store.intents(app="shop-web"))
    # Recorded as the edit of the Deployment it is: who, what, and the replicas it asked for.
    assert intent["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert (intent["namespace"], intent["name"]) == ("shop", "web")
    assert intent["actor"]["username"] == ALICE
    assert {"op": "replace", "path": "/spec/replicas", "value": 0} in intent["patch"]
    assert intent["decision"]["allowed"] is False


def test_argo_cd_scaling_its_own_deployment_is_allowed_and_recorded(
    api: ApiServer, config: AdmissionConfig, engine: PolicyEngine, store: IntentStore
) -> None:
    client = client_for(api.url, config, engine, store)
    assert post(client, scale_review(ARGOCD, replicas=3))["allowed"] is True
    [intent] = list(store.intents(app="shop-web"))
    assert intent["decision"]["allowed"] is True


def test_break_glass_on_the_deployment_covers_its_scale(
    api: ApiServer, config: AdmissionConfig, engine: PolicyEngine, store: IntentStore
) -> None:
    api.put(DEPLOYMENT, deployment(annotations={"truthgate.dev/break-glass": "INC-42"}))
    client = client_for(api.url, config, engine, store)
    answer = post(client, scale_review(ALICE))
    assert answer["allowed"] is True
    assert any("break-glass INC-42" in w for w in answer["warnings"])
    [intent] = list(store.intents(app="shop-web"))
    assert intent["breakGlass"] == "INC-42"


def test_scaling_an_unmanaged_deployment_is_neither_judged_nor_recorded(
    api: ApiServer, config: AdmissionConfig, engine: PolicyEngine, store: IntentStore
) -> None:
    api.put(DEPLOYMENT, deployment(name="scratch", app=None))
    client = client_for(api.url, config, engine, store)
    assert post(client, scale_review(ALICE, name="scratch"))["allowed"] is True
    assert list(store.intents()) == []


@pytest.mark.parametrize(("mode", "allowed"), [("fail-open", True), ("fail-closed", False)])
def test_when_the_workload_cannot_be_read_the_failure_mode_applies(
    config: AdmissionConfig,
    engine: PolicyEngine,
    store: IntentStore,
    mode: str,
    allowed: bool,
) -> None:
    # The API server is unreachable: answered at once, under the configured failure mode.
    client = client_for(
        f"http://127.0.0.1:{free_port()}",
        replace(config, failure_mode=mode),  # type: ignore[arg-type]
        engine,
        store,
    )
    answer = post(client, scale_review(ALICE))
    assert answer["allowed"] is allowed
    text = " ".join(answer.get("warnings") or []) + (answer.get("status") or {}).get("message", "")
    assert "cannot read the workload this scale request changes" in text


def test_a_forbidden_read_applies_the_failure_mode_too(
    api: ApiServer, config: AdmissionConfig, engine: PolicyEngine, store: IntentStore
) -> None:
    api.emulator[kmock.resource("apps", "v1", "deployments")] << 403 << {"code": 403}
    client = client_for(api.url, replace(config, failure_mode="fail-open"), engine, store)
    answer = post(client, scale_review(ALICE))
    assert answer["allowed"] is True
    # The requester's warning is clipped; it still says what truthgate could not do.
    assert any("cannot read the workload this scale request" in w for w in answer["warnings"])
