"""Cluster errors a user can act on, beyond the shared ClusterError/ConflictError.

A 403 names the verb and resource the ServiceAccount lacks, so the fix is one RBAC rule away;
a 410 on a watch says "list again"; an error body is read for its Status message, cut short.
"""

from __future__ import annotations

import json

from webhooks.errors import ClusterError, short


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


class WatchExpired(ClusterError):
    """410 Gone on a watch: the resourceVersion is older than the server keeps; list again."""


def status_message(data: bytes) -> str:
    """The ``message`` of a Kubernetes Status body, else the raw text, always short."""
    try:
        decoded = json.loads(data)
    except ValueError:
        return short(data.decode("utf-8", "replace"), 200)
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return short(decoded["message"], 200)
    return short(decoded, 200)
