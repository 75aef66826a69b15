"""Convergence: at least as strict as kstatus and Argo CD's health, stricter where they wait."""

from __future__ import annotations

from tests.checks.helpers import AFTER, EARLY, LATE, evidence, obj, owned, pod, run
from webhooks.checks import convergence


def _deployment(**status: object) -> dict[str, object]:
    base: dict[str, object] = {
        "observedGeneration": 2,
        "replicas": 5,
        "updatedReplicas": 5,
        "readyReplicas": 5,
        "availableReplicas": 5,
    }
    base.update(status)
    return obj(
        "Deployment",
        "web",
        api="apps/v1",
        metadata={"generation": 2},
        spec={"replicas": 5, "progressDeadlineSeconds": 600},
        status=base,
    )


def test_converged_deployment_has_no_finding() -> None:
    assert run(convergence.check, evidence([_deployment()])) == []


def test_progress_deadline_exceeded_is_critical_at_once() -> None:
    dep = _deployment(
        updatedReplicas=3,
        availableReplicas=3,
        conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        ],
    )
    [f] = run(convergence.check, evidence([dep], now=EARLY))
    assert f["severity"] == "critical"
    assert f["resource"] == {"kind": "Deployment", "namespace": "shop", "name": "web"}
    assert "progress deadline (600s)" in f["message"]
    assert "3 of 5 available" in f["message"]


def test_a_progress_deadline_says_when_and_why_the_new_pods_are_not_ready() -> None:
    dep = _deployment(updatedReplicas=1, availableReplicas=5)
    dep["status"]["conditions"] = [  # type: ignore[index]
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "lastTransitionTime": AFTER,
        }
    ]
    rs = owned(obj("ReplicaSet", "web-new", api="apps/v1"), dep)
    stuck = owned(pod("web-new-a", ready=False), rs)
    probe = 'Readiness probe failed: Get "http://10.0.0.7:8080/ready": connection refused'
    unhealthy = obj(
        "Event",
        "web-new-a.1",
        api="events.k8s.io/v1",
        regarding={"kind": "Pod", "namespace": "shop", "name": "web-new-a"},
        reason="Unhealthy",
        note=probe,
        type="Warning",
        eventTime=AFTER,
    )
    [f] = run(convergence.check, evidence([dep, rs, stuck, unhealthy]))
    assert f["message"] == (
        f"Deployment shop/web: rollout exceeded its progress deadline (600s) at {AFTER}, "
        f"5 of 5 available: 1 not ready (web-new-a): {probe}"
    )


def test_rollout_in_progress_is_converging_within_grace_and_critical_after() -> None:
    dep = _deployment(updatedReplicas=3, availableReplicas=3)
    [early] = run(convergence.check, evidence([dep], now=EARLY))
    assert early["severity"] == "warning" and early.get("converging") is True
    assert "3 of 5 pods updated" in early["message"]
    [late] = run(convergence.check, evidence([dep], now=LATE))
    assert late["severity"] == "critical" and "converging" not in late
    assert "30m after sync" in late["message"]


def test_new_pods_in_image_pull_backoff_fail_the_deployment_without_waiting() -> None:
    dep = _deployment(updatedReplicas=5, availableReplicas=3)
    dep["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "4"}  # type: ignore[index]
    rs = owned(
        obj(
            "ReplicaSet",
            "web-abc",
            api="apps/v1",
            metadata={"annotations": {"deployment.kubernetes.io/revision": "4"}},
        ),
        dep,
    )
    bad = owned(
        pod(
            "web-abc-1",
            ready=False,
            statuses=[
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": 'Back-off pulling image "registry.example.com/web:1.5.1"',
                        }
                    },
                }
            ],
        ),
        rs,
    )
    [f] = run(convergence.check, evidence([dep, rs, bad], now=EARLY))
    assert f["severity"] == "critical"
    assert (
        '1 ImagePullBackOff (web-abc-1): Back-off pulling image "registry.example.com/web:1.5.1"'
        in f["message"]
    )
    # The back-off only names the image; the kubelet's pull error says why.
    image = "registry.example.com/web:1.5.1"
    failed = obj(
        "Event",
        "web-abc-1.2",
        involvedObject={"kind": "Pod", "namespace": "shop", "name": "web-abc-1"},
        reason="Failed",
        type="Warning",
        lastTimestamp=EARLY,
        message=f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to '
        f'pull and unpack image "{image}": failed to resolve reference "{image}": {image}: '
        "not found",
    )
    [f] = run(convergence.check, evidence([dep, rs, bad, failed], now=EARLY))
    assert (
        f'1 ImagePullBackOff (web-abc-1): Failed to pull image "{image}": not found'
        in (f["message"])
    )


def test_crash_looping_statefulset_is_critical_where_argo_cd_says_progressing() -> None:
    sts = obj(
        "StatefulSet",
        "cache",
        api="apps/v1",
        metadata={"generation": 1},
        spec={"replicas": 3},
        status={"observedGeneration": 1, "replicas": 3, "readyReplicas": 2, "updatedReplicas": 3},
    )
    crashing = owned(
        pod(
            "cache-2",
            ready=False,
            statuses=[
                {
                    "name": "redis",
                    "restartCount": 7,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        ),
        sts,
    )
    [f] = run(convergence.check, evidence([sts, crashing], now=EARLY))
    assert f["severity"] == "critical"
    assert f["message"] == (
        "StatefulSet shop/cache: 2 of 3 replicas ready: 1 CrashLoopBackOff (cache-2)"
    )


def test_unschedulable_statefulset_pod_is_named_with_the_scheduler_message() -> None:
    sts = obj(
        "StatefulSet",
        "cache",
        api="apps/v1",
        spec={"replicas": 3},
        status={"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3},
    )
    pending = owned(pod("cache-2", phase="Pending", ready=False, statuses=[]), sts)
    pending["status"]["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available",
        }
    ]
    [f] = run(convergence.check, evidence([sts, pending], now=LATE))
    assert f["severity"] == "critical"
    assert "1 Unschedulable (cache-2)" in f["message"]


def test_ondelete_statefulset_on_old_revision_is_a_warning_argo_cd_calls_healthy() -> None:
    sts = obj(
        "StatefulSet",
        "cache",
        api="apps/v1",
        spec={"replicas": 3, "updateStrategy": {"type": "OnDelete"}},
        status={"replicas": 3, "readyReplicas": 3, "updatedReplicas": 1},
    )
    [f] = run(convergence.check, evidence([sts]))
    assert f["severity"] == "warning" and "converging" not in f
    assert "2 of 3 pods still on the old revision" in f["message"]


def test_partitioned_statefulset_is_converged_when_the_partition_is_updated() -> None:
    sts = obj(
        "StatefulSet",
        "cache",
        api="apps/v1",
        spec={
            "replicas": 3,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        },
        status={
            "replicas": 3,
            "readyReplicas": 3,
            "updatedReplicas": 1,
            "currentRevision": "a",
            "updateRevision": "b",
        },
    )
    assert run(convergence.check, evidence([sts])) == []


def test_daemonset_with_unavailable_pods_is_reported_with_numbers() -> None:
    ds = obj(
        "DaemonSet",
        "agent",
        api="apps/v1",
        status={
            "desiredNumberScheduled": 6,
            "currentNumberScheduled": 6,
            "updatedNumberScheduled": 6,
            "numberAvailable": 4,
            "numberUnavailable": 2,
            "numberReady": 4,
        },
    )
    [f] = run(convergence.check, evidence([ds], now=LATE))
    assert f["severity"] == "critical"
    assert "DaemonSet shop/agent: 2 of 6 pods unavailable" in f["message"]


def test_failed_job_reports_backoff_limit() -> None:
    job = obj(
        "Job",
        "migrate",
        api="batch/v1",
        spec={"backoffLimit": 4},
        status={
            "failed": 5,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        },
    )
    [f] = run(convergence.check, evidence([job], now=EARLY))
    assert f["severity"] == "critical"
    assert "BackoffLimitExceeded" in f["message"] and "backoffLimit 4" in f["message"]
    # How its last pod ended says why.
    objs = [job, *(_failed_pod(job, n, at) for n, at in (("a", EARLY), ("b", AFTER)))]
    [f] = run(convergence.check, evidence(objs, now=LATE))
    assert f["message"].endswith(
        "(5 failed pods, backoffLimit 4); last: migrate-b/migrate: Error, exit 1: "
        'column "ref" already exists'
    )


def _failed_pod(job: dict[str, object], suffix: str, at: str) -> dict[str, object]:
    terminated = {"reason": "Error", "exitCode": 1, "finishedAt": at}
    terminated["message"] = 'column "ref" already exists\n'
    status = {"name": "migrate", "restartCount": 0, "state": {"terminated": terminated}}
    return owned(pod(f"migrate-{suffix}", phase="Failed", ready=False, statuses=[status]), job)


def test_complete_job_and_bound_claim_are_converged() -> None:
    job = obj(
        "Job",
        "migrate",
        api="batch/v1",
        status={"conditions": [{"type": "Complete", "status": "True"}]},
    )
    pvc = obj("PersistentVolumeClaim", "data", status={"phase": "Bound"})
    assert run(convergence.check, evidence([job, pvc])) == []


def test_lost_claim_fails_and_pending_claim_waits() -> None:
    lost = obj("PersistentVolumeClaim", "data", status={"phase": "Lost"})
    pending = obj("PersistentVolumeClaim", "cache", status={"phase": "Pending"})
    findings = run(convergence.check, evidence([lost, pending], now=EARLY))
    by_name = {f["resource"]["name"]: f for f in findings if f["resource"]}
    assert by_name["data"]["severity"] == "critical"
    assert by_name["cache"].get("converging") is True


def test_a_claim_waiting_for_its_first_consumer_is_waiting_by_design() -> None:
    claim = obj("PersistentVolumeClaim", "dumps", status={"phase": "Pending"})

    def event(reason: str, at: str) -> dict[str, object]:
        about = {"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "dumps"}
        return obj(
            "Event", f"dumps.{reason}", reason=reason, involvedObject=about, lastTimestamp=at
        )

    waiting = event("WaitForFirstConsumer", LATE)
    assert run(convergence.check, evidence([claim, waiting])) == []
    failing = event("ProvisioningFailed", LATE)
    waiting["lastTimestamp"] = EARLY
    failing["type"] = "Warning"
    failing["message"] = 'storageclass.storage.k8s.io "fast-ssd" not found'
    [f] = run(convergence.check, evidence([claim, waiting, failing]))
    assert f["severity"] == "critical"
    # The provisioner's latest warning says why it is not bound.
    assert f["message"] == (
        "PersistentVolumeClaim shop/dumps: claim Pending, not bound: ProvisioningFailed: "
        'storageclass.storage.k8s.io "fast-ssd" not found (30m after sync)'
    )


def test_standalone_pod_in_crash_loop_is_critical() -> None:
    p = pod(
        "debug",
        ready=False,
        statuses=[
            {
                "name": "app",
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            }
        ],
    )
    [f] = run(convergence.check, evidence([p], now=EARLY))
    assert f["message"] == "Pod shop/debug: CrashLoopBackOff (container app): back-off 40s"


def test_load_balancer_without_ingress_waits_then_fails() -> None:
    svc = obj("Service", "web", spec={"type": "LoadBalancer"}, status={"loadBalancer": {}})
    [f] = run(convergence.check, evidence([svc], now=LATE))
    assert f["severity"] == "critical" and "no load balancer ingress" in f["message"]
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
    assert run(convergence.check, evidence([svc])) == []


def test_hpa_that_cannot_read_metrics_is_critical() -> None:
    hpa = obj(
        "HorizontalPodAutoscaler",
        "web",
        api="autoscaling/v2",
        status={
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "False",
                    "reason": "FailedGetResourceMetric",
                    "message": "unable to get metrics for resource cpu",
                }
            ]
        },
    )
    [f] = run(convergence.check, evidence([hpa]))
    assert f["severity"] == "critical" and "FailedGetResourceMetric" in f["message"]


def test_stalled_custom_resource_fails_kstatus_style() -> None:
    cr = obj(
        "Certificate",
        "web-tls",
        api="cert-manager.io/v1",
        status={
            "conditions": [{"type": "Stalled", "status": "True", "message": "issuer not found"}]
        },
    )
    [f] = run(convergence.check, evidence([cr]))
    assert f["severity"] == "critical" and "issuer not found" in f["message"]


def test_objects_without_status_or_with_wrong_types_do_not_crash() -> None:
    weird = [
        obj("Deployment", "a", api="apps/v1"),
        obj("StatefulSet", "b", api="apps/v1", spec="nonsense", status=[]),
        obj("DaemonSet", "c", api="apps/v1", status={"numberUnavailable": "two"}),
        obj("Pod", "d", status={"containerStatuses": "x", "conditions": [None, 3]}),
        obj("Job", "e", api="batch/v1", status=None),
        obj("HorizontalPodAutoscaler", "f", status={"conditions": {"type": "x"}}),
        {"kind": "Service"},
    ]
    findings = run(convergence.check, evidence(weird, now=EARLY))
    assert all(f["message"] for f in findings)


def test_generation_not_observed_is_left_to_the_staleness_check() -> None:
    dep = _deployment(observedGeneration=1, updatedReplicas=0)
    assert run(convergence.check, evidence([dep])) == []


def test_evicted_pods_left_behind_do_not_fail_a_complete_rollout() -> None:
    sts = obj(
        "StatefulSet",
        "cache",
        api="apps/v1",
        spec={"replicas": 1},
        status={"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1},
    )
    evicted = owned(pod("cache-0-old", phase="Failed", ready=False, statuses=[]), sts)
    evicted["status"]["reason"] = "Evicted"
    assert run(convergence.check, evidence([sts, evicted, owned(pod("cache-0"), sts)])) == []


def test_deployment_reporting_available_false_is_not_converged() -> None:
    dep = _deployment(
        conditions=[
            {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            }
        ]
    )
    [f] = run(convergence.check, evidence([dep], now=LATE))
    assert "Available=False: Deployment does not have minimum availability." in f["message"]


def _run(cron: dict[str, object], name: str, state: str, at: str) -> dict[str, object]:
    cond = {
        "type": state,
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "lastTransitionTime": at,
    }
    status: dict[str, object] = {"startTime": at, "conditions": [cond]} if state else {"active": 1}
    return owned(obj("Job", name, api="batch/v1", spec={"backoffLimit": 2}, status=status), cron)


def test_a_cronjob_failure_a_later_run_made_good_is_history() -> None:
    cron = obj("CronJob", "rollup", api="batch/v1", spec={"schedule": "*/15 * * * *"})
    failed = _run(cron, "rollup-1", "Failed", "2026-11-24T02:00:00Z")
    good = _run(cron, "rollup-2", "Complete", "2026-11-27T09:45:00Z")
    assert run(convergence.check, evidence([cron, failed, good])) == []
    [f] = run(convergence.check, evidence([cron, failed]))  # nothing succeeded since
    assert f["severity"] == "critical"
    assert (
        "Job shop/rollup-1: failed (a run of CronJob rollup), BackoffLimitExceeded"
        in (f["message"])
    )


def test_a_cronjob_run_in_progress_is_not_an_unfinished_sync() -> None:
    cron = obj("CronJob", "rollup", api="batch/v1", spec={"schedule": "*/15 * * * *"})
    running = _run(cron, "rollup-3", "", LATE)
    assert (
        run(convergence.check, evidence([cron, running, owned(pod("rollup-3-x"), running)])) == []
    )
    crashing = pod(
        "rollup-3-y",
        ready=False,
        statuses=[
            {"name": "app", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
        ],
    )
    [f] = run(convergence.check, evidence([cron, running, owned(crashing, running)]))
    assert (
        f["severity"] == "critical"
        and "running (a run of CronJob rollup): 1 CrashLoopBackOff" in (f["message"])
    )


def test_a_daemonset_pod_on_a_node_added_a_minute_ago_is_starting_not_failing() -> None:
    ds = obj(
        "DaemonSet",
        "agent",
        api="apps/v1",
        status={"desiredNumberScheduled": 4, "numberAvailable": 3, "numberUnavailable": 1},
    )
    starting = owned(
        pod("agent-d", phase="Pending", ready=False, statuses=[], start="2026-11-27T10:29:10Z"),
        ds,
    )
    [f] = run(convergence.check, evidence([ds, starting], now=LATE))
    assert f["severity"] == "warning" and f.get("converging") is True
    starting["status"]["startTime"] = AFTER  # pending since 10:05, 25 minutes: stuck
    [f] = run(convergence.check, evidence([ds, starting], now=LATE))
    assert f["severity"] == "critical"
