"""The pure judge: Evidence in, Verdict out, no clock and no I/O."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.evidence import build
from webhooks.checks.context import CheckContext, CheckFinding
from webhooks.errors import PolicyError
from webhooks.evidence.model import Evidence, ResourceRef
from webhooks.policy.loader import PolicySource
from webhooks.verdict.judge import SUMMARY_LIMIT, judge
from webhooks.verdict.load import load_evidence
from webhooks.verdict.policy import VerdictPolicy

FIXTURES = Path(build.__file__).resolve().parent
CHANGE = 1795773600.0  # 2026-11-27T10:00:00Z, the fixtures' sync start


def fixture(name: str) -> Evidence:
    return load_evidence((FIXTURES / f"{name}.json").read_text())


def policy_from(text: str) -> VerdictPolicy:
    return VerdictPolicy([PolicySource(Path("p.rego"), "p.rego", text, "truthgate.verdict", None)])


def test_no_evidence_at_all_is_unknown() -> None:
    verdict = judge(load_evidence('{"apiVersion": "truthgate.dev/v1alpha1", "kind": "Evidence"}'))
    assert verdict["verdict"] == "Unknown"
    assert verdict["summary"] == "Unknown: no evidence was collected: nothing to judge"
    assert verdict["revision"] is None and verdict["findings"] == []


def test_judging_twice_gives_the_same_verdict() -> None:
    ev = fixture("capacity-degraded")
    assert judge(ev) == judge(copy.deepcopy(ev))


def test_time_comes_from_collected_at_so_early_evidence_is_progressing() -> None:
    ev: Any = fixture("staleness-degraded")
    ev["collectedAt"] = "2026-11-27T10:02:00Z"  # two minutes after the sync: within grace
    verdict = judge(ev)
    assert verdict["verdict"] == "Progressing"
    assert verdict["summary"].startswith(
        "Progressing: Deployment shop/web: controller has not observed generation 8"
    )
    assert all("converging" not in f for f in verdict["findings"])  # not part of the contract


def _running_operation(ev: Any, hook_phase: str | None) -> Any:
    op = ev["application"]["status"]["operationState"]
    op["phase"] = "Running"
    op.pop("finishedAt", None)
    if hook_phase:
        op["syncResult"]["resources"].append(
            {
                "group": "batch",
                "version": "v1",
                "kind": "Job",
                "namespace": "shop",
                "name": "truthgate-verify",
                "status": "",
                "hookType": hook_phase,
                "hookPhase": "Running",
                "syncPhase": hook_phase,
                "message": "job running",
            }
        )
    return ev


def test_a_verification_run_as_the_post_sync_hook_can_be_healthy() -> None:
    # Argo CD keeps the operation Running while its PostSync hooks (truthgate verify) run.
    verdict = judge(_running_operation(fixture("probes-healthy"), "PostSync"))
    assert verdict["verdict"] == "Healthy"


def test_a_sync_still_applying_its_resources_is_progressing() -> None:
    verdict = judge(_running_operation(fixture("probes-healthy"), None))
    assert verdict["verdict"] == "Progressing"
    assert verdict["summary"] == (
        "Progressing: Argo CD sync of shop-web at 8f3c2a1 still Running, in its Sync phase"
    )


def test_healthy_summary_says_what_was_looked_at() -> None:
    verdict = judge(fixture("probes-healthy"))
    assert verdict["summary"] == "Healthy: no divergence found (23 objects, 1 intent, 1 probe)"


def test_a_crashing_check_becomes_a_warning_not_a_crash() -> None:
    def broken(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
        raise ValueError("boom")

    verdict = judge(fixture("probes-healthy"), checks={"broken": broken})
    [f] = verdict["findings"]
    assert f["check"] == "broken/error" and f["severity"] == "warning"
    assert "boom" in f["message"]


def _metric(critical: bool) -> dict[str, Any]:
    before = [[CHANGE - 3600 + 60 * i, 0.010 + 0.001 * (i % 3)] for i in range(60)]
    after = [[CHANGE + 60 * i, 0.050 + 0.001 * (i % 3)] for i in range(1, 12)]
    return {
        "name": "checkout_error_ratio",
        "direction": "increase-is-bad",
        "changeAt": build.SYNC_START,
        "series": before + after,
        "critical": critical,
    }


def test_metrics_go_to_the_baseline_judge() -> None:
    ev: Any = fixture("probes-healthy")
    ev["metrics"] = [_metric(critical=True)]
    verdict = judge(ev)
    [f] = [f for f in verdict["findings"] if f["layer"] == "behaviour"]
    assert f["resource"] == {"kind": "Metric", "namespace": None, "name": "checkout_error_ratio"}
    assert f["severity"] == "critical" and verdict["verdict"] == "Degraded"


def test_summary_stays_short_whatever_the_number_of_findings() -> None:
    ev: Any = fixture("capacity-degraded")
    ev["probes"] = [
        {**build.OK_PROBE, "name": f"p{i}", "ok": False, "status": 500} for i in range(30)
    ]
    verdict = judge(ev)
    assert len(verdict["summary"]) <= SUMMARY_LIMIT
    assert verdict["summary"].startswith("34 critical: ")


def test_the_summary_puts_a_symptom_after_what_may_say_why_whatever_its_layer() -> None:
    web: ResourceRef = {"kind": "Deployment", "namespace": "shop", "name": "web"}

    def found(layer: Any, check: str, message: str) -> CheckFinding:
        return {
            "layer": layer,
            "check": check,
            "resource": web,
            "message": message,
            "severity": "critical",
        }

    def checks(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
        return [
            found("runtime", "images/declared", "Deployment shop/web: 4 of 5 pods run web:1"),
            found("controller", "convergence/deployment", "Deployment shop/web: deadline"),
        ]

    verdict = judge(fixture("probes-healthy"), checks={"c": checks})
    assert verdict["summary"] == "2 critical: Deployment shop/web: deadline"


def test_policy_with_an_unknown_verdict_value_is_a_policy_error() -> None:
    policy = policy_from('package truthgate.verdict\n\nverdict := "Fine"\n')
    with pytest.raises(PolicyError, match=r"verdict is 'Fine', want one of"):
        judge(fixture("probes-healthy"), policy=policy)


def test_policy_without_a_verdict_for_this_input_is_a_policy_error() -> None:
    policy = policy_from('package truthgate.verdict\n\nverdict := "Healthy" if input.never\n')
    with pytest.raises(PolicyError, match="undefined for this input"):
        judge(fixture("probes-healthy"), policy=policy)


def test_policy_returning_malformed_findings_is_a_policy_error() -> None:
    policy = policy_from(
        'package truthgate.verdict\n\nverdict := "Healthy"\n\nfindings := [{"layer": "nowhere"}]\n'
    )
    with pytest.raises(PolicyError, match=r"malformed finding"):
        judge(fixture("probes-healthy"), policy=policy)


def test_policy_for_another_package_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"defines no package truthgate\.verdict"):
        VerdictPolicy(
            [PolicySource(Path("p.rego"), "p.rego", "package other\n\nx := 1\n", "other", None)]
        )


def test_policy_directory_missing_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        VerdictPolicy.from_dir(tmp_path / "absent")
    with pytest.raises(PolicyError, match=r"holds no \.rego file"):
        VerdictPolicy.from_dir(tmp_path)


def test_policy_sees_the_evidence_summary_and_the_settings() -> None:
    policy = policy_from(
        "package truthgate.verdict\n\nimport rego.v1\n\n"
        'verdict := "Degraded" if input.settings.strict\n\n'
        'default verdict := "Healthy"\n\n'
        'reasons := [sprintf("%s %s %s %d", [input.evidence.app, input.evidence.syncPhase, '
        "input.evidence.health, input.evidence.counts.objects])]\n"
    )
    ev: Any = fixture("probes-healthy")
    ev["truthCheck"]["spec"]["verdict"] = {"strict": True}
    verdict = judge(ev, policy=policy)
    assert verdict["verdict"] == "Degraded"
    assert verdict["summary"] == "Degraded: shop-web Succeeded Healthy 23"


def test_secret_values_never_reach_findings() -> None:
    ev: Any = fixture("propagation-degraded")
    ev["intents"].append(
        {
            **ev["intents"][0],
            "kind": {"group": "", "version": "v1", "kind": "Secret"},
            "name": "web-db",
            "patch": [{"op": "replace", "path": "/data/password", "value": "czNjcjN0"}],
        }
    )
    text = json.dumps(judge(ev))
    assert "czNjcjN0" not in text
    assert "old Secret shop/web-db" in text
