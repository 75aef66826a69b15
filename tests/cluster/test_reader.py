"""The cluster adapter against a Kubernetes API over HTTP, through the official client."""

from __future__ import annotations

import base64
import socket
import time

import kmock
import pytest

from tests.cluster.fakeapi import ApiServer
from webhooks.cluster.errors import ForbiddenError
from webhooks.cluster.reader import KubeClient, connect
from webhooks.cluster.resources import APPLICATION, POD, SECRET, TRUTHCHECK, ResourceType
from webhooks.errors import ClusterError, ConflictError

APP = {
    "metadata": {"name": "shop-web", "namespace": "argocd"},
    "spec": {"destination": {"namespace": "shop"}},
    "status": {
        "sync": {"status": "Synced", "revision": "abc123"},
        "operationState": {"phase": "Running", "startedAt": "2026-11-27T10:00:00Z"},
    },
}


def test_objects_come_back_as_the_api_wrote_them(api: ApiServer, kube: KubeClient) -> None:
    api.put(APPLICATION, APP)
    app = kube.get_object(APPLICATION, "argocd", "shop-web")
    assert app is not None
    assert app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["kind"] == "Application"
    assert app["status"]["operationState"]["startedAt"] == "2026-11-27T10:00:00Z"  # camelCase


def test_listed_items_regain_apiversion_and_kind(api: ApiServer, kube: KubeClient) -> None:
    api.put(
        POD, {"metadata": {"name": "web-1", "namespace": "shop"}, "status": {"phase": "Pending"}}
    )
    api.put(POD, {"metadata": {"name": "other", "namespace": "elsewhere"}})
    pods = kube.list_objects(POD, "shop")
    assert [(p["apiVersion"], p["kind"], p["metadata"]["name"]) for p in pods] == [
        ("v1", "Pod", "web-1")
    ]


def test_secret_values_never_leave_the_adapter(api: ApiServer, kube: KubeClient) -> None:
    value = base64.b64encode(b"hunter2").decode()
    api.put(
        SECRET,
        {
            "metadata": {
                "name": "db",
                "namespace": "shop",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": f'{{"data":{{"p":"{value}"}}}}',
                    "team": "shop",
                },
            },
            "type": "Opaque",
            "data": {"password": value},
            "stringData": {"password": "hunter2"},
        },
    )
    listed = kube.list_objects(SECRET, "shop")
    fetched = kube.get_object(SECRET, "shop", "db")
    for secret in (listed[0], fetched):
        assert secret is not None
        assert "hunter2" not in str(secret) and value not in str(secret)
        assert secret["metadata"]["annotations"] == {"team": "shop"}
        assert secret["type"] == "Opaque"
    # truthgate's own credentials are read through a separate door, decoded.
    assert kube.secret_value("shop", "db", "password") == "hunter2"


def test_missing_object_is_none_and_unserved_type_lists_empty(kube: KubeClient) -> None:
    assert kube.get_object(TRUTHCHECK, "shop", "nope") is None
    assert kube.list_objects(ResourceType("example.com", "v1", "widgets", "Widget"), "shop") == []


def test_status_patch_writes_status_only(api: ApiServer, kube: KubeClient) -> None:
    tc = api.put(
        TRUTHCHECK,
        {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"observationWindow": "2m"}},
    )
    out = kube.patch_status(
        TRUTHCHECK, "shop", "web", {"verdict": "Healthy"}, tc["metadata"]["resourceVersion"]
    )
    assert out["status"] == {"verdict": "Healthy"}
    stored = api.get(TRUTHCHECK, "shop", "web")
    assert stored is not None
    assert stored["spec"] == {"observationWindow": "2m"}
    assert stored["metadata"]["resourceVersion"] != tc["metadata"]["resourceVersion"]


def test_stale_resource_version_is_a_conflict(api: ApiServer, kube: KubeClient) -> None:
    tc = api.put(TRUTHCHECK, {"metadata": {"name": "web", "namespace": "shop"}, "spec": {}})
    api.set_status(TRUTHCHECK, "shop", "web", {"verdict": "Degraded"})  # someone else wrote
    with pytest.raises(ConflictError, match="modified"):
        kube.patch_status(
            TRUTHCHECK, "shop", "web", {"verdict": "Healthy"}, tc["metadata"]["resourceVersion"]
        )
    stored = api.get(TRUTHCHECK, "shop", "web")
    assert stored is not None and stored["status"] == {"verdict": "Degraded"}


def test_forbidden_names_the_missing_verb_and_resource(api: ApiServer, kube: KubeClient) -> None:
    (
        api.emulator[kmock.resource("", "v1", "secrets")]
        << 403
        << {
            "kind": "Status",
            "code": 403,
            "reason": "Forbidden",
            "message": 'secrets is forbidden: User "system:serviceaccount:shop:truthgate" cannot '
            'list resource "secrets" in API group "" in the namespace "shop"',
        }
    )
    with pytest.raises(ForbiddenError) as err:
        kube.list_objects(SECRET, "shop")
    assert "cannot list secrets in namespace 'shop'" in str(err.value)
    assert err.value.verb == "list" and err.value.resource == "secrets"


def test_unreachable_api_fails_fast_with_a_cluster_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        client = connect(server=f"http://127.0.0.1:{port}", timeout=2)
        started = time.monotonic()
        with pytest.raises(ClusterError, match="cannot reach the Kubernetes API"):
            client.get_object(APPLICATION, "argocd", "x")
        assert time.monotonic() - started < 10
