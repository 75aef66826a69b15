"""Argo CD's resource tracking, read the way Argo CD reads it.

Argo CD marks what it deploys in one of two ways, and truthgate reads both the way Argo CD does:

- the annotation ``argocd.argoproj.io/tracking-id``: ``<app>:<group>/<kind>:<namespace>/<name>``
  (core group empty, cluster-scoped objects with an empty namespace). It counts only when its
  group, kind, name and namespace describe the object it sits on: a tracking id copied onto
  another object (a template, a kubectl copy) is ignored, as Argo CD ignores it;
- the label ``app.kubernetes.io/instance``, whose value is the application.

With applications in any namespace Argo CD writes the app as ``<app-namespace>_<app>`` (a
Kubernetes name cannot hold ``_``); in the control-plane namespace just ``<app>``. ``AppRef``
keeps both parts and ``AppRef.key`` the form Argo CD itself uses as the key. A bare ``<app>``
names the application in the control-plane namespace, which an Application states as
``status.controllerNamespace``: ``AppRef.in_control_plane`` fills it in.

Also read here, the way Argo CD writes them: sync hooks (left out of application health) and
the revision of a sync (one per source for a multi-source application).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from webhooks.common.api import split_api_version

#: Argo CD's own namespace unless told otherwise: where it runs and where tracking without a
#: namespace (``<app>``, not ``<ns>_<app>``) puts an application.
CONTROL_PLANE_NAMESPACE = "argocd"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"
#: Argo CD runs objects with either annotation as sync hooks (Helm hooks are mapped to its own).
HOOK_ANNOTATIONS = ("argocd.argoproj.io/hook", "helm.sh/hook")


@dataclass(frozen=True)
class AppRef:
    """An Argo CD application: its name and, when tracking said so, its namespace."""

    name: str
    namespace: str | None = None  # None: the control-plane namespace (not written by tracking)

    @classmethod
    def parse(cls, key: str) -> AppRef | None:
        """``"team-a_shop"`` → AppRef("shop", "team-a"); ``"shop"`` → AppRef("shop")."""
        if not key:
            return None
        namespace, sep, name = key.partition("_")
        return cls(name=name, namespace=namespace) if sep and namespace and name else cls(key)

    @classmethod
    def from_cli(cls, text: str, namespace: str | None = None) -> AppRef:
        """An application as a person names it: ``shop``, or ``team-a/shop`` as the argocd CLI
        writes it; ``namespace`` (a separate flag) must agree with the one in ``text``.

        ValueError says what is wrong with ``text``.
        """
        app_ns, slash, name = text.strip().rpartition("/")
        if not slash:
            return cls(name, namespace or None)
        if not app_ns or not name or "/" in app_ns:
            raise ValueError(f"application {text!r}: expected NAME or NAMESPACE/NAME")
        if namespace and namespace != app_ns:
            raise ValueError(
                f"application {text!r} is in namespace {app_ns}, not {namespace} as "
                "--app-namespace says"
            )
        return cls(name, app_ns)

    @property
    def key(self) -> str:
        """The application as Argo CD names it in tracking: ``<ns>_<app>`` or ``<app>``."""
        return f"{self.namespace}_{self.name}" if self.namespace else self.name

    def ledger_keys(self, control_plane: Collection[str] | None = None) -> tuple[str, ...]:
        """The ``app`` values the webhook records for this application's objects: Argo CD's
        tracking key, ``<ns>_<app>`` outside its control-plane namespace and ``<app>`` inside.

        With the control-plane namespaces known, the one key Argo CD writes. Unknown (None),
        both: a bare ``<app>`` names the control-plane namespace's application, which
        ``same_app`` cannot tell from this one either.
        """
        if self.namespace is None:
            return (self.name,)
        if control_plane is None:
            return (self.key, self.name)
        return (self.name,) if self.namespace in control_plane else (self.key,)

    def in_control_plane(self, namespace: str | None) -> AppRef:
        """This ref with the control-plane namespace where tracking wrote a bare ``<app>``
        (``namespace`` None: not known, the ref stays as it is)."""
        return self if self.namespace or not namespace else AppRef(self.name, namespace)

    def same_app(self, other: AppRef) -> bool:
        """Same name, and the same namespace where both know it."""
        if self.name != other.name:
            return False
        return (
            self.namespace is None or other.namespace is None or self.namespace == other.namespace
        )


@dataclass(frozen=True)
class TrackingId:
    """A parsed ``argocd.argoproj.io/tracking-id``."""

    app: AppRef
    group: str
    kind: str
    namespace: str  # empty for cluster-scoped objects
    name: str

    def describes(self, obj: Mapping[str, Any]) -> bool:
        """The id names ``obj`` itself: kind and name, and group and namespace where ``obj``
        states them (an object stripped of its apiVersion cannot refute the group)."""
        meta = _dict(obj.get("metadata"))
        if (self.kind, self.name) != (obj.get("kind"), meta.get("name")):
            return False
        api_version = obj.get("apiVersion")
        if isinstance(api_version, str) and self.group != split_api_version(api_version)[0]:
            return False
        namespace = meta.get("namespace") or ""
        return not (self.namespace and namespace and self.namespace != namespace)


def parse_tracking_id(value: str) -> TrackingId | None:
    """``<app>:<group>/<kind>:<namespace>/<name>``; None when malformed."""
    app, sep, rest = value.partition(":")
    group_kind, sep2, ns_name = rest.partition(":")
    group, slash, kind = group_kind.partition("/")
    namespace, slash2, name = ns_name.partition("/")
    ref = AppRef.parse(app)
    if ref is None or not (sep and sep2 and slash and slash2 and kind and name):
        return None
    return TrackingId(app=ref, group=group, kind=kind, namespace=namespace, name=name)


def tracked_app(obj: Mapping[str, Any] | None) -> AppRef | None:
    """The application tracking ``obj``: its tracking id if it describes ``obj``, else its
    instance label; None for an untracked object."""
    if not obj:
        return None
    meta = _dict(obj.get("metadata"))
    tracking = _dict(meta.get("annotations")).get(TRACKING_ANNOTATION)
    if isinstance(tracking, str):
        parsed = parse_tracking_id(tracking)
        if parsed is not None and parsed.describes(obj):
            return parsed.app
    label = _dict(meta.get("labels")).get(INSTANCE_LABEL)
    return AppRef.parse(label) if isinstance(label, str) else None


def controller_namespace(application: Mapping[str, Any] | None) -> str | None:
    """Where Argo CD's controller runs, as it writes on each Application
    (``status.controllerNamespace``); None when it does not say."""
    namespace = _dict(_dict(application).get("status")).get("controllerNamespace")
    return namespace if isinstance(namespace, str) and namespace else None


def control_plane_namespaces(argocd_usernames: Iterable[str]) -> frozenset[str]:
    """Where Argo CD's control plane runs, read from the usernames its syncs arrive as: the
    namespace of each ``system:serviceaccount:<ns>:<name>`` among them, else the default."""
    found = set()
    for username in argocd_usernames:
        prefix, _, rest = username.partition("system:serviceaccount:")
        namespace, sep, name = rest.partition(":")
        if not prefix and sep and namespace and name:
            found.add(namespace)
    return frozenset(found or {CONTROL_PLANE_NAMESPACE})


def is_hook(obj: Mapping[str, Any]) -> bool:
    """An Argo CD sync hook: it runs beside the sync and is no part of the app's health."""
    annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
    return any(a in annotations for a in HOOK_ANNOTATIONS)


def revision_text(value: object) -> str | None:
    """A ``revision`` (one source) or ``revisions`` (one per source, joined by commas)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return None


def short_revision(revision: str) -> str:
    """A revision as people quote it: a Git SHA (all hex) cut to 7 characters, per source; a
    tag or a chart version as it is (``8f3c2a1``, ``4.3.0,2b2b2b2``)."""
    return ",".join(
        part[:7] if len(part) > 7 and all(c in "0123456789abcdef" for c in part) else part
        for part in revision.split(",")
    )


def sync_revision(app: Mapping[str, Any] | None) -> str | None:
    """The revision of an Application's last sync operation: what it applied, else what it was
    asked for, else what it compares against (``revisions`` for multi-source applications)."""
    status = _dict(_dict(app).get("status"))
    op = _dict(status.get("operationState"))
    places = (
        _dict(op.get("syncResult")),
        _dict(_dict(op.get("operation")).get("sync")),
        _dict(status.get("sync")),
    )
    for place in places:
        found = revision_text(place.get("revision")) or revision_text(place.get("revisions"))
        if found:
            return found
    return None


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
