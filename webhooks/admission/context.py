"""The ``truthgate`` context added next to the AdmissionReview request in the policy input.

Policies get ``{"request": <AdmissionReview request>, "truthgate": <this context>}``. The
context answers the questions every GitOps policy asks and should not re-derive in Rego:

- ``app`` / ``managed``: which Argo CD application owns the object, by Argo CD's tracking
  (``webhooks.common.argocd``: the tracking-id annotation when it describes the object, else
  the instance label). With apps in any namespace ``app`` keeps Argo CD's ``<app-namespace>_<app>``
  key; ``appName`` / ``appNamespace`` are its parts. On DELETE the old object is read; on UPDATE
  both, so removing the annotation does not make an object unmanaged for that very request.
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
from webhooks.common.argocd import tracked_app
from webhooks.evidence.model import ActorClass, ActorRecord, KubeObject

AppName = NewType("AppName", str)  # Argo CD application key: "<app>" or "<app-ns>_<app>"

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
    ref = tracked_app(subject)
    if ref is None and operation == "UPDATE":
        ref = tracked_app(old)
    break_glass = _string_map(_metadata(subject), "annotations").get(BREAK_GLASS)
    patch = change_patch(request)
    return {
        "app": AppName(ref.key) if ref else None,
        "appName": ref.name if ref else None,
        "appNamespace": ref.namespace if ref else None,
        "managed": ref is not None,
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
