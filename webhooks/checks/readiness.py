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
* ``Ready=True``, or no ``Ready`` condition: nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding, not_converged
from webhooks.common.api import is_builtin_group, split_api_version
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


def _judge(obj: KubeObject, ctx: CheckContext) -> CheckFinding | None:
    cond = kube.conditions(obj).get("Ready")
    status = cond.get("status") if cond is not None else None
    if cond is None or status not in ("False", "Unknown"):
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
    if status == "Unknown":
        return finding("controller", CHECK, obj, text, "warning")
    found = not_converged(ctx, "controller", CHECK, obj, text, since=since)
    if (stale or not ctx.index.is_member(obj)) and found["severity"] == "critical":
        found["severity"] = "warning"  # not the app's current spec, or not the app's object
    return found


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    for obj in ctx.index.objects:
        if _judged_here(obj) and (found := _judge(obj, ctx)) is not None:
            out.append(found)
    return out
