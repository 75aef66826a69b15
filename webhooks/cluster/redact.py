"""Secrets leave the cluster adapter as metadata only.

truthgate needs to know that a Secret exists, when it changed (resourceVersion, annotations) and
who owns it — never its values. The adapter asks the API server for metadata only, and this
function is the second lock: whatever the server sent, nothing but metadata and ``type`` survive.
``last-applied-configuration`` is dropped too, because client-side apply copies the whole
manifest, values included, into it.
"""

from __future__ import annotations

from typing import Any

from webhooks.evidence.model import KubeObject

_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def secret_metadata_only(obj: KubeObject) -> KubeObject:
    meta: dict[str, Any] = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
    out: KubeObject = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
    if isinstance(obj.get("type"), str):
        out["type"] = obj["type"]
    return out
