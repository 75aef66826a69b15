"""The truthgate context: app, actor, the JSON Patch of the change, Secret redaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonpatch
import pytest

from tests.admission.reviews import ALICE, ARGOCD, configmap, deployment, review, secret
from webhooks.admission.config import AdmissionConfig
from webhooks.admission.context import build_context, classify_actor
from webhooks.admission.decide import decide
from webhooks.admission.redact import REDACTED, redact_object, redact_request
from webhooks.admission.review import AdmissionRequest, parse_review
from webhooks.common.argocd import tracked_app
from webhooks.policy.engine import PolicyOutcome

CONFIG = AdmissionConfig()


def app_key(obj: dict[str, Any]) -> str | None:
    """The application key the policy input carries for ``obj`` (``<ns>_<app>`` or ``<app>``)."""
    ref = tracked_app(obj)
    return ref.key if ref else None


def ctx(doc: dict[str, Any], config: AdmissionConfig = CONFIG) -> Any:
    return build_context(parse_review(doc), config)


# --- which app -------------------------------------------------------------------------------


def test_tracking_id_names_the_app() -> None:
    c = ctx(review("UPDATE", deployment(), deployment()))
    assert (c["app"], c["managed"], c["appName"], c["appNamespace"]) == (
        "shop-web",
        True,
        "shop-web",
        None,
    )


def test_apps_in_any_namespace_keep_the_namespace_prefix() -> None:
    c = ctx(review("UPDATE", deployment(app="team-a_shop-web"), deployment()))
    assert c["app"] == "team-a_shop-web"
    assert (c["appName"], c["appNamespace"]) == ("shop-web", "team-a")


def test_core_group_and_cluster_scoped_tracking_ids() -> None:
    cm = configmap()
    assert app_key(cm) == "shop-web"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "viewer",
            "annotations": {
                "argocd.argoproj.io/tracking-id": (
                    "platform:rbac.authorization.k8s.io/ClusterRole:/viewer"
                )
            },
        },
    }
    assert app_key(role) == "platform"


def test_a_tracking_id_copied_from_another_object_is_ignored() -> None:
    obj = deployment(
        app=None,
        annotations={"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/other"},
    )
    assert app_key(obj) is None
    obj["metadata"]["labels"]["app.kubernetes.io/instance"] = "shop-legacy"
    assert app_key(obj) == "shop-legacy"


def test_malformed_tracking_id_falls_back_to_the_instance_label() -> None:
    obj = deployment(
        app=None,
        annotations={"argocd.argoproj.io/tracking-id": "garbage"},
        labels={"app.kubernetes.io/instance": "shop-web"},
    )
    assert app_key(obj) == "shop-web"


def test_objects_without_tracking_are_not_managed() -> None:
    c = ctx(review("CREATE", deployment(app=None)))
    assert (c["app"], c["managed"]) == (None, False)


def test_delete_reads_the_old_object() -> None:
    c = ctx(review("DELETE", None, deployment(app="shop-web")))
    assert c["managed"] and c["app"] == "shop-web"


def test_removing_the_tracking_annotation_does_not_escape_in_the_same_request() -> None:
    c = ctx(review("UPDATE", deployment(app=None), deployment(app="shop-web"), username=ALICE))
    assert c["managed"] and c["app"] == "shop-web"


# --- who -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        (ARGOCD, "argocd"),
        ("system:serviceaccount:kube-system:horizontal-pod-autoscaler", "controller"),
        ("system:kube-controller-manager", "controller"),
        ("system:node:worker-1", "controller"),
        ("alice@example.com", "human"),
        ("oidc:bob", "human"),
        ("", "unknown"),
    ],
)
def test_actor_classes(username: str, expected: str) -> None:
    actor = classify_actor({"username": username, "groups": ["g"]}, CONFIG.argocd_usernames)
    assert actor["class"] == expected
    assert actor["username"] == username and actor["groups"] == ["g"]


def test_missing_username_is_unknown_and_argocd_usernames_are_configurable() -> None:
    assert classify_actor({}, CONFIG.argocd_usernames)["class"] == "unknown"
    custom = frozenset({"system:serviceaccount:gitops:argocd-application-controller"})
    assert classify_actor({"username": ARGOCD}, custom)["class"] == "controller"
    assert (
        classify_actor(
            {"username": "system:serviceaccount:gitops:argocd-application-controller"}, custom
        )["class"]
        == "argocd"
    )


# --- what changed ----------------------------------------------------------------------------


def test_update_patch_is_the_spec_change_without_server_noise() -> None:
    old = deployment("registry.example.com/shop/web:1.4.0")
    new = deployment("registry.example.com/shop/web:1.5.0")
    new["metadata"]["resourceVersion"] = "48214"
    new["metadata"]["generation"] = 8
    new["metadata"]["managedFields"][0]["time"] = "2026-11-27T10:00:03Z"
    new["status"]["readyReplicas"] = 1
    new["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{...}"
    c = ctx(review("UPDATE", new, old))
    assert c["patch"] == [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/image",
            "value": "registry.example.com/shop/web:1.5.0",
        }
    ]
    assert c["specChanged"] is True


def test_metadata_only_update_is_not_a_spec_change() -> None:
    new = deployment(annotations={"truthgate.dev/break-glass": "INC-1"})
    c = ctx(review("UPDATE", new, deployment(), username=ALICE))
    assert c["patch"] == [
        {
            "op": "add",
            "path": "/metadata/annotations/truthgate.dev~1break-glass",
            "value": "INC-1",
        }
    ]
    assert c["specChanged"] is False
    assert c["breakGlass"] == "INC-1"


def test_create_patch_builds_the_object_from_nothing() -> None:
    obj = deployment()
    c = ctx(review("CREATE", obj))
    rebuilt = jsonpatch.apply_patch({}, c["patch"])
    assert rebuilt["spec"] == obj["spec"]
    assert "managedFields" not in rebuilt["metadata"] and "status" not in rebuilt
    assert c["specChanged"] is True


def test_delete_patch_removes_everything() -> None:
    c = ctx(review("DELETE", None, deployment()))
    assert {op["op"] for op in c["patch"]} == {"remove"}
    assert {op["path"] for op in c["patch"]} >= {"/spec", "/metadata"}


def test_status_subresource_updates_record_only_status() -> None:
    old, new = deployment(), deployment(replicas=5)
    new["status"]["readyReplicas"] = 1
    doc = review(
        "UPDATE", new, old, username="system:serviceaccount:kube-system:deployment-controller"
    )
    doc["request"]["subResource"] = "status"
    c = ctx(doc)
    assert c["patch"] == [{"op": "replace", "path": "/status/readyReplicas", "value": 1}]
    assert c["specChanged"] is False


# --- Secrets ---------------------------------------------------------------------------------

SECRET_OLD = "aHVudGVyMg=="  # base64 of a weak password: exactly what must never leak
SECRET_NEW = "c3VwZXJzZWNyZXQ="


class _NoPolicies:
    def policies(self) -> list[Any]:
        return []

    def evaluate(self, kind: str, input_doc: Any) -> list[PolicyOutcome]:
        return []

    def reload(self) -> None:
        pass


def test_secret_values_never_reach_the_intent_but_keys_and_changes_do() -> None:
    old = secret({"password": SECRET_OLD, "user": "YWRtaW4="})
    new = secret({"password": SECRET_NEW, "user": "YWRtaW4=", "token": "dG9rZW4="})
    old["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
        old
    )
    new["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
        new
    )
    request: AdmissionRequest = parse_review(review("UPDATE", new, old))
    decision = decide(request, _NoPolicies(), CONFIG, datetime(2026, 11, 27, tzinfo=UTC))
    assert decision.intent is not None
    text = json.dumps(decision.intent)
    for value in (SECRET_OLD, SECRET_NEW, "YWRtaW4=", "dG9rZW4="):
        assert value not in text
    patch = decision.intent["patch"]
    assert {"op": "replace", "path": "/data/password", "value": "<redacted:changed>"} in patch
    assert {"op": "add", "path": "/data/token", "value": REDACTED} in patch
    assert not any(op["path"] == "/data/user" for op in patch)  # unchanged value: no op
    # The request itself is untouched: policies see the real object.
    assert request["object"] is not None and request["object"]["data"]["password"] == SECRET_NEW


def test_secret_create_and_delete_show_keys_only() -> None:
    created = ctx(review("CREATE", secret({"password": SECRET_NEW})))
    deleted = ctx(review("DELETE", None, secret({"password": SECRET_OLD})))
    for c in (created, deleted):
        assert SECRET_NEW not in json.dumps(c) and SECRET_OLD not in json.dumps(c)
    assert {"op": "add", "path": "/data", "value": {"password": REDACTED}} in created["patch"]


def test_string_data_is_redacted_too() -> None:
    obj = secret({})
    obj["stringData"] = {"password": "hunter2"}
    c = ctx(review("CREATE", obj))
    assert "hunter2" not in json.dumps(c)


def test_log_copies_of_requests_are_redacted_and_other_kinds_untouched() -> None:
    doc = review("UPDATE", secret({"password": SECRET_NEW}), secret({"password": SECRET_OLD}))
    logged = json.dumps(redact_request(doc["request"]))
    assert SECRET_NEW not in logged and SECRET_OLD not in logged and "password" in logged
    assert doc["request"]["object"]["data"]["password"] == SECRET_NEW  # a copy, not in place
    cm = configmap({"password": "visible"})
    assert redact_object(cm) is cm
    # Only core v1 Secrets: a CRD that happens to be called Secret is not redacted.
    crd = {"apiVersion": "vault.example.com/v1", "kind": "Secret", "data": {"x": "y"}}
    assert redact_object(crd) == crd


def _edits() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    base = deployment()
    cases = []
    grow = deployment()
    grow["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "s:1"})
    cases.append(("container added", base, grow))
    cases.append(("container removed", grow, base))
    env = deployment()
    del env["spec"]["template"]["spec"]["containers"][0]["env"][3:7]
    cases.append(("env entries removed", base, env))
    keys = deployment(annotations={"example.com/a~b": "1", "x/y": "2"})
    cases.append(("keys needing JSON pointer escapes", base, keys))
    typed = deployment()
    typed["spec"]["strategy"] = ["not", "a", "map"]
    cases.append(("value changes type", base, typed))
    nested = deployment()
    nested["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"x": [1, {"y": None}]}}
    del nested["spec"]["selector"]
    cases.append(("subtree added and removed", base, nested))
    return cases


@pytest.mark.parametrize(("what", "old", "new"), _edits(), ids=[c[0] for c in _edits()])
def test_patch_applied_to_the_old_object_gives_the_new_one(
    what: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    c = ctx(review("UPDATE", new, old))
    strip = {"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"}

    def clean(obj: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in obj.items() if k != "status"}
        out["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in strip}
        return out

    assert jsonpatch.apply_patch(clean(old), c["patch"]) == clean(new)
    # The same ops jsonpatch computes on the whole object (where it emits no moves).
    expected = jsonpatch.make_patch(clean(old), clean(new)).patch
    if not any(op["op"] in ("move", "copy") for op in expected):
        assert sorted(map(json.dumps, c["patch"])) == sorted(map(json.dumps, expected))
