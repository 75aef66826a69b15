"""AdmissionReviews for the server tests, starting from the documented example file."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "admission-review-deployment-update.json"
POLICIES = ROOT / "policies" / "admission"
ALICE = "alice@example.com"


def deployment_update(*, username: str | None = None, uid: str | None = None) -> dict[str, Any]:
    """The Argo CD-managed Deployment image update of docs/examples, optionally by someone else."""
    review: dict[str, Any] = json.loads(EXAMPLE.read_text())
    review["request"]["uid"] = uid or str(uuid.uuid4())
    if username is not None:
        review["request"]["userInfo"] = {"username": username, "groups": ["system:authenticated"]}
    return review


def secret_update(value: str, *, uid: str | None = None) -> dict[str, Any]:
    """An Argo CD-managed Secret whose data changes to base64 ``value``."""

    def obj(data: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": "db",
                "namespace": "shop",
                "annotations": {"argocd.argoproj.io/tracking-id": "shop-web:/Secret:shop/db"},
            },
            "data": {"password": data},
        }

    review = deployment_update(uid=uid)
    request = review["request"]
    request.update(
        kind={"group": "", "version": "v1", "kind": "Secret"},
        resource={"group": "", "version": "v1", "resource": "secrets"},
        requestKind={"group": "", "version": "v1", "kind": "Secret"},
        requestResource={"group": "", "version": "v1", "resource": "secrets"},
        name="db",
        object=obj(value),
        oldObject=obj("b2xkLXZhbHVl"),
    )
    return review


def unmanaged(review: dict[str, Any]) -> dict[str, Any]:
    """The same review for an object no Argo CD application tracks."""
    out = copy.deepcopy(review)
    for key in ("object", "oldObject"):
        out["request"][key]["metadata"]["annotations"].pop("argocd.argoproj.io/tracking-id")
    return out


def body(review: dict[str, Any]) -> bytes:
    return json.dumps(review).encode()
