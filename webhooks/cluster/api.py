"""The two small interfaces the rest of truthgate sees of a Kubernetes cluster.

Kept apart from the adapter (``reader``) so the post-sync layer depends on these protocols
only and never, even indirectly, imports the kubernetes client; tests and other backends
implement them too.
"""

from __future__ import annotations

from typing import Any, Protocol

from webhooks.cluster.resources import ResourceType
from webhooks.evidence.model import KubeObject


class ClusterReader(Protocol):
    def get_object(
        self, rtype: ResourceType, namespace: str | None, name: str
    ) -> KubeObject | None:
        """One object, or None when it does not exist."""
        ...

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[KubeObject]:
        """Every object of a type in a namespace (Secrets: metadata only)."""
        ...

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """A credential for truthgate's own use (e.g. a Prometheus token); never for Evidence."""
        ...


class StatusWriter(Protocol):
    def patch_status(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        status: dict[str, Any],
        resource_version: str | None,
    ) -> KubeObject:
        """Merge-patch ``/status``; given a resourceVersion, a stale write gets 409."""
        ...


class ObjectWriter(Protocol):
    """Create and replace whole objects (the auditor's Lease)."""

    def create_object(self, rtype: ResourceType, namespace: str, body: KubeObject) -> KubeObject:
        """POST; ConflictError when the object exists."""
        ...

    def patch_object(
        self, rtype: ResourceType, namespace: str, name: str, body: KubeObject
    ) -> KubeObject:
        """Merge-patch guarded by ``metadata.resourceVersion``; ConflictError when stale."""
        ...
