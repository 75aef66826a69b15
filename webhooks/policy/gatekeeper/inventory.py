"""``data.inventory`` for referential templates: a snapshot of the cluster objects they read.

Gatekeeper syncs the kinds listed in its ``Config`` (``config.gatekeeper.sh/v1alpha1``,
``spec.sync.syncOnly``) into ``data.inventory`` as ``cluster[apiVersion][kind][name]`` and
``namespace[ns][apiVersion][kind][name]``. truthgate reads the same ``Config`` from the policy
directory; the server refreshes the snapshot by listing those kinds (``refresh``, through an
injected lister: this module does no I/O), and every engine picks the new snapshot up on its
next review. Until the first refresh, and for kinds that cannot be listed, the inventory is
empty, as in Gatekeeper before its sync completes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webhooks.common.api import join_api_version
from webhooks.errors import TruthgateError


@dataclass(frozen=True)
class SyncKind:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return join_api_version(self.group, self.version)


def inventory_of(objects: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``data.inventory`` as Gatekeeper syncs it."""
    inventory: dict[str, Any] = {"cluster": {}, "namespace": {}}
    for obj in objects:
        meta = obj.get("metadata") or {}
        api, kind, name = str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("name"))
        ns = meta.get("namespace")
        root = inventory["namespace"].setdefault(ns, {}) if ns else inventory["cluster"]
        root.setdefault(api, {}).setdefault(kind, {})[name] = dict(obj)
    return inventory


class InventoryCache:
    """The current snapshot and a generation that changes with it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._data: dict[str, Any] = inventory_of([])
        self._kinds: tuple[SyncKind, ...] = ()

    def want(self, kinds: Sequence[SyncKind]) -> None:
        """The kinds the loaded policies need (set by the engine on every load)."""
        with self._lock:
            self._kinds = tuple(kinds)

    def kinds(self) -> tuple[SyncKind, ...]:
        with self._lock:
            return self._kinds

    def replace(self, objects: Sequence[Mapping[str, Any]]) -> None:
        data = inventory_of(objects)
        with self._lock:
            self._data = data
            self._generation += 1

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            return self._generation, self._data


# Lists every object of one kind in the cluster; raises TruthgateError when it cannot.
Lister = Callable[[SyncKind], Sequence[Mapping[str, Any]]]


def refresh(cache: InventoryCache, lister: Lister) -> list[str]:
    """List the wanted kinds and replace the snapshot; the errors of kinds that failed (their
    objects are then missing from the snapshot, never stale ones kept silently)."""
    objects: list[Mapping[str, Any]] = []
    errors: list[str] = []
    for kind in cache.kinds():
        try:
            objects.extend(lister(kind))
        except TruthgateError as e:
            errors.append(f"{kind.api_version} {kind.kind}: {e}")
    cache.replace(objects)
    return errors
