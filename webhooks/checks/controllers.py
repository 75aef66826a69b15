"""Controllers as monitored entities: is anything still reconciling what it claims to own?

A controller's status is only as fresh as its last reconcile. When Argo CD's application
controller, a workload controller or the HPA stops working, the status it last wrote keeps
saying "fine": the application reads Synced/Healthy long after anything looked. Each finding
here is ``controller-stale`` and names the controller, with how long it has been silent:

* Argo CD's application controller: ``status.reconciledAt`` far older than its resync period,
  an operation stuck ``Running``, comparison errors in ``status.conditions``;
* workload controllers: ``observedGeneration`` behind ``generation`` for longer than the bound
  (measured from the last spec write in ``managedFields``, else from the sync);
* the HPA: desired replicas differ from current ones for longer than the bound, or a
  ``ScalingActive``/``AbleToScale`` condition has been False that long (metrics unavailable;
  not ``ScalingDisabled``, which says its target was scaled to zero);
* nodes: the app's pods run on a node that is NotReady or under memory/disk/PID pressure.

"How long" is always measured against the Evidence's ``collectedAt``, never the wall clock.
"""

from __future__ import annotations

from datetime import datetime

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.checks.staleness import in_post_sync
from webhooks.common.durations import format_duration
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, KubeObject, Severity

CHECK = "controller-stale"

#: Which controller owns the status of each workload kind (as a user would name it).
_WORKLOAD_CONTROLLERS = {
    "Deployment": "deployment controller",
    "StatefulSet": "statefulset controller",
    "DaemonSet": "daemonset controller",
    "ReplicaSet": "replicaset controller",
    "Job": "job controller",
    "CronJob": "cronjob controller",
}
_ARGOCD = "Argo CD application controller"
_NODE_PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure")
_COMPARISON_ERRORS = ("ComparisonError", "InvalidSpecError", "UnknownError")


def _age(ctx: CheckContext, when: datetime | None) -> float | None:
    if ctx.now is None or when is None:
        return None
    return (ctx.now - when).total_seconds()


def _argocd(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    application: KubeObject = evidence.get("application") or {}
    if not application:
        return []
    app = ctx.app or "application"
    bound = ctx.settings.controller_stale_seconds
    out: list[CheckFinding] = []
    reconciled = try_parse_time(kube.get_str(application, "status", "reconciledAt"))
    age = _age(ctx, reconciled)
    if age is not None and age > bound:
        out.append(
            finding(
                "controller",
                CHECK,
                None,
                f"{_ARGOCD}: application {app} last reconciled {format_duration(age, largest=2)} ago "
                f"(at {kube.fmt_time(reconciled)}; bound {format_duration(bound, largest=2)}): its Synced/"
                "Healthy status is not current",
                "critical",
            )
        )
    op = kube.get_dict(application, "status", "operationState")
    started = try_parse_time(kube.get_str(op, "startedAt"))
    running = _age(ctx, started)
    # Running because its PostSync hooks (truthgate verify among them) run is not stuck.
    if (
        kube.get_str(op, "phase") in ("Running", "Terminating")
        and not in_post_sync(application)
        and running is not None
        and running > ctx.settings.operation_stuck_seconds
    ):
        out.append(
            finding(
                "controller",
                CHECK,
                None,
                f"{_ARGOCD}: the sync operation of {app} has been {kube.get_str(op, 'phase')} "
                f"for {format_duration(running, largest=2)} (started {kube.fmt_time(started)})",
                "critical",
            )
        )
    for cond in kube.dicts(application, "status", "conditions"):
        ctype = kube.get_str(cond, "type") or ""
        if ctype in _COMPARISON_ERRORS:
            out.append(
                finding(
                    "controller",
                    CHECK,
                    None,
                    f"{_ARGOCD}: {ctype} on {app}: "
                    f"{clip(kube.get_str(cond, 'message') or 'no message', 160, one_line=True)}",
                    "critical",
                )
            )
    return out


def _last_spec_write(obj: KubeObject) -> datetime | None:
    """When the object was last written by anyone but its status writers (managedFields)."""
    times = [
        t
        for entry in kube.dicts(obj, "metadata", "managedFields")
        if kube.get_str(entry, "subresource") != "status"
        and (t := try_parse_time(kube.get_str(entry, "time"))) is not None
    ]
    return max(times) if times else None


def _workloads(ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    bound = ctx.settings.controller_stale_seconds
    for obj in ctx.index.members(*_WORKLOAD_CONTROLLERS):
        generation = kube.get_int(obj, "metadata", "generation")
        observed = kube.get_int(obj, "status", "observedGeneration")
        if generation is None or observed is None or observed >= generation:
            continue
        since = _last_spec_write(obj) or ctx.change_at
        age = _age(ctx, since)
        if age is None or age <= bound:
            continue  # young: staleness/generation reports it as converging
        out.append(
            finding(
                "controller",
                CHECK,
                obj,
                f"{_WORKLOAD_CONTROLLERS[kube.kind(obj)]}: {kube.display(obj)} generation "
                f"{generation} written {format_duration(age, largest=2)} ago is still not observed "
                f"(observedGeneration {observed}); its status describes an older spec",
                "critical",
            )
        )
    return out


def _hpas(ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    bound = ctx.settings.controller_stale_seconds
    for hpa in ctx.index.members("HorizontalPodAutoscaler"):
        shown = kube.display(hpa)
        reasons: list[str] = []
        for ctype in ("ScalingActive", "AbleToScale"):
            cond = kube.condition_is(hpa, ctype, "False")
            if cond is None or cond.get("reason") == "ScalingDisabled":
                continue  # ScalingDisabled: its target is at zero replicas, on purpose
            since = try_parse_time(kube.get_str(cond, "lastTransitionTime"))
            age = _age(ctx, since)
            if age is not None and age <= bound:
                continue
            held = f" for {format_duration(age, largest=2)}" if age is not None else ""
            why = kube.get_str(cond, "reason") or ""
            text = clip(kube.get_str(cond, "message") or "", 120, one_line=True)
            reasons.append(f"{ctype}=False{held} ({why}{': ' + text if text else ''})")
        current = kube.get_int(hpa, "status", "currentReplicas")
        desired = kube.get_int(hpa, "status", "desiredReplicas")
        if current is not None and desired is not None and current != desired:
            since = try_parse_time(kube.get_str(hpa, "status", "lastScaleTime"))
            age = _age(ctx, since)
            if age is not None and age > bound:
                reasons.append(
                    f"wants {desired} replicas, has {current}, no scale for {format_duration(age, largest=2)}"
                )
        if reasons:
            out.append(
                finding(
                    "controller",
                    CHECK,
                    hpa,
                    f"horizontal pod autoscaler: {shown}: " + "; ".join(reasons),
                    "critical",
                )
            )
    return out


def _node_trouble(node: KubeObject) -> list[str]:
    out: list[str] = []
    ready = kube.conditions(node).get("Ready")
    if ready is not None and ready.get("status") != "True":
        out.append(f"NotReady ({kube.get_str(ready, 'reason') or ready.get('status')})")
    out += [ctype for ctype in _NODE_PRESSURE if kube.condition_is(node, ctype, "True")]
    if kube.get_bool(node, "spec", "unschedulable"):
        out.append("cordoned")
    return out


def _nodes(ctx: CheckContext) -> list[CheckFinding]:
    nodes = {kube.name(n): n for n in ctx.index.of_kind("Node")}
    if not nodes:
        return []
    on_node: dict[str, list[KubeObject]] = {}
    for pod in ctx.index.members("Pod"):
        node_name = kube.get_str(pod, "spec", "nodeName")
        if node_name in nodes and kube.get_str(pod, "status", "phase") not in (
            "Succeeded",
            "Failed",
        ):
            on_node.setdefault(node_name, []).append(pod)
    out: list[CheckFinding] = []
    for node_name, running in sorted(on_node.items()):
        trouble = _node_trouble(nodes[node_name])
        cordoned_only = trouble == ["cordoned"]
        # A drain leaves DaemonSet pods where they are: they belong on every node.
        there = [
            p
            for p in running
            if not cordoned_only or kube.kind(ctx.index.top_owner(p)) != "DaemonSet"
        ]
        if not trouble or not there:
            continue
        names = sorted(kube.name(p) for p in there)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        # A cordoned node alone still runs its pods; NotReady or pressure is the real risk.
        severity: Severity = "warning" if cordoned_only else "critical"
        consequence = (
            "a drain would evict them" if cordoned_only else "their Ready status may be stale"
        )
        out.append(
            finding(
                "controller",
                CHECK,
                nodes[node_name],
                f"kubelet on node {node_name}: {', '.join(trouble)}; the app's pods {shown} "
                f"run there and {consequence}",
                severity,
            )
        )
    return out


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    return _argocd(evidence, ctx) + _workloads(ctx) + _hpas(ctx) + _nodes(ctx)
