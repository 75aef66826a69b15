"""What truthgate reads off an Argo CD Application and off tracked objects. Pure.

The sync being verified is named by its revision and by ``operationState.startedAt``: revisions
(git SHAs) do not order, start times do, and "never let an older sync's verdict overwrite a
newer one" needs an order. Application membership follows Argo CD's own tracking: the
``argocd.argoproj.io/tracking-id`` annotation (``<app>:<group>/<kind>:<ns>/<name>``, the app
written ``<namespace>_<name>`` when it lives outside the control-plane namespace) or the
``app.kubernetes.io/instance`` label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhooks.evidence.model import KubeObject

TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"


@dataclass(frozen=True)
class AppRef:
    name: str
    namespace: str | None = None  # None: the control-plane namespace (not known from tracking)


@dataclass(frozen=True)
class SyncRef:
    """One sync operation of an Application."""

    revision: str | None
    started_at: str | None  # RFC 3339, as Argo CD wrote it
    finished_at: str | None
    phase: str | None  # Running | Succeeded | Failed | Error | Terminating


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _revision(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ",".join(value)  # multi-source applications: one revision per source
    return None


def sync_ref(app: KubeObject) -> SyncRef:
    op = _dig(app, "status", "operationState") or {}
    revision = (
        _revision(_dig(op, "syncResult", "revision"))
        or _revision(_dig(op, "syncResult", "revisions"))
        or _revision(_dig(op, "operation", "sync", "revision"))
        or _revision(_dig(op, "operation", "sync", "revisions"))
        or _revision(_dig(app, "status", "sync", "revision"))
        or _revision(_dig(app, "status", "sync", "revisions"))
    )
    return SyncRef(
        revision=revision,
        started_at=op.get("startedAt") if isinstance(op.get("startedAt"), str) else None,
        finished_at=op.get("finishedAt") if isinstance(op.get("finishedAt"), str) else None,
        phase=op.get("phase") if isinstance(op.get("phase"), str) else None,
    )


def parse_tracking_id(value: str) -> AppRef | None:
    app, sep, _ = value.partition(":")
    if not sep or not app:
        return None
    # App names are DNS labels (no "_"): a "_" separates an app namespace from its name.
    namespace, underscore, name = app.partition("_")
    return AppRef(name=name, namespace=namespace) if underscore else AppRef(name=app)


def tracked_app(obj: KubeObject) -> AppRef | None:
    """The Application an object belongs to, by annotation tracking, else label tracking."""
    meta = obj.get("metadata") or {}
    tracking = (meta.get("annotations") or {}).get(TRACKING_ANNOTATION)
    if isinstance(tracking, str):
        ref = parse_tracking_id(tracking)
        if ref is not None:
            return ref
    instance = (meta.get("labels") or {}).get(INSTANCE_LABEL)
    return AppRef(name=instance) if isinstance(instance, str) and instance else None


def destination_namespaces(app: KubeObject) -> list[str]:
    """Namespaces the application deploys into: its destination and its resources' namespaces."""
    seen: list[str] = []
    dest = _dig(app, "spec", "destination", "namespace")
    if isinstance(dest, str) and dest:
        seen.append(dest)
    for res in _dig(app, "status", "resources") or []:
        ns = res.get("namespace") if isinstance(res, dict) else None
        if isinstance(ns, str) and ns and ns not in seen:
            seen.append(ns)
    return seen


def managed_keys(app: KubeObject) -> set[tuple[str, str, str, str]]:
    """(group, kind, namespace, name) of every resource the Application lists as its own."""
    keys: set[tuple[str, str, str, str]] = set()
    for res in _dig(app, "status", "resources") or []:
        if isinstance(res, dict) and isinstance(res.get("kind"), str):
            keys.add(
                (
                    str(res.get("group") or ""),
                    res["kind"],
                    str(res.get("namespace") or ""),
                    str(res.get("name") or ""),
                )
            )
    return keys
