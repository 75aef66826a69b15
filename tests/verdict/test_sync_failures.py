"""A failed Argo CD sync, as `truthgate replay` tells it: the step that failed leads the summary
(the hook and how its last pod ended, the object the API server refused), Argo CD's generic
"sync Failed" line follows it naming that step; truthgate's own hook Jobs are never the cause.

The documents are the sync-failure stories of the scenario table (test_scenarios.py); the
variants here change one thing each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.verdict.test_replay import replay
from tests.verdict.test_scenarios import SCENARIOS
from webhooks.verdict.judge import judge
from webhooks.verdict.load import load_evidence


def replay_doc(doc: Any, tmp_path: Path) -> Any:
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(doc))
    done = replay(str(path))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def scenario(name: str) -> Any:
    return json.loads((SCENARIOS / f"{name}.json").read_text())


def steps(doc: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = doc["application"]["status"]["operationState"]["syncResult"][
        "resources"
    ]
    return result


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        (
            "presync-migration-job-failed",
            "Job billing/billing-migrate (PreSync hook) failed: Job has reached the specified "
            "backoff limit; last: billing-migrate-n2pcm/migrate: Error, exit 1: migration "
            '0087_invoice_ref failed: ERROR: column "invoice_ref" of relation "payments" already '
            "exists (SQLSTATE 42701)",
        ),
        (
            "posthook-smoke-test-failed",
            "Job billing/billing-smoke (PostSync hook) failed: Job has reached the specified "
            "backoff limit; last: billing-smoke-m2x8f/smoke: Error, exit 1: POST /v1/invoices: "
            "500 Internal Server Error (3 of 3 attempts)",
        ),
        (
            "apply-refused-by-admission-webhook",
            'Deployment billing/billing-api failed to apply: admission webhook "validate.kyverno'
            '.svc-fail" denied the request: resource Deployment/billing/billing-api was blocked '
            "due to the following policies require-run-as-nonroot: run-as-non-root:",
        ),
    ],
)
def test_the_failed_step_leads_and_argo_cds_line_follows(
    name: str, cause: str, tmp_path: Path
) -> None:
    verdict = replay_doc(scenario(name), tmp_path)
    first, second = verdict["findings"][:2]
    assert first["check"] == "staleness/sync-result"
    assert first["message"].startswith(cause)
    assert verdict["summary"].startswith(f"2 critical: {cause[:150]}")
    assert second["check"] == "staleness/sync-failed"
    assert second["message"].startswith("Argo CD sync of billing at 9b8a7c6 Failed: one or more ")
    assert second["message"].endswith(f"; failed step: {first['message'].split(' fail')[0]}")


def test_a_terminated_sync_says_where_it_stopped(tmp_path: Path) -> None:
    verdict = replay_doc(scenario("sync-terminated-during-presync-hook"), tmp_path)
    assert verdict["summary"] == (
        "1 critical: Argo CD sync of billing at 9b8a7c6 Failed: Operation terminated; stopped in "
        "its PreSync phase; deleted while running: Job billing/billing-migrate (PreSync hook)"
    )
    assert [f["check"] for f in verdict["findings"]] == ["staleness/sync-failed"]


def test_a_running_sync_names_the_hook_it_waits_on(tmp_path: Path) -> None:
    verdict = replay_doc(scenario("sync-running-presync-migration"), tmp_path)
    assert verdict["verdict"] == "Progressing"
    assert verdict["summary"] == (
        "Progressing: Argo CD sync of billing at 9b8a7c6 still Running, in its PreSync phase: "
        "Job billing/billing-migrate (PreSync hook) running"
    )


def test_while_only_truthgates_own_pre_sync_mark_runs_no_hook_is_named() -> None:
    doc = scenario("sync-running-presync-migration")
    mark, _migrate = steps(doc)
    mark.update(hookPhase="Running", message="")
    del steps(doc)[1]
    verdict = judge(load_evidence(doc))
    assert verdict["summary"] == (
        "Progressing: Argo CD sync of billing at 9b8a7c6 still Running, in its PreSync phase"
    )


def _verifier_failed_the_sync(doc: Any) -> Any:
    """truthgate verify exited 1 on a Degraded verdict (onDivergence fail-sync); the smoke test
    passed this time."""
    doc["objects"] = [o for o in doc["objects"] if "billing-smoke" not in o["metadata"]["name"]]
    doc["application"]["status"]["operationState"]["syncResult"]["resources"] = [
        s for s in steps(doc) if s["name"] != "billing-smoke"
    ]
    [verify] = [s for s in steps(doc) if s["name"] == "truthgate-verify"]
    verify.update(
        hookPhase="Failed",
        message="Container verify for pod billing/truthgate-verify-5xq2w failed with exit code 1 "
        "matching FailJob rule at index 0",
    )
    return doc


def test_truthgates_own_verifier_failing_the_sync_is_not_the_cause() -> None:
    verdict = judge(
        load_evidence(_verifier_failed_the_sync(scenario("posthook-smoke-test-failed")))
    )
    assert verdict["verdict"] == "Healthy"
    [said] = verdict["findings"]
    assert said["check"] == "staleness/sync-failed" and said["severity"] == "warning"
    assert said["message"].startswith(
        "Argo CD sync of billing at 9b8a7c6 Failed: one or more synchronization tasks completed "
        "unsuccessfully; its only failed step is truthgate's own Job billing/truthgate-verify "
        "(PostSync hook)"
    )


def test_a_job_merely_named_like_truthgates_is_a_cause() -> None:
    doc = _verifier_failed_the_sync(scenario("posthook-smoke-test-failed"))
    for obj in doc["objects"]:
        if obj["metadata"]["name"] == "truthgate-verify":
            del obj["metadata"]["labels"]
    verdict = judge(load_evidence(doc))
    assert verdict["verdict"] == "Degraded"
    assert verdict["summary"].startswith(
        "2 critical: Job billing/truthgate-verify (PostSync hook) failed: Container verify"
    )
