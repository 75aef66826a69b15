"""What Gatekeeper constraints read from the cluster: data.inventory lists, namespace labels."""

from __future__ import annotations

from typing import Any

from tests.cluster.fakeapi import ApiServer
from webhooks.cluster.reader import KubeClient, inventory_lister, namespace_labels_fetch
from webhooks.cluster.resources import NAMESPACE, ResourceType
from webhooks.policy.gatekeeper.inventory import SyncKind

INGRESS = ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress")


def test_inventory_lists_a_kind_in_every_namespace(api: ApiServer, kube: KubeClient) -> None:
    for ns in ("shop", "blog"):
        api.put(INGRESS, {"metadata": {"name": "web", "namespace": ns}, "spec": {"rules": []}})
    listed = inventory_lister(lambda: kube)(SyncKind("networking.k8s.io", "v1", "Ingress"))
    assert sorted(o["metadata"]["namespace"] for o in listed) == ["blog", "shop"]
    assert {(o["apiVersion"], o["kind"]) for o in listed} == {("networking.k8s.io/v1", "Ingress")}


class OneNamespace:
    """A reader answering one Namespace; records the requests."""

    def __init__(self) -> None:
        self.asked: list[tuple[ResourceType, str | None, str]] = []

    def get_object(self, rtype: ResourceType, namespace: str | None, name: str) -> Any:
        self.asked.append((rtype, namespace, name))
        if name == "prod":
            return {"metadata": {"name": "prod", "labels": {"env": "prod"}}}
        return None


def test_namespace_labels_are_one_get_of_the_namespace() -> None:
    reader = OneNamespace()
    fetch = namespace_labels_fetch(lambda: reader)  # type: ignore[arg-type,return-value]
    assert fetch("prod") == {"env": "prod"}
    assert fetch("gone") is None
    assert reader.asked == [(NAMESPACE, None, "prod"), (NAMESPACE, None, "gone")]
    assert NAMESPACE.path(None, "prod") == "/api/v1/namespaces/prod"
