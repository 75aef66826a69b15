"""Is every custom resource of the app Ready?

The resources an app depends on are often custom: an ExternalSecret that syncs its Secret, a
cert-manager Certificate, a Crossplane or ACK cloud resource, a Kafka topic, a database. Most of
their controllers report through a ``Ready`` condition. kstatus reads only ``Stalled`` and
``Reconciling`` (the convergence check judges those), and Argo CD calls a kind it has no health
check for Healthy: the app can read Healthy while its pods run on a Secret that stopped syncing
or wait on a certificate never issued.

* Only custom resources: built-in kinds (a Pod and a Node have ``Ready`` too) are judged by the
  rules of their kind. An object reporting ``Stalled=True`` or ``Reconciling=True`` is left to
  convergence, as kstatus lets those conditions decide; one being deleted is left alone.
* ``Ready=False`` is timed from its ``lastTransitionTime``. On an object of the app whose
  condition describes its current generation (the condition's ``observedGeneration``, else the
  status', equals ``metadata.generation``, or none is given) it is "not converged": a
  converging warning within the grace period (counted from the sync, or from the transition when
  that came later), critical after it.
* ``Ready=False`` reported for an older generation (the controller has not looked at the new
  spec yet; ``staleness/generation`` judges that when the status says so), or on an object that
  is not the app's (a dependency the collector kept): a warning, converging within grace.
* ``Ready=Unknown`` past the grace period: a warning, the controller has not decided.
* ``Ready=True``: nothing.
* No ``Ready`` condition (an Argo Rollouts ``Rollout`` reports ``status.phase`` and conditions of
  its own): what Argo CD's health check for the kind, built in or configured, said. Health
  ``Degraded`` in the Application's resource tree is critical, with the health message and
  when the object's conditions last changed; anything else says nothing.

Cluster-scoped ones (a ClusterIssuer) are judged the same way and named without a namespace.
A resource that names the one it waits on, in the field its project documents (cert-manager's
``spec.issuerRef``, External Secrets' ``spec.secretStoreRef``: name, kind, and group where
given, else the resource's own), says so when that one is in the Evidence and not Ready: the
Certificate's message points at the ClusterIssuer, and the ClusterIssuer's finding comes first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding, not_converged
from webhooks.checks.index import ObjectKey, key
from webhooks.common.api import is_builtin_group, split_api_version
from webhooks.common.depends import dependencies
from webhooks.common.durations import format_duration
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, KubeObject

CHECK = "readiness/custom-resource"


def _judged_here(obj: KubeObject) -> bool:
    group, _ = split_api_version(obj.get("apiVersion"))
    return (
        not is_builtin_group(group)
        and kube.get(obj, "metadata", "deletionTimestamp") is None
        and kube.condition_is(obj, "Stalled", "True") is None
        and kube.condition_is(obj, "Reconciling", "True") is None
    )


def _observed(obj: KubeObject, cond: dict[str, Any]) -> int | None:
    observed = kube.get_int(cond, "observedGeneration")
    return observed if observed is not None else kube.get_int(obj, "status", "observedGeneration")


def _state(cond: dict[str, Any], since: datetime | None, ctx: CheckContext) -> str:
    """``Ready=False for 25m``: how long, when the transition and the clock are known."""
    state = f"Ready={cond.get('status')}"
    if since is None or ctx.now is None:
        return state
    return f"{state} for {format_duration((ctx.now - since).total_seconds(), largest=2)}"


def _why(cond: dict[str, Any]) -> str:
    reason = clip(kube.get_str(cond, "reason") or "", 64, one_line=True)
    message = clip(kube.get_str(cond, "message") or "", 200, one_line=True)
    return ": ".join(part for part in (reason, message) if part)


def _waits_on(obj: KubeObject, ctx: CheckContext) -> tuple[KubeObject, dict[str, Any]] | None:
    """The resource ``obj`` names as what it waits on (``common.depends``), with its ``Ready``
    condition, when the Evidence holds it and that condition is False or Unknown. Looked up in
    ``obj``'s namespace, then among cluster-scoped objects (an Issuer or a ClusterIssuer)."""
    for dep in dependencies(obj):
        for namespace in (kube.namespace(obj), None):
            found = ctx.index.get(dep.kind, namespace, dep.name)
            if found is None or split_api_version(found.get("apiVersion"))[0] != dep.group:
                continue
            cond = kube.conditions(found).get("Ready")
            if cond is not None and cond.get("status") in ("False", "Unknown"):
                return found, cond
            return None
    return None


def _argocd_health(obj: KubeObject, ctx: CheckContext) -> CheckFinding | None:
    """Argo CD's health of a custom resource that reports no ``Ready`` condition."""
    entry = ctx.index.tree_entry(kube.kind(obj), kube.namespace(obj), kube.name(obj))
    if kube.get_str(entry, "health", "status") != "Degraded":
        return None
    why = clip(kube.get_str(entry, "health", "message") or "", 200, one_line=True)
    text = f"{kube.display(obj)}: Argo CD reports health Degraded" + (f": {why}" if why else "")
    changed = [
        when
        for c in kube.conditions(obj).values()
        if (when := try_parse_time(c.get("lastTransitionTime"))) is not None
    ]
    if changed:
        text += f" (its conditions last changed at {kube.fmt_time(max(changed))})"
    return finding("controller", CHECK, obj, text, "critical")  # listed in the tree: the app's


def _judge(
    obj: KubeObject, ctx: CheckContext, waits_on: tuple[KubeObject, dict[str, Any]] | None
) -> CheckFinding | None:
    cond = kube.conditions(obj).get("Ready")
    if cond is None:
        return _argocd_health(obj, ctx)
    status = cond.get("status")
    if status not in ("False", "Unknown"):
        return None
    since = try_parse_time(cond.get("lastTransitionTime"))
    if status == "Unknown" and ctx.within_grace(since):
        return None
    text = f"{kube.display(obj)}: {_state(cond, since, ctx)}"
    generation = kube.get_int(obj, "metadata", "generation")
    observed = _observed(obj, cond)
    stale = generation is not None and observed is not None and observed < generation
    if stale:
        text += f" (reported for generation {observed}; generation {generation} not observed yet)"
    if why := _why(cond):
        text += f": {why}"
    if waits_on is not None:
        dep, dep_cond = waits_on
        reason = clip(kube.get_str(dep_cond, "reason") or "", 64, one_line=True)
        text += f"; waits on {kube.display(dep)}, Ready={dep_cond.get('status')}"
        text += f": {reason}" if reason else ""
    if status == "Unknown":
        return finding("controller", CHECK, obj, text, "warning")
    found = not_converged(ctx, "controller", CHECK, obj, text, since=since)
    if (stale or not ctx.index.is_member(obj)) and found["severity"] == "critical":
        found["severity"] = "warning"  # not the app's current spec, or not the app's object
    return found


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    out: list[tuple[KubeObject, CheckFinding]] = []
    causes: set[ObjectKey] = set()
    for obj in ctx.index.objects:
        if not _judged_here(obj):
            continue
        waits_on = _waits_on(obj, ctx)
        if (found := _judge(obj, ctx, waits_on)) is not None:
            out.append((obj, found))
            if waits_on is not None:
                causes.add(key(waits_on[0]))
    # The cause before what waits on it: the ClusterIssuer leads, its Certificates follow.
    out.sort(key=lambda pair: key(pair[0]) not in causes)
    return [found for _, found in out]
