"""Did a config change reach the pods that read it?

A ConfigMap or Secret changed by this sync reaches a running container only through a volume
mount, which the kubelet refreshes. Values read through ``env``/``envFrom`` are fixed when the
container starts, and a volume mounted with ``subPath`` is never refreshed either. Nor is any
volume (projected sources included) of an ``immutable: true`` ConfigMap or Secret: the kubelet
stops watching it, and the only way to change it is to delete it and create it again under the
same name, which running pods never see. When the
pod template did not change (no config hash annotation), nothing restarts those containers:
the sync "succeeded" and the pods keep running the old config. When it did (a Helm checksum
annotation), the rollout replaces the old pods with ones that read the new config: pods of an
older revision are left to the rollout, and to the convergence check if it stalls.

When was the ConfigMap changed? The intent ledger is authoritative: the latest admitted,
non-dry-run CREATE/UPDATE intent on it at or after the sync (a delete-and-recreate is recorded
as DELETE then CREATE: the CREATE dates it). Only when the Evidence carries no
``intents`` section at all (an older collector, a ledger-less install) does the check fall back
to the object's own ``metadata.managedFields[].time`` (entries that own more than metadata) and
``creationTimestamp`` (a recreated object's is the time it was recreated). An empty
``intents`` list means "the ledger saw no change" and is trusted as such.

Is it immutable? The live object's ``immutable`` says so; Secrets are collected as metadata
only, so for them the ledger's writes decide: the patch of the latest CREATE (made from ``{}``)
and of any UPDATE after it that sets ``/immutable`` (it can be set, never cleared).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webhooks.checks import intents, kube, pods
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, KubeObject

ConfigKey = tuple[str, str | None, str]  # (ConfigMap|Secret, namespace, name)
_KINDS = ("ConfigMap", "Secret")


IMMUTABLE = "/immutable"


def _metadata_only(patch: object) -> bool:
    """An UPDATE whose recorded patch touches nothing but metadata (Argo CD refreshing its
    last-applied annotation, a label) or the ``immutable`` flag changes nothing a pod reads. An
    UPDATE with no recorded patch, or CREATE, always counts."""
    return (
        isinstance(patch, list)
        and bool(patch)
        and all(
            isinstance(op, dict)
            and (str(op.get("path", "")).startswith("/metadata/") or op.get("path") == IMMUTABLE)
            for op in patch
        )
    )


def _metadata_only_fields(fields: object) -> bool:
    """A managedFields entry that owns nothing but metadata (``kubectl label``, an annotation
    a controller keeps) or the ``immutable`` flag: its time is not a change of the data.
    Without ``fieldsV1``, it counts."""
    return (
        isinstance(fields, dict) and bool(fields) and set(fields) <= {"f:metadata", "f:immutable"}
    )


def _admitted_writes(evidence: Evidence) -> Iterator[tuple[ConfigKey, str, datetime, object]]:
    """(object, operation, time, patch) of each admitted, non-dry-run intent on a ConfigMap or
    Secret, in the ledger's order."""
    for w in intents.admitted(evidence):
        if w.key[0] in _KINDS:
            yield w.key, w.operation, w.time, w.record.get("patch")


def _sets_immutable(patch: object) -> bool:
    return isinstance(patch, list) and any(
        isinstance(op, dict)
        and op.get("path") == IMMUTABLE
        and op.get("op") in ("add", "replace")
        and op.get("value") is True
        for op in patch
    )


def _immutable_by_intents(evidence: Evidence) -> dict[ConfigKey, bool]:
    out: dict[ConfigKey, bool] = {}
    writes = sorted(_admitted_writes(evidence), key=lambda w: w[2])
    for k, operation, _, patch in writes:
        if operation in ("CREATE", "DELETE"):
            out[k] = operation == "CREATE" and _sets_immutable(patch)
        elif operation == "UPDATE" and _sets_immutable(patch):
            out[k] = True
    return out


def _immutable(ctx: CheckContext, by_intents: dict[ConfigKey, bool], k: ConfigKey) -> bool:
    """Whether the ConfigMap/Secret is ``immutable: true`` (see the module docstring)."""
    live = ctx.index.get(*k)
    flag = kube.get_bool(live, "immutable") if live is not None else None
    return flag if flag is not None else by_intents.get(k, False)


def _changes_from_intents(evidence: Evidence, ctx: CheckContext) -> dict[ConfigKey, datetime]:
    out: dict[ConfigKey, datetime] = {}
    for k, operation, when, patch in _admitted_writes(evidence):
        if (
            operation not in ("CREATE", "UPDATE")
            or not ctx.since_change(when)
            or _metadata_only(patch)
        ):
            continue
        out[k] = max(out.get(k, when), when)
    return out


def _changes_from_objects(ctx: CheckContext) -> dict[ConfigKey, datetime]:
    out: dict[ConfigKey, datetime] = {}
    for obj in ctx.index.members(*_KINDS):
        times = [try_parse_time(kube.get(obj, "metadata", "creationTimestamp"))]
        times += [
            try_parse_time(m.get("time"))
            for m in kube.dicts(obj, "metadata", "managedFields")
            if not _metadata_only_fields(m.get("fieldsV1"))
        ]
        known = [t for t in times if t is not None]
        if known and ctx.since_change(max(known)):
            out[(kube.kind(obj), kube.namespace(obj), kube.name(obj))] = max(known)
    return out


IMMUTABLE_VOLUME = "immutable volume"


@dataclass(frozen=True)
class Use:
    container: str
    how: str  # "env", "envFrom", "subPath volume", IMMUTABLE_VOLUME


def _volume_refs(volume: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if name := kube.get_str(volume, "configMap", "name"):
        yield ("ConfigMap", name)
    if name := kube.get_str(volume, "secret", "secretName"):
        yield ("Secret", name)
    for source in kube.dicts(volume, "projected", "sources"):
        if name := kube.get_str(source, "configMap", "name"):
            yield ("ConfigMap", name)
        if name := kube.get_str(source, "secret", "name"):
            yield ("Secret", name)


def uses(pod: KubeObject, kind: str, name: str, *, immutable: bool = False) -> list[Use]:
    """Where containers of ``pod`` read ``kind/name`` in a way that is never refreshed: every
    volume mount of it counts when it is ``immutable``."""
    spec = kube.get_dict(pod, "spec")
    key_ref = "configMapKeyRef" if kind == "ConfigMap" else "secretKeyRef"
    from_ref = "configMapRef" if kind == "ConfigMap" else "secretRef"
    volumes = {
        vname
        for v in kube.dicts(spec, "volumes")
        if (vname := kube.get_str(v, "name")) and (kind, name) in set(_volume_refs(v))
    }
    out: list[Use] = []
    for c in [*kube.dicts(spec, "initContainers"), *kube.dicts(spec, "containers")]:
        cname = kube.get_str(c, "name") or ""
        if any(kube.get_str(e, "valueFrom", key_ref, "name") == name for e in kube.dicts(c, "env")):
            out.append(Use(cname, "env"))
        elif any(kube.get_str(e, from_ref, "name") == name for e in kube.dicts(c, "envFrom")):
            out.append(Use(cname, "envFrom"))
        elif any(
            kube.get_str(m, "name") in volumes and kube.get_str(m, "subPath")
            for m in kube.dicts(c, "volumeMounts")
        ):
            out.append(Use(cname, "subPath volume"))
        elif immutable and any(
            kube.get_str(m, "name") in volumes for m in kube.dicts(c, "volumeMounts")
        ):
            out.append(Use(cname, IMMUTABLE_VOLUME))
    return out


def _why(kind: str, hows: set[str]) -> str:
    """Why the old content stays: the ways it is read, each with its reason."""
    read = sorted(hows - {IMMUTABLE_VOLUME})
    parts = [f"read via {', '.join(read)}, which is never refreshed"] if read else []
    if IMMUTABLE_VOLUME in hows:
        parts.append(
            f"mounted as a volume, but the {kind} is immutable: the kubelet does not refresh it"
        )
    return "; ".join(parts)


def _started(pod: KubeObject, use: Use) -> datetime | None:
    """When ``use`` last read the config. A restarted container re-reads its environment and
    re-binds its ``subPath`` from the refreshed volume; a volume of an immutable object keeps
    what the kubelet cached for the pod, so only a new pod reads it again."""
    if use.how == IMMUTABLE_VOLUME:
        return try_parse_time(kube.get(pod, "status", "startTime")) or try_parse_time(
            kube.get(pod, "metadata", "creationTimestamp")
        )
    container = use.container
    for status in pods.container_statuses(pod):
        if status.get("name") == container:
            started = try_parse_time(kube.get(status, "state", "running", "startedAt"))
            if started:
                return started
    return try_parse_time(kube.get(pod, "status", "startTime"))


def _being_replaced(ctx: CheckContext, pod: KubeObject, owner: KubeObject) -> bool:
    """A pod of an older revision that a rollout in progress is replacing (a Helm checksum
    annotation rolls the Deployment when its config changes): the new pods carry the new
    config, and a rollout that stalls is the convergence check's to report."""
    if kube.kind(owner) == "Deployment":
        current = ctx.index.current_replicaset(owner)
        parent = ctx.index.owner(pod)
        return current is not None and parent is not None and parent is not current
    if kube.kind(owner) == "StatefulSet":
        if kube.get_str(owner, "spec", "updateStrategy", "type") == "OnDelete":
            return False  # nothing replaces them until someone deletes them
        update = kube.get_str(owner, "status", "updateRevision")
        have = kube.get_str(pod, "metadata", "labels", "controller-revision-hash")
        return bool(update and have and have != update)
    return False


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    changes = (
        _changes_from_intents(evidence, ctx)
        if "intents" in evidence
        else _changes_from_objects(ctx)
    )
    immutable_by_intents = _immutable_by_intents(evidence)
    out: list[CheckFinding] = []
    for (kind, ns, name), changed in sorted(changes.items()):
        immutable = _immutable(ctx, immutable_by_intents, (kind, ns, name))
        # workload -> (stale pod names, all consuming pods, ways it is read)
        stale: dict[tuple[str, str | None, str], tuple[set[str], set[str], set[str]]] = defaultdict(
            lambda: (set(), set(), set())
        )
        holders: dict[tuple[str, str | None, str], KubeObject] = {}
        for pod in ctx.index.members("Pod"):
            if kube.namespace(pod) != ns or pods.is_terminating(pod):
                continue
            found = uses(pod, kind, name, immutable=immutable)
            if not found:
                continue
            owner = ctx.index.top_owner(pod)
            if _being_replaced(ctx, pod, owner):
                continue
            okey = (kube.kind(owner), kube.namespace(owner), kube.name(owner))
            holders[okey] = owner
            old, consuming, hows = stale[okey]
            consuming.add(kube.name(pod))
            for use in found:
                started = _started(pod, use)
                if started is not None and started < changed:
                    old.add(kube.name(pod))
                    hows.add(use.how)
        for okey, (old, consuming, hows) in sorted(stale.items()):
            if not old:
                continue
            owner = holders[okey]
            out.append(
                finding(
                    "runtime",
                    "propagation/stale-config",
                    owner,
                    f"{kube.display(owner)}: {len(old)} of {len(consuming)} pods still run the old "
                    f"{kind} {ns}/{name} (changed {kube.fmt_time(changed)}; {_why(kind, hows)}: "
                    "restart the pods)",
                    "critical",
                )
            )
    return out
