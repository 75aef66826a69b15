"""A Kubernetes API server for tests: kmock's emulator, served over HTTP on 127.0.0.1.

kmock keeps objects as plain dicts and merges every PATCH into them. Two API-server semantics
truthgate relies on are added here, as a subclass, so tests prove them rather than assume them:

* optimistic concurrency — every write bumps ``metadata.resourceVersion``; a PATCH that carries a
  different resourceVersion gets 409 Conflict, as the real server answers;
* the status subresource — a PATCH on ``…/status`` changes ``status`` only (spec and labels in
  the body are ignored), a PATCH on the object changes everything but ``status`` and bumps
  ``metadata.generation`` when ``spec`` changed.

The emulator runs in its own event loop on a thread, because the code under test (the official
kubernetes client) is synchronous. Tests change the world through ``put``/``patch``/``delete``,
which run on that loop too.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

    def stamp(self, obj: Obj, *, spec_changed: bool) -> None:
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self.rv))
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", "2026-11-27T09:00:00Z")
        if "generation" not in meta:
            meta["generation"] = 1
        elif spec_changed:
            meta["generation"] = int(meta["generation"]) + 1

    def overwrite_status(self, rtype: ResourceType, namespace: str, name: str, status: Obj) -> None:
        """Another writer's status update, for use on the server's loop (before_status_patch)."""
        obj = self.objects[(_res(rtype), namespace, name)]
        raw = copy.deepcopy(obj.raw)
        self.stamp(raw, spec_changed=False)
        obj.patch({"metadata": raw["metadata"], "status": None})
        obj.patch({"status": status})

    async def _handle(self, request: Any) -> Any:
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
            return response


class ApiServer:
    """Handle on a running StrictEmulator: its URL and thread-safe ways to change the world."""

    def __init__(self, emulator: StrictEmulator, loop: asyncio.AbstractEventLoop, url: str):
        self.emulator = emulator
        self.loop = loop
        self.url = url

    def _run(self, fn: Callable[[], Any]) -> Any:
        async def go() -> Any:
            async with self.emulator.write_lock:
                return fn()

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(5)

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
        self._run(self.emulator.objects[key].delete)

    def set_status(self, rtype: ResourceType, namespace: str, name: str, status: Obj) -> Obj:
        """Another writer replaces the status (bumps resourceVersion)."""
        current = self.get(rtype, namespace, name)
        assert current is not None
        current["status"] = status
        return self.put(rtype, current)


def _res(rtype: ResourceType) -> Any:
    return kmock.resource(group=rtype.group, version=rtype.version, plural=rtype.plural)


@contextmanager
def serve_api() -> Iterator[ApiServer]:
    """Serve a StrictEmulator on 127.0.0.1:<free port> for the duration of the block."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with StrictEmulator() as emulator, kmock.Server(emulator) as server:
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
