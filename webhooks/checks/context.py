"""What every check needs besides the Evidence: the clock, the sync time, tunables, the index.

Time never comes from the wall clock: "now" is the Evidence's ``collectedAt`` so that replaying
a saved document months later gives the same verdict.

``changeAt`` (the sync time) is the Application's ``status.operationState.startedAt``, falling
back to ``finishedAt``. The start, not the end, because the sync begins applying objects at once:
a ConfigMap written in the first wave, a pod restarted while later waves apply, a human edit made
during a long sync all happen after the start, and would be missed by measuring from the end.
Grace periods are measured from the same instant, which makes them slightly stricter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webhooks.checks import kube
from webhooks.checks.index import ObjectIndex
from webhooks.common.argocd import sync_revision
from webhooks.common.durations import format_duration, parse_duration
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import (
    Evidence,
    Finding,
    KubeObject,
    Layer,
    ResourceRef,
    Severity,
    Trigger,
)

DEFAULT_GRACE_SECONDS = 300.0
DEFAULT_RESTART_THRESHOLD = 3
#: Argo CD refreshes every application at least every 3 minutes (``timeout.reconciliation``)
#: plus jitter; three missed refreshes mean its controller is not looking.
DEFAULT_CONTROLLER_STALE_SECONDS = 600.0
#: A sync operation Running for an hour is stuck (hooks, retries and waves included).
DEFAULT_OPERATION_STUCK_SECONDS = 3600.0


@dataclass(frozen=True)
class CheckSettings:
    """Tunables read from the TruthCheck ``spec.verdict`` (all optional)."""

    grace_seconds: float = DEFAULT_GRACE_SECONDS
    restart_threshold: int = DEFAULT_RESTART_THRESHOLD
    controller_stale_seconds: float = DEFAULT_CONTROLLER_STALE_SECONDS
    operation_stuck_seconds: float = DEFAULT_OPERATION_STUCK_SECONDS
    max_data_lag_seconds: float | None = None  # None: derived from each series' step

    @classmethod
    def from_truthcheck(cls, truthcheck: KubeObject | None) -> CheckSettings:
        verdict = kube.get_dict(truthcheck, "spec", "verdict")
        grace = verdict.get("convergenceGraceSeconds")
        threshold = verdict.get("restartThreshold")
        stale = _seconds(kube.get(truthcheck, "spec", "audit", "controllerStaleAfter"))
        lag = _seconds(kube.get(truthcheck, "spec", "baseline", "maxDataLag"))
        return cls(
            controller_stale_seconds=stale or DEFAULT_CONTROLLER_STALE_SECONDS,
            max_data_lag_seconds=lag,
            grace_seconds=float(grace)
            if isinstance(grace, int | float) and not isinstance(grace, bool) and grace >= 0
            else DEFAULT_GRACE_SECONDS,
            restart_threshold=threshold
            if isinstance(threshold, int) and not isinstance(threshold, bool) and threshold > 0
            else DEFAULT_RESTART_THRESHOLD,
        )


def _seconds(value: object) -> float | None:
    """A duration field as seconds; None when absent or malformed (the CRD schema, checked
    when the TruthCheck is applied, makes malformed rare; the judge must not crash on it)."""
    try:
        return parse_duration(value).total_seconds() if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class CheckContext:
    trigger: Trigger
    app: str | None
    revision: str | None
    now: datetime | None
    change_at: datetime | None
    settings: CheckSettings
    index: ObjectIndex

    @classmethod
    def from_evidence(cls, evidence: Evidence) -> CheckContext:
        application: dict[str, Any] = evidence.get("application") or {}
        op = kube.get_dict(application, "status", "operationState")
        change_at = try_parse_time(op.get("startedAt")) or try_parse_time(op.get("finishedAt"))
        revision = sync_revision(application)
        return cls(
            trigger="audit" if evidence.get("trigger") == "audit" else "sync",
            app=kube.get_str(application, "metadata", "name"),
            revision=revision,
            now=try_parse_time(evidence.get("collectedAt")),
            change_at=change_at,
            settings=CheckSettings.from_truthcheck(evidence.get("truthCheck")),
            index=ObjectIndex(evidence.get("objects") or [], application or None),
        )

    def elapsed(self) -> float | None:
        """Seconds from the sync to the collection, when both are known."""
        if self.now is None or self.change_at is None:
            return None
        return (self.now - self.change_at).total_seconds()

    def within_grace(self, since: datetime | None = None) -> bool:
        """Still inside the convergence grace period, counted from the sync or, when later,
        from ``since``: when what is not there yet began (pods a scale-up or a new node created
        a minute ago are starting, however old the sync). Unknown timing counts as *outside*:
        without a clock the judge cannot excuse anything as "still converging"."""
        if self.started_recently(since):
            return True
        elapsed = self.elapsed()
        return elapsed is not None and elapsed < self.settings.grace_seconds

    def started_recently(self, since: datetime | None) -> bool:
        """``since`` is after the sync and less than the grace period ago."""
        return (
            since is not None
            and self.now is not None
            and (self.change_at is None or since > self.change_at)
            and (self.now - since).total_seconds() < self.settings.grace_seconds
        )

    def since_change(self, when: datetime | None) -> bool:
        """``when`` is at or after the sync (everything counts when the sync time is unknown)."""
        if when is None:
            return False
        return self.change_at is None or when >= self.change_at

    def after_sync_text(self) -> str:
        elapsed = self.elapsed()
        return (
            f"{format_duration(elapsed, largest=2)} after sync"
            if elapsed is not None
            else "after sync"
        )


class CheckFinding(Finding, total=False):
    """A Finding as checks emit it, plus a mark for the verdict policy.

    ``converging: true`` says "not converged yet, but still within the grace period": the
    default policy turns such findings into Progressing instead of Degraded. The Verdict
    contract has no such field, so the judge drops it from the findings it publishes.
    """

    converging: bool


def finding(
    layer: Layer,
    check: str,
    resource: KubeObject | ResourceRef | None,
    message: str,
    severity: Severity,
    *,
    converging: bool = False,
) -> CheckFinding:
    """Build a finding; ``resource`` is a live object or an already-made reference."""
    ref: ResourceRef | None = None
    if resource is not None:
        ns = resource.get("namespace")
        ref = (
            kube.ref(dict(resource))
            if "metadata" in resource
            else {
                "kind": str(resource.get("kind") or ""),
                "namespace": ns if isinstance(ns, str) else None,
                "name": str(resource.get("name") or ""),
            }
        )
    out: CheckFinding = {
        "layer": layer,
        "check": check,
        "resource": ref,
        "message": message,
        "severity": severity,
    }
    if converging:
        out["converging"] = True
    return out


def not_converged(
    ctx: CheckContext,
    layer: Layer,
    check: str,
    resource: KubeObject,
    message: str,
    *,
    since: datetime | None = None,
) -> CheckFinding:
    """A "not there yet" finding: converging within grace, critical after it. ``since``: when
    the pods still on their way were created, which restarts the grace period for them."""
    if ctx.within_grace(since):
        when = (
            f"started {format_duration((ctx.now - since).total_seconds(), largest=2)} ago"
            if since is not None and ctx.now is not None and ctx.started_recently(since)
            else ctx.after_sync_text()
        )
        return finding(
            layer,
            check,
            resource,
            f"{message} (still converging, {when})",
            "warning",
            converging=True,
        )
    return finding(layer, check, resource, f"{message} ({ctx.after_sync_text()})", "critical")
