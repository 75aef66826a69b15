"""Staleness: controllers that stopped observing, and Argo CD claims the runtime contradicts."""

from __future__ import annotations

from tests.checks.helpers import EARLY, LATE, application, evidence, obj, run
from webhooks.checks import staleness


def _synced(kind: str, name: str, **extra: object) -> dict[str, object]:
    return {
        "group": "apps",
        "version": "v1",
        "kind": kind,
        "namespace": "shop",
        "name": name,
        "status": "Synced",
        "hookPhase": "Running",
        "syncPhase": "Sync",
        **extra,
    }


def _sts(ready: int, generation: int = 1, observed: int = 1) -> dict[str, object]:
    return obj(
        "StatefulSet",
        "cache",
        api="apps/v1",
        metadata={"generation": generation},
        spec={"replicas": 3},
        status={
            "observedGeneration": observed,
            "replicas": 3,
            "readyReplicas": ready,
            "updatedReplicas": 3,
        },
    )


def test_generation_behind_long_after_sync_is_critical() -> None:
    findings = run(staleness.check, evidence([_sts(3, generation=5, observed=4)], now=LATE))
    [f] = [f for f in findings if f["check"] == "staleness/generation"]
    assert f["severity"] == "critical"
    assert f["message"].startswith(
        "StatefulSet shop/cache: controller has not observed generation 5 (observedGeneration 4)"
    )


def test_generation_behind_within_grace_is_converging() -> None:
    findings = run(staleness.check, evidence([_sts(3, generation=5, observed=4)], now=EARLY))
    gen = [f for f in findings if f["check"] == "staleness/generation"]
    assert gen and gen[0].get("converging") is True


def test_workload_without_observed_generation_counts_as_never_observed() -> None:
    dep = obj("Deployment", "web", api="apps/v1", metadata={"generation": 1})
    findings = run(staleness.check, evidence([dep]))
    assert any("observedGeneration 0" in f["message"] for f in findings)


def test_sync_succeeded_but_applied_workload_not_converged() -> None:
    app = application(resources=[_synced("StatefulSet", "cache")])
    findings = run(staleness.check, evidence([_sts(ready=1)], app=app, now=LATE))
    [f] = [f for f in findings if f["check"] == "staleness/sync-claims"]
    assert f["severity"] == "critical"
    assert f["message"].startswith(
        "Argo CD reports Healthy, sync Succeeded for StatefulSet shop/cache at abc1234, but it "
        "is not converged: 1 of 3 replicas ready"
    )


def test_converged_workload_matches_the_claim() -> None:
    app = application(resources=[_synced("StatefulSet", "cache")])
    assert run(staleness.check, evidence([_sts(ready=3)], app=app)) == []


def test_hooks_are_not_judged_as_applied_workloads() -> None:
    app = application(resources=[_synced("Job", "smoke", hookType="PostSync")])
    job = obj("Job", "smoke", api="batch/v1", status={"active": 1})
    assert run(staleness.check, evidence([job], app=app)) == []


def test_failed_sync_step_and_failed_operation_are_critical() -> None:
    app = application(
        phase="Failed",
        resources=[
            _synced(
                "Deployment",
                "web",
                status="SyncFailed",
                message='admission webhook "validate.truthgate.dev" denied the request',
            )
        ],
    )
    app["status"]["operationState"]["message"] = "one or more objects failed to apply"
    findings = run(staleness.check, evidence([], app=app))
    checks = {f["check"]: f for f in findings}
    assert "denied the request" in checks["staleness/sync-result"]["message"]
    assert checks["staleness/sync-failed"]["message"] == (
        "Argo CD sync of shop-web at abc1234 Failed: one or more objects failed to apply"
    )


def test_applied_object_missing_live_is_a_warning_only_when_its_kind_was_collected() -> None:
    app = application(resources=[_synced("Deployment", "web"), _synced("DaemonSet", "agent")])
    other = obj("Deployment", "api", api="apps/v1")
    findings = run(staleness.check, evidence([other], app=app))
    missing = [f for f in findings if f["check"] == "staleness/missing"]
    assert [f["resource"]["name"] for f in missing if f["resource"]] == ["web"]
    assert missing[0]["severity"] == "warning"


def test_app_targeting_a_newer_revision_than_synced_is_reported() -> None:
    app = application()
    app["status"]["sync"]["revision"] = "fff0000aaa"
    [f] = run(staleness.check, evidence([], app=app))
    assert f["check"] == "staleness/revision" and "fff0000" in f["message"]
