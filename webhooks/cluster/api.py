"""The two small interfaces the rest of truthgate sees of a Kubernetes cluster.

Kept apart from the adapter (``reader``) so the post-sync layer depends on these protocols
only and never, even indirectly, imports the kubernetes client; tests and other backends
implement them too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from webhooks.cluster.resources import ResourceType, ServedType
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

    def served_types(self, group: str, version: str) -> list[ServedType]:
        """The resource types ``group/version`` serves (API discovery); none when not served."""
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


class EventStream(Protocol):
    """One watch request: iterate for ``(type, object)`` events; ``stop()`` from elsewhere."""

    def __iter__(self) -> Iterator[tuple[str, KubeObject]]: ...

    def stop(self) -> None: ...


class Watcher(Protocol):
    """List with a resourceVersion and watch from it (what an informer needs)."""

    def list_versioned(
        self, rtype: ResourceType, namespace: str | None
    ) -> tuple[list[KubeObject], str]:
        """The objects and the list's resourceVersion."""
        ...

    def watch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        resource_version: str,
        *,
        timeout_seconds: int,
        on_open: Callable[[], None] | None = None,
    ) -> EventStream:
        """Changes after ``resource_version``, ending after ``timeout_seconds``; raises
        ``WatchExpired`` (410) when that version is too old, ClusterError otherwise."""
        ...
