"""The application's custom resources, read one by one: namespaced and cluster-scoped ones.

A small in-memory cluster stands in for the API (the real client path is tested in
test_verify_cli.py): it serves what discovery says, answers gets by (type, namespace, name)
and records every get, so the tests see exactly what was asked and with which scope.
"""

from __future__ import annotations

from typing import Any

import pytest

from webhooks.cluster.errors import ForbiddenError
from webhooks.cluster.resources import ResourceType, ServedType
from webhooks.errors import ClusterError
from webhooks.evidence.model import KubeObject
from webhooks.postsync.custom import MAX_OBJECTS, custom_objects

CERTIFICATE = ResourceType("cert-manager.io", "v1", "certificates", "Certificate")
CLUSTERISSUER = ResourceType("cert-manager.io", "v1", "clusterissuers", "ClusterIssuer")
SERVED = {
    ("cert-manager.io", "v1"): [ServedType(CERTIFICATE, True), ServedType(CLUSTERISSUER, False)]
}

Key = tuple[str, str | None, str]  # (plural, namespace, name)


class Cluster:
    def __init__(self, *objects: tuple[ResourceType, KubeObject]) -> None:
        self.objects: dict[Key, KubeObject] = {
            (rtype.plural, o["metadata"].get("namespace"), o["metadata"]["name"]): o
            for rtype, o in objects
        }
        self.refuse: dict[tuple[str, str | None], ClusterError] = {}
        self.gets: list[Key] = []

    def get_object(
        self, rtype: ResourceType, namespace: str | None, name: str
    ) -> KubeObject | None:
        self.gets.append((rtype.plural, namespace, name))
        if (error := self.refuse.get((rtype.plural, namespace))) is not None:
            raise error
        return self.objects.get((rtype.plural, namespace, name))

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[KubeObject]:
        raise AssertionError("custom resources are read by name, never listed")

    def served_types(self, group: str, version: str) -> list[ServedType]:
        return SERVED.get((group, version), [])

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        raise AssertionError("no credentials here")


def issuer(name: str) -> KubeObject:
    return {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": name}}


def certificate(name: str, namespace: str = "shop") -> KubeObject:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
    }


def app(*resources: dict[str, Any]) -> KubeObject:
    """An Application whose status.resources lists ``resources`` as Argo CD writes them (a
    cluster-scoped one without a namespace)."""
    listed = [
        {"group": "cert-manager.io", "version": "v1", "status": "Synced", **r} for r in resources
    ]
    return {
        "metadata": {"name": "shop-web", "namespace": "argocd"},
        "status": {"resources": listed},
    }


ISSUER = {"kind": "ClusterIssuer", "name": "letsencrypt"}
CERT = {"kind": "Certificate", "namespace": "shop", "name": "web-tls"}


def test_a_cluster_scoped_resource_is_read_with_a_cluster_scoped_get() -> None:
    cluster = Cluster((CLUSTERISSUER, issuer("letsencrypt")), (CERTIFICATE, certificate("web-tls")))
    gaps: list[str] = []
    found = custom_objects(cluster, app(ISSUER, CERT), gaps)
    assert [(o["kind"], o["metadata"]["name"]) for o in found] == [
        ("ClusterIssuer", "letsencrypt"),
        ("Certificate", "web-tls"),
    ]
    assert cluster.gets == [
        ("clusterissuers", None, "letsencrypt"),
        ("certificates", "shop", "web-tls"),
    ]
    assert gaps == []


def test_discovery_decides_the_scope_not_the_listed_namespace() -> None:
    cluster = Cluster((CLUSTERISSUER, issuer("letsencrypt")))
    # A cluster-scoped kind listed with a namespace is still read cluster-wide; a namespaced
    # kind listed without one cannot be named and is not read.
    gaps: list[str] = []
    found = custom_objects(
        cluster,
        app({**ISSUER, "namespace": "shop"}, {"kind": "Certificate", "name": "orphan"}),
        gaps,
    )
    assert [o["metadata"]["name"] for o in found] == ["letsencrypt"]
    assert cluster.gets == [("clusterissuers", None, "letsencrypt")]
    assert gaps == []


def test_a_forbidden_cluster_scoped_type_is_one_gap_without_a_namespace() -> None:
    cluster = Cluster(
        (CLUSTERISSUER, issuer("letsencrypt")),
        (CLUSTERISSUER, issuer("letsencrypt-staging")),
        (CERTIFICATE, certificate("web-tls")),
    )
    cluster.refuse[("clusterissuers", None)] = ForbiddenError(
        "get", "clusterissuers.cert-manager.io", None, "RBAC: access denied"
    )
    gaps: list[str] = []
    found = custom_objects(
        cluster, app(ISSUER, {**ISSUER, "name": "letsencrypt-staging"}, CERT), gaps
    )
    assert [o["kind"] for o in found] == ["Certificate"]  # the rest is still read
    assert gaps == ["clusterissuers.cert-manager.io (forbidden)"]
    assert [g for g in cluster.gets if g[0] == "clusterissuers"] == [
        ("clusterissuers", None, "letsencrypt")  # not tried again for the second one
    ]


def test_a_failed_read_is_a_gap_and_a_gone_object_is_skipped() -> None:
    cluster = Cluster((CERTIFICATE, certificate("web-tls")))  # no ClusterIssuer "retired"
    gaps: list[str] = []
    found = custom_objects(cluster, app({**ISSUER, "name": "retired"}, CERT), gaps)
    assert [o["kind"] for o in found] == ["Certificate"] and gaps == []

    cluster.refuse[("clusterissuers", None)] = ClusterError("get clusterissuers: HTTP 500")
    found = custom_objects(cluster, app(ISSUER, CERT), gaps)
    assert [o["kind"] for o in found] == ["Certificate"]
    assert gaps == ["clusterissuers.cert-manager.io (could not be read)"]


def test_cluster_scoped_resources_count_against_the_same_bound() -> None:
    names = [f"issuer-{i:03d}" for i in range(MAX_OBJECTS + 5)]
    cluster = Cluster(*((CLUSTERISSUER, issuer(n)) for n in names))
    gaps: list[str] = []
    found = custom_objects(cluster, app(*({**ISSUER, "name": n} for n in names)), gaps)
    assert len(found) == len(cluster.gets) == MAX_OBJECTS
    assert gaps == [f"custom resources beyond the first {MAX_OBJECTS} (of {MAX_OBJECTS + 5})"]


@pytest.mark.parametrize("namespace", [None, ""])
def test_an_entry_without_a_namespace_names_the_cluster_scoped_object(
    namespace: str | None,
) -> None:
    # Argo CD omits the namespace of a cluster-scoped resource; an empty one means the same.
    cluster = Cluster((CLUSTERISSUER, issuer("letsencrypt")))
    entry = {**ISSUER} if namespace is None else {**ISSUER, "namespace": namespace}
    assert [o["metadata"]["name"] for o in custom_objects(cluster, app(entry), [])] == [
        "letsencrypt"
    ]
