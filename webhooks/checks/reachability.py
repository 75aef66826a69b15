"""Can traffic reach the app's pods through its Services?

Argo CD calls every ClusterIP Service Healthy the moment it exists. Here a Service of the app
must select at least one pod and have at least one ready endpoint:

* the selector matches no pod in the namespace (a renamed label, a typo) — checked only when
  the evidence carries pods of that namespace;
* its EndpointSlices (``kubernetes.io/service-name`` label) list no endpoint whose
  ``conditions.ready`` is true (an absent ``ready`` counts as ready, as the API defines) —
  checked only when the evidence carries EndpointSlices at all, so a collector that did not
  fetch them cannot produce a false alarm.

ExternalName Services have no endpoints by design and are skipped; Services without a selector
(manually managed endpoints, headless or not) are judged on their slices only. A Service in
front of a workload of the app that is scaled to zero on purpose (``replicas: 0``) has nothing
to reach and is left alone. When ready pods match the selector and still no endpoint is listed,
the finding says so, and names a ``targetPort`` that no port of those pods carries.
"""

from __future__ import annotations

from webhooks.checks import kube, pods
from webhooks.checks.context import CheckContext, CheckFinding, not_converged
from webhooks.evidence.model import Evidence, KubeObject

_SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet")


def _endpoint_counts(slices: list[KubeObject]) -> tuple[int, int]:
    ready = total = 0
    for s in slices:
        for endpoint in kube.dicts(s, "endpoints"):
            total += 1
            if kube.get_bool(endpoint, "conditions", "ready") is not False:
                ready += 1
    return ready, total


def _scaled_to_zero(ctx: CheckContext, svc: KubeObject, selector: dict[str, str]) -> bool:
    """Every workload of the app whose pods the selector would pick is at ``replicas: 0``."""
    selected = [
        w
        for w in ctx.index.members(*_SCALABLE)
        if kube.namespace(w) == kube.namespace(svc)
        and not (kube.kind(w) == "ReplicaSet" and ctx.index.owner(w) is not None)
        and kube.str_map(w, "spec", "template", "metadata", "labels")
        and kube.selector_matches(
            {"matchLabels": selector}, kube.str_map(w, "spec", "template", "metadata", "labels")
        )
    ]
    return bool(selected) and all(kube.get_int(w, "spec", "replicas") == 0 for w in selected)


def _why_unlisted(svc: KubeObject, ready_pods: list[KubeObject]) -> str:
    """Why ready, selected pods have no endpoint: a named targetPort none of them carries."""
    names = {
        port_name
        for p in ready_pods
        for c in kube.dicts(p, "spec", "containers")
        for port in kube.dicts(c, "ports")
        if (port_name := kube.get_str(port, "name"))
    }
    missing = sorted(
        {
            target
            for port in kube.dicts(svc, "spec", "ports")
            if (target := kube.get_str(port, "targetPort")) and target not in names
        }
    )
    matched = f"{len(ready_pods)} ready pods match its selector"
    if missing:
        return f"; {matched}, but none has a port named {', '.join(missing)} (its targetPort)"
    return f"; {matched}, but none is listed in its EndpointSlices"


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    have_slices = ctx.index.has_kind("EndpointSlice")
    for svc in ctx.index.members("Service"):
        if kube.get_str(svc, "spec", "type") == "ExternalName":
            continue
        selector = kube.str_map(svc, "spec", "selector")
        ns = kube.namespace(svc)
        pods_here = ctx.index.pods_in(ns)
        if selector and _scaled_to_zero(ctx, svc, selector):
            continue
        selected = ctx.index.pods_matching(ns, selector) if selector else []
        if selector and pods_here and not selected:
            shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            out.append(
                not_converged(
                    ctx,
                    "runtime",
                    "reachability/selector",
                    svc,
                    f"{kube.display(svc)}: selector {shown} matches none of the "
                    f"{len(pods_here)} pods in namespace {ns}",
                )
            )
            continue  # zero endpoints follow from it; one finding says it better
        if not have_slices:
            continue
        ready, total = _endpoint_counts(ctx.index.endpoint_slices(ns, kube.name(svc)))
        if ready == 0:
            detail = f" ({total} not ready)" if total else ""
            ready_pods = [p for p in selected if pods.is_ready(p) and not pods.is_terminating(p)]
            if ready_pods and not total:
                detail = _why_unlisted(svc, ready_pods)
            out.append(
                not_converged(
                    ctx,
                    "runtime",
                    "reachability/endpoints",
                    svc,
                    f"{kube.display(svc)} has 0 ready endpoints{detail}",
                    since=pods.problem_since(selected) if selected else None,
                )
            )
    return out
