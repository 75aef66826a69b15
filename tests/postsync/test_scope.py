"""Which live objects belong to an application's Evidence, and how the app is recognised."""

from __future__ import annotations

from typing import Any

from webhooks.common.argocd import AppRef
from webhooks.postsync.appinfo import sync_ref
from webhooks.postsync.scope import select_app_objects

APP = AppRef("shop-web", "argocd")


def obj(
    kind: str,
    name: str,
    uid: str,
    *,
    owner: str | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "uid": uid}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "kind": "X", "name": "x"}]
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    api = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "Job": "batch/v1"}.get(kind, "v1")
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def names(objs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objs]


def test_scope_is_the_apps_objects_their_children_what_they_use_and_events_about_them() -> None:
    tid = {"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"}
    pool = [
        obj("Deployment", "web", "d1", annotations=tid),
        obj("ReplicaSet", "web-1", "r1", owner="d1"),
        obj(
            "Pod",
            "web-1-a",
            "p1",
            owner="r1",
            spec={
                "containers": [
                    {
                        "name": "c",
                        "envFrom": [{"configMapRef": {"name": "cfg"}}],
                        "env": [
                            {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}
                        ],
                    }
                ],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
            },
        ),
        obj("ConfigMap", "cfg", "c1"),
        obj("Secret", "db", "s1"),
        obj("PersistentVolumeClaim", "data", "v1"),
        obj("ResourceQuota", "compute", "q1"),
        obj("Event", "web-1-a.1", "e1", involvedObject={"uid": "p1"}),
        obj("Event", "other.1", "e2", involvedObject={"uid": "zz"}),
        obj("Deployment", "other", "d2", labels={"app.kubernetes.io/instance": "other-app"}),
        obj("Pod", "other-1", "p2", owner="d2"),
        obj("Secret", "unrelated", "s2"),
        obj("Service", "web", "svc1"),  # listed by the Application, no tracking on it
        obj("Job", "smoke", "j1", annotations={**tid, "argocd.argoproj.io/hook": "PostSync"}),
        obj("Pod", "smoke-a", "p3", owner="j1"),
    ]
    chosen = select_app_objects(APP, {("", "Service", "shop", "web")}, pool)
    assert names(chosen) == [
        "Deployment/web",
        "ReplicaSet/web-1",
        "Pod/web-1-a",
        "ConfigMap/cfg",
        "Secret/db",
        "PersistentVolumeClaim/data",
        "ResourceQuota/compute",
        "Event/web-1-a.1",
        "Service/web",
    ]


def test_the_verifying_job_and_its_pod_are_left_out() -> None:
    label = {"app.kubernetes.io/instance": "shop-web"}
    pool = [
        obj("Job", "verify", "j1", labels=label),
        obj("Pod", "verify-a", "p1", owner="j1"),
        obj("Deployment", "web", "d1", labels=label),
    ]
    # Excluding the Job (as the verifier does with its own) excludes its Pods too.
    assert names(select_app_objects(APP, set(), pool, frozenset({"j1"}))) == ["Deployment/web"]


def test_the_sync_is_named_by_its_revision_and_start_multi_source_too() -> None:
    app = {
        "status": {
            "operationState": {
                "phase": "Running",
                "startedAt": "2026-11-27T10:00:00Z",
                "syncResult": {"revisions": ["abc", "def"]},
            }
        }
    }
    ref = sync_ref(app)
    assert (ref.revision, ref.started_at, ref.phase) == (
        "abc,def",
        "2026-11-27T10:00:00Z",
        "Running",
    )
    assert sync_ref({"status": {"sync": {"revision": "zzz"}}}).revision == "zzz"


def test_listed_workloads_narrow_the_scope_to_them_and_their_pods() -> None:
    label = {"app.kubernetes.io/instance": "shop-web"}
    pool = [
        obj("Deployment", "web", "d1", labels=label),
        obj("Pod", "web-a", "p1", owner="d1"),
        obj("Deployment", "worker", "d2", labels=label),
        obj("Pod", "worker-a", "p2", owner="d2"),
        obj("Service", "web", "s1", labels=label),
    ]
    chosen = select_app_objects(
        APP, set(), pool, workloads=frozenset({("Deployment", "shop", "web")})
    )
    assert names(chosen) == ["Deployment/web", "Pod/web-a", "Service/web"]


def test_evicted_and_terminating_pods_stay_in_scope_with_their_events() -> None:
    # stability/evicted reads them: a Failed pod lingers until garbage-collected, a preempted one
    # is terminating; neither is filtered out by phase.
    tid = {"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"}
    evicted = {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource"}
    pool = [
        obj("Deployment", "web", "d1", annotations=tid),
        obj("ReplicaSet", "web-1", "r1", owner="d1"),
        obj("Pod", "web-1-a", "p1", owner="r1", status=evicted),
        obj("Pod", "web-1-b", "p2", owner="r1", status={"phase": "Running"}),
        obj("Event", "web-1-a.1", "e1", involvedObject={"uid": "p1"}, reason="Evicted"),
    ]
    pool[3]["metadata"]["deletionTimestamp"] = "2026-11-27T10:20:00Z"
    chosen = select_app_objects(APP, set(), pool)
    assert names(chosen) == [
        "Deployment/web",
        "ReplicaSet/web-1",
        "Pod/web-1-a",
        "Pod/web-1-b",
        "Event/web-1-a.1",
    ]
