"""Small builders for check tests: live objects with only the fields a test is about.

The realistic, fully shaped app lives in tests/fixtures/evidence/build.py; these keep unit tests
readable by saying only what matters to the behaviour under test.
"""

from __future__ import annotations

from typing import Any

from webhooks.checks.context import CheckContext, CheckFinding
from webhooks.checks.registry import Check
from webhooks.evidence.model import Evidence

Obj = dict[str, Any]

SYNC = "2026-11-27T10:00:00Z"
LATE = "2026-11-27T10:30:00Z"  # 30 minutes after the sync: past the default 300 s grace
EARLY = "2026-11-27T10:01:00Z"  # one minute after: still within grace
BEFORE = "2026-11-27T09:00:00Z"
AFTER = "2026-11-27T10:05:00Z"


def obj(kind: str, name: str, *, api: str = "v1", ns: str | None = "shop", **fields: Any) -> Obj:
    metadata: Obj = {"name": name, "uid": f"uid-{kind}-{name}"}
    if ns is not None:
        metadata["namespace"] = ns
    metadata.update(fields.pop("metadata", {}))
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **fields}


def owned(child: Obj, owner: Obj) -> Obj:
    child["metadata"]["ownerReferences"] = [
        {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
        }
    ]
    return child


def pod(
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    statuses: list[Obj] | None = None,
    start: str = AFTER,
    labels: dict[str, str] | None = None,
    spec: Obj | None = None,
) -> Obj:
    return obj(
        "Pod",
        name,
        metadata={"labels": labels or {}},
        spec=spec or {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]},
        status={
            "phase": phase,
            "startTime": start,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses
            if statuses is not None
            else [
                {
                    "name": "app",
                    "ready": ready,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": start}},
                }
            ],
        },
    )


def application(
    *,
    started: str = SYNC,
    phase: str = "Succeeded",
    resources: list[Obj] | None = None,
    health: str = "Healthy",
    revision: str = "abc1234def",
) -> Obj:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop-web", "namespace": "argocd"},
        "status": {
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": health},
            "operationState": {
                "phase": phase,
                "startedAt": started,
                "finishedAt": started,
                "syncResult": {"revision": revision, "resources": resources or []},
            },
        },
    }


def intent(
    kind: str,
    name: str,
    /,
    *,
    group: str = "apps",
    when: str = AFTER,
    operation: str = "UPDATE",
    user: str = "argocd",
    actor_class: str = "argocd",
    patch: list[Obj] | None = None,
    **extra: Any,
) -> Obj:
    """An admitted, non-dry-run intent record on ``kind`` shop/``name``."""
    return {
        "uid": f"uid-{operation}-{name}-{when}",
        "time": when,
        "app": "shop-web",
        "kind": {"group": group, "version": "v1", "kind": kind},
        "namespace": "shop",
        "name": name,
        "operation": operation,
        "actor": {"username": user, "groups": [], "class": actor_class},
        "patch": patch if patch is not None else [],
        "decision": {"allowed": True, "denials": [], "warnings": []},
        "dryRun": False,
        "prevHash": "",
        "hash": "",
        **extra,
    }


def evidence(
    objects: list[Obj] | None = None, *, now: str = LATE, app: Obj | None = None, **sections: Any
) -> Evidence:
    doc: Obj = {
        "apiVersion": "truthgate.dev/v1alpha1",
        "kind": "Evidence",
        "collectedAt": now,
        "application": app if app is not None else application(),
        "objects": objects or [],
        **sections,
    }
    return doc  # type: ignore[return-value]


def run(check: Check, ev: Evidence) -> list[CheckFinding]:
    return check(ev, CheckContext.from_evidence(ev))


def only(findings: list[CheckFinding], check: str) -> list[CheckFinding]:
    return [f for f in findings if f["check"] == check]
