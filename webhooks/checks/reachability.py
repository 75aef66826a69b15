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
(manually managed endpoints, headless or not) are judged on their slices only.
"""

from __future__ import annotations

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, not_converged
from webhooks.evidence.model import Evidence, KubeObject


def _endpoint_counts(slices: list[KubeObject]) -> tuple[int, int]:
    ready = total = 0
    for s in slices:
        for endpoint in kube.dicts(s, "endpoints"):
            total += 1
            if kube.get_bool(endpoint, "conditions", "ready") is not False:
                ready += 1
    return ready, total


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    have_slices = ctx.index.has_kind("EndpointSlice")
    for svc in ctx.index.members("Service"):
        if kube.get_str(svc, "spec", "type") == "ExternalName":
            continue
        selector = kube.str_map(svc, "spec", "selector")
        ns = kube.namespace(svc)
        pods_here = ctx.index.pods_in(ns)
        if selector and pods_here and not ctx.index.pods_matching(ns, selector):
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
            out.append(
                not_converged(
                    ctx,
                    "runtime",
                    "reachability/endpoints",
                    svc,
                    f"{kube.display(svc)} has 0 ready endpoints{detail}",
                )
            )
    return out
