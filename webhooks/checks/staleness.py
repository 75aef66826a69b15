"""Does the controller layer's story still hold?

Two correlations between what controllers *claim* and what the runtime shows:

* generation: a controller that has not observed the latest ``metadata.generation`` long after
  the sync is stuck (or gone); its status describes an older spec. Within the grace period this
  is "still converging", after it a failure.
* sync claims: Argo CD's sync result says a workload was applied (``Synced``) and the operation
  ``Succeeded`` — yet the live workload is not converged. Argo CD's own health only catches part
  of this (it calls a crash-looping StatefulSet Progressing and waits forever).

What the sync operation itself admits (a failed step, then the failed operation; a sync still
running) is ``checks/syncop``'s, reported under this family's ids. This module adds objects the
sync applied that are no longer found live. Such an object was deleted out of band (or by a controller) after a sync Argo CD calls a success; Argo CD shows it
``OutOfSync`` with health ``Missing`` from its next refresh. It is critical for what is meant to
stay and serve (pod owners, CronJobs, Services, Ingresses, config, claims, autoscalers, the
app's ServiceAccounts, Roles, RoleBindings and NetworkPolicies, custom resources), a warning
for kinds that go away on their own (a finished Job under ``ttlSecondsAfterFinished``, a Pod,
an Event) and for a PodDisruptionBudget (it guards the next drain, nothing serves through
it), and nothing at all when Argo CD says it was removed on purpose: pruned by the operation,
marked ``requiresPruning`` or no longer listed in the Application's resource tree (Git stopped
declaring it). Only kinds the Evidence carries are judged (a collector that did not read Jobs
says nothing about a missing Job), unless the tree itself reports the object's health
``Missing``.
"""

from __future__ import annotations

from datetime import datetime

from webhooks.checks import convergence, intents, kube, syncop
from webhooks.checks.context import CheckContext, CheckFinding, finding, not_converged
from webhooks.common.api import is_builtin_group
from webhooks.common.argocd import revision_text, short_revision
from webhooks.common.kinds import APPS_WORKLOAD_KINDS, WORKLOAD_KINDS
from webhooks.evidence.model import Evidence, KubeObject, Severity

_POD_OWNERS = {*WORKLOAD_KINDS, "Pod"}
#: Built-in kinds meant to stay and serve once applied; custom resources count too. Without
#: its ServiceAccount, Role or RoleBinding the next pod is refused or the app's API calls are
#: (403); without its NetworkPolicy the app runs open; without its CronJob nothing runs.
_MEANT_TO_STAY = {
    *APPS_WORKLOAD_KINDS,
    "CronJob",
    "Service",
    "Ingress",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
}
#: Why a missing object of these kinds is only a warning.
_GOES_AWAY = {
    "Job": "a finished Job is deleted by its ttlSecondsAfterFinished",
    "PodDisruptionBudget": "nothing is down for it, but a node drain may now evict every pod"
    " at once",
}


def _generation(ctx: CheckContext) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    for obj in ctx.index.objects:
        if not ctx.index.is_member(obj):
            continue
        generation = kube.get_int(obj, "metadata", "generation")
        observed = kube.get_int(obj, "status", "observedGeneration")
        if generation is None:
            continue
        if observed is None:
            if kube.kind(obj) not in APPS_WORKLOAD_KINDS:
                continue  # many kinds never report observedGeneration
            observed = 0  # an apps/v1 workload without it has never been seen by its controller
        if observed >= generation:
            continue
        text = (
            f"{kube.display(obj)}: controller has not observed generation {generation} "
            f"(observedGeneration {observed})"
        )
        out.append(not_converged(ctx, "controller", "staleness/generation", obj, text))
    return out


def in_post_sync(application: object) -> bool:
    """Whether the Argo CD sync operation has reached its PostSync phase.

    Argo CD runs PostSync hooks (``truthgate verify`` among them) while the operation is still
    ``Running``, and only after every Sync-phase resource was applied and reported healthy. A
    "sync still running" that only means "the PostSync hooks are running" must not hold the
    verdict at Progressing, or the hook could never report Healthy.
    """
    return any(
        r.get("syncPhase") == "PostSync"
        for r in kube.dicts(application, "status", "operationState", "syncResult", "resources")
    )


def _same(entry: dict[str, object], kind: str, namespace: str | None, name: str) -> bool:
    return (
        kube.get_str(entry, "kind") == kind
        and (kube.get_str(entry, "namespace") or None) == namespace
        and kube.get_str(entry, "name") == name
    )


def _tree_says_missing(ctx: CheckContext, kind: str, namespace: str | None, name: str) -> bool:
    entry = ctx.index.tree_entry(kind, namespace, name)
    return kube.get_str(entry, "health", "status") == "Missing"


def _removed_on_purpose(
    application: object, ctx: CheckContext, kind: str, namespace: str | None, name: str
) -> bool:
    """Argo CD says the object is gone because Git no longer declares it: the operation pruned
    it (a later step of the same sync), its resource tree marks it ``requiresPruning``, or the
    tree, refreshed since, no longer lists it."""
    result = kube.dicts(application, "status", "operationState", "syncResult", "resources")
    if any(
        _same(r, kind, namespace, name)
        and (kube.get_str(r, "status") == "Pruned" or kube.get_str(r, "message") == "pruned")
        for r in result
    ):
        return True
    if not ctx.index.has_tree():
        return False  # no tree in the Evidence: it says nothing either way
    entry = ctx.index.tree_entry(kind, namespace, name)
    return entry is None or kube.get_bool(entry, "requiresPruning") is True


def _deleted_by(
    evidence: Evidence, ctx: CheckContext, kind: str, namespace: str | None, name: str
) -> str:
    """Who deleted it, when the ledger recorded the DELETE (the latest since the sync)."""
    latest: tuple[datetime, str] | None = None
    for w in intents.admitted(evidence):
        if w.operation != "DELETE" or w.key != (kind, namespace, name):
            continue
        if not ctx.since_change(w.time):
            continue
        user = kube.get_str(w.record, "actor", "username") or "an unknown actor"
        who = (
            f"by a controller ({user})"
            if kube.get_str(w.record, "actor", "class") == "controller"
            else f"out of band by {user}"
        )
        if latest is None or w.time >= latest[0]:
            latest = (w.time, f"deleted {who} at {kube.fmt_time(w.time)}")
    return latest[1] if latest else "deleted out of band (or by a controller)"


def _missing(
    evidence: Evidence, ctx: CheckContext, res: dict[str, object], revision: str, shown: str
) -> tuple[str, Severity]:
    """What to say about an object the sync applied that is not found live, and how loudly."""
    kind = kube.get_str(res, "kind") or ""
    namespace = kube.get_str(res, "namespace") or None
    name = kube.get_str(res, "name") or ""
    stays = kind in _MEANT_TO_STAY or not is_builtin_group(kube.get_str(res, "group") or "")
    entry = ctx.index.tree_entry(kind, namespace, name)
    shows = (
        "shows"
        if kube.get_str(entry, "health", "status") == "Missing"
        or kube.get_str(entry, "status") == "OutOfSync"
        else "will show"
    )
    how = _deleted_by(evidence, ctx, kind, namespace, name)
    if not stays:
        how += "; " + _GOES_AWAY.get(kind, f"a {kind} can also go away on its own")
    return (
        f"{shown}: applied at {revision} by a sync Argo CD reports Succeeded, but not found live: "
        f"{how}; Argo CD {shows} it OutOfSync/Missing",
        "critical" if stays else "warning",
    )


def _sync_claims(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    application = evidence.get("application") or {}
    op = kube.get_dict(application, "status", "operationState")
    phase = kube.get_str(op, "phase")
    revision = short_revision(ctx.revision) if ctx.revision else "unknown revision"
    out = syncop.check(ctx, application, in_post_sync(application))
    health = kube.get_str(application, "status", "health", "status")
    claim = f"Argo CD reports {health}, sync {phase}" if health else f"Argo CD sync {phase}"
    for res in kube.dicts(op, "syncResult", "resources"):
        r_kind = kube.get_str(res, "kind") or ""
        r_ns = kube.get_str(res, "namespace") or None
        r_name = kube.get_str(res, "name") or ""
        ref = {"kind": r_kind, "namespace": r_ns, "name": r_name}
        shown = kube.display_ref({"kind": r_kind, "namespace": r_ns, "name": r_name})
        status = kube.get_str(res, "status")
        # Argo CD records hookPhase "Running" even for plain resources; hooks carry hookType.
        if status != "Synced" or phase != "Succeeded" or kube.get_str(res, "hookType"):
            continue
        live = ctx.index.get(r_kind, r_ns, r_name)
        if live is None:
            # Judged when the collector read its kind (its absence then means something), or
            # when Argo CD's own tree says it is Missing.
            if (
                ctx.index.has_kind(r_kind) or _tree_says_missing(ctx, r_kind, r_ns, r_name)
            ) and not _removed_on_purpose(application, ctx, r_kind, r_ns, r_name):
                text, severity = _missing(evidence, ctx, res, revision, shown)
                out.append(finding("controller", "staleness/missing", ref, text, severity))
            continue
        if r_kind not in _POD_OWNERS:
            continue
        result = convergence.assess(live, ctx)
        text = f"{claim} for {shown} at {revision}, but it is not converged: {result.message}"
        if result.state == "failed":
            out.append(finding("controller", "staleness/sync-claims", live, text, "critical"))
        elif result.state in ("in-progress", "stale"):
            out.append(
                not_converged(
                    ctx, "controller", "staleness/sync-claims", live, text, since=result.since
                )
            )
    return out


def _revision(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    application: KubeObject = evidence.get("application") or {}
    result = kube.get_dict(application, "status", "operationState", "syncResult")
    sync = kube.get_dict(application, "status", "sync")
    synced = revision_text(result.get("revision")) or revision_text(result.get("revisions"))
    target = revision_text(sync.get("revision")) or revision_text(sync.get("revisions"))
    if synced and target and synced != target:
        return [
            finding(
                "declared",
                "staleness/revision",
                None,
                f"Application {ctx.app or ''} targets revision {short_revision(target)} but the last "
                f"sync applied {short_revision(synced)}",
                "warning",
            )
        ]
    return []


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    return _generation(ctx) + _sync_claims(evidence, ctx) + _revision(evidence, ctx)
