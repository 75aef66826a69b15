"""Which live objects belong in one application's Evidence. Pure.

An Argo CD application names only its top-level objects; what actually runs are their children
(ReplicaSets, Pods, EndpointSlices), what explains failures are Events about them, and what they
consume are ConfigMaps, Secrets and claims they mount. So the scope is a closure:

1. objects the Application tracks (``status.resources``, tracking annotation or label);
2. objects owned, transitively, by those (ownerReferences);
3. ConfigMaps, Secrets and PersistentVolumeClaims the scoped Pods and pod templates reference;
4. Events whose involvedObject is in scope;
5. every ResourceQuota in the namespaces (quota is why Pods stay Pending).

``spec.workloads`` narrows step 1: workloads not listed (and so their Pods) stay out.

Hooks are left out (objects annotated ``argocd.argoproj.io/hook`` or ``helm.sh/hook``, and
their Pods): Argo CD keeps
them out of application health too, and the verifying Job cannot judge itself while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webhooks.common.argocd import AppRef, is_hook, tracked_app
from webhooks.common.kinds import WORKLOAD_KINDS
from webhooks.evidence.model import KubeObject

_OWNED_DEPTH = 4  # Deployment -> ReplicaSet -> Pod; CronJob -> Job -> Pod; headroom for CRs


def _uid(obj: KubeObject) -> str | None:
    uid = (obj.get("metadata") or {}).get("uid")
    return uid if isinstance(uid, str) else None


def _group(obj: KubeObject) -> str:
    api_version = str(obj.get("apiVersion") or "")
    return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""


def _key(obj: KubeObject) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (
        _group(obj),
        str(obj.get("kind")),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def _pod_specs(obj: KubeObject) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return [spec]
    template = (spec.get("template") or {}).get("spec")  # workloads and Jobs
    job_template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    found = [template] if isinstance(template, dict) else []
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        found.append(job_template["spec"])
    return found


def _references(pod_spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of ConfigMaps, Secrets and claims a pod spec uses."""
    refs: set[tuple[str, str]] = set()
    for vol in pod_spec.get("volumes") or []:
        if not isinstance(vol, dict):
            continue
        if name := (vol.get("configMap") or {}).get("name"):
            refs.add(("ConfigMap", name))
        if name := (vol.get("secret") or {}).get("secretName"):
            refs.add(("Secret", name))
        if name := (vol.get("persistentVolumeClaim") or {}).get("claimName"):
            refs.add(("PersistentVolumeClaim", name))
        for source in (vol.get("projected") or {}).get("sources") or []:
            if name := (source.get("configMap") or {}).get("name"):
                refs.add(("ConfigMap", name))
            if name := (source.get("secret") or {}).get("name"):
                refs.add(("Secret", name))
    containers = [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]
    for c in containers:
        for env_from in c.get("envFrom") or []:
            if name := (env_from.get("configMapRef") or {}).get("name"):
                refs.add(("ConfigMap", name))
            if name := (env_from.get("secretRef") or {}).get("name"):
                refs.add(("Secret", name))
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            if name := (source.get("configMapKeyRef") or {}).get("name"):
                refs.add(("ConfigMap", name))
            if name := (source.get("secretKeyRef") or {}).get("name"):
                refs.add(("Secret", name))
    for pull in pod_spec.get("imagePullSecrets") or []:
        if name := pull.get("name"):
            refs.add(("Secret", name))
    return refs


def select_app_objects(
    app: AppRef,
    managed: set[tuple[str, str, str, str]],
    objects: Iterable[KubeObject],
    exclude_uids: frozenset[str] = frozenset(),
    workloads: frozenset[tuple[str, str, str]] | None = None,
) -> list[KubeObject]:
    """The objects of ``objects`` (live, from the app's namespaces) that belong in Evidence.

    ``workloads``: (kind, namespace, name) of the only workloads to include (None: all).
    """
    pool = list(objects)
    excluded = set(exclude_uids)
    chosen: dict[int, KubeObject] = {}
    uids: set[str] = set()

    def take(obj: KubeObject) -> None:
        chosen[id(obj)] = obj
        if (uid := _uid(obj)) is not None:
            uids.add(uid)

    def owners(obj: KubeObject) -> set[str]:
        refs = (obj.get("metadata") or {}).get("ownerReferences") or []
        return {r["uid"] for r in refs if isinstance(r, dict) and isinstance(r.get("uid"), str)}

    for obj in pool:
        if is_hook(obj):
            excluded.add(_uid(obj) or "")
    # An excluded Job excludes its Pods too.
    for _ in range(_OWNED_DEPTH):
        grown = {_uid(o) for o in pool if owners(o) & excluded} - {None}
        if not grown - excluded:
            break
        excluded |= {u for u in grown if u is not None}

    for obj in pool:
        if _uid(obj) in excluded or obj.get("kind") == "Event":
            continue
        key = _key(obj)
        if workloads is not None and key[1] in WORKLOAD_KINDS and key[1:] not in workloads:
            continue
        if key in managed or ((owner := tracked_app(obj)) is not None and owner.same_app(app)):
            take(obj)
    for _ in range(_OWNED_DEPTH):
        before = len(chosen)
        for obj in pool:
            if id(obj) not in chosen and _uid(obj) not in excluded and owners(obj) & uids:
                take(obj)
        if len(chosen) == before:
            break

    wanted: set[tuple[str, str, str]] = set()
    for obj in list(chosen.values()):
        ns = str((obj.get("metadata") or {}).get("namespace") or "")
        for spec in _pod_specs(obj):
            wanted |= {(kind, ns, name) for kind, name in _references(spec)}
    for obj in pool:
        meta = obj.get("metadata") or {}
        ref = (obj.get("kind"), str(meta.get("namespace") or ""), meta.get("name"))
        if id(obj) in chosen or _uid(obj) in excluded:
            continue
        if ref in wanted or obj.get("kind") == "ResourceQuota":
            take(obj)

    for obj in pool:
        if obj.get("kind") != "Event":
            continue
        involved = obj.get("involvedObject") or {}
        if involved.get("uid") in uids:
            take(obj)
    # Keep the listing order: stable Evidence for the same world.
    return [o for o in pool if id(o) in chosen]
