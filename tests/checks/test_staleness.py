"""Staleness: controllers that stopped observing, and Argo CD claims the runtime contradicts."""

from __future__ import annotations

import pytest

from tests.checks.helpers import (
    EARLY,
    LATE,
    application,
    evidence,
    intent,
    obj,
    only,
    owned,
    pod,
    run,
)
from webhooks.checks import staleness
from webhooks.checks.context import CheckFinding

HOOK = "argocd.argoproj.io/hook"


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


def test_a_failed_hook_job_the_collector_kept_says_how_its_last_pod_ended() -> None:
    app = application(
        phase="Failed",
        resources=[
            _synced(
                "Job",
                "migrate",
                hookType="PreSync",
                hookPhase="Failed",
                message="Job has reached the specified backoff limit",
            )
        ],
    )
    job = obj("Job", "migrate", api="batch/v1", metadata={"annotations": {HOOK: "PreSync"}})
    term = {"reason": "Error", "exitCode": 2, "finishedAt": EARLY, "message": "relation exists"}
    failed = pod(
        "migrate-x", phase="Failed", statuses=[{"name": "db", "state": {"terminated": term}}]
    )
    [f] = only(
        run(staleness.check, evidence([job, owned(failed, job)], app=app)), "staleness/sync-result"
    )
    assert f["message"] == (
        "Job shop/migrate (PreSync hook) failed: Job has reached the specified backoff limit; "
        "last: migrate-x/db: Error, exit 2: relation exists"
    )


def _refused(refusal: str, tail: str = "") -> list[CheckFinding]:
    """Argo CD's operation after the API server refused Deployment shop/web on apply."""
    app = application(
        phase="Failed",
        resources=[_synced("Deployment", "web", status="SyncFailed", message=refusal)],
    )
    app["status"]["operationState"]["message"] = (
        f"one or more objects failed to apply, reason: {refusal}{tail}"
    )
    return run(staleness.check, evidence([], app=app))


def test_failed_sync_step_comes_before_the_failed_operation_which_names_it() -> None:
    refusal = 'admission webhook "validate.truthgate.dev" denied the request: image not pinned'
    assert [(f["check"], f["severity"], f["message"]) for f in _refused(refusal)] == [
        (
            "staleness/sync-result",
            "critical",
            f"Deployment shop/web failed to apply: {refusal}",
        ),
        (
            "staleness/sync-failed",
            "critical",
            "Argo CD sync of shop-web at abc1234 Failed: one or more objects failed to apply; "
            "failed step: Deployment shop/web",
        ),
    ]


def test_the_failed_operation_keeps_the_retry_count_argo_cd_wrote_after_the_reason() -> None:
    refusal = 'Deployment.apps "web" is invalid: spec.selector: field is immutable'
    assert [f["message"] for f in _refused(refusal, " (retried 5 times).")] == [
        f"Deployment shop/web failed to apply: {refusal}",
        "Argo CD sync of shop-web at abc1234 Failed: one or more objects failed to apply "
        "(retried 5 times); failed step: Deployment shop/web",
    ]


def test_a_failed_operation_with_no_failed_step_quotes_argo_cd_whole() -> None:
    app = application(phase="Error", resources=[])
    app["status"]["operationState"]["message"] = "Operation termination had errors"
    [f] = run(staleness.check, evidence([], app=app))
    assert f["message"] == (
        "Argo CD sync of shop-web at abc1234 Error: Operation termination had errors"
    )


def _tree(name: str, **fields: object) -> dict[str, object]:
    """The app's resource tree entry (``status.resources``) for Deployment shop/``name``."""
    return {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
        "namespace": "shop",
        "name": name,
        **fields,
    }


def _missing(app: dict[str, object], *live: dict[str, object]) -> list[CheckFinding]:
    return only(run(staleness.check, evidence(list(live), app=app)), "staleness/missing")


def test_applied_object_missing_live_is_judged_only_when_its_kind_was_collected() -> None:
    app = application(resources=[_synced("Deployment", "web"), _synced("DaemonSet", "agent")])
    other = obj("Deployment", "api", api="apps/v1")
    missing = _missing(app, other)
    assert [f["resource"]["name"] for f in missing if f["resource"]] == ["web"]


def test_a_workload_deleted_out_of_band_after_a_successful_sync_is_critical() -> None:
    app = application(resources=[_synced("Deployment", "web")], revision="8f3c2a1b9d")
    [f] = _missing(app, obj("Deployment", "api", api="apps/v1"))
    assert f["severity"] == "critical"
    assert f["layer"] == "controller"
    assert f["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    assert f["message"] == (
        "Deployment shop/web: applied at 8f3c2a1 by a sync Argo CD reports Succeeded, but not "
        "found live: deleted out of band (or by a controller); Argo CD will show it "
        "OutOfSync/Missing"
    )


@pytest.mark.parametrize(
    ("group", "kind"),
    [
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("", "Service"),
        ("networking.k8s.io", "Ingress"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "PersistentVolumeClaim"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("batch", "CronJob"),
        ("", "ServiceAccount"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("cert-manager.io", "Certificate"),
        ("kafka.strimzi.io", "KafkaTopic"),
    ],
)
def test_what_is_meant_to_stay_and_serve_is_critical_when_missing(group: str, kind: str) -> None:
    app = application(resources=[_synced(kind, "gone", group=group)])
    [f] = _missing(app, obj(kind, "other", api=f"{group}/v1" if group else "v1"))
    assert f["severity"] == "critical", kind


@pytest.mark.parametrize(
    ("group", "kind"),
    [("batch", "Job"), ("", "Pod"), ("", "Event"), ("policy", "PodDisruptionBudget")],
)
def test_kinds_that_go_away_on_their_own_or_serve_nothing_stay_a_warning(
    group: str, kind: str
) -> None:
    app = application(resources=[_synced(kind, "gone", group=group)])
    [f] = _missing(app, obj(kind, "other", api=f"{group}/v1" if group else "v1"))
    assert f["severity"] == "warning", kind
    assert {
        "Job": "a finished Job is deleted by its ttlSecondsAfterFinished",
        "PodDisruptionBudget": "nothing is down for it, but a node drain may now evict every pod",
    }.get(kind, f"a {kind} can also go away on its own") in f["message"]


def test_hooks_are_never_reported_missing() -> None:
    hook = _synced("Job", "migrate", group="batch", hookType="PreSync", hookPhase="Succeeded")
    assert _missing(application(resources=[hook]), obj("Job", "other", api="batch/v1")) == []


def test_an_object_the_same_operation_pruned_is_not_missing() -> None:
    app = application(
        resources=[
            _synced("Deployment", "web"),
            _synced("Deployment", "web", status="Pruned", message="pruned", syncPhase="Sync"),
        ]
    )
    assert _missing(app, obj("Deployment", "api", api="apps/v1")) == []


def test_an_object_argo_cd_no_longer_lists_in_its_tree_was_removed_on_purpose() -> None:
    app = application(resources=[_synced("Deployment", "web")])
    app["status"]["resources"] = [_tree("api", status="Synced", health={"status": "Healthy"})]
    assert _missing(app, obj("Deployment", "api", api="apps/v1")) == []


def test_an_object_argo_cd_marks_requires_pruning_was_removed_on_purpose() -> None:
    app = application(resources=[_synced("Deployment", "web")])
    app["status"]["resources"] = [_tree("web", status="OutOfSync", requiresPruning=True)]
    assert _missing(app, obj("Deployment", "api", api="apps/v1")) == []


def test_the_tree_already_showing_it_missing_is_quoted() -> None:
    app = application(resources=[_synced("Deployment", "web")])
    app["status"]["resources"] = [_tree("web", status="OutOfSync", health={"status": "Missing"})]
    [f] = _missing(app, obj("Deployment", "api", api="apps/v1"))
    assert f["severity"] == "critical"
    assert f["message"].endswith("Argo CD shows it OutOfSync/Missing")


def test_nothing_is_missing_while_the_sync_has_not_succeeded() -> None:
    app = application(resources=[_synced("Deployment", "web")], phase="Running")
    assert _missing(app, obj("Deployment", "api", api="apps/v1")) == []


def test_app_targeting_a_newer_revision_than_synced_is_reported() -> None:
    app = application()
    app["status"]["sync"]["revision"] = "fff0000aaa"
    [f] = run(staleness.check, evidence([], app=app))
    assert f["check"] == "staleness/revision" and "fff0000" in f["message"]


def test_the_last_object_of_its_kind_deleted_is_judged_on_argo_cds_word() -> None:
    # The app's only Deployment is gone: no Deployment is left in the Evidence to show that the
    # collector read the kind, but Argo CD's tree reports it Missing.
    app = application(resources=[_synced("Deployment", "web")])
    app["status"]["resources"] = [_tree("web", status="OutOfSync", health={"status": "Missing"})]
    [f] = _missing(app)
    assert f["severity"] == "critical" and "Argo CD shows it OutOfSync/Missing" in f["message"]
    app["status"]["resources"][0]["health"] = {"status": "Healthy"}  # collector scope, not absence
    assert _missing(app) == []


def _delete(user: str, actor_class: str, when: str) -> dict[str, object]:
    return intent(
        "Deployment", "web", when=when, operation="DELETE", user=user, actor_class=actor_class
    )


def test_the_ledger_names_who_deleted_it_and_when() -> None:
    app = application(resources=[_synced("Deployment", "web")])
    ev = evidence(
        [obj("Deployment", "api", api="apps/v1")],
        app=app,
        intents=[
            _delete("bob@example.com", "human", "2026-11-27T09:00:00Z"),  # before the sync
            _delete("alice@example.com", "human", "2026-11-27T10:12:00Z"),
        ],
    )
    [f] = only(run(staleness.check, ev), "staleness/missing")
    assert (
        "not found live: deleted out of band by alice@example.com at 2026-11-27T10:12:00Z;"
        in (f["message"])
    )


def test_a_delete_by_a_controller_is_named_as_such() -> None:
    app = application(resources=[_synced("Deployment", "web")])
    gc = "system:serviceaccount:kube-system:generic-garbage-collector"
    ev = evidence(
        [obj("Deployment", "api", api="apps/v1")],
        app=app,
        intents=[_delete(gc, "controller", "2026-11-27T10:12:00Z")],
    )
    [f] = only(run(staleness.check, ev), "staleness/missing")
    assert f"deleted by a controller ({gc}) at 2026-11-27T10:12:00Z" in f["message"]
