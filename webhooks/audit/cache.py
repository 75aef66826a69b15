"""One listing per (type, namespace) per audit pass, shared by every TruthCheck of the pass.

A verification lists about fourteen resource types in each of its application's namespaces.
Ten applications in one namespace, audited one after the other, would list the same objects
ten times within seconds. The auditor wraps its cluster reader in a ``PassCache`` for the
duration of one pass: the first verification that needs a list fetches it, the others (even
concurrent ones) share it. Gets (the Application, the TruthCheck) and Secret values are never
cached: they decide what is judged and must be current.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from webhooks.cluster.api import ClusterReader
from webhooks.cluster.resources import ResourceType, ServedType
from webhooks.evidence.model import KubeObject


@dataclass
class _Slot:
    ready: threading.Event = field(default_factory=threading.Event)
    items: list[KubeObject] | None = None
    error: BaseException | None = None


class PassCache:
    """A ClusterReader that lists each (type, namespace) at most once."""

    def __init__(self, reader: ClusterReader) -> None:
        self._reader = reader
        self._slots: dict[tuple[ResourceType, str | None], _Slot] = {}
        self._lock = threading.Lock()

    def get_object(
        self, rtype: ResourceType, namespace: str | None, name: str
    ) -> KubeObject | None:
        return self._reader.get_object(rtype, namespace, name)

    def served_types(self, group: str, version: str) -> list[ServedType]:
        return self._reader.served_types(group, version)

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return self._reader.secret_value(namespace, name, key)

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[KubeObject]:
        with self._lock:
            slot = self._slots.get((rtype, namespace))
            owner = slot is None
            if slot is None:
                slot = self._slots[(rtype, namespace)] = _Slot()
        if owner:
            try:
                slot.items = self._reader.list_objects(rtype, namespace)
            except BaseException as e:  # every waiter sees the same failure
                slot.error = e
            finally:
                slot.ready.set()
        else:
            slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.items is not None
        return list(slot.items)  # callers may filter; the objects themselves are shared
