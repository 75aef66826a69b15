"""The Kubernetes resource types truthgate reads, named once.

A ``ResourceType`` carries everything needed to build an API path and to restore the
``apiVersion``/``kind`` that list responses omit from their items (the API server sends them
only on the list itself), so every object in an Evidence document is self-describing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from webhooks.common.api import API_GROUP, API_VERSION_NAME, join_api_version


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core API
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return join_api_version(self.group, self.version)

    @property
    def qualified(self) -> str:
        """``plural.group`` as RBAC rules and error messages name it (``pods`` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(
        self, namespace: str | None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource is not None:
                base += f"/{subresource}"
        return base


@dataclass(frozen=True)
class ServedType:
    """One resource type an API group/version serves, as API discovery describes it."""

    rtype: ResourceType
    namespaced: bool


def served_types(group: str, version: str, discovery: dict[str, Any]) -> list[ServedType]:
    """The types of an ``APIResourceList`` (``GET /apis/{group}/{version}``), subresources
    (``deployments/scale``) left out."""
    out: list[ServedType] = []
    for res in discovery.get("resources") or []:
        if not isinstance(res, dict):
            continue
        name, kind = res.get("name"), res.get("kind")
        if isinstance(name, str) and isinstance(kind, str) and name and "/" not in name:
            out.append(
                ServedType(ResourceType(group, version, name, kind), bool(res.get("namespaced")))
            )
    return out


APPLICATION = ResourceType("argoproj.io", "v1alpha1", "applications", "Application")
TRUTHCHECK = ResourceType(API_GROUP, API_VERSION_NAME, "truthchecks", "TruthCheck")

DEPLOYMENT = ResourceType("apps", "v1", "deployments", "Deployment")
STATEFULSET = ResourceType("apps", "v1", "statefulsets", "StatefulSet")
DAEMONSET = ResourceType("apps", "v1", "daemonsets", "DaemonSet")
REPLICASET = ResourceType("apps", "v1", "replicasets", "ReplicaSet")
POD = ResourceType("", "v1", "pods", "Pod")
JOB = ResourceType("batch", "v1", "jobs", "Job")
PVC = ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
SERVICE = ResourceType("", "v1", "services", "Service")
ENDPOINTSLICE = ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
EVENT = ResourceType("", "v1", "events", "Event")
CONFIGMAP = ResourceType("", "v1", "configmaps", "ConfigMap")
SECRET = ResourceType("", "v1", "secrets", "Secret")
HPA = ResourceType("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
RESOURCEQUOTA = ResourceType("", "v1", "resourcequotas", "ResourceQuota")
NAMESPACE = ResourceType("", "v1", "namespaces", "Namespace")
NODE = ResourceType("", "v1", "nodes", "Node")
LEASE = ResourceType("coordination.k8s.io", "v1", "leases", "Lease")

# What `truthgate verify` lists in each of the application's namespaces (RBAC: list on each).
APP_OBJECT_TYPES: tuple[ResourceType, ...] = (
    DEPLOYMENT,
    STATEFULSET,
    DAEMONSET,
    REPLICASET,
    POD,
    JOB,
    PVC,
    SERVICE,
    ENDPOINTSLICE,
    EVENT,
    CONFIGMAP,
    SECRET,
    HPA,
    RESOURCEQUOTA,
)
