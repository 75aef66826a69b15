"""Has every object of the app reached the state its spec asks for?

At least as strict as kstatus (kubernetes-sigs/cli-utils) and Argo CD's built-in health
(gitops-engine), and stricter where Argo CD looks away:

* StatefulSet and DaemonSet: Argo CD calls them Progressing forever, even when a pod is
  crash-looping or cannot be scheduled; here a pod that will not recover by waiting
  (CrashLoopBackOff, ImagePullBackOff, …) makes the workload fail at once.
* StatefulSet with ``updateStrategy: OnDelete``: Argo CD says Healthy while pods run the old
  revision; here that is a warning naming how many.
* Deployment: ProgressDeadlineExceeded fails; so do hard pod failures of the new ReplicaSet.
* DaemonSet ``numberUnavailable``, Job ``Failed`` (backoffLimit), PVC ``Lost``, Service
  LoadBalancer without ingress, HPA unable to scale or to read its metrics.
* A claim Pending with ``WaitForFirstConsumer`` as its latest event waits for its first pod by
  design (Argo CD: Progressing); a pod that uses it is judged on its own.
* A Job a CronJob scheduled is judged as a run: a failure a later run of the same CronJob
  made good is history, and a run in progress is not "not converged" (the schedule started it,
  not the sync); the CronJob's failed runs are kept by ``failedJobsHistoryLimit`` long after.
* Any object reporting ``Stalled=True`` (kstatus convention) fails; ``Reconciling=True`` is
  still in progress.

Objects whose controller has not yet observed the latest generation are left to the staleness
check: their status describes an older spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from webhooks.checks import evictions, kube, pods
from webhooks.checks.context import CheckContext, CheckFinding, finding, not_converged
from webhooks.checks.index import Event
from webhooks.common.kinds import APPS_WORKLOAD_KINDS
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, KubeObject

State = Literal["current", "in-progress", "failed", "outdated", "stale"]


@dataclass(frozen=True)
class Assessment:
    state: State  # outdated = runs an old revision on purpose (OnDelete); stale = old status
    message: str = ""
    since: datetime | None = None  # in-progress: when the pods still on their way were created


CURRENT = Assessment("current")

HPA_DEGRADED_REASONS = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetContainerResourceMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "InvalidSelector"),
    ("ScalingActive", "InvalidMetricSourceType"),
}


def _generation_behind(obj: KubeObject) -> bool:
    generation = kube.get_int(obj, "metadata", "generation")
    observed = kube.get_int(obj, "status", "observedGeneration")
    return generation is not None and observed is not None and observed < generation


def _not_evicted(workload_pods: list[KubeObject]) -> list[KubeObject]:
    """An evicted pod lingers until garbage-collected, replaced by its controller: no part of why
    a workload is not converged (``stability/evicted`` tells of it)."""
    return [p for p in workload_pods if not evictions.is_evicted(p)]


def _with_pods(base: str, workload_pods: list[KubeObject], ctx: CheckContext) -> Assessment:
    workload_pods = _not_evicted(workload_pods)
    detail, hard = pods.summarize(workload_pods, ctx.index.events_for)
    message = f"{base}: {detail}" if detail else base
    if hard:
        return Assessment("failed", message)
    # Pods created a minute ago (a scale-up, a new node) are starting, however old the sync.
    return Assessment("in-progress", message, pods.problem_since(workload_pods) if detail else None)


def _deployment(obj: KubeObject, ctx: CheckContext) -> Assessment:
    if kube.get_bool(obj, "spec", "paused"):
        return CURRENT  # Argo CD: Suspended; a paused rollout is a choice, not a failure
    want = kube.get_int(obj, "spec", "replicas", default=1) or 0
    updated = kube.get_int(obj, "status", "updatedReplicas", default=0) or 0
    total = kube.get_int(obj, "status", "replicas", default=0) or 0
    available = kube.get_int(obj, "status", "availableReplicas", default=0) or 0
    current_rs = ctx.index.current_replicaset(obj)
    new_pods = ctx.index.pods_of(current_rs) if current_rs else ctx.index.pods_of(obj)
    progressing = kube.conditions(obj).get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        deadline = kube.get_int(obj, "spec", "progressDeadlineSeconds", default=600)
        detail, _ = pods.summarize(_not_evicted(new_pods), ctx.index.events_for)
        at = try_parse_time(progressing.get("lastTransitionTime"))
        return Assessment(
            "failed",
            f"rollout exceeded its progress deadline ({deadline}s)"
            + (f" at {kube.fmt_time(at)}" if at else "")
            + f", {available} of {want} available"
            + (f": {detail}" if detail else ""),
        )
    failure = kube.condition_is(obj, "ReplicaFailure", "True")
    if updated < want:
        base = f"{updated} of {want} pods updated, {available} available"
    elif total > updated:
        base = f"{total - updated} old pods still running beside {updated} updated"
    elif available < updated:
        base = f"{available} of {updated} new pods available"
    elif (unavailable := kube.condition_is(obj, "Available", "False")) is not None:
        base = f"Available=False: {clip(kube.get_str(unavailable, 'message') or '', 160, one_line=True)}"
    else:
        detail, hard = pods.summarize(pods.running(new_pods), ctx.index.events_for)
        # Status counts can look complete while a new pod is in a hard failure (e.g. it
        # passed readiness once and now crash-loops with minReadySeconds = 0).
        return (
            Assessment("failed", f"{want} replicas reported available but {detail}")
            if (hard)
            else CURRENT
        )
    if failure is not None:
        why = kube.get_str(failure, "message") or kube.get_str(failure, "reason") or ""
        base += f" ({kube.quota_gist(why) or 'ReplicaFailure: ' + clip(why, 100, one_line=True)})"
    return _with_pods(base, new_pods, ctx)


def _statefulset(obj: KubeObject, ctx: CheckContext) -> Assessment:
    want = kube.get_int(obj, "spec", "replicas", default=1) or 0
    ready = kube.get_int(obj, "status", "readyReplicas", default=0) or 0
    updated = kube.get_int(obj, "status", "updatedReplicas", default=0) or 0
    strategy = kube.get_str(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    its_pods = ctx.index.pods_of(obj)
    if ready < want:
        return _with_pods(f"{ready} of {want} replicas ready", its_pods, ctx)
    if strategy == "OnDelete":
        if updated < want:
            return Assessment(
                "outdated",
                f"{want - updated} of {want} pods still on the old revision "
                "(updateStrategy OnDelete: delete them to roll)",
            )
        return CURRENT
    partition = kube.get_int(obj, "spec", "updateStrategy", "rollingUpdate", "partition") or 0
    expected = max(want - partition, 0)
    if updated < expected:
        return _with_pods(f"{updated} of {expected} replicas on the new revision", its_pods, ctx)
    current_rev = kube.get_str(obj, "status", "currentRevision")
    update_rev = kube.get_str(obj, "status", "updateRevision")
    if partition == 0 and update_rev and current_rev and current_rev != update_rev:
        return _with_pods(f"rollout to revision {update_rev} not finished", its_pods, ctx)
    detail, hard = pods.summarize(pods.running(its_pods), ctx.index.events_for)
    return Assessment("failed", f"{ready} of {want} ready but {detail}") if hard else CURRENT


def _daemonset(obj: KubeObject, ctx: CheckContext) -> Assessment:
    desired = kube.get_int(obj, "status", "desiredNumberScheduled", default=0) or 0
    updated = kube.get_int(obj, "status", "updatedNumberScheduled", default=0) or 0
    available = kube.get_int(obj, "status", "numberAvailable", default=0) or 0
    unavailable = kube.get_int(obj, "status", "numberUnavailable", default=0) or 0
    misscheduled = kube.get_int(obj, "status", "numberMisscheduled", default=0) or 0
    strategy = kube.get_str(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    its_pods = ctx.index.pods_of(obj)
    if unavailable > 0 or available < desired:
        missing = max(unavailable, desired - available)
        return _with_pods(f"{missing} of {desired} pods unavailable", its_pods, ctx)
    if updated < desired:
        if strategy == "OnDelete":
            return Assessment(
                "outdated",
                f"{desired - updated} of {desired} pods still on the old revision "
                "(updateStrategy OnDelete)",
            )
        return _with_pods(f"{updated} of {desired} pods updated", its_pods, ctx)
    if misscheduled > 0:
        return Assessment("outdated", f"{misscheduled} pods run on nodes they should not")
    detail, hard = pods.summarize(pods.running(its_pods), ctx.index.events_for)
    return Assessment("failed", f"all {desired} scheduled but {detail}") if hard else CURRENT


def _replicaset(obj: KubeObject, ctx: CheckContext) -> Assessment:
    owner = ctx.index.owner(obj)
    if owner is not None and kube.kind(owner) == "Deployment":
        return CURRENT  # judged through its Deployment; quota failures in capacity
    failure = kube.condition_is(obj, "ReplicaFailure", "True")
    if failure is not None:
        return Assessment("failed", f"ReplicaFailure: {kube.get_str(failure, 'message') or ''}")
    want = kube.get_int(obj, "spec", "replicas", default=1) or 0
    ready = kube.get_int(obj, "status", "readyReplicas", default=0) or 0
    if ready < want:
        return _with_pods(f"{ready} of {want} replicas ready", ctx.index.pods_of(obj), ctx)
    return CURRENT


def _cronjob_of(job: KubeObject) -> str | None:
    """The name of the CronJob that scheduled this Job (its controlling owner), if any."""
    for r in kube.dicts(job, "metadata", "ownerReferences"):
        if r.get("kind") == "CronJob" and r.get("controller") is not False:
            return kube.get_str(r, "name")
    return None


def _finished_at(job: KubeObject, ctype: str) -> datetime | None:
    cond = kube.condition_is(job, ctype, "True")
    return (
        try_parse_time(kube.get(cond, "lastTransitionTime"))
        or try_parse_time(kube.get(job, "status", "completionTime"))
        or try_parse_time(kube.get(job, "status", "startTime"))
    )


def _succeeded_since(job: KubeObject, cronjob: str, ctx: CheckContext) -> bool:
    """A later run of the same CronJob completed: this failure is history, not the app's state."""
    failed_at = _finished_at(job, "Failed")
    if failed_at is None:
        return False
    parent = ctx.index.get("CronJob", kube.namespace(job), cronjob)
    last_success = try_parse_time(kube.get(parent, "status", "lastSuccessfulTime"))
    if last_success is not None and last_success > failed_at:
        return True
    return any(
        _cronjob_of(other) == cronjob
        and kube.condition_is(other, "Complete", "True") is not None
        and (done := _finished_at(other, "Complete")) is not None
        and done > failed_at
        for other in ctx.index.of_kind("Job")
        if kube.namespace(other) == kube.namespace(job)
    )


def _job(obj: KubeObject, ctx: CheckContext) -> Assessment:
    cronjob = _cronjob_of(obj)
    run_of = f" (a run of CronJob {cronjob})" if cronjob else ""
    failed = kube.condition_is(obj, "Failed", "True")
    if failed is not None:
        if cronjob and _succeeded_since(obj, cronjob, ctx):
            return CURRENT
        limit = kube.get_int(obj, "spec", "backoffLimit", default=6)
        why = kube.get_str(failed, "reason") or "Failed"
        if message := kube.get_str(failed, "message"):
            why += f": {message}"
        count = kube.get_int(obj, "status", "failed", default=0)
        last = pods.last_failure(ctx.index.pods_of(obj))
        return Assessment(
            "failed",
            f"failed{run_of}, {why} ({count} failed pods, backoffLimit {limit})"
            + (f"; last: {last}" if last else ""),
        )
    if kube.condition_is(obj, "Complete", "True") or kube.get_bool(obj, "spec", "suspend"):
        return CURRENT
    active = kube.get_int(obj, "status", "active", default=0)
    done = kube.get_int(obj, "status", "succeeded", default=0)
    its_pods = ctx.index.pods_of(obj)
    if cronjob:
        # Its schedule started it, not the sync: a run in progress is not "not converged".
        detail, hard = pods.summarize(pods.running(its_pods), ctx.index.events_for)
        if not detail:
            return CURRENT
        return Assessment("failed" if hard else "in-progress", f"running{run_of}: {detail}")
    return _with_pods(f"not complete ({active} active, {done} succeeded)", its_pods, ctx)


def _pod(obj: KubeObject, ctx: CheckContext) -> Assessment:
    if kube.get_list(obj, "metadata", "ownerReferences"):
        return CURRENT  # judged through its workload (and by stability/capacity)
    p = pods.problem(obj)
    if p is None:
        return CURRENT
    where = f" (container {p.container})" if p.container else ""
    text = f"{p.reason}{where}" + (f": {p.detail}" if p.detail else "")
    return Assessment("failed" if p.hard else "in-progress", text)


def _pvc(obj: KubeObject, ctx: CheckContext) -> Assessment:
    phase = kube.get_str(obj, "status", "phase") or "Pending"
    if phase == "Bound":
        return CURRENT
    if phase == "Lost":
        return Assessment("failed", "claim Lost: its PersistentVolume is gone")
    events = ctx.index.events_for(obj)
    if (
        phase == "Pending"
        and events
        and max(events, key=Event.sort_key).reason == ("WaitForFirstConsumer")
    ):
        # Its storage class binds when the first pod using it is scheduled (a CronJob's claim
        # before its first run): waiting is the design, and such a pod is judged on its own.
        return CURRENT
    warning = ctx.index.latest_warning(obj)
    why = f": {warning.reason}: {clip(warning.message, 160, one_line=True)}" if warning else ""
    return Assessment("in-progress", f"claim {phase}, not bound{why}")


def _service(obj: KubeObject, ctx: CheckContext) -> Assessment:
    if kube.get_str(obj, "spec", "type") != "LoadBalancer":
        return CURRENT
    if kube.get_list(obj, "status", "loadBalancer", "ingress"):
        return CURRENT
    return Assessment("in-progress", "no load balancer ingress assigned")


def _hpa(obj: KubeObject, ctx: CheckContext) -> Assessment:
    for ctype, cond in kube.conditions(obj).items():
        if cond.get("status") == "False" and (ctype, cond.get("reason")) in HPA_DEGRADED_REASONS:
            return Assessment(
                "failed",
                f"{ctype}=False ({cond.get('reason')}): "
                f"{kube.get_str(cond, 'message') or ''}".rstrip(": "),
            )
    return CURRENT


_BY_KIND: dict[str, Callable[[KubeObject, CheckContext], Assessment]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "ReplicaSet": _replicaset,
    "Job": _job,
    "Pod": _pod,
    "PersistentVolumeClaim": _pvc,
    "Service": _service,
    "HorizontalPodAutoscaler": _hpa,
}


def assess(obj: KubeObject, ctx: CheckContext) -> Assessment:
    """The convergence state of one object (current for kinds without a rule)."""
    if kube.kind(obj) in APPS_WORKLOAD_KINDS and _generation_behind(obj):
        return Assessment("stale", "status describes an older generation")
    stalled = kube.condition_is(obj, "Stalled", "True")
    if stalled is not None:
        return Assessment("failed", f"Stalled: {kube.get_str(stalled, 'message') or ''}")
    rule = _BY_KIND.get(kube.kind(obj))
    if rule is not None:
        return rule(obj, ctx)
    reconciling = kube.condition_is(obj, "Reconciling", "True")
    if reconciling is not None:
        return Assessment("in-progress", f"Reconciling: {kube.get_str(reconciling, 'message')}")
    return CURRENT


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    for obj in ctx.index.objects:
        if kube.kind(obj) == "Event" or not ctx.index.is_member(obj):
            continue
        result = assess(obj, ctx)
        name = f"convergence/{kube.kind(obj).lower()}"
        text = f"{kube.display(obj)}: {result.message}"
        if result.state == "failed":
            out.append(finding("controller", name, obj, text, "critical"))
        elif result.state == "in-progress":
            out.append(not_converged(ctx, "controller", name, obj, text, since=result.since))
        elif result.state == "outdated":
            out.append(finding("controller", name, obj, text, "warning"))
    return out
