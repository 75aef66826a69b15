"""Is there room for what the app asked for?

The classic silent failure: an autoscaler (or a sync) raises replicas, the ReplicaSet tries to
create pods, and the namespace ResourceQuota refuses them. Nothing is "unhealthy" — the old pods
still serve — but the capacity the scaler added never existed. Argo CD shows Progressing at
most. Findings here:

* ``capacity/quota`` — FailedCreate events (``exceeded quota``/``forbidden``) since the sync on a
  workload (or its ReplicaSets) that is still short of replicas: critical at once, the
  controller will keep failing until someone changes the quota; the tally counts each refusal
  once (``index.distinct``: one event object read twice once, distinct event objects added up);
* ``capacity/unschedulable`` — Pending pods with FailedScheduling events, quoting the
  scheduler's message (grace, then critical: a cluster autoscaler may still add a node);
* ``capacity/hpa`` — an HPA whose currentReplicas stays below desiredReplicas, or that cannot
  scale (AbleToScale=False); at maxReplicas (ScalingLimited/TooManyReplicas) is a warning;
* ``capacity/quota-full`` — a ResourceQuota in the app's namespaces with used >= hard (warning:
  the next scale-up or rollout surge will fail).
"""

from __future__ import annotations

import re

from webhooks.checks import kube, pods
from webhooks.checks.context import CheckContext, CheckFinding, finding, not_converged
from webhooks.checks.index import Event, distinct
from webhooks.common.kinds import WORKLOAD_KINDS
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, KubeObject


def _short_of(obj: KubeObject) -> tuple[int, int] | None:
    """(have, want) when a pod-creating controller has fewer pods than it wants."""
    if kube.kind(obj) == "DaemonSet":
        want = kube.get_int(obj, "status", "desiredNumberScheduled", default=0) or 0
        have = kube.get_int(obj, "status", "currentNumberScheduled", default=0) or 0
    elif kube.kind(obj) == "Job":
        return None if kube.condition_is(obj, "Complete", "True") else (0, 1)
    else:
        want = kube.get_int(obj, "spec", "replicas", default=1) or 0
        have = kube.get_int(obj, "status", "replicas", default=0) or 0
    return (have, want) if have < want else None


def _failed_creates(ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    for obj in ctx.index.members(*WORKLOAD_KINDS):
        short = _short_of(obj)
        if short is None:
            continue
        # Each refusal counted once, however many event objects or API copies record it.
        events = distinct(
            e
            for e in ctx.index.events_for(obj)
            if e.reason == "FailedCreate" and ctx.since_change(e.last_seen)
        )
        if not events:
            continue
        latest = max(events, key=Event.sort_key)
        top = ctx.index.top_owner(obj)
        via = f" ({kube.kind(obj)} {kube.name(obj)})" if top is not obj else ""
        have, want = short
        counts = f"{have} of {want} pods created" if kube.kind(obj) != "Job" else "pods not created"
        tally = sum(e.count for e in events)
        why = kube.quota_gist(latest.message) or clip(latest.message, 160, one_line=True)
        out.append(
            finding(
                "runtime",
                "capacity/quota",
                top,
                f"{kube.display(top)}: {counts}{via}: {why} (FailedCreate x{tally})",
                "critical",
            )
        )
    return out


#: The scheduler appends what preemption could do ("preemption: 0/6 nodes are available: 6
#: Preemption is not helpful for scheduling."): not why the pod waits.
_PREEMPTION = re.compile(r"\s*preemption: .*$", re.DOTALL)


def _unbound_claims(ctx: CheckContext, pending: list[KubeObject]) -> str:
    """The first claim these pods mount that is not bound, with the latest warning about it
    (``data-db-0 (ProvisioningFailed: storageclass "fast" not found)``); "" when there is none."""
    for pod in pending:
        for volume in kube.dicts(pod, "spec", "volumes"):
            name = kube.get_str(volume, "persistentVolumeClaim", "claimName")
            claim = ctx.index.get("PersistentVolumeClaim", kube.namespace(pod), name or "")
            if claim is None or kube.get_str(claim, "status", "phase") == "Bound":
                continue
            warning = ctx.index.latest_warning(claim)
            why = (
                f"{warning.reason}: {clip(warning.message, 120, one_line=True)}" if warning else ""
            )
            return f"{name} ({why})" if why else str(name)
    return ""


def _unschedulable(ctx: CheckContext) -> list[CheckFinding]:
    by_owner: dict[tuple[str, str | None, str], tuple[KubeObject, list[KubeObject], str]] = {}
    for pod in ctx.index.members("Pod"):
        if kube.get_str(pod, "status", "phase") != "Pending" or pods.is_terminating(pod):
            continue
        failed = [e for e in ctx.index.events_for(pod) if e.reason == "FailedScheduling"]
        cond = kube.condition_is(pod, "PodScheduled", "False")
        message = ""
        if failed:
            message = max(failed, key=Event.sort_key).message
        elif cond is not None and cond.get("reason") == "Unschedulable":
            message = kube.get_str(cond, "message") or "Unschedulable"
        else:
            continue
        owner = ctx.index.top_owner(pod)
        okey = (kube.kind(owner), kube.namespace(owner), kube.name(owner))
        _, pending, _ = by_owner.setdefault(okey, (owner, [], message))
        pending.append(pod)
    out: list[CheckFinding] = []
    for owner, pending, message in by_owner.values():
        names = [kube.name(p) for p in pending]
        total = len([p for p in ctx.index.pods_of(owner) if not pods.is_terminating(p)])
        of = f" of {total}" if total >= len(names) and kube.kind(owner) != "Pod" else ""
        claims = _unbound_claims(ctx, pending)
        on = f" on claim {claims}" if claims else ""
        out.append(
            not_converged(
                ctx,
                "runtime",
                "capacity/unschedulable",
                owner,
                f"{kube.display(owner)}: {len(names)}{of} pods Pending{on}, FailedScheduling: "
                f"{clip(_PREEMPTION.sub('', message), 160, one_line=True)}",
                # A pod created a minute ago may be waiting for the node an autoscaler adds.
                since=pods.problem_since(pending),
            )
        )
    return out


_RESOURCE_METRICS = {"Resource": "resource", "ContainerResource": "containerResource"}


def _load(hpa: KubeObject) -> str:
    """How far the HPA's resource metrics stand from their targets (``cpu 243% of request
    (target 70%)``): how much more capacity its cap withholds. "" when it reports none."""
    targets: dict[str, dict[str, object]] = {}
    for metric in kube.dicts(hpa, "spec", "metrics"):
        if field := _RESOURCE_METRICS.get(kube.get_str(metric, "type") or ""):
            targets[kube.get_str(metric, field, "name") or ""] = kube.get_dict(
                metric, field, "target"
            )
    parts = []
    for metric in kube.dicts(hpa, "status", "currentMetrics"):
        field = _RESOURCE_METRICS.get(kube.get_str(metric, "type") or "")
        if field is None:
            continue
        name = kube.get_str(metric, field, "name") or ""
        current = kube.get_dict(metric, field, "current")
        target = targets.get(name, {})
        used, wanted = current.get("averageUtilization"), target.get("averageUtilization")
        if isinstance(used, int) and isinstance(wanted, int):
            parts.append(f"{name} {used}% of request (target {wanted}%)")
        elif (value := current.get("averageValue")) and (limit := target.get("averageValue")):
            parts.append(f"{name} {value} per pod (target {limit})")
    return ", ".join(parts)


def _hpa(ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    for hpa in ctx.index.members("HorizontalPodAutoscaler"):
        current = kube.get_int(hpa, "status", "currentReplicas")
        desired = kube.get_int(hpa, "status", "desiredReplicas")
        target = kube.get_str(hpa, "spec", "scaleTargetRef", "name") or "?"
        target_kind = kube.get_str(hpa, "spec", "scaleTargetRef", "kind") or "target"
        limited = kube.condition_is(hpa, "ScalingLimited", "True")
        if current is not None and desired is not None and current < desired:
            why = ""
            able = kube.condition_is(hpa, "AbleToScale", "False")
            if able is not None:
                why = f"; AbleToScale=False: {kube.get_str(able, 'message') or able.get('reason')}"
            out.append(
                not_converged(
                    ctx,
                    "runtime",
                    "capacity/hpa",
                    hpa,
                    f"{kube.display(hpa)}: wants {desired} replicas of {target_kind} {target}, "
                    f"has {current}{why}",
                )
            )
        elif limited is not None and limited.get("reason") == "TooManyReplicas":
            maximum = kube.get_int(hpa, "spec", "maxReplicas")
            since = try_parse_time(limited.get("lastTransitionTime"))
            why = _load(hpa) or (
                kube.get_str(limited, "message") or "desired replica count above maximum"
            )
            out.append(
                finding(
                    "runtime",
                    "capacity/hpa-limited",
                    hpa,
                    f"{kube.display(hpa)}: capped at maxReplicas {maximum}"
                    + (f" since {kube.fmt_time(since)}" if since else "")
                    + f": {why}",
                    "warning",
                )
            )
    return out


def _quota_full(ctx: CheckContext) -> list[CheckFinding]:
    namespaces = {kube.namespace(o) for o in ctx.index.objects if ctx.index.is_member(o)}
    out: list[CheckFinding] = []
    for quota in ctx.index.of_kind("ResourceQuota"):
        if kube.namespace(quota) not in namespaces:
            continue
        hard = kube.get_dict(quota, "status", "hard") or kube.get_dict(quota, "spec", "hard")
        used = kube.get_dict(quota, "status", "used")
        full = []
        for resource, limit in sorted(hard.items()):
            h, u = kube.parse_quantity(limit), kube.parse_quantity(used.get(resource))
            if h is not None and u is not None and u >= h:
                full.append(f"{resource} {used.get(resource)}/{limit}")
        if full:
            out.append(
                finding(
                    "runtime",
                    "capacity/quota-full",
                    quota,
                    f"{kube.display(quota)} is exhausted: {', '.join(full)} used",
                    "warning",
                )
            )
    return out


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    return _failed_creates(ctx) + _unschedulable(ctx) + _hpa(ctx) + _quota_full(ctx)
