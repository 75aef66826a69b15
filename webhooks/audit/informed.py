"""A ClusterReader whose lists come from informers when they are current, else from the API.

Each verification lists about fourteen types in each of its application's namespaces. With
informers, a list is answered from memory by the informer of that (type, namespace) — started
on first use, shared by every TruthCheck, kept current by its watch — as soon as it has synced
and while its watch is not failing (``Informer.usable``). Otherwise the list goes to the
reader underneath (the pass cache: one listing per pass), so a new namespace, a watch that
keeps failing or an API outage costs freshness of the cache, never a verdict it could not
have had. Gets (the Application, the TruthCheck, nodes) and Secret values are never served
from memory: they decide what is judged and must be current.
"""

from __future__ import annotations

from webhooks.cluster.api import ClusterReader
from webhooks.cluster.informer import Informers
from webhooks.cluster.resources import ResourceType, ServedType
from webhooks.evidence.model import KubeObject


class InformedReader:
    """ClusterReader: lists from ``informers`` when usable, the rest from ``fallback``."""

    def __init__(self, informers: Informers, fallback: ClusterReader) -> None:
        self._informers = informers
        self._fallback = fallback
        self.from_memory = 0
        self.fell_back = 0

    def get_object(
        self, rtype: ResourceType, namespace: str | None, name: str
    ) -> KubeObject | None:
        return self._fallback.get_object(rtype, namespace, name)

    def served_types(self, group: str, version: str) -> list[ServedType]:
        return self._fallback.served_types(group, version)

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return self._fallback.secret_value(namespace, name, key)

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[KubeObject]:
        informer = self._informers.ensure(rtype, namespace)
        if informer is not None and informer.usable:
            self.from_memory += 1
            return informer.items()
        self.fell_back += 1
        return self._fallback.list_objects(rtype, namespace)
