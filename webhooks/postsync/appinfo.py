"""What truthgate reads off an Argo CD Application. Pure.

The sync being verified is named by its revision and by ``operationState.startedAt``: revisions
(git SHAs) do not order, start times do, and "never let an older sync's verdict overwrite a
newer one" needs an order. Which application an object belongs to is Argo CD's tracking, read
in ``webhooks.common.argocd``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhooks.common.argocd import sync_revision
from webhooks.evidence.model import KubeObject


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


def sync_ref(app: KubeObject) -> SyncRef:
    op = _dig(app, "status", "operationState") or {}
    return SyncRef(
        revision=sync_revision(app),
        started_at=op.get("startedAt") if isinstance(op.get("startedAt"), str) else None,
        finished_at=op.get("finishedAt") if isinstance(op.get("finishedAt"), str) else None,
        phase=op.get("phase") if isinstance(op.get("phase"), str) else None,
    )


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
