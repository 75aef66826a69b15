"""Do the app's containers stay up since the sync?

A pod can pass readiness between crashes, so replica counts and Argo CD's health look fine
while containers restart every few minutes. Findings, per workload:

* ``stability/crashloop`` — a container waiting in CrashLoopBackOff (critical), named as an init
  container when it is one (the pod never starts), with its termination message;
* ``stability/oomkilled`` — a container OOMKilled after the sync, with its memory limit
  (critical);
* ``stability/restarts`` — restarts after the sync, other than the two above: critical from
  ``spec.verdict.restartThreshold`` restarts per workload (default 3), a warning below;
* ``stability/evicted`` — pods evicted or preempted since the sync (``evictions``): a warning,
  critical when evictions repeat and the workload is short of available replicas now.

A pod that ran to completion (a Job's, ``restartPolicy: OnFailure``) is not counted: its retries
ended well. Restarts "since the sync" are counted from the kubelet's ``restartCount`` and the last
termination time: a pod created after the sync counts all its restarts; an older pod whose last
termination is after the sync counts as at least one (its earlier restarts cannot be dated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webhooks.checks import evictions, kube, pods
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.text import clip
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, KubeObject


@dataclass
class _Tally:
    owner: KubeObject
    crashloop: list[str] = field(default_factory=list)  # "pod/container (N restarts, why)"
    oom: list[str] = field(default_factory=list)
    oom_limits: set[str] = field(default_factory=set)
    restarts: int = 0
    restarted: list[str] = field(default_factory=list)
    last_reasons: set[str] = field(default_factory=set)


def _limit(pod: KubeObject, container: str) -> str | None:
    spec = kube.get_dict(pod, "spec")
    for c in [*kube.dicts(spec, "initContainers"), *kube.dicts(spec, "containers")]:
        if c.get("name") == container:
            return kube.get_str(c, "resources", "limits", "memory")
    return None


def _observe(tally: _Tally, pod: KubeObject, ctx: CheckContext) -> None:
    pod_new = ctx.since_change(try_parse_time(kube.get(pod, "status", "startTime")))
    init = {kube.get_str(s, "name") for s in kube.dicts(pod, "status", "initContainerStatuses")}
    for status in pods.container_statuses(pod):
        cname = kube.get_str(status, "name") or "?"
        count = kube.get_int(status, "restartCount", default=0) or 0
        last = kube.get_dict(status, "lastState", "terminated")
        now_term = kube.get_dict(status, "state", "terminated")
        where = f"{kube.name(pod)}/{cname}"
        if kube.get_str(status, "state", "waiting", "reason") == "CrashLoopBackOff":
            why = f", last {pods.termination_text(last)}" if last else ""
            if last.get("reason") == "OOMKilled" and (limit := _limit(pod, cname)):
                why += f", memory limit {limit}"
            # The container's own last words (its termination message) say why it exits.
            if said := kube.get_str(last, "message"):
                why += f": {clip(said, 100, one_line=True)}"
            # An init container that never completes keeps the pod from starting at all.
            what = f"init container {where}" if cname in init else where
            tally.crashloop.append(f"{what} ({count} restarts{why})")
            continue
        oom_times = [
            when
            for t in (last, now_term)
            if t.get("reason") == "OOMKilled"
            and (when := try_parse_time(t.get("finishedAt"))) is not None
            and ctx.since_change(when)
        ]
        if oom_times:
            at = kube.fmt_time(max(oom_times))
            tally.oom.append(f"{where} at {at}")
            if limit := _limit(pod, cname):
                tally.oom_limits.add(limit)
            continue
        if count and last and ctx.since_change(try_parse_time(last.get("finishedAt"))):
            tally.restarts += count if pod_new else 1
            tally.restarted.append(kube.name(pod))
            tally.last_reasons.add(pods.termination_text(last))


def _listed(items: list[str], limit: int = 2) -> str:
    shown = ", ".join(sorted(items)[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    tallies: dict[tuple[str, str | None, str], _Tally] = {}
    for pod in ctx.index.members("Pod"):
        if pods.is_terminating(pod) or kube.get_str(pod, "status", "phase") == "Succeeded":
            continue  # a pod that ran to completion: its retries (OnFailure) ended well
        owner = ctx.index.top_owner(pod)
        okey = (kube.kind(owner), kube.namespace(owner), kube.name(owner))
        _observe(tallies.setdefault(okey, _Tally(owner)), pod, ctx)
    out: list[CheckFinding] = []
    threshold = ctx.settings.restart_threshold
    for t in sorted(tallies.values(), key=lambda t: kube.display(t.owner)):
        shown = kube.display(t.owner)
        if t.crashloop:
            out.append(
                finding(
                    "runtime",
                    "stability/crashloop",
                    t.owner,
                    f"{shown}: CrashLoopBackOff in {_listed(t.crashloop)}",
                    "critical",
                )
            )
        if t.oom:
            limits = f" (memory limit {', '.join(sorted(t.oom_limits))})" if t.oom_limits else ""
            out.append(
                finding(
                    "runtime",
                    "stability/oomkilled",
                    t.owner,
                    f"{shown}: OOMKilled since sync: {_listed(t.oom)}{limits}",
                    "critical",
                )
            )
        if t.restarts:
            pods_text = len(set(t.restarted))
            out.append(
                finding(
                    "runtime",
                    "stability/restarts",
                    t.owner,
                    f"{shown}: {t.restarts} container restarts since sync in {pods_text} pods "
                    f"(last: {'; '.join(sorted(t.last_reasons))})",
                    "critical" if t.restarts >= threshold else "warning",
                )
            )
    return out + evictions.findings(ctx)
