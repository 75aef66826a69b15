"""A manifest becomes the AdmissionReview the API server would send for the change a user means."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.admission.conftest import POLICIES
from tests.admission.reviews import ARGOCD, ARGOCD_GROUPS
from webhooks.admission.config import load_config
from webhooks.admission.decide import decide
from webhooks.admission.manifest import documents, find_old, guess_resource, review_for
from webhooks.admission.review import parse_review
from webhooks.errors import BadRequestError
from webhooks.policy.regorus_engine import RegorusEngine

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
CONFIG = load_config(POLICIES / "enforcement.yaml")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def manifest(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return doc


def make(obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("username", ARGOCD)
    return review_for(obj, where="deployment.yaml", uid="u-1", **kw)


def test_a_create_looks_like_the_api_servers() -> None:
    request = make(manifest("deployment.yaml"))["request"]
    assert request["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert request["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    assert request["requestKind"] == request["kind"]
    assert (request["name"], request["namespace"], request["operation"]) == (
        "web",
        "shop",
        "CREATE",
    )
    # A service account gets the groups the API server gives it.
    assert request["userInfo"] == {"username": ARGOCD, "groups": ARGOCD_GROUPS}
    assert request["object"] == manifest("deployment.yaml") and request["oldObject"] is None
    assert request["dryRun"] is False
    assert request["options"] == {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}


def test_update_against_the_live_object_patches_only_what_changed(
    shipped_engine: RegorusEngine,
) -> None:
    doc = make(
        manifest("deployment.yaml"), operation="UPDATE", old=manifest("deployment-live.yaml")
    )
    d = decide(parse_review(doc), shipped_engine, CONFIG, NOW)
    assert d.allowed and d.intent is not None
    assert d.intent["patch"] == [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/image",
            "value": "registry.example.com/shop/web:1.5.0",
        }
    ]
    assert d.intent["app"] == "shop-web" and d.intent["actor"]["class"] == "argocd"


def test_delete_sends_the_object_as_old_object() -> None:
    request = make(manifest("deployment.yaml"), operation="DELETE", dry_run=True)["request"]
    assert request["object"] is None and request["oldObject"]["kind"] == "Deployment"
    assert request["dryRun"] is True
    assert request["options"]["kind"] == "DeleteOptions"


def test_a_person_gets_only_system_authenticated_unless_groups_are_given() -> None:
    request = make(manifest("deployment.yaml"), username="alice@example.com")["request"]
    assert request["userInfo"] == {
        "username": "alice@example.com",
        "groups": ["system:authenticated"],
    }
    request = make(manifest("deployment.yaml"), username="alice", groups=["dev"])["request"]
    assert request["userInfo"]["groups"] == ["dev"]


def test_a_namespace_is_filled_in_where_the_manifest_names_none() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
    assert "namespace" not in make(obj)["request"]  # as for a cluster-scoped object
    request = make(obj, namespace="shop")["request"]
    assert request["namespace"] == "shop" and request["object"]["metadata"]["namespace"] == "shop"
    assert obj["metadata"] == {"name": "cfg"}  # the caller's manifest is not changed


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        ("Deployment", "deployments"),
        ("Ingress", "ingresses"),
        ("NetworkPolicy", "networkpolicies"),
        ("Gateway", "gateways"),
        ("ClusterRole", "clusterroles"),
        ("Endpoints", "endpoints"),
        ("Status", "statuses"),
    ],
)
def test_resource_names_are_the_plurals_discovery_uses(kind: str, resource: str) -> None:
    assert guess_resource(kind) == resource


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"apiVersion": None}, "apiVersion is missing"),
        ({"kind": None}, "kind is missing"),
        ({"metadata": None}, "metadata is missing"),
        ({"metadata": {"namespace": "shop"}}, "metadata.name is missing"),
    ],
)
def test_an_incomplete_manifest_is_refused_saying_what_lacks(
    change: dict[str, Any], said: str
) -> None:
    obj = {**manifest("deployment.yaml"), **change}
    with pytest.raises(BadRequestError, match=said):
        make(obj)


def test_an_update_needs_the_old_object_and_the_same_object() -> None:
    with pytest.raises(BadRequestError, match="--old FILE"):
        make(manifest("deployment.yaml"), operation="UPDATE")
    other = {**manifest("deployment-live.yaml"), "kind": "StatefulSet"}
    with pytest.raises(BadRequestError, match="another object"):
        make(manifest("deployment.yaml"), operation="UPDATE", old=other)
    with pytest.raises(BadRequestError, match="only for --operation UPDATE"):
        make(manifest("deployment.yaml"), old=manifest("deployment-live.yaml"))


def test_the_old_object_is_found_among_several_by_kind_namespace_and_name() -> None:
    text = (EXAMPLES / "deployment-live.yaml").read_text()
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: shop}\n"
    olds = documents(f"{cm}---\n{text}", "live.yaml")
    assert find_old(manifest("deployment.yaml"), olds, "x")["kind"] == "Deployment"
    with pytest.raises(BadRequestError, match="exactly once"):
        find_old({**manifest("deployment.yaml"), "kind": "DaemonSet"}, olds, "x")


def test_documents_reads_yaml_streams_json_and_lists() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n"
        '{"apiVersion": "v1", "kind": "List", "items": ['
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}},'
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]}\n'
    )
    docs = documents(text, "in.yaml")
    assert [(d.where, d.obj["metadata"]["name"]) for d in docs] == [
        ("in.yaml#1", "a"),
        ("in.yaml#2[1]", "b"),
        ("in.yaml#2[2]", "c"),
    ]
    assert not any(d.is_review for d in docs)
    review = (EXAMPLES / "admission-review-deployment-update.json").read_text()
    (doc,) = documents(review, "review.json")
    assert doc.is_review and doc.where == "review.json"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("kind: [unclosed\n", r"in.yaml:\d+:\d+: not valid YAML or JSON"),
        ("- a\n- b\n", "expected a Kubernetes object"),
        ("# only a comment\n", "no document in it"),
        ("[" * 150 + "]" * 150, "nested deeper"),
    ],
)
def test_unusable_text_is_refused_with_where_and_why(text: str, said: str) -> None:
    with pytest.raises(BadRequestError, match=said):
        documents(text if not text.startswith("[") else f"a: {text}", "in.yaml")
