"""Gatekeeper fixtures: templates and constraints written for these tests (policies/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from webhooks.admission.review import AdmissionRequest

HERE = Path(__file__).parent
POLICIES = HERE / "policies"


def deployment(
    namespace: str = "shop",
    labels: dict[str, str] | None = None,
    image: str = "registry.example.com/shop/web:1.0",
    memory: str | None = "256Mi",
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": image}
    if memory:
        container["resources"] = {"limits": {"memory": memory}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": namespace,
            "labels": {"owner": "shop.team"} if labels is None else labels,
        },
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def request(obj: dict[str, Any], operation: str = "CREATE") -> AdmissionRequest:
    group, _, version = obj["apiVersion"].rpartition("/")
    meta = obj["metadata"]
    raw = {
        "uid": "5e1f0000-0000-4000-8000-000000000001",
        "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "resource": {"group": group, "version": version, "resource": obj["kind"].lower() + "s"},
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "operation": operation,
        "userInfo": {"username": "alice@example.com", "groups": ["dev"]},
        "object": None if operation == "DELETE" else obj,
        "oldObject": obj if operation in ("DELETE", "UPDATE") else None,
        "dryRun": False,
    }
    return cast(AdmissionRequest, raw)
