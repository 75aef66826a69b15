"""Cluster errors a user can act on, beyond the shared ClusterError/ConflictError.

A 403 names the verb and resource the ServiceAccount lacks, so the fix is one RBAC rule away.
"""

from __future__ import annotations

from webhooks.errors import ClusterError


class ForbiddenError(ClusterError):
    """The API server denied a request: RBAC is missing ``verb`` on ``resource``."""

    def __init__(self, verb: str, resource: str, namespace: str | None, detail: str) -> None:
        where = f" in namespace {namespace!r}" if namespace else " cluster-wide"
        super().__init__(
            f"forbidden: cannot {verb} {resource}{where} ({detail}); grant the ServiceAccount "
            f"verb {verb!r} on {resource!r}"
        )
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
