"""Secret values never leave the webhook: not in the ledger, not in logs, not in patches.

For ``v1/Secret`` objects every value under ``data`` and ``stringData`` is replaced by a fixed
marker, keys kept. A fixed marker (never a hash: a hash of a low-entropy password can be brute
forced) hides the value; to still see *that* a value changed, ``redact_pair`` compares the raw
old and new values first and marks a changed one ``<redacted:changed>`` in the new copy, so the
JSON Patch computed from the two copies carries a ``replace`` op for that key.

The ``kubectl.kubernetes.io/last-applied-configuration`` annotation holds a full copy of the
applied manifest (Secret data included), so on Secrets it is redacted the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from webhooks.evidence.model import KubeObject

REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted:changed>"
SECRET_FIELDS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def is_secret(obj: Mapping[str, Any] | None) -> bool:
    """A core ``v1`` Secret (a CRD named Secret in another group is not one)."""
    if obj is None:
        return False
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _mask(obj: KubeObject, changed: Mapping[str, frozenset[str]] | None = None) -> KubeObject:
    out = copy.deepcopy(obj)
    for fld in SECRET_FIELDS:
        values = out.get(fld)
        if isinstance(values, dict):
            marked = changed.get(fld, frozenset()) if changed else frozenset()
            out[fld] = {k: REDACTED_CHANGED if k in marked else REDACTED for k in values}
        elif values is not None:
            out[fld] = REDACTED  # not a map: hide whatever it is
    meta = out.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = REDACTED
    return out


def redact_object(obj: KubeObject | None) -> KubeObject | None:
    """A copy safe to log or store: Secret values replaced; other kinds returned unchanged."""
    if obj is None or not is_secret(obj):
        return obj
    return _mask(obj)


def redact_pair(
    old: KubeObject | None, new: KubeObject | None
) -> tuple[KubeObject | None, KubeObject | None]:
    """Redacted copies of old and new whose JSON Patch shows added, removed and changed keys."""
    if not is_secret(old) and not is_secret(new):
        return old, new
    changed: dict[str, frozenset[str]] = {}
    for fld in SECRET_FIELDS:
        old_values = (old or {}).get(fld)
        new_values = (new or {}).get(fld)
        if isinstance(old_values, dict) and isinstance(new_values, dict):
            changed[fld] = frozenset(
                k for k in new_values if k in old_values and new_values[k] != old_values[k]
            )
    return (
        _mask(old) if old is not None else None,
        _mask(new, changed) if new is not None else None,
    )


def redact_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an AdmissionReview request fit for a log line (object and oldObject redacted)."""
    out = dict(request)
    old, new = redact_pair(request.get("oldObject"), request.get("object"))
    if "object" in out:
        out["object"] = new
    if "oldObject" in out:
        out["oldObject"] = old
    return out
