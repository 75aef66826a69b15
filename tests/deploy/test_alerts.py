"""The shipped alerts (charts/truthgate/files/alerts.yaml, also docs/examples/prometheusrule.yaml)
are valid Prometheus rules and fire on the situations docs/operations.md describes — checked
with promtool's rule unit tests against synthetic series, and quiet on a healthy webhook."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, ROOT

ALERTS = CHART / "files" / "alerts.yaml"
EXAMPLE = ROOT / "docs" / "examples" / "prometheusrule.yaml"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (tools/test installs Debian's prometheus)")
    return path


def alert_names() -> set[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"]}


def run_rule_tests(promtool: str, tmp_path: Path, tests: list[dict[str, Any]]) -> None:
    """Run promtool's rule unit tests on the shipped rules. Annotations are left out of this
    copy: promtool compares them verbatim, and their templates are checked by `check rules`."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rules))
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["alerts.yaml"], "evaluation_interval": "1m", "tests": tests})
    )
    out = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_documented_example_is_the_shipped_rules() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    assert example["kind"] == "PrometheusRule"
    assert example["spec"] == yaml.safe_load(ALERTS.read_text())


def test_rules_are_valid_for_prometheus(promtool: str) -> None:
    out = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in out.stdout


def test_every_metric_the_alerts_use_is_one_truthgate_or_argo_cd_exports() -> None:
    text = ALERTS.read_text()
    exported = {
        "truthgate_admission_requests_total",
        "truthgate_admission_duration_seconds",
        "truthgate_ledger_write_seconds",
        "truthgate_errors_total",
        "truthgate_fail_open_total",
        "truthgate_ledger_timeouts_total",
        "truthgate_audit_last_pass_timestamp_seconds",
        "truthgate_audit_results_total",
        "argocd_app_info",
        "up",
        # kubelet's volume stats, kube-apiserver's own admission webhook metrics
        "apiserver_admission_webhook_fail_open_count",
        "apiserver_admission_webhook_rejection_count",
        "kubelet_volume_stats_available_bytes",
        "kubelet_volume_stats_capacity_bytes",
    }
    import re

    used = set(
        re.findall(
            r"\b(truthgate_[a-z_]+|argocd_[a-z_]+|apiserver_[a-z_]+|kubelet_[a-z_]+)\b", text
        )
    )
    used = {re.sub(r"_bucket$", "", u) for u in used}
    assert used <= exported, used - exported


def expect(alert: str, at: str, labels: dict[str, str] | None) -> dict[str, Any]:
    """An alert_rule_test entry: firing with these labels (None: not firing) at `at`."""
    exp: list[dict[str, Any]] = []
    if labels is not None:
        exp = [{"exp_labels": labels}]
    return {"eval_time": at, "alertname": alert, "exp_alerts": exp}


def test_fail_open_and_ledger_errors_fire(promtool: str, tmp_path: Path) -> None:
    series = [
        {"series": 'truthgate_fail_open_total{pod="a"}', "values": "0+5x20"},
        {"series": 'truthgate_errors_total{kind="ledger",pod="a"}', "values": "0 0 0 3 3 3 3 3"},
        {"series": 'up{job="truthgate"}', "values": "1x20"},
    ]
    checks = [
        expect("TruthgateFailingOpen", "3m", None),  # not yet: `for: 5m`
        expect("TruthgateFailingOpen", "10m", {"severity": "warning"}),
        expect("TruthgateLedgerWriteErrors", "5m", {"severity": "critical"}),
        expect("TruthgateWebhookDown", "10m", None),
    ]
    run_rule_tests(
        promtool, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}]
    )


def test_webhook_down_fires_when_no_pod_is_scraped_or_none_is_up(
    promtool: str, tmp_path: Path
) -> None:
    down = [{"series": 'up{job="truthgate",pod="a"}', "values": "0x15"}]
    run_rule_tests(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": down,
                "alert_rule_test": [
                    expect("TruthgateWebhookDown", "10m", {"severity": "critical"})
                ],
            },
            {
                "interval": "1m",
                "input_series": [{"series": 'up{job="other"}', "values": "1x15"}],
                "alert_rule_test": [
                    expect(
                        "TruthgateWebhookDown", "10m", {"severity": "critical", "job": "truthgate"}
                    )
                ],
            },
        ],
    )


def test_the_api_server_failing_to_reach_truthgate_fires(promtool: str, tmp_path: Path) -> None:
    name = 'name="intents.truthgate.dev",type="validating",operation="CREATE"'
    run_rule_tests(
        promtool,
        tmp_path,
        [
            # failurePolicy Ignore: calls fail and are admitted (e.g. an expired certificate).
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f"apiserver_admission_webhook_fail_open_count{{{name}}}",
                        "values": "0+3x20",
                    }
                ],
                "alert_rule_test": [
                    expect("TruthgateUnreachableFromAPIServer", "10m", {"severity": "critical"})
                ],
            },
            # failurePolicy Fail: calls fail and requests are rejected.
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": "apiserver_admission_webhook_rejection_count"
                        f'{{{name},error_type="calling_webhook_error",rejection_code="500"}}',
                        "values": "0+3x20",
                    }
                ],
                "alert_rule_test": [
                    expect("TruthgateUnreachableFromAPIServer", "10m", {"severity": "critical"})
                ],
            },
            # Policy denials are rejections too, but not failures to reach truthgate.
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": "apiserver_admission_webhook_rejection_count"
                        f'{{{name},error_type="no_error",rejection_code="403"}}',
                        "values": "0+3x20",
                    }
                ],
                "alert_rule_test": [expect("TruthgateUnreachableFromAPIServer", "10m", None)],
            },
        ],
    )


def test_error_rate_counts_real_errors_not_bad_requests(promtool: str, tmp_path: Path) -> None:
    requests = {
        "series": 'truthgate_admission_requests_total{decision="allowed"}',
        "values": "0+100x30",
    }
    run_rule_tests(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": [
                    requests,
                    {"series": 'truthgate_errors_total{kind="policy"}', "values": "0+10x30"},
                ],
                "alert_rule_test": [expect("TruthgateErrorRate", "20m", {"severity": "warning"})],
            },
            {
                "interval": "1m",
                "input_series": [
                    requests,
                    {"series": 'truthgate_errors_total{kind="bad_request"}', "values": "0+50x30"},
                ],
                "alert_rule_test": [expect("TruthgateErrorRate", "20m", None)],
            },
        ],
    )


def test_slow_admissions_fire_and_fast_ones_do_not(promtool: str, tmp_path: Path) -> None:
    def histogram(slow: bool) -> list[dict[str, str]]:
        # 100 reviews a minute; slow: 5% of them between 1s and 2.5s.
        fast_le = {
            "0.01": "0+95x30" if slow else "0+100x30",
            "1.0": "0+95x30" if slow else "0+100x30",
            "2.5": "0+100x30",
            "+Inf": "0+100x30",
        }
        return [
            {"series": f'truthgate_admission_duration_seconds_bucket{{le="{le}"}}', "values": v}
            for le, v in fast_le.items()
        ]

    run_rule_tests(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": histogram(slow=True),
                "alert_rule_test": [
                    expect("TruthgateSlowAdmission", "20m", {"severity": "warning"})
                ],
            },
            {
                "interval": "1m",
                "input_series": histogram(slow=False),
                "alert_rule_test": [expect("TruthgateSlowAdmission", "20m", None)],
            },
        ],
    )


def test_a_degraded_application_fires_once_per_application(promtool: str, tmp_path: Path) -> None:
    series = [
        {
            "series": 'argocd_app_info{name="shop-web",namespace="argocd",'
            'health_status="Degraded",sync_status="Synced",pod="c1"}',
            "values": "1x10",
        },
        {
            "series": 'argocd_app_info{name="shop-web",namespace="argocd",'
            'health_status="Degraded",sync_status="Synced",pod="c2"}',
            "values": "1x10",
        },
        {
            "series": 'argocd_app_info{name="billing",namespace="argocd",'
            'health_status="Healthy",sync_status="Synced"}',
            "values": "1x10",
        },
    ]
    run_rule_tests(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    expect(
                        "ArgoCDApplicationDegraded",
                        "8m",
                        {"severity": "warning", "name": "shop-web", "namespace": "argocd"},
                    )
                ],
            }
        ],
    )


def test_a_healthy_webhook_raises_nothing(promtool: str, tmp_path: Path) -> None:
    series = [
        {"series": 'up{job="truthgate"}', "values": "1x30"},
        {"series": 'truthgate_admission_requests_total{decision="allowed"}', "values": "0+100x30"},
        {"series": 'truthgate_errors_total{kind="ledger"}', "values": "0x30"},
        {"series": "truthgate_fail_open_total", "values": "0x30"},
        {"series": 'truthgate_admission_duration_seconds_bucket{le="0.01"}', "values": "0+100x30"},
        {"series": 'truthgate_admission_duration_seconds_bucket{le="+Inf"}', "values": "0+100x30"},
        {"series": 'truthgate_ledger_write_seconds_bucket{le="0.01"}', "values": "0+100x30"},
        {"series": 'truthgate_ledger_write_seconds_bucket{le="+Inf"}', "values": "0+100x30"},
        {"series": "truthgate_ledger_timeouts_total", "values": "0x30"},
        {"series": f"kubelet_volume_stats_available_bytes{{{PVC}}}", "values": "900x30"},
        {"series": f"kubelet_volume_stats_capacity_bytes{{{PVC}}}", "values": "1000x30"},
    ]
    run_rule_tests(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [expect(a, "25m", None) for a in sorted(alert_names())],
            }
        ],
    )


PVC = 'persistentvolumeclaim="truthgate-ledger",namespace="truthgate"'


def test_the_ledger_volume_alert_fires_before_the_volume_is_full(
    promtool: str, tmp_path: Path
) -> None:
    # 1000 bytes; a flood eats 10 per minute from 300 free. Another volume filling up is none
    # of truthgate's business.
    series = [
        {"series": f"kubelet_volume_stats_available_bytes{{{PVC}}}", "values": "300-10x29"},
        {"series": f"kubelet_volume_stats_capacity_bytes{{{PVC}}}", "values": "1000x29"},
        {
            "series": 'kubelet_volume_stats_available_bytes{persistentvolumeclaim="other"}',
            "values": "10x29",
        },
        {
            "series": 'kubelet_volume_stats_capacity_bytes{persistentvolumeclaim="other"}',
            "values": "1000x29",
        },
    ]
    labels = {"severity": "warning", "persistentvolumeclaim": "truthgate-ledger"}
    labels["namespace"] = "truthgate"
    checks = [
        expect("TruthgateLedgerVolumeFilling", "5m", None),  # `for: 10m`
        # Full within two days at this rate: fires with 180 bytes (18%) still free.
        expect("TruthgateLedgerVolumeFilling", "12m", labels),
    ]
    run_rule_tests(
        promtool, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}]
    )


def test_ledger_write_timeouts_fire(promtool: str, tmp_path: Path) -> None:
    series = [{"series": "truthgate_ledger_timeouts_total", "values": "0 0 0 4 4 4 4 4"}]
    checks = [
        expect("TruthgateLedgerWriteTimeouts", "2m", None),
        expect("TruthgateLedgerWriteTimeouts", "5m", {"severity": "critical"}),
    ]
    run_rule_tests(
        promtool, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}]
    )


# The auditor's gauge holds the time of its last pass: passing every minute, its value is the
# evaluation time (promtool's clock starts at 0).
PASSING = "0+60x40"


def test_an_auditor_that_stops_passing_or_vanishes_fires(promtool: str, tmp_path: Path) -> None:
    stopped = "warning"
    run_rule_tests(
        promtool,
        tmp_path,
        [
            # The active replica stops passing at 10m (its pod stays up, e.g. a stuck API);
            # the standby never held the Lease and shows 0 throughout.
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'truthgate_audit_last_pass_timestamp_seconds{pod="a"}',
                        "values": "0+60x10 600x30",
                    },
                    {
                        "series": 'truthgate_audit_last_pass_timestamp_seconds{pod="b"}',
                        "values": "0x40",
                    },
                ],
                "alert_rule_test": [
                    expect("TruthgateAuditorStopped", "20m", None),  # 10 min without a pass
                    expect("TruthgateAuditorStopped", "26m", {"severity": stopped}),
                ],
            },
            # Every auditor pod is gone at 10m: no series left, and still it fires.
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'truthgate_audit_last_pass_timestamp_seconds{pod="a"}',
                        "values": "0+60x10 stale",
                    },
                ],
                "alert_rule_test": [
                    expect("TruthgateAuditorStopped", "20m", None),
                    expect("TruthgateAuditorStopped", "30m", {"severity": stopped}),
                ],
            },
        ],
    )


def test_a_passing_auditor_with_a_standby_and_an_install_without_auditor_stay_quiet(
    promtool: str, tmp_path: Path
) -> None:
    run_rule_tests(
        promtool,
        tmp_path,
        [
            # The Lease moved from a to b at 15m: a keeps its last pass time, b passes on.
            # Neither replica alone passes all along; max() over them does.
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'truthgate_audit_last_pass_timestamp_seconds{pod="a"}',
                        "values": "0+60x15 900x25",
                    },
                    {
                        "series": 'truthgate_audit_last_pass_timestamp_seconds{pod="b"}',
                        "values": "0x15 960+60x25",
                    },
                    {"series": 'truthgate_audit_results_total{outcome="failed"}', "values": "0x40"},
                    {
                        "series": 'truthgate_audit_results_total{outcome="unchanged"}',
                        "values": "0+10x40",
                    },
                ],
                "alert_rule_test": [
                    expect("TruthgateAuditorStopped", "39m", None),
                    expect("TruthgateAuditFailing", "39m", None),
                ],
            },
            # No auditor installed: no series at all.
            {
                "interval": "1m",
                "input_series": [{"series": 'up{job="truthgate"}', "values": "1x40"}],
                "alert_rule_test": [
                    expect("TruthgateAuditorStopped", "39m", None),
                    expect("TruthgateAuditFailing", "39m", None),
                ],
            },
        ],
    )


def test_audits_that_mostly_fail_fire_and_a_few_failures_do_not(
    promtool: str, tmp_path: Path
) -> None:
    def results(failed: str) -> list[dict[str, str]]:
        return [
            {"series": 'truthgate_audit_last_pass_timestamp_seconds{pod="a"}', "values": PASSING},
            {"series": 'truthgate_audit_results_total{outcome="failed"}', "values": failed},
            {
                "series": 'truthgate_audit_results_total{outcome="unchanged"}',
                "values": "0+6x40",
            },
        ]

    run_rule_tests(
        promtool,
        tmp_path,
        [
            # Prometheus down: 4 of 10 TruthChecks fail every pass (the pass itself goes on).
            {
                "interval": "1m",
                "input_series": results("0+4x40"),
                "alert_rule_test": [
                    expect("TruthgateAuditFailing", "10m", None),  # `for: 15m`
                    expect("TruthgateAuditFailing", "35m", {"severity": "warning"}),
                    expect("TruthgateAuditorStopped", "35m", None),
                ],
            },
            # One bad spec among ten: retried with backoff, not an operations problem.
            {
                "interval": "1m",
                "input_series": results("0+1x40"),
                "alert_rule_test": [expect("TruthgateAuditFailing", "35m", None)],
            },
        ],
    )
