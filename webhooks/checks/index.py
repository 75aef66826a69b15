"""Which live objects belong to the application, and how they own each other.

The collector may hand over more than the app's objects (a whole namespace of Pods, Events,
EndpointSlices, quotas). An object belongs to the app when Argo CD tracks it (its tracking id or
instance label names the app, read as Argo CD reads them: ``webhooks.common.argocd``), when the
Application lists it in ``status.resources``, or when it is owned, through ownerReferences, by an
object that belongs (Pod -> ReplicaSet -> Deployment), or when it is a claim that a StatefulSet
that belongs made from its ``volumeClaimTemplates``. When the evidence names no application or
nothing is tracked, every object counts as the app's: the collector scoped them already. Argo CD
sync hooks (and what they own) never belong: Argo CD leaves them out of application health, and
the verifying Job cannot judge itself while it runs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from webhooks.checks import kube
from webhooks.common.argocd import AppRef, controller_namespace, is_hook, tracked_app
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import KubeObject

ObjectKey = tuple[str, str | None, str]  # (kind, namespace, name)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def key(obj: KubeObject) -> ObjectKey:
    return (kube.kind(obj), kube.namespace(obj), kube.name(obj))


@dataclass(frozen=True)
class Event:
    """A core/v1 or events.k8s.io/v1 Event, read the same way.

    ``count`` is how many times it happened by this event object's own reckoning (``series.count``,
    ``count`` or ``deprecatedCount``: cumulative per object). ``ident`` names the event object
    itself (namespace and name, else uid): both Event APIs serve one stored object under one name,
    so two copies with one ``ident`` are one object read twice, not two records.
    """

    reason: str
    message: str
    type: str
    kind: str
    namespace: str | None
    name: str
    uid: str | None
    last_seen: datetime | None
    count: int
    ident: str | None = None

    def sort_key(self) -> datetime:
        return self.last_seen or _EPOCH


def read_event(obj: KubeObject) -> Event | None:
    """Normalise both Event APIs; None for anything that is not an Event."""
    if kube.kind(obj) != "Event":
        return None
    # events.k8s.io/v1 says regarding/note/eventTime; core v1 says involvedObject/message.
    target = kube.get_dict(obj, "regarding") or kube.get_dict(obj, "involvedObject")
    last_seen = None
    for path in (
        ("series", "lastObservedTime"),
        ("lastTimestamp",),
        ("deprecatedLastTimestamp",),
        ("eventTime",),
        ("firstTimestamp",),
        ("metadata", "creationTimestamp"),
    ):
        last_seen = try_parse_time(kube.get(obj, *path))
        if last_seen:
            break
    count = (
        kube.get_int(obj, "series", "count")
        or kube.get_int(obj, "count")
        or kube.get_int(obj, "deprecatedCount")
        or 1
    )
    return Event(
        reason=kube.get_str(obj, "reason") or "",
        message=(kube.get_str(obj, "note") or kube.get_str(obj, "message") or "").strip(),
        type=kube.get_str(obj, "type") or "",
        kind=kube.get_str(target, "kind") or "",
        namespace=kube.get_str(target, "namespace") or kube.namespace(obj),
        name=kube.get_str(target, "name") or "",
        uid=kube.get_str(target, "uid"),
        last_seen=last_seen,
        count=count,
        ident=_ident(obj),
    )


def _ident(obj: KubeObject) -> str | None:
    if name := kube.name(obj):
        return f"{kube.namespace(obj) or ''}/{name}"
    return kube.uid(obj)


#: The StatefulSet controller reports one refused claim twice: "create Claim <c> for Pod <p> in
#: StatefulSet <s> failed error: <why>", then "create Pod <p> in StatefulSet <s> failed error:
#: failed to create PVC <c>: <why>". The second is an echo of the first.
_STS_POD_ECHO = re.compile(
    r"^create Pod (?P<pod>\S+) in StatefulSet (?P<set>\S+) failed error: "
    r"failed to create PVC (?P<claim>\S+): (?P<why>.*)$",
    re.DOTALL,
)


_Story = tuple[str, str | None, str, str, str]


def _story(event: Event) -> _Story:
    """What makes two Events the same story: the object, the reason, the message. The object by
    kind, namespace and name: one copy may name its uid and the other not."""
    message = event.message
    if echo := _STS_POD_ECHO.match(message):
        message = (
            f"create Claim {echo['claim']} for Pod {echo['pod']} in StatefulSet {echo['set']} "
            f"failed error: {echo['why']}"
        )
    return (event.kind, event.namespace, event.name, event.reason, message)


def distinct(events: Iterable[Event]) -> list[Event]:
    """One Event per (involved object, reason, message), in first-seen order, counting each
    occurrence once.

    How the copies of one story combine follows what Kubernetes writes:

    * one event object read twice (listed through both Event APIs, or twice by a collector) has
      one ``ident``: its copies count once, the copy that counted most being the newest view;
    * distinct event objects of one story are distinct records, whose counts add up: a recorder
      starts a new object when its cache forgot the old one (a controller-manager restart or
      leader change, the cache's size bound, a series that went quiet), and each object counts
      only what it recorded;
    * a StatefulSet's claim refusal and its pod echo record the same attempts side by side: the
      larger of the two tallies, not their sum.

    The merged Event carries the total as ``count`` and the latest ``last_seen``.
    """
    stories: dict[_Story, list[Event]] = {}
    for event in events:
        stories.setdefault(_story(event), []).append(event)
    return [_combined(copies) for copies in stories.values()]


def _combined(copies: list[Event]) -> Event:
    # Per stream (the message as written: a refusal, or its StatefulSet echo), per event object,
    # the copy that counted most; objects of a stream add up, parallel streams do not.
    streams: dict[str, dict[object, int]] = defaultdict(dict)
    for event in copies:
        objects = streams[event.message]
        ident: object = event.ident if event.ident is not None else object()
        objects[ident] = max(objects.get(ident, 0), event.count)
    total = max(sum(counts.values()) for counts in streams.values())
    top = max(copies, key=lambda e: e.count)
    return replace(top, count=total, last_seen=max(copies, key=Event.sort_key).last_seen)


def _owner_refs(obj: KubeObject) -> list[dict[str, Any]]:
    return list(kube.dicts(obj, "metadata", "ownerReferences"))


class ObjectIndex:
    """Lookups over the live objects of one Evidence document."""

    def __init__(self, objects: Iterable[object], application: KubeObject | None = None):
        self.objects: list[KubeObject] = [o for o in objects if isinstance(o, dict)]
        self.app_name = kube.get_str(application, "metadata", "name") if application else None
        # Tracking writes a bare "<app>" for the control-plane namespace's applications.
        self._control_plane = controller_namespace(application)
        self._app = (
            AppRef(self.app_name, kube.get_str(application, "metadata", "namespace"))
            if self.app_name
            else None
        )
        self._by_key: dict[ObjectKey, KubeObject] = {}
        self._by_uid: dict[str, KubeObject] = {}
        self._by_kind: dict[str, list[KubeObject]] = defaultdict(list)
        self.events: list[Event] = []
        # Reverse indexes, so that a namespace of thousands of pods is not scanned once per
        # workload: children by owner uid and by (namespace, owner kind, owner name), events
        # by the uid and the key of the object they are about, pods by namespace.
        self._children_by_uid: dict[str, list[KubeObject]] = defaultdict(list)
        self._children_by_name: dict[ObjectKey, list[KubeObject]] = defaultdict(list)
        self._events_by_uid: dict[str, list[Event]] = defaultdict(list)
        self._events_by_key: dict[ObjectKey, list[Event]] = defaultdict(list)
        self._pods_by_ns: dict[str | None, list[KubeObject]] = defaultdict(list)
        self._event_pos: dict[int, int] = {}
        self._label_index: dict[str | None, dict[tuple[str, str], set[int]]] = {}
        self._slices_by_service: dict[tuple[str | None, str], list[KubeObject]] = defaultdict(list)
        for obj in self.objects:
            self._by_key[key(obj)] = obj
            if uid := kube.uid(obj):
                self._by_uid[uid] = obj
            self._by_kind[kube.kind(obj)].append(obj)
            if kube.kind(obj) == "Pod":
                self._pods_by_ns[kube.namespace(obj)].append(obj)
            elif kube.kind(obj) == "EndpointSlice" and (
                service := kube.get_str(obj, "metadata", "labels", SERVICE_NAME_LABEL)
            ):
                self._slices_by_service[(kube.namespace(obj), service)].append(obj)
            for r in _owner_refs(obj):
                if isinstance(ruid := r.get("uid"), str) and ruid:
                    self._children_by_uid[ruid].append(obj)
                owner_key = (
                    kube.get_str(r, "kind") or "",
                    kube.namespace(obj),
                    kube.get_str(r, "name") or "",
                )
                self._children_by_name[owner_key].append(obj)
            if (event := read_event(obj)) is not None:
                self._event_pos[id(event)] = len(self.events)
                self.events.append(event)
                if event.uid:
                    self._events_by_uid[event.uid].append(event)
                self._events_by_key[(event.kind, event.namespace, event.name)].append(event)
        # Argo CD's resource tree (``status.resources``), by object; a cluster-scoped resource
        # is listed without a namespace (or, by other writers, "").
        self._tree: dict[ObjectKey, dict[str, Any]] = {
            (
                kube.get_str(r, "kind") or "",
                kube.get_str(r, "namespace") or None,
                kube.get_str(r, "name") or "",
            ): r
            for r in kube.dicts(application, "status", "resources")
        }
        self._members = self._resolve_members()

    # --- lookups --------------------------------------------------------------------------

    def of_kind(self, *kinds: str) -> list[KubeObject]:
        return [o for k in kinds for o in self._by_kind.get(k, [])]

    def has_kind(self, kind: str) -> bool:
        return bool(self._by_kind.get(kind))

    def get(self, kind: str, namespace: str | None, name: str) -> KubeObject | None:
        return self._by_key.get((kind, namespace, name))

    def owner(self, obj: KubeObject) -> KubeObject | None:
        """The controlling owner present in the evidence (controller=true first)."""
        refs = sorted(_owner_refs(obj), key=lambda r: r.get("controller") is not True)
        for r in refs:
            found = self._by_uid.get(r.get("uid") or "") or self.get(
                kube.get_str(r, "kind") or "", kube.namespace(obj), kube.get_str(r, "name") or ""
            )
            if found is not None:
                return found
        return None

    def top_owner(self, obj: KubeObject) -> KubeObject:
        """Follow controlling owners to the top (Pod -> ReplicaSet -> Deployment)."""
        seen: set[int] = set()
        cur = obj
        while id(cur) not in seen:
            seen.add(id(cur))
            parent = self.owner(cur)
            if parent is None:
                return cur
            cur = parent
        return cur

    def children(self, parent: KubeObject, kind: str) -> list[KubeObject]:
        """Objects of ``kind`` that name ``parent`` as an owner (by uid, or by kind and name)."""
        candidates = self._children_by_name.get(key(parent), [])
        if parent_uid := kube.uid(parent):
            candidates = self._children_by_uid.get(parent_uid, []) + candidates
        seen: set[int] = set()
        out: list[KubeObject] = []
        for obj in candidates:
            if id(obj) in seen or kube.kind(obj) != kind:
                continue
            seen.add(id(obj))
            if kube.namespace(obj) == kube.namespace(parent):
                out.append(obj)
        return out

    def pods_in(self, namespace: str | None) -> list[KubeObject]:
        return self._pods_by_ns.get(namespace, [])

    def pods_matching(self, namespace: str | None, selector: dict[str, str]) -> list[KubeObject]:
        """Pods of ``namespace`` whose labels include every pair of an equality selector."""
        if namespace not in self._label_index:
            by_label: dict[tuple[str, str], set[int]] = defaultdict(set)
            for i, pod in enumerate(self.pods_in(namespace)):
                for pair in kube.str_map(pod, "metadata", "labels").items():
                    by_label[pair].add(i)
            self._label_index[namespace] = by_label
        by_label = self._label_index[namespace]
        matched: set[int] | None = None
        for pair in selector.items():
            hits = by_label.get(pair, set())
            matched = set(hits) if matched is None else matched & hits
            if not matched:
                return []
        pods = self.pods_in(namespace)
        return [pods[i] for i in sorted(matched)] if matched is not None else list(pods)

    def tree_entry(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object's entry in the Application's resource tree, if Argo CD lists it."""
        return self._tree.get((kind, namespace or None, name))

    def has_tree(self) -> bool:
        return bool(self._tree)

    def endpoint_slices(self, namespace: str | None, service: str) -> list[KubeObject]:
        return self._slices_by_service.get((namespace, service), [])

    def current_replicaset(self, deployment: KubeObject) -> KubeObject | None:
        """The ReplicaSet of the Deployment's current revision (the newest one)."""
        sets = self.children(deployment, "ReplicaSet")
        if not sets:
            return None
        wanted = kube.get_str(deployment, "metadata", "annotations", REVISION_ANNOTATION)
        for rs in sets:
            has = kube.get_str(rs, "metadata", "annotations", REVISION_ANNOTATION)
            if wanted and has == wanted:
                return rs

        def revision(rs: KubeObject) -> int:
            text = kube.get_str(rs, "metadata", "annotations", REVISION_ANNOTATION) or ""
            return int(text) if text.isdigit() else -1

        return max(sets, key=revision)

    def pods_of(self, workload: KubeObject) -> list[KubeObject]:
        """Pods a workload runs: by ownerReferences, else by its label selector."""
        wkind = kube.kind(workload)
        if wkind == "Pod":
            return [workload]
        owners: Sequence[KubeObject] = (
            self.children(workload, "ReplicaSet") if wkind == "Deployment" else [workload]
        )
        pods = [p for o in owners for p in self.children(o, "Pod")]
        if pods:
            return pods
        selector = kube.get_dict(workload, "spec", "selector")
        if not selector:
            return []
        # No ownerReferences to follow (a trimmed collector): fall back to the selector,
        # but only for pods that name no other owner. matchLabels narrows the candidates
        # through the label index first, so thousands of workloads do not each scan every pod.
        namespace = kube.namespace(workload)
        match = selector.get("matchLabels")
        pairs = (
            {k: v for k, v in match.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(match, dict)
            else {}
        )
        candidates = self.pods_matching(namespace, pairs) if pairs else self.pods_in(namespace)
        return [
            p
            for p in candidates
            if not _owner_refs(p)
            and kube.selector_matches(selector, kube.str_map(p, "metadata", "labels"))
        ]

    def events_for(self, obj: KubeObject) -> list[Event]:
        """Events about ``obj`` (matched by uid, or by kind, namespace and name), in order."""
        found = self._events_by_key.get(key(obj), [])
        if oid := kube.uid(obj):
            found = self._events_by_uid.get(oid, []) + found
        unique = {id(e): e for e in found}
        return sorted(unique.values(), key=lambda e: self._event_pos[id(e)])

    def latest_warning(self, obj: KubeObject, *reasons: str) -> Event | None:
        """The latest Warning event about ``obj`` (of one of ``reasons``, when given)."""
        warnings = [
            e
            for e in self.events_for(obj)
            if e.type == "Warning" and (not reasons or e.reason in reasons)
        ]
        return max(warnings, key=Event.sort_key) if warnings else None

    # --- membership -----------------------------------------------------------------------

    def is_member(self, obj: KubeObject) -> bool:
        return key(obj) in self._members

    def members(self, *kinds: str) -> list[KubeObject]:
        return [o for o in self.of_kind(*kinds) if self.is_member(o)]

    def names_app(self, app_key: object) -> bool:
        """``app_key`` (Argo CD's key, ``<app>`` or ``<app-namespace>_<app>``, as intents record
        it) names the application of this evidence."""
        ref = AppRef.parse(app_key) if isinstance(app_key, str) else None
        return (
            self._app is not None
            and ref is not None
            and ref.in_control_plane(self._control_plane).same_app(self._app)
        )

    def tracked(self, obj: KubeObject) -> bool:
        if self._app is None:
            return False
        ref = tracked_app(obj)
        if ref is not None and ref.in_control_plane(self._control_plane).same_app(self._app):
            return True
        return key(obj) in self._tree

    def _chain(self, obj: KubeObject) -> list[KubeObject]:
        """Its controlling owners present in the evidence, nearest first."""
        out: list[KubeObject] = []
        chain = obj
        for _ in range(8):  # ownership chains are short; bound against cycles
            parent = self.owner(chain)
            if parent is None:
                break
            out.append(parent)
            chain = parent
        return out

    def _resolve_members(self) -> set[ObjectKey]:
        candidates = [
            o
            for o in self.objects
            if kube.kind(o) != "Event" and not is_hook(o) and not any(map(is_hook, self._chain(o)))
        ]
        roots = {key(o) for o in candidates if self.tracked(o)}
        if not roots:
            return {key(o) for o in candidates}
        members = set(roots)
        for obj in candidates:
            if any(key(parent) in roots for parent in self._chain(obj)):
                members.add(key(obj))
        return members | self._claims_of_sets(members)

    def _claims_of_sets(self, members: set[ObjectKey]) -> set[ObjectKey]:
        """The claims a member StatefulSet made from its ``volumeClaimTemplates``: named
        ``<template>-<set>-<ordinal>``, they name no owner under the default ``Retain`` policy."""
        out: set[ObjectKey] = set()
        for sts in self._by_kind.get("StatefulSet", []):
            if key(sts) not in members:
                continue
            prefixes = [
                f"{template}-{kube.name(sts)}-"
                for t in kube.dicts(sts, "spec", "volumeClaimTemplates")
                if (template := kube.get_str(t, "metadata", "name"))
            ]
            for claim in self._by_kind.get("PersistentVolumeClaim", []):
                name = kube.name(claim)
                if kube.namespace(claim) == kube.namespace(sts) and any(
                    name.startswith(p) and name[len(p) :].isdigit() for p in prefixes
                ):
                    out.add(key(claim))
        return out
