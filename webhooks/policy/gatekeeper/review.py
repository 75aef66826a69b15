"""``input.review`` in Gatekeeper's shape. Pure, no I/O.

For an admission request, the review is the AdmissionReview ``request`` itself, except that on
DELETE ``object`` is the object being deleted (``oldObject``), as Gatekeeper does. For a bare
object (``gator verify`` cases), it is the request Gatekeeper builds from it: kind, name,
namespace and object, no operation and no user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhooks.common.api import split_api_version


def admission_review(request: Mapping[str, Any]) -> dict[str, Any]:
    review = dict(request)
    if review.get("operation") == "DELETE" and review.get("oldObject") is not None:
        review["object"] = review["oldObject"]
    return review


def object_review(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The review Gatekeeper builds for an object that is not an admission request."""
    group, version = split_api_version(obj.get("apiVersion"))
    meta = obj.get("metadata") or {}
    review: dict[str, Any] = {
        "kind": {"group": group, "version": version, "kind": str(obj.get("kind") or "")},
        "object": dict(obj),
        "oldObject": None,
        "operation": "",
        "userInfo": {},
        "uid": "",
    }
    if meta.get("name"):
        review["name"] = meta["name"]
    if meta.get("namespace"):
        review["namespace"] = meta["namespace"]
    return review


def reviewed_object(review: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object matching looks at (``object``, else ``oldObject``)."""
    obj = review.get("object") or review.get("oldObject") or {}
    return obj if isinstance(obj, Mapping) else {}
