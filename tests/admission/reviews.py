"""AdmissionReview documents as the kube-apiserver sends them, for tests."""

from __future__ import annotations

import copy
from typing import Any

ARGOCD = "system:serviceaccount:argocd:argocd-application-controller"
ARGOCD_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"]
ALICE = "alice@example.com"

PINNED = "registry.example.com/shop/web:1.4.0"


def deployment(
    image: str = PINNED,
    *,
    name: str = "web",
    namespace: str = "shop",
    app: str | None = "shop-web",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    replicas: int = 2,
) -> dict[str, Any]:
    """A ~3 KB Deployment as the apiserver hands it to admission (managedFields and all)."""
    ann: dict[str, str] = {}
    if app is not None:
        ann["argocd.argoproj.io/tracking-id"] = f"{app}:apps/Deployment:{namespace}/{name}"
    ann.update(annotations or {})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "0b0c5e4e-2f35-4c43-9d6b-6a3c1b3c3f11",
            "resourceVersion": "48213",
            "generation": 7,
            "creationTimestamp": "2026-11-20T09:00:00Z",
            "labels": {"app.kubernetes.io/name": name, **(labels or {})},
            "annotations": ann,
            "managedFields": [
                {
                    "manager": "argocd-controller",
                    "operation": "Apply",
                    "apiVersion": "apps/v1",
                    "time": "2026-11-27T10:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}},
                }
            ],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "env": [
                                {"name": f"SETTING_{i}", "value": f"value-{i}"} for i in range(12)
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "runAsNonRoot": True,
                                "readOnlyRootFilesystem": True,
                            },
                        }
                    ],
                    "serviceAccountName": name,
                },
            },
        },
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 6},
    }


def configmap(data: dict[str, str] | None = None, app: str | None = "shop-web") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "settings", "namespace": "shop"}
    if app is not None:
        meta["annotations"] = {"argocd.argoproj.io/tracking-id": f"{app}:/ConfigMap:shop/settings"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"a": "1"}}


def secret(data: dict[str, str], app: str | None = "shop-web") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "db", "namespace": "shop"}
    if app is not None:
        meta["annotations"] = {"argocd.argoproj.io/tracking-id": f"{app}:/Secret:shop/db"}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta, "data": data}


_RESOURCES = {
    "Deployment": ("apps", "deployments"),
    "ConfigMap": ("", "configmaps"),
    "Secret": ("", "secrets"),
    "Pod": ("", "pods"),
}


def review(
    operation: str,
    new: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    *,
    username: str = ARGOCD,
    groups: list[str] | None = None,
    dry_run: bool = False,
    uid: str = "7b0c2a4e-1f0d-4f5e-9a55-3c2d1e0f9a8b",
) -> dict[str, Any]:
    """A full AdmissionReview document for ``operation`` on ``new`` (``old`` for UPDATE/DELETE)."""
    subject = new if new is not None else old
    assert subject is not None
    kind = subject["kind"]
    group, resource = _RESOURCES.get(kind, ("", kind.lower() + "s"))
    version = subject["apiVersion"].rpartition("/")[2]
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": subject["metadata"]["name"],
        "namespace": subject["metadata"].get("namespace", ""),
        "operation": operation,
        "userInfo": {
            "username": username,
            "uid": "5f1c",
            "groups": groups
            if groups is not None
            else (ARGOCD_GROUPS if username == ARGOCD else ["system:authenticated"]),
        },
        "object": copy.deepcopy(new),
        "oldObject": copy.deepcopy(old),
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
