"""The ``truthgate`` context added next to the AdmissionReview request in the policy input.

Policies get ``{"request": <AdmissionReview request>, "truthgate": <this context>}``. The
context answers the questions every GitOps policy asks and should not re-derive in Rego:

- ``app`` / ``managed``: which Argo CD application owns the object. Read from the annotation
  ``argocd.argoproj.io/tracking-id`` (``<app>:<group>/<kind>:<namespace>/<name>``; with apps in
  any namespace Argo CD writes ``<app-namespace>_<app>`` before the colon and ``app`` keeps that
  form, it is what Argo CD itself uses as the key), honoured only when its group/kind/name match
  the object (Argo CD ignores copied tracking ids too), else from the label
  ``app.kubernetes.io/instance``. On DELETE the old object is read; on UPDATE both, so removing
  the annotation does not make an object unmanaged for that very request.
- ``actor``: who asked, classified ``argocd`` | ``controller`` | ``human`` | ``unknown``.
- ``patch``: RFC 6902 JSON Patch old → new (CREATE from ``{}``, DELETE to ``{}``), Secret values
  redacted, server-maintained noise left out (see ``NOISE``; ``status`` unless the request is
  for the status subresource, and spec changes on a status subresource request).
- ``specChanged``: the patch touches something outside ``metadata`` and ``status``.
- ``breakGlass``: the ``truthgate.dev/break-glass`` annotation (a ticket), or null.

A ``scale`` subresource request (``kubectl scale``, an HPA) carries an ``autoscaling/v1`` Scale
with no labels or annotations: the app and the break-glass ticket are read from the workload it
scales (``parent``, read by the server), so it is judged and recorded like any other edit.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NewType, TypedDict, cast

import jsonpatch

from webhooks.admission.config import AdmissionConfig
from webhooks.admission.redact import redact_pair
from webhooks.admission.review import AdmissionRequest
from webhooks.evidence.model import ActorClass, ActorRecord, KubeObject

AppName = NewType("AppName", str)  # Argo CD application key: "<app>" or "<app-ns>_<app>"

TRACKING_ID = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"
BREAK_GLASS = "truthgate.dev/break-glass"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# metadata fields the apiserver (or kubectl) maintains: changes there say nothing about intent.
NOISE_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
)
# The last-applied annotation mirrors the rest of the object: every change shows up twice.
NOISE_ANNOTATIONS = (LAST_APPLIED,)
NOT_SPEC = frozenset({"metadata", "status", "apiVersion", "kind"})


class TruthgateContext(TypedDict):
    app: AppName | None
    appName: str | None  # the application's name alone
    appNamespace: str | None  # its namespace when Argo CD wrote "<ns>_<app>", else null
    managed: bool
    actor: ActorRecord
    patch: list[dict[str, Any]]
    specChanged: bool
    breakGlass: str | None


class PolicyInput(TypedDict):
    request: AdmissionRequest
    truthgate: TruthgateContext


def _metadata(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if obj else None
    return meta if isinstance(meta, dict) else {}


def _string_map(meta: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def app_from_tracking_id(value: str, obj: Mapping[str, Any]) -> AppName | None:
    """The app of a tracking id that describes ``obj``; None if malformed or for another object."""
    app, sep, rest = value.partition(":")
    group_kind, sep2, ns_name = rest.partition(":")
    if not app or not sep or not sep2:
        return None
    group, slash, kind = group_kind.partition("/")
    namespace, slash2, name = ns_name.partition("/")
    if not slash or not slash2 or not kind or not name:
        return None
    api_version = str(obj.get("apiVersion", ""))
    obj_group = api_version.rpartition("/")[0] if "/" in api_version else ""
    meta = _metadata(obj)
    if kind != obj.get("kind") or group != obj_group or name != meta.get("name"):
        return None
    obj_namespace = meta.get("namespace") or ""
    if namespace and obj_namespace and namespace != obj_namespace:
        return None
    return AppName(app)


def app_of(obj: Mapping[str, Any] | None) -> AppName | None:
    """The Argo CD application owning ``obj`` (tracking-id annotation, then instance label)."""
    if not obj:
        return None
    meta = _metadata(obj)
    tracking = _string_map(meta, "annotations").get(TRACKING_ID)
    if isinstance(tracking, str):
        app = app_from_tracking_id(tracking, obj)
        if app:
            return app
    label = _string_map(meta, "labels").get(INSTANCE_LABEL)
    return AppName(label) if isinstance(label, str) and label else None


def split_app(app: AppName | None) -> tuple[str | None, str | None]:
    """``"team-a_shop"`` → (``"shop"``, ``"team-a"``); ``"shop"`` → (``"shop"``, None).

    Kubernetes names cannot contain ``_``, so the first one separates namespace and name.
    """
    if app is None:
        return None, None
    namespace, sep, name = app.partition("_")
    return (name, namespace) if sep and namespace and name else (app, None)


def classify_actor(user_info: Mapping[str, Any], argocd_usernames: frozenset[str]) -> ActorRecord:
    """argocd: the configured Argo CD users; controller: service accounts and other ``system:``
    users (controllers, nodes); human: anyone else named; unknown: no username."""
    username = user_info.get("username") or ""
    groups = [g for g in user_info.get("groups") or [] if isinstance(g, str)]
    cls: ActorClass
    if not username:
        cls = "unknown"
    elif username in argocd_usernames:
        cls = "argocd"
    elif username.startswith("system:"):
        cls = "controller"
    else:
        cls = "human"
    return cast(ActorRecord, {"username": username, "groups": groups, "class": cls})


def _strip_noise(obj: KubeObject | None, keep_status: bool, keep_rest: bool) -> KubeObject:
    """A copy without noise. Shallow where nothing is removed: the patch only reads it."""
    if not obj:
        return {}
    if keep_rest:
        out = dict(obj)
    else:
        # A status-subresource request: the apiserver ignores everything but status.
        out = {k: v for k, v in obj.items() if k in ("apiVersion", "kind", "metadata", "status")}
    if not keep_status:
        out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in NOISE_METADATA}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations = {k: v for k, v in annotations.items() if k not in NOISE_ANNOTATIONS}
            if annotations:
                meta["annotations"] = annotations
            else:
                meta.pop("annotations")
        out["metadata"] = meta
    return out


def _pointer(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _diff(old: Any, new: Any, prefix: str, ops: list[dict[str, Any]]) -> None:
    """RFC 6902 ops turning ``old`` into ``new`` under ``prefix``.

    Descends only where values differ (``==`` on equal subtrees is fast C code) and hands
    lists of different lengths to jsonpatch: the same patch jsonpatch computes on the
    whole object, several times faster on the usual one-field change of a large object.
    """
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{prefix}/{_pointer(key)}"})
        for key, value in new.items():
            path = f"{prefix}/{_pointer(key)}"
            if key not in old:
                ops.append({"op": "add", "path": path, "value": copy.deepcopy(value)})
            else:
                _diff(old[key], value, path, ops)
        return
    if isinstance(old, list) and isinstance(new, list):
        if len(old) == len(new):
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                _diff(a, b, f"{prefix}/{i}", ops)
            return
        for raw in jsonpatch.make_patch(old, new).patch:
            op = {**raw, "path": prefix + raw["path"]}
            if "from" in op:
                op["from"] = prefix + op["from"]
            ops.append(op)
        return
    ops.append({"op": "replace", "path": prefix, "value": copy.deepcopy(new)})


def change_patch(request: AdmissionRequest) -> list[dict[str, Any]]:
    """RFC 6902 patch old → new of the request, Secret values redacted, noise left out."""
    operation = request["operation"]
    old = request.get("oldObject") if operation != "CREATE" else None
    new = request.get("object") if operation != "DELETE" else None
    old, new = redact_pair(old, new)
    status_only = request.get("subResource") == "status"
    old_clean = _strip_noise(old, keep_status=status_only, keep_rest=not status_only)
    new_clean = _strip_noise(new, keep_status=status_only, keep_rest=not status_only)
    ops: list[dict[str, Any]] = []
    _diff(old_clean, new_clean, "", ops)
    return ops


def spec_changed(patch: list[dict[str, Any]]) -> bool:
    """True when an op touches anything outside metadata and status (spec, data, rules…)."""
    for op in patch:
        top = str(op.get("path", "")).split("/")[1:2]
        if not top or top[0] not in NOT_SPEC:
            return True
    return False


SCALE = "scale"


def is_scale(request: AdmissionRequest) -> bool:
    """A request on the ``scale`` subresource: the object is a Scale, not the workload."""
    return request.get("subResource") == SCALE


def build_context(
    request: AdmissionRequest, config: AdmissionConfig, parent: KubeObject | None = None
) -> TruthgateContext:
    """The ``truthgate`` half of the policy input (pure: reads only its arguments).

    ``parent``: for a scale subresource request, the workload being scaled.
    """
    new = request.get("object")
    old = request.get("oldObject")
    operation = request["operation"]
    subject = old if operation == "DELETE" else (new or old)
    if parent is not None and is_scale(request):
        subject = parent
    app = app_of(subject)
    if app is None and operation == "UPDATE":
        app = app_of(old)
    break_glass = _string_map(_metadata(subject), "annotations").get(BREAK_GLASS)
    patch = change_patch(request)
    name, namespace = split_app(app)
    return {
        "app": app,
        "appName": name,
        "appNamespace": namespace,
        "managed": app is not None,
        "actor": classify_actor(request.get("userInfo") or {}, config.argocd_usernames),
        "patch": patch,
        "specChanged": spec_changed(patch),
        "breakGlass": break_glass if isinstance(break_glass, str) and break_glass else None,
    }


def build_input(
    request: AdmissionRequest, config: AdmissionConfig, parent: KubeObject | None = None
) -> PolicyInput:
    """``{"request": …, "truthgate": …}``: what every admission policy sees as ``input``."""
    return {"request": request, "truthgate": build_context(request, config, parent)}
