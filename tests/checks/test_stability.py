"""Stability: restarts, crash loops and OOM kills since the sync."""

from __future__ import annotations

from typing import Any

from tests.checks.helpers import BEFORE, evidence, obj, owned, pod, run
from webhooks.checks import stability


def _status(
    restarts: int,
    *,
    reason: str = "Error",
    finished: str = "2026-11-27T10:06:00Z",
    waiting: str | None = None,
) -> dict[str, Any]:
    return {
        "name": "app",
        "restartCount": restarts,
        "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}},
        "lastState": {
            "terminated": {
                "reason": reason,
                "exitCode": 137 if reason == "OOMKilled" else 1,
                "finishedAt": finished,
            }
        },
    }


def _pods(*statuses: dict[str, Any], start: str = "2026-11-27T10:01:00Z") -> list[dict[str, Any]]:
    dep = obj("Deployment", "web", api="apps/v1")
    rs = owned(obj("ReplicaSet", "web-1", api="apps/v1"), dep)
    spec = {
        "containers": [{"name": "app", "image": "x", "resources": {"limits": {"memory": "256Mi"}}}]
    }
    return [
        dep,
        rs,
        *[
            owned(pod(f"web-1-{i}", statuses=[s], start=start, spec=spec), rs)
            for i, s in enumerate(statuses)
        ],
    ]


def test_restarts_since_sync_at_the_threshold_are_critical() -> None:
    [f] = run(stability.check, evidence(_pods(_status(2), _status(1))))
    assert f["check"] == "stability/restarts" and f["severity"] == "critical"
    assert f["message"] == (
        "Deployment shop/web: 3 container restarts since sync in 2 pods (last: Error, exit 1)"
    )


def test_few_restarts_are_a_warning_and_the_threshold_is_tunable() -> None:
    [f] = run(stability.check, evidence(_pods(_status(1))))
    assert f["severity"] == "warning"
    tc = {"spec": {"verdict": {"restartThreshold": 1}}}
    [g] = run(stability.check, evidence(_pods(_status(1)), truthCheck=tc))
    assert g["severity"] == "critical"


def test_restarts_before_the_sync_do_not_count() -> None:
    assert run(stability.check, evidence(_pods(_status(9, finished=BEFORE)))) == []


def test_old_pod_with_a_recent_restart_counts_at_least_one() -> None:
    [f] = run(stability.check, evidence(_pods(_status(9), start=BEFORE)))
    assert f["message"].startswith("Deployment shop/web: 1 container restarts since sync")


def test_oomkilled_since_sync_names_the_memory_limit() -> None:
    [f] = run(stability.check, evidence(_pods(_status(1, reason="OOMKilled"))))
    assert f["check"] == "stability/oomkilled" and f["severity"] == "critical"
    assert "web-1-0/app at 2026-11-27T10:06:00Z (memory limit 256Mi)" in f["message"]


def test_crashloop_is_reported_once_not_also_as_restarts() -> None:
    [f] = run(stability.check, evidence(_pods(_status(5, waiting="CrashLoopBackOff"))))
    assert f["check"] == "stability/crashloop"
    assert "web-1-0/app (5 restarts, last Error, exit 1)" in f["message"]


def test_a_crash_loop_of_oom_kills_names_the_memory_limit() -> None:
    looping = _status(4, reason="OOMKilled", waiting="CrashLoopBackOff")
    [f] = run(stability.check, evidence(_pods(looping)))
    assert "web-1-0/app (4 restarts, last OOMKilled, exit 137, memory limit 256Mi)" in f["message"]


def test_a_pod_that_ran_to_completion_after_retries_is_not_unstable() -> None:
    dep, rs, retried = _pods(_status(3))
    retried["status"]["phase"] = "Succeeded"
    assert run(stability.check, evidence([dep, rs, retried])) == []


def test_a_crash_looping_init_container_is_named_as_one_with_its_last_words() -> None:
    init = _status(4, waiting="CrashLoopBackOff")
    init["name"] = "wait-for-schema"
    init["lastState"]["terminated"]["message"] = "schema version 41, this build needs 42\n"
    objs = _pods(_status(0))
    objs[2]["status"]["initContainerStatuses"] = [init]
    [f] = run(stability.check, evidence(objs))
    assert f["check"] == "stability/crashloop"
    assert f["message"] == (
        "Deployment shop/web: CrashLoopBackOff in init container web-1-0/wait-for-schema "
        "(4 restarts, last Error, exit 1: schema version 41, this build needs 42)"
    )
