"""Argo CD tracking, read once for the webhook, the PostSync hook and the checks."""

from __future__ import annotations

from typing import Any

import pytest

from webhooks.common.argocd import (
    CONTROL_PLANE_NAMESPACE,
    AppRef,
    control_plane_namespaces,
    is_hook,
    parse_tracking_id,
    short_revision,
    sync_revision,
    tracked_app,
)


def obj(tracking: str | None = None, instance: str | None = None, **meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web", "namespace": "shop", **meta}
    if tracking is not None:
        metadata["annotations"] = {"argocd.argoproj.io/tracking-id": tracking}
    if instance is not None:
        metadata["labels"] = {"app.kubernetes.io/instance": instance}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata}


def test_tracking_ids_name_the_app_and_its_namespace_when_outside_argocd() -> None:
    plain = parse_tracking_id("shop-web:apps/Deployment:shop/web")
    namespaced = parse_tracking_id("team-a_shop-web:/Service:shop/web")
    assert plain is not None and plain.app == AppRef("shop-web")
    assert namespaced is not None and namespaced.app == AppRef("shop-web", "team-a")
    assert (namespaced.group, namespaced.kind, namespaced.name) == ("", "Service", "web")
    assert parse_tracking_id("garbage") is None
    assert tracked_app({"metadata": {"labels": {"app.kubernetes.io/instance": "x"}}}) == AppRef("x")
    assert tracked_app({"metadata": {}}) is None


def test_the_namespaced_form_is_read_the_same_from_annotation_and_label() -> None:
    ref = tracked_app(obj("team-a_shop-web:apps/Deployment:shop/web"))
    assert ref == AppRef("shop-web", "team-a") and ref.key == "team-a_shop-web"
    assert tracked_app(obj(instance="team-a_shop-web")) == ref


def test_a_tracking_id_copied_from_another_object_falls_back_to_the_label() -> None:
    for copied in ("shop-web:apps/Deployment:shop/other", "shop-web:/Deployment:shop/web"):
        assert tracked_app(obj(copied)) is None
        assert tracked_app(obj(copied, instance="legacy")) == AppRef("legacy")
    assert tracked_app(obj("shop-web:apps/Deployment:other/web")) is None


def test_cluster_scoped_objects_have_an_empty_namespace_in_their_id() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "viewer",
            "annotations": {
                "argocd.argoproj.io/tracking-id": "platform:rbac.authorization.k8s.io/ClusterRole:/viewer"
            },
        },
    }
    assert tracked_app(role) == AppRef("platform")


def test_an_app_in_the_control_plane_namespace_matches_either_way() -> None:
    assert AppRef("shop-web").same_app(AppRef("shop-web", "team-a"))
    assert AppRef("shop-web", "team-a").same_app(AppRef("shop-web", "team-a"))
    assert not AppRef("shop-web", "team-a").same_app(AppRef("shop-web", "team-b"))
    assert not AppRef("shop-web").same_app(AppRef("shop-api"))


def test_a_person_names_an_app_as_the_argocd_cli_does() -> None:
    assert AppRef.from_cli("shop") == AppRef("shop")
    assert AppRef.from_cli("shop", "team-a") == AppRef("shop", "team-a")
    assert AppRef.from_cli("team-a/shop") == AppRef("shop", "team-a")
    assert AppRef.from_cli("team-a/shop", "team-a") == AppRef("shop", "team-a")
    for bad in ("team-a/", "/shop", "a/b/shop"):
        with pytest.raises(ValueError, match="NAMESPACE/NAME"):
            AppRef.from_cli(bad)
    with pytest.raises(ValueError, match="not argocd"):
        AppRef.from_cli("team-a/shop", "argocd")


def test_the_ledger_key_of_an_app_is_the_one_argo_cd_tracks_it_by() -> None:
    argocd = frozenset({"argocd"})
    assert AppRef("shop", "team-a").ledger_keys(argocd) == ("team-a_shop",)
    assert AppRef("shop", "argocd").ledger_keys(argocd) == ("shop",)
    assert AppRef("shop").ledger_keys(argocd) == ("shop",)
    # Not knowing which namespace Argo CD runs in, a bare "shop" may be this app too.
    assert AppRef("shop", "team-a").ledger_keys() == ("team-a_shop", "shop")


def test_argo_cds_namespace_is_that_of_the_service_accounts_it_syncs_as() -> None:
    names = {"system:serviceaccount:gitops:argocd-application-controller", "deployer@example.com"}
    assert control_plane_namespaces(names) == {"gitops"}
    assert control_plane_namespaces({"deployer@example.com"}) == {CONTROL_PLANE_NAMESPACE}
    assert control_plane_namespaces(
        {"system:serviceaccount::x", "x:system:serviceaccount:a:b"}
    ) == {CONTROL_PLANE_NAMESPACE}


def test_a_bare_tracking_key_is_the_control_plane_app_once_its_namespace_is_known() -> None:
    bare = AppRef("payments").in_control_plane("argocd")
    assert bare == AppRef("payments", "argocd")
    assert not bare.same_app(AppRef("payments", "team-pay"))
    assert AppRef("payments").in_control_plane(None).same_app(AppRef("payments", "team-pay"))
    assert AppRef("payments", "team-pay").in_control_plane("argocd") == AppRef(
        "payments", "team-pay"
    )


def test_sync_revision_reads_single_and_multi_source_applications() -> None:
    one = {"status": {"operationState": {"syncResult": {"revision": "8f3c2a1e" * 5}}}}
    many = {"status": {"operationState": {"syncResult": {"revisions": ["4.3.0", "2b" * 20]}}}}
    asked = {"status": {"sync": {"revisions": ["1.0.0"]}}}
    assert sync_revision(one) == "8f3c2a1e" * 5
    assert sync_revision(many) == "4.3.0," + "2b" * 20
    assert sync_revision(asked) == "1.0.0"
    assert sync_revision({}) is None and sync_revision(None) is None
    assert short_revision("4.3.0," + "2b" * 20) == "4.3.0,2b2b2b2"
    assert short_revision("v5.2.0") == "v5.2.0"


def test_argo_cd_and_helm_hooks_are_hooks() -> None:
    assert is_hook({"metadata": {"annotations": {"argocd.argoproj.io/hook": "PostSync"}}})
    assert is_hook({"metadata": {"annotations": {"helm.sh/hook": "pre-upgrade"}}})
    assert not is_hook({"metadata": {"annotations": {"argocd.argoproj.io/sync-wave": "1"}}})
