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
ISSUER_TYPE = ResourceType("cert-manager.io", "v1", "issuers", "Issuer")
SERVED = {
    ("cert-manager.io", "v1"): [
        ServedType(CERTIFICATE, True),
        ServedType(CLUSTERISSUER, False),
        ServedType(ISSUER_TYPE, True),
    ]
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


def certificate(
    name: str, namespace: str = "shop", issuer_ref: dict[str, str] | None = None
) -> KubeObject:
    cert: KubeObject = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
    }
    if issuer_ref is not None:
        cert["spec"] = {"secretName": name, "issuerRef": issuer_ref}
    return cert


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


def test_the_issuer_a_certificate_names_is_read_though_another_app_owns_it() -> None:
    """The platform's ClusterIssuer is another app's: read because the app's Certificate names
    it, with a cluster-scoped get, once for the two Certificates that name it."""
    ref = {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    cluster = Cluster(
        (CLUSTERISSUER, issuer("letsencrypt")),
        (CERTIFICATE, certificate("web-tls", issuer_ref=ref)),
        (CERTIFICATE, certificate("api-tls", issuer_ref=ref)),
    )
    api = {"kind": "Certificate", "namespace": "shop", "name": "api-tls"}
    gaps: list[str] = []

    found = custom_objects(cluster, app(CERT, api), gaps)

    assert [(o["kind"], o["metadata"]["name"]) for o in found] == [
        ("Certificate", "web-tls"),
        ("Certificate", "api-tls"),
        ("ClusterIssuer", "letsencrypt"),
    ]
    assert cluster.gets.count(("clusterissuers", None, "letsencrypt")) == 1
    assert gaps == []


def test_a_named_issuer_is_read_in_the_certificates_namespace_and_not_twice() -> None:
    """An Issuer (kind omitted: cert-manager's default) is namespaced: read beside its
    Certificate. One the app lists itself is not read again."""
    local: KubeObject = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "selfsigned", "namespace": "shop"},
    }
    cluster = Cluster(
        (ISSUER_TYPE, local),
        (CERTIFICATE, certificate("web-tls", issuer_ref={"name": "selfsigned"})),
    )

    alone = custom_objects(cluster, app(CERT), [])
    assert [o["kind"] for o in alone] == ["Certificate", "Issuer"]
    assert ("issuers", "shop", "selfsigned") in cluster.gets

    cluster.gets.clear()
    listed = {"kind": "Issuer", "namespace": "shop", "name": "selfsigned"}
    both = custom_objects(cluster, app(CERT, listed), [])
    assert [o["kind"] for o in both] == ["Certificate", "Issuer"]
    assert cluster.gets.count(("issuers", "shop", "selfsigned")) == 1


def test_an_issuer_of_a_group_discovery_did_not_serve_is_not_read() -> None:
    ref = {"name": "vault", "kind": "VaultIssuer", "group": "vault.example.com"}
    cluster = Cluster((CERTIFICATE, certificate("web-tls", issuer_ref=ref)))
    found = custom_objects(cluster, app(CERT), [])
    assert [o["kind"] for o in found] == ["Certificate"]
    assert cluster.gets == [("certificates", "shop", "web-tls")]


def test_a_forbidden_issuer_it_waits_on_is_a_gap_and_the_certificate_still_counts() -> None:
    ref = {"name": "letsencrypt", "kind": "ClusterIssuer"}
    cluster = Cluster((CERTIFICATE, certificate("web-tls", issuer_ref=ref)))
    cluster.refuse[("clusterissuers", None)] = ForbiddenError(
        "get", "clusterissuers.cert-manager.io", None, "RBAC: access denied"
    )
    gaps: list[str] = []
    found = custom_objects(cluster, app(CERT), gaps)
    assert [o["kind"] for o in found] == ["Certificate"]
    assert gaps == ["clusterissuers.cert-manager.io (forbidden)"]
