"""Informers: one list+watch per (resource type, namespace), kept current in memory.

An ``Informer`` lists its objects once, then watches from the list's ``resourceVersion`` with
bookmarks, each watch ending after ``watch_seconds`` (the server's ``timeoutSeconds``; the
client's read timeout is a little longer, see ``watch.py``) and resumed from the newest version
seen. ``410 Gone`` lists again; any other failure waits (exponential backoff with jitter, capped
at ``backoff_cap`` seconds) and tries again, so an API outage costs freshness, never the thread.
It keeps the objects exactly as the API server sends them, replacing (never mutating) an object
on each change, so a reader holding an older list still holds consistent objects.

``usable`` says whether a reader may trust it: it has listed, its version has not expired
(until it lists again), and its watch has not failed ``failing_after`` times in a row. Whoever reads from an informer falls back to listing when it
is not usable. After its first sync, ``on_change(rtype, old, new)`` sees every change (``new``
None for a deletion), including those a relist finds; the initial listing is no change.

``Informers`` starts them on demand, one per (type, namespace), and stops them all at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from webhooks.cluster.api import EventStream, Watcher
from webhooks.cluster.errors import WatchExpired
from webhooks.cluster.resources import ResourceType
from webhooks.common.backoff import equal_jitter
from webhooks.errors import short
from webhooks.evidence.model import KubeObject

log = logging.getLogger(__name__)

ChangeHandler = Callable[[ResourceType, KubeObject | None, KubeObject | None], None]
Key = tuple[str | None, str]


@dataclass
class InformerStats:
    lists: int = 0
    watches: int = 0
    expired: int = 0  # 410 Gone: listed again
    failures: int = 0  # every failed list or watch


def _key(obj: KubeObject) -> Key:
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), str(meta.get("name") or "")


def _version(obj: KubeObject) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


@dataclass
class Informer:
    source: Watcher
    rtype: ResourceType
    namespace: str | None
    on_change: ChangeHandler | None = None
    watch_seconds: int = 300
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    failing_after: int = 2
    rng: random.Random = field(default_factory=random.Random)
    stats: InformerStats = field(default_factory=InformerStats, init=False)
    _store: dict[Key, KubeObject] = field(default_factory=dict, init=False)
    _version: str = field(default="", init=False)
    _synced: bool = field(default=False, init=False)
    _failures: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _stream: EventStream | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    # -- what readers see ------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def version(self) -> str:
        """The newest resourceVersion seen (a list, an event or a bookmark); where a watch
        resumes."""
        return self._version

    @property
    def usable(self) -> bool:
        """Listed, and its watch is not failing: reads may come from here."""
        return self._synced and bool(self._version) and self._failures < self.failing_after

    def items(self) -> list[KubeObject]:
        with self._lock:
            return list(self._store.values())

    def get(self, name: str, namespace: str | None = None) -> KubeObject | None:
        with self._lock:
            return self._store.get((namespace or self.namespace, name))

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        where = self.namespace or "cluster"
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{self.rtype.plural}-{where}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and cut the open watch (does not wait; see ``join``)."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.stop()

    def join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            listed = False
            try:
                if not self._version:
                    self._relist()
                    listed = True
                self._watch()
            except WatchExpired as e:
                self.stats.expired += 1
                self._version = ""  # list again: the store stays until then
                if listed:  # a version the server just gave is already gone: back off
                    self._back_off(e)
            except Exception as e:  # any failure: back off and try again, never die
                if self._stop.is_set():
                    return
                self._back_off(e)

    def _back_off(self, error: Exception) -> None:
        self._failures += 1
        self.stats.failures += 1
        delay = equal_jitter(
            self._failures, base=self.backoff_base, cap=self.backoff_cap, rng=self.rng
        )
        log.warning(
            "informer %s in %s: %s (retry in %.1fs)",
            self.rtype.qualified,
            self.namespace or "all namespaces",
            short(error, 200),
            delay,
        )
        self._stop.wait(delay)

    def _relist(self) -> None:
        self.stats.lists += 1
        items, version = self.source.list_versioned(self.rtype, self.namespace)
        fresh = {_key(o): o for o in items}
        with self._lock:
            old, self._store = self._store, fresh
        was_synced, self._synced = self._synced, True
        self._version = version
        self._failures = 0
        if was_synced:  # what changed while no watch was looking
            for key in old.keys() | fresh.keys():
                before, after = old.get(key), fresh.get(key)
                if before is None or after is None or _version(before) != _version(after):
                    self._notify(before, after)

    def _watch(self) -> None:
        self.stats.watches += 1
        started = time.monotonic()
        stream = self.source.watch(
            self.rtype,
            self.namespace,
            self._version,
            timeout_seconds=self.watch_seconds,
            on_open=self._opened,
        )
        self._stream = stream
        if self._stop.is_set():
            stream.stop()
        seen = 0
        try:
            for kind, obj in stream:
                seen += 1
                self._apply(kind, obj)
                if self._stop.is_set():
                    return
        finally:
            self._stream = None
        if not seen and time.monotonic() - started < min(1.0, self.watch_seconds / 2):
            # Ended at once with nothing: do not spin against a server that closes early.
            self._stop.wait(
                equal_jitter(1, base=self.backoff_base, cap=self.backoff_cap, rng=self.rng)
            )

    def _opened(self) -> None:
        self._failures = 0

    def _apply(self, kind: str, obj: KubeObject) -> None:
        version = _version(obj)
        if kind == "BOOKMARK":
            self._version = version or self._version
            return
        key = _key(obj)
        with self._lock:
            before = self._store.get(key)
            if kind == "DELETED":
                self._store.pop(key, None)
            else:
                self._store[key] = obj
        self._version = version or self._version
        self._notify(before, None if kind == "DELETED" else obj)

    def _notify(self, before: KubeObject | None, after: KubeObject | None) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(self.rtype, before, after)
        except Exception:  # a handler's bug must not stop the informer
            log.exception("informer %s: change handler failed", self.rtype.qualified)


@dataclass
class Informers:
    """Informers started on demand, one per (type, namespace), for the types in ``types``."""

    source: Watcher
    types: frozenset[ResourceType]
    on_change: ChangeHandler | None = None
    watch_seconds: int = 300
    backoff_cap: float = 60.0
    _running: dict[tuple[ResourceType, str | None], Informer] = field(
        default_factory=dict, init=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def ensure(self, rtype: ResourceType, namespace: str | None) -> Informer | None:
        """The informer of (type, namespace), started if it was not; None for a type not
        informed."""
        if rtype not in self.types:
            return None
        with self._lock:
            informer = self._running.get((rtype, namespace))
            if informer is None:
                informer = Informer(
                    self.source,
                    rtype,
                    namespace,
                    on_change=self.on_change,
                    watch_seconds=self.watch_seconds,
                    backoff_cap=self.backoff_cap,
                )
                self._running[(rtype, namespace)] = informer
                informer.start()
            return informer

    def find(self, rtype: ResourceType, namespace: str | None, name: str) -> KubeObject | None:
        """An object from a running informer (no API call); None when not known here."""
        informer = self._running.get((rtype, namespace))
        return informer.get(name, namespace) if informer is not None else None

    def prime(self, types: Iterable[ResourceType], namespaces: Iterable[str]) -> None:
        for ns in namespaces:
            for rtype in types:
                self.ensure(rtype, ns)

    def all(self) -> list[Informer]:
        with self._lock:
            return list(self._running.values())

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(i.synced for i in self.all()):
                return True
            time.sleep(0.05)
        return all(i.synced for i in self.all())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every informer (leadership lost, shutdown); they start again on demand."""
        with self._lock:
            stopping, self._running = list(self._running.values()), {}
        for informer in stopping:
            informer.stop()
        deadline = time.monotonic() + timeout
        for informer in stopping:
            informer.join(max(0.0, deadline - time.monotonic()))
