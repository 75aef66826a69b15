"""The defensive readers every check relies on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from webhooks.checks import kube
from webhooks.checks.index import ObjectIndex


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", Decimal(10)),
        ("250m", Decimal("0.25")),
        ("1Gi", Decimal(2**30)),
        ("1.5k", Decimal(1500)),
        ("1e3", Decimal(1000)),
        (3, Decimal(3)),
    ],
)
def test_quantities_parse_like_the_api(text: object, value: Decimal) -> None:
    assert kube.parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "10",
        "250m",
        "1Gi",
        "1.5k",
        "1e3",
        "129e6",
        "129M",
        "123Mi",
        "1.5Gi",
        "2Ti",
        "1Ei",
        "3E",
        "1n",
        "5u",
        "0.5",
        "+5",
        "-1",
        "0",
        "12e-3",
        "1.2.3",
        "1Qi",
        "ten",
        "",
    ],
)
def test_quantities_read_as_the_kubernetes_client_reads_them(text: str) -> None:
    from kubernetes.utils import parse_quantity

    try:
        expected: Decimal | None = parse_quantity(text)  # type: ignore[no-untyped-call]
    except ValueError:
        expected = None
    assert kube.parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "ten", "1Qi", None, True, [1]])
def test_unparsable_quantities_are_none(bad: object) -> None:
    assert kube.parse_quantity(bad) is None


def test_readers_treat_wrong_types_as_absent() -> None:
    o = {"status": {"replicas": "3", "ready": True, "list": "x"}}
    assert kube.get_int(o, "status", "replicas") is None
    assert kube.get_int(o, "status", "ready") is None  # a JSON true is not a count
    assert kube.get_list(o, "status", "list") == []
    assert kube.get(o, "status", "replicas", "deeper") is None


def test_label_selectors_support_expressions() -> None:
    sel = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "edge"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    }
    assert kube.selector_matches(sel, {"app": "web", "tier": "edge"})
    assert not kube.selector_matches(sel, {"app": "web", "tier": "back"})
    assert not kube.selector_matches(sel, {"app": "web", "tier": "edge", "canary": "1"})


def test_quota_gist_shortens_the_api_servers_refusal() -> None:
    msg = (
        'pods "x" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=250m,'
        " used: pods=10,requests.cpu=2500m, limited: pods=10,requests.cpu=4"
    )
    assert kube.quota_gist(msg) == (
        "exceeded quota compute (requested pods=1,requests.cpu=250m, used pods=10,"
        "requests.cpu=2500m, limited pods=10,requests.cpu=4)"
    )
    assert kube.quota_gist("pods are forbidden: violates PodSecurity") is None


def test_membership_follows_tracking_and_ownership_and_ignores_foreign_objects() -> None:
    app = {
        "metadata": {"name": "shop-web"},
        "status": {"resources": [{"kind": "Service", "namespace": "shop", "name": "listed"}]},
    }
    dep = {
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "d1",
            "annotations": {"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"},
        },
    }
    rs = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "r1",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d1"}],
        },
    }
    pod = {
        "kind": "Pod",
        "metadata": {
            "name": "web-1-a",
            "namespace": "shop",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "uid": "r1"}],
        },
    }
    labelled = {
        "kind": "ConfigMap",
        "metadata": {
            "name": "cfg",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/instance": "shop-web"},
        },
    }
    listed = {"kind": "Service", "metadata": {"name": "listed", "namespace": "shop"}}
    foreign = {
        "kind": "Deployment",
        "metadata": {
            "name": "billing",
            "namespace": "shop",
            "annotations": {
                "argocd.argoproj.io/tracking-id": "billing:apps/Deployment:shop/billing"
            },
        },
    }
    index = ObjectIndex([dep, rs, pod, labelled, listed, foreign], app)
    members = {o["metadata"]["name"] for o in index.objects if index.is_member(o)}
    assert members == {"web", "web-1", "web-1-a", "cfg", "listed"}
    assert index.top_owner(pod) is dep


def test_the_claims_a_statefulset_of_the_app_made_are_the_apps() -> None:
    app = {"metadata": {"name": "analytics"}}
    sts = {
        "kind": "StatefulSet",
        "metadata": {
            "name": "db",
            "namespace": "data",
            "labels": {"app.kubernetes.io/instance": "analytics"},
        },
        "spec": {"volumeClaimTemplates": [{"metadata": {"name": "pgdata"}}]},
    }
    other = {
        "kind": "Deployment",
        "metadata": {
            "name": "x",
            "namespace": "data",
            "labels": {"app.kubernetes.io/instance": "analytics"},
        },
    }

    def claim(name: str, namespace: str = "data") -> dict[str, object]:
        return {"kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace}}

    objects = [sts, other, claim("pgdata-db-0"), claim("pgdata-db-12"), claim("pgdata-db-old")]
    objects += [claim("pgdata-dbx-0"), claim("pgdata-db-1", "elsewhere")]
    index = ObjectIndex(objects, app)
    members = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in index.objects
        if index.is_member(o)
    }
    assert members == {
        ("data", "db"),
        ("data", "x"),
        ("data", "pgdata-db-0"),
        ("data", "pgdata-db-12"),
    }
