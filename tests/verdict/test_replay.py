"""`truthgate replay` over the shop-web fixtures: for every check, a sync Argo CD called
Healthy/Synced/Succeeded that truthgate calls Degraded — naming the right object — and a
healthy twin that stays Healthy. Run as a user runs it: the real command, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.evidence import build
from webhooks.checks.registry import CHECKS

FIXTURES = Path(build.__file__).resolve().parent

# check family -> (the check that must fire, the object it must name)
EXPECTED: dict[str, tuple[str, dict[str, str | None] | None]] = {
    "convergence": (
        "convergence/statefulset",
        {"kind": "StatefulSet", "namespace": "shop", "name": "cache"},
    ),
    "readiness": (
        "readiness/custom-resource",
        {"kind": "Database", "namespace": "shop", "name": "shop-web"},
    ),
    "staleness": (
        "staleness/generation",
        {"kind": "Deployment", "namespace": "shop", "name": "web"},
    ),
    "images": ("images/mixed-digests", {"kind": "Deployment", "namespace": "shop", "name": "web"}),
    "propagation": (
        "propagation/stale-config",
        {"kind": "Deployment", "namespace": "shop", "name": "web"},
    ),
    "reachability": (
        "reachability/selector",
        {"kind": "Service", "namespace": "shop", "name": "web"},
    ),
    "capacity": ("capacity/quota", {"kind": "Deployment", "namespace": "shop", "name": "web"}),
    "stability": ("stability/restarts", {"kind": "Deployment", "namespace": "shop", "name": "web"}),
    "drift": ("drift/human", {"kind": "Deployment", "namespace": "shop", "name": "web"}),
    "probes": ("probes/failed", None),
    "controller-stale": ("controller-stale", None),
}

# Families whose findings are warnings: the application may be fine, the record is not.
# Their fixture pair is <family>-warning.json (Healthy with the warning) and <family>-healthy.json.
WARNING: dict[str, tuple[str, dict[str, str | None] | None]] = {
    "unrecorded-change": (
        "unrecorded-change",
        {"kind": "Deployment", "namespace": "shop", "name": "web"},
    ),
    "data-lag": ("data-lag", {"kind": "Metric", "namespace": None, "name": "checkout-p99-latency"}),
}


def replay(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webhooks", "replay", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def verdict_of(path: Path, *args: str) -> dict[str, Any]:
    out = replay(str(path), *args)
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_every_check_family_has_a_fixture_pair() -> None:
    from webhooks.checks.registry import CHECKS

    assert set(EXPECTED) | set(WARNING) == set(CHECKS)
    for family in CHECKS:
        found = "warning" if family in WARNING else "degraded"
        assert (FIXTURES / f"{family}-{found}.json").is_file()
        assert (FIXTURES / f"{family}-healthy.json").is_file()


@pytest.mark.parametrize("family", sorted(WARNING))
def test_replay_warns_where_the_record_or_the_data_is_incomplete(family: str) -> None:
    check, resource = WARNING[family]
    verdict = verdict_of(FIXTURES / f"{family}-warning.json")
    assert verdict["verdict"] == "Healthy"
    hits = [f for f in verdict["findings"] if f["check"] == check]
    assert hits and all(f["severity"] == "warning" for f in hits)
    assert resource in [f["resource"] for f in hits]
    assert verdict["summary"].startswith("Healthy with ")
    assert not [f for f in verdict["findings"] if f["check"] != check]


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_argo_cd_says_healthy_in_every_fixture(family: str) -> None:
    for variant in ("degraded", "healthy"):
        doc = json.loads((FIXTURES / f"{family}-{variant}.json").read_text())
        status = doc["application"]["status"]
        assert status["health"]["status"] == "Healthy"
        assert status["sync"]["status"] == "Synced"
        assert status["operationState"]["phase"] == "Succeeded"


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_replay_finds_what_argo_cd_missed(family: str) -> None:
    check, resource = EXPECTED[family]
    verdict = verdict_of(FIXTURES / f"{family}-degraded.json")
    assert verdict["apiVersion"] == "truthgate.dev/v1alpha1" and verdict["kind"] == "Verdict"
    assert verdict["verdict"] == "Degraded"
    assert verdict["revision"] == build.REVISION
    hits = [f for f in verdict["findings"] if f["check"] == check]
    assert hits, verdict["findings"]
    assert hits[0]["severity"] == "critical"
    assert hits[0]["resource"] == resource
    if resource is not None:
        assert (
            f"{resource['kind']} {resource['namespace']}/{resource['name']}" in (hits[0]["message"])
        )
    assert verdict["summary"].startswith(
        f"{sum(f['severity'] == 'critical' for f in verdict['findings'])} critical: "
    )
    assert len(verdict["summary"]) <= 200
    assert not [f for f in verdict["findings"] if f["check"].endswith("/error")]


@pytest.mark.parametrize("family", sorted(EXPECTED | WARNING))
def test_healthy_twin_stays_healthy(family: str) -> None:
    verdict = verdict_of(FIXTURES / f"{family}-healthy.json")
    assert verdict["verdict"] == "Healthy", verdict["summary"]
    assert not [f for f in verdict["findings"] if f["severity"] == "critical"]
    if family in WARNING:
        assert verdict["findings"] == [], verdict["summary"]


def test_break_glass_twin_is_healthy_with_the_warning_in_the_summary() -> None:
    verdict = verdict_of(FIXTURES / "drift-healthy.json")
    assert verdict["summary"].startswith(
        "Healthy with 1 warning: Deployment shop/web: break-glass change by alice@example.com"
    )


def test_capacity_summary_leads_with_the_quota_refusal() -> None:
    verdict = verdict_of(FIXTURES / "capacity-degraded.json")
    assert verdict["summary"].startswith(
        "4 critical: Deployment shop/web: 5 of 8 pods created (ReplicaSet web-7c9f8d6b5): "
        "exceeded quota compute"
    )


def test_findings_are_sorted_by_severity() -> None:
    verdict = verdict_of(FIXTURES / "capacity-degraded.json")
    ranks = [{"critical": 0, "warning": 1, "info": 2}[f["severity"]] for f in verdict["findings"]]
    assert ranks == sorted(ranks) and ranks[-1] == 1


def test_stdin_is_read_with_a_dash() -> None:
    out = replay("-", stdin=(FIXTURES / "probes-degraded.json").read_text())
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["verdict"] == "Degraded"


def test_fail_on_degraded_sets_the_exit_code() -> None:
    assert replay(str(FIXTURES / "probes-degraded.json"), "--fail-on-degraded").returncode == 1
    assert replay(str(FIXTURES / "probes-healthy.json"), "--fail-on-degraded").returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "evidence is not valid JSON"),
        ("[]", "malformed evidence: the document must be a JSON object, got an array"),
        (
            '{"apiVersion": "v1", "kind": "Evidence"}',
            "apiVersion is 'v1', want 'truthgate.dev/v1alpha1'",
        ),
        (
            '{"apiVersion": "truthgate.dev/v1alpha1", "kind": "Evidence", "objects": {}}',
            "malformed evidence: objects must be an array, got an object",
        ),
    ],
)
def test_malformed_evidence_is_one_clear_error_and_exit_2(
    content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "evidence.json"
    path.write_text(content)
    out = replay(str(path))
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith("truthgate: error: ") and message in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    out = replay(str(tmp_path / "nope.json"))
    assert out.returncode == 2
    assert "truthgate: error: cannot read evidence" in out.stderr
    assert "No such file or directory" in out.stderr


def _with_settings(tmp_path: Path, family: str, settings: dict[str, Any]) -> Path:
    doc = json.loads((FIXTURES / f"{family}-degraded.json").read_text())
    doc["truthCheck"]["spec"]["verdict"] = settings
    path = tmp_path / f"{family}-tuned.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_team_ignores_a_check_for_its_app_from_the_truthcheck(tmp_path: Path) -> None:
    path = _with_settings(tmp_path, "reachability", {"ignoreChecks": ["reachability"]})
    verdict = verdict_of(path)
    assert verdict["verdict"] == "Healthy"
    assert not [f for f in verdict["findings"] if f["check"].startswith("reachability")]


def test_a_team_makes_restarts_only_a_warning(tmp_path: Path) -> None:
    path = _with_settings(tmp_path, "stability", {"warnOnly": ["stability/restarts"]})
    verdict = verdict_of(path)
    assert verdict["verdict"] == "Healthy"
    [f] = [f for f in verdict["findings"] if f["check"] == "stability/restarts"]
    assert f["severity"] == "warning"
    assert verdict["summary"].startswith(
        "Healthy with 1 warning: Deployment shop/web: 4 container restarts since sync"
    )


STRICT_POLICY = """# METADATA
# title: Strict verdict
# description: Any warning degrades the app.
package truthgate.verdict

import rego.v1

default verdict := "Healthy"

verdict := "Degraded" if {
\tsome f in input.findings
\tf.severity in {"warning", "critical"}
}

reasons := [f.message | some f in input.findings]
"""


def test_a_custom_verdict_policy_directory_replaces_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "strict.rego").write_text(STRICT_POLICY)
    shipped = verdict_of(FIXTURES / "drift-healthy.json")
    strict = verdict_of(FIXTURES / "drift-healthy.json", "--verdict-policy", str(tmp_path))
    assert shipped["verdict"] == "Healthy"
    assert strict["verdict"] == "Degraded"
    assert strict["summary"].startswith("Degraded: Deployment shop/web: break-glass change")


def test_a_broken_verdict_policy_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text("package truthgate.verdict\n\nverdict := \n")
    out = replay(str(FIXTURES / "probes-healthy.json"), "--verdict-policy", str(tmp_path))
    assert out.returncode == 2 and "broken.rego" in out.stderr


def test_committed_fixtures_match_their_builder() -> None:
    for name in build.FIXTURES:
        assert (FIXTURES / f"{name}.json").read_text() == build.render(name), (
            f"{name}.json is stale: run python tests/fixtures/evidence/build.py"
        )


FAMILIES_BESIDE_THE_REGISTRY = {"baseline", "undeclared-change"}  # the behaviour judge's


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_verdict_has_exactly_the_contracts_fields(path: Path) -> None:
    verdict = verdict_of(path)
    assert list(verdict) == ["apiVersion", "kind", "verdict", "revision", "summary", "findings"]
    assert (verdict["apiVersion"], verdict["kind"]) == ("truthgate.dev/v1alpha1", "Verdict")
    assert verdict["verdict"] in {"Healthy", "Progressing", "Degraded", "Unknown"}
    families = set(CHECKS) | FAMILIES_BESIDE_THE_REGISTRY
    for finding in verdict["findings"]:
        assert list(finding) == ["layer", "check", "resource", "message", "severity"]
        assert finding["layer"] in {"declared", "controller", "runtime", "behaviour"}
        assert finding["severity"] in {"info", "warning", "critical"}
        assert finding["check"].split("/")[0] in families, finding["check"]
        assert finding["resource"] is None or list(finding["resource"]) == [
            "kind",
            "namespace",
            "name",
        ]
