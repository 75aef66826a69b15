"""A Kubernetes API server for tests: kmock's emulator, served over HTTP on 127.0.0.1.

kmock keeps objects as plain dicts and merges every PATCH into them. Two API-server semantics
truthgate relies on are added here, as a subclass, so tests prove them rather than assume them:

* optimistic concurrency — every write bumps ``metadata.resourceVersion``; a PATCH that carries a
  different resourceVersion gets 409 Conflict, as the real server answers;
* the status subresource — a PATCH on ``…/status`` changes ``status`` only (spec and labels in
  the body are ignored), a PATCH on the object changes everything but ``status`` and bumps
  ``metadata.generation`` when ``spec`` changed;
* watches as the API server serves them (kmock's own stream ignores ``resourceVersion``): a
  list carries the store's ``resourceVersion``; a watch from a version replays every change
  after it from a bounded event log, answers ``410 Gone`` (an ERROR event, as the server does)
  for a version older than the log, sends ``BOOKMARK`` events when asked
  (``allowWatchBookmarks``) and ends after ``timeoutSeconds``.

Faults for tests: ``outage(503)`` answers every API request with that status until
``outage(None)``, ``fail_watches(503)`` only the watches; ``drop_watches()`` ends every open watch stream; ``compact()`` forgets the
event log, so the next watch from an old version gets 410. ``bulk_put`` seeds many objects in
one step on the server's loop (benchmarks); lists, gets and patches find objects by key and
per-namespace index, and ``serve_api(forget_requests=True)`` keeps no served request, so tens
of thousands of objects and requests stay fast.

The emulator runs in its own event loop on a thread, because the code under test (the official
kubernetes client) is synchronous. Tests change the world through ``put``/``patch``/``delete``,
which run on that loop too.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import copy
import itertools
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import kmock
from kmock._internal import enums, k8s

from webhooks.cluster.resources import (
    APP_OBJECT_TYPES,
    APPLICATION,
    LEASE,
    NODE,
    TRUTHCHECK,
    ResourceType,
)

Obj = dict[str, Any]
Key = tuple[Any, str | None, str]


class StrictEmulator(kmock.KubernetesEmulator):
    """KubernetesEmulator with resourceVersion conflicts and a real status subresource."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.rv = itertools.count(100)
        self.write_lock = asyncio.Lock()
        # Called (once each, in order) just before a status PATCH is checked: lets a test make
        # "another writer" win the race between our read and our write.
        self.before_status_patch: list[Callable[[], None]] = []
        self.status_patches = 0
        self.conflicts = 0
        self.last_rv = 99
        # The watch cache, per resource: (resourceVersion, namespace, event), oldest first.
        self.logs: dict[Any, list[tuple[int, str | None, Obj]]] = collections.defaultdict(list)
        self.log_size = 50_000
        self.horizon = 0  # a watch from a version older than this gets 410 Gone
        self.horizons: dict[Any, int] = {}
        self.changed: dict[Any, asyncio.Event] = collections.defaultdict(asyncio.Event)
        self.bookmark_seconds = 60.0  # about what the API server does
        self.watch_drops = 0
        self.failing: int | None = None  # answer every request with this status (an outage)
        self.failing_watches: int | None = None  # the same for watch requests only
        self.lists: collections.Counter[str] = collections.Counter()  # list requests, by plural
        self.watches = 0  # watch requests served
        self.open_watches = 0
        self.index: dict[tuple[Any, str | None], set[Key]] = collections.defaultdict(set)
        self.forget_requests = False  # True: keep no served request (benchmarks)

    def stamp(self, obj: Obj, *, spec_changed: bool) -> None:
        meta = obj.setdefault("metadata", {})
        self.last_rv = next(self.rv)
        meta["resourceVersion"] = str(self.last_rv)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", "2026-11-27T09:00:00Z")
        if "generation" not in meta:
            meta["generation"] = 1
        elif spec_changed:
            meta["generation"] = int(meta["generation"]) + 1

    def forget(self, request: Any) -> None:
        """Drop a served request from kmock's log (``forget_requests``): kmock matches each
        request by walking every request it has kept, quadratic over a benchmark's tens of
        thousands. A request is dropped once matched (a watch as it starts streaming)."""
        if self.forget_requests:
            for i in range(len(self._requests) - 1, -1, -1):
                if self._requests[i] is request:
                    del self._requests[i]
                    return

    def record(self, key: Key, kind: str, obj: Obj, *, copied: bool = False) -> None:
        """Log a change for watches (on the server's loop, after ``stamp``)."""
        resource, namespace, _ = key
        self.index[(resource, namespace)].add(key)
        log = self.logs[resource]
        if len(log) >= self.log_size:  # the oldest half is compacted away
            self.horizons[resource] = log[len(log) // 2 - 1][0]
            del log[: len(log) // 2]
        rv = int(obj["metadata"]["resourceVersion"])
        log.append((rv, namespace, {"type": kind, "object": obj if copied else copy.deepcopy(obj)}))
        self.wake(resource)

    def changes(self, resource: Any, namespace: str | None, after: int) -> list[Obj]:
        log = self.logs.get(resource) or []
        start = bisect.bisect_right(log, after, key=lambda e: e[0])
        return [e for _, ns, e in log[start:] if namespace in (None, ns)]

    def expired(self, resource: Any, version: int) -> bool:
        return version < max(self.horizon, self.horizons.get(resource, 0))

    def wake(self, resource: Any = None) -> None:
        """Wake the watches of ``resource`` (None: every watch)."""
        for res in [resource] if resource is not None else list(self.changed):
            self.changed.pop(res, asyncio.Event()).set()

    def overwrite_status(self, rtype: ResourceType, namespace: str, name: str, status: Obj) -> None:
        """Another writer's status update, for use on the server's loop (before_status_patch)."""
        obj = self.objects[(_res(rtype), namespace, name)]
        raw = copy.deepcopy(obj.raw)
        self.stamp(raw, spec_changed=False)
        obj.patch({"metadata": raw["metadata"], "status": None})
        obj.patch({"status": status})
        self.record((_res(rtype), namespace, name), "MODIFIED", obj.raw)

    async def _handle(self, request: Any) -> Any:
        try:
            return await self._strict(request)
        finally:
            self.forget(request)

    async def _strict(self, request: Any) -> Any:
        failing = self.failing
        if request.action == enums.action.WATCH and self.failing_watches is not None:
            failing = self.failing_watches
        if request.resource is not None and failing is not None:
            raise k8s.KubernetesError(
                status=failing, reason="ServiceUnavailable", message="the API is down"
            )
        if request.resource is not None and request.action == enums.action.LIST:
            self.lists[request.resource.plural] += 1
        if request.resource is not None and request.action == enums.action.CREATE:
            async with self.write_lock:
                response = await super()._handle(request)
                body = request.data if isinstance(request.data, dict) else {}
                name = str((body.get("metadata") or {}).get("name") or "")
                key = (request.resource, request.namespace, name)
                if key in self.objects:
                    raw = copy.deepcopy(self.objects[key].raw)
                    self.stamp(raw, spec_changed=False)
                    self.objects[key].patch({"metadata": raw["metadata"]})
                    self.record(key, "ADDED", self.objects[key].raw)
                return response
        if request.resource is None or request.action != enums.action.UPDATE:
            return await super()._handle(request)
        async with self.write_lock:
            key = (request.resource, request.namespace, request.name)
            if request.subresource == "status":
                self.status_patches += 1
                while self.before_status_patch:
                    self.before_status_patch.pop(0)()
            if key not in self.objects or self.objects[key].deleted:
                raise k8s.KubernetesObjectNotFoundError()
            stored = self.objects[key].raw
            body = request.data if isinstance(request.data, dict) else {}
            sent_rv = (body.get("metadata") or {}).get("resourceVersion")
            if sent_rv is not None and sent_rv != stored["metadata"]["resourceVersion"]:
                self.conflicts += 1
                raise k8s.KubernetesError(
                    status=409,
                    reason="Conflict",
                    message=f"Operation cannot be fulfilled on {request.resource.plural} "
                    f'"{request.name}": the object has been modified; please apply '
                    f"your changes to the latest version and try again",
                )
            # Shape the body as the real server would treat it, before kmock merges it.
            if request.subresource == "status":
                for field in [k for k in body if k != "status"]:
                    body.pop(field)
            else:
                body.pop("status", None)
            spec_changed = "spec" in body and body["spec"] != stored.get("spec")
            response = await super()._handle(request)
            obj = self.objects[key]
            raw = copy.deepcopy(obj.raw)
            self.stamp(raw, spec_changed=spec_changed)
            obj.patch({"metadata": raw["metadata"]})
            self.record(key, "MODIFIED", obj.raw)
            return response

    async def _serve_list(self, request: Any) -> Any:
        # kmock's own check walks every stored object; the declared types and the index suffice.
        declared = super(kmock.KubernetesEmulator, self)._get_resources()
        if not any(r == request.resource for r in [*declared, *{r for r, _ in self.index}]):
            raise k8s.KubernetesResourceNotFoundError()
        if request.namespace is None:
            keys: Iterable[Key] = [k for k in self.objects if k[0] == request.resource]
        else:
            keys = self.index.get((request.resource, request.namespace), ())
        items = [
            self.objects[k].raw for k in keys if k in self.objects and not self.objects[k].deleted
        ]
        return {"metadata": {"resourceVersion": str(self.last_rv)}, "items": items}

    async def _serve_fetch(self, request: Any) -> Any:
        return self._one(request) or await super()._serve_fetch(request)

    async def _serve_update(self, request: Any) -> Any:
        return self._one(request) or await super()._serve_update(request)

    def _one(self, request: Any) -> Obj | None:
        """The named object by its key (kmock's own lookup walks every stored object)."""
        obj = self.objects._objects.get((request.resource, request.namespace, request.name))
        return None if obj is None or obj.deleted else obj.raw

    async def _serve_watch(self, request: Any) -> AsyncIterator[Any]:
        """A watch as the API server serves it (see the module's docstring)."""
        self.watches += 1
        self.forget(request)
        params = request.params
        since = params.get("resourceVersion") or ""
        timeout = float(params.get("timeoutSeconds") or 1800)
        bookmarks = params.get("allowWatchBookmarks") == "true"
        resource, namespace = request.resource, request.namespace
        drops = self.watch_drops
        yield b""  # headers out now, as the server does
        self.open_watches += 1
        try:
            if since in ("", "0"):  # no version: the current objects first, as ADDED
                listed = await self._serve_list(request)
                for obj in listed["items"]:
                    yield {"type": "ADDED", "object": obj}
                cursor = self.last_rv
            else:
                cursor = int(since)
                if self.expired(resource, cursor):
                    yield _gone(cursor)
                    return
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + self.bookmark_seconds
            while time.monotonic() < deadline and drops == self.watch_drops:
                changed = self.changed[resource]
                for event in self.changes(resource, namespace, cursor):
                    yield event
                cursor = max(cursor, self.last_rv)
                if bookmarks and time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + self.bookmark_seconds
                    yield {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": "Bookmark",
                            "metadata": {"resourceVersion": str(cursor)},
                        },
                    }
                wait = min(deadline, next_bookmark if bookmarks else deadline) - time.monotonic()
                with suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), max(0.0, wait))
        finally:
            self.open_watches -= 1


class ApiServer:
    """Handle on a running StrictEmulator: its URL and thread-safe ways to change the world."""

    def __init__(self, emulator: StrictEmulator, loop: asyncio.AbstractEventLoop, url: str):
        self.emulator = emulator
        self.loop = loop
        self.url = url

    def _run(self, fn: Callable[[], Any], timeout: float = 5) -> Any:
        async def go() -> Any:
            async with self.emulator.write_lock:
                return fn()

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(timeout)

    def put(self, rtype: ResourceType, obj: Obj) -> Obj:
        """Create or replace an object (status included), as a controller would leave it."""
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", rtype.api_version)
        obj.setdefault("kind", rtype.kind)
        meta = obj["metadata"]
        key = (_res(rtype), meta.get("namespace"), meta["name"])

        def do() -> Obj:
            old = (
                self.emulator.objects[key].raw
                if key in self.emulator.objects and not self.emulator.objects[key].deleted
                else None
            )
            if old is not None:
                for field in ("uid", "generation", "creationTimestamp"):
                    if field in old["metadata"]:
                        meta.setdefault(field, old["metadata"][field])
            self.emulator.stamp(
                obj, spec_changed=old is not None and old.get("spec") != obj.get("spec")
            )
            if old is None:
                self.emulator.objects[key] = obj
            else:
                self.emulator.objects[key].patch({k: None for k in old if k not in obj} | obj)
            self.emulator.record(key, "ADDED" if old is None else "MODIFIED", obj)
            return copy.deepcopy(obj)

        result: Obj = self._run(do)
        return result

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj | None:
        key = (_res(rtype), namespace, name)

        def do() -> Obj | None:
            if key not in self.emulator.objects or self.emulator.objects[key].deleted:
                return None
            return copy.deepcopy(self.emulator.objects[key].raw)

        result: Obj | None = self._run(do)
        return result

    def delete(self, rtype: ResourceType, namespace: str | None, name: str) -> None:
        key = (_res(rtype), namespace, name)

        def do() -> None:
            raw = copy.deepcopy(self.emulator.objects[key].raw)
            self.emulator.objects[key].delete()
            self.emulator.stamp(raw, spec_changed=False)
            self.emulator.record(key, "DELETED", raw)

        self._run(do)

    def bulk_put(self, rtype: ResourceType, objs: Iterable[Obj]) -> list[Obj]:
        """Create many new objects in one step on the server's loop (seeding a benchmark): the
        same stamping and watch events as ``put``, without an HTTP request or a loop round
        trip per object."""
        res = _res(rtype)
        batch = [copy.deepcopy(o) for o in objs]

        def do() -> list[Obj]:
            for obj in batch:
                obj.setdefault("apiVersion", rtype.api_version)
                obj.setdefault("kind", rtype.kind)
                meta = obj["metadata"]
                key = (res, meta.get("namespace"), meta["name"])
                self.emulator.stamp(obj, spec_changed=False)
                self.emulator.objects[key] = obj
                self.emulator.record(key, "ADDED", obj, copied=True)
            return batch

        result: list[Obj] = self._run(do, timeout=300)
        return result

    # -- faults ----------------------------------------------------------------------------

    def outage(self, status: int | None) -> None:
        """Answer every API request with ``status`` (e.g. 503) from now on; None ends it."""

        def do() -> None:
            self.emulator.failing = status
            if status is not None:
                self.drop_now()

        self._run(do)

    def fail_watches(self, status: int | None) -> None:
        """Answer every watch request with ``status`` (lists and gets still work)."""

        def do() -> None:
            self.emulator.failing_watches = status
            if status is not None:
                self.drop_now()

        self._run(do)

    def drop_watches(self) -> None:
        """End every open watch stream (a load balancer cutting long connections)."""
        self._run(self.drop_now)

    def drop_now(self) -> None:
        self.emulator.watch_drops += 1
        self.emulator.wake()

    def compact(self) -> None:
        """Forget the event log: a watch resumed from any version before now gets 410 Gone."""

        def do() -> None:
            self.emulator.logs.clear()
            self.emulator.horizon = self.emulator.last_rv

        self._run(do)

    @property
    def open_watches(self) -> int:
        return int(self.emulator.open_watches)

    def set_status(self, rtype: ResourceType, namespace: str, name: str, status: Obj) -> Obj:
        """Another writer replaces the status (bumps resourceVersion)."""
        current = self.get(rtype, namespace, name)
        assert current is not None
        current["status"] = status
        return self.put(rtype, current)


def _gone(since: int) -> Obj:
    return {
        "type": "ERROR",
        "object": {
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Failure",
            "reason": "Expired",
            "code": 410,
            "message": f"too old resource version: {since}",
        },
    }


def _res(rtype: ResourceType) -> Any:
    return kmock.resource(group=rtype.group, version=rtype.version, plural=rtype.plural)


@contextmanager
def serve_api(*, forget_requests: bool = False) -> Iterator[ApiServer]:
    """Serve a StrictEmulator on 127.0.0.1:<free port> for the duration of the block;
    ``forget_requests`` keeps no served request (benchmarks: see ``StrictEmulator.forget``)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with StrictEmulator() as emulator, kmock.Server(emulator) as server:
            emulator.forget_requests = forget_requests
            for rtype in (*APP_OBJECT_TYPES, APPLICATION, TRUTHCHECK, LEASE, NODE):
                emulator.resources[_res(rtype)].kind = rtype.kind
                emulator.resources[_res(rtype)].namespaced = rtype != NODE
            box["api"] = ApiServer(emulator, loop, str(server.url).rstrip("/"))
            box["stop"] = asyncio.Event()
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fake Kubernetes API did not start")
    try:
        yield box["api"]
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        loop.close()
