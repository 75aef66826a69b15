"""What goes into TruthCheck status: bounded, most severe first, conditions that hold their time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from webhooks.evidence.model import Finding, Verdict
from webhooks.postsync.appinfo import SyncRef
from webhooks.postsync.publish import MAX_FINDINGS, supersedes, verified_status

NOW = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)
SYNC = SyncRef("abc123", "2026-11-27T10:00:00Z", None, "Running")


def _finding(i: int, severity: str, size: int = 50) -> Finding:
    return {
        "layer": "runtime",
        "check": f"c{i}",
        "resource": None,
        "message": "x" * size,
        "severity": severity,  # type: ignore[typeddict-item]
    }


def _verdict(findings: list[Finding], value: str = "Degraded") -> Verdict:
    return {
        "apiVersion": "truthgate.dev/v1alpha1",
        "kind": "Verdict",
        "verdict": value,  # type: ignore[typeddict-item]
        "revision": "abc123",
        "summary": "s",
        "findings": findings,
    }


def test_thousands_of_findings_are_capped_most_severe_first_and_stay_small() -> None:
    findings = [_finding(i, ("info", "warning", "critical")[i % 3], 100_000) for i in range(3000)]
    status = verified_status(_verdict(findings), {"metadata": {"generation": 4}}, SYNC, NOW)
    assert len(status["findings"]) == MAX_FINDINGS and status["findingsTotal"] == 3000
    assert {f["severity"] for f in status["findings"]} == {"critical"}
    assert [f["check"] for f in status["findings"][:2]] == ["c2", "c5"]  # stable within a rank
    assert len(json.dumps(status)) < 100_000  # far below etcd's ~1.5 MiB object limit
    assert status["observedGeneration"] == 4


def test_condition_keeps_its_time_while_its_status_holds_and_moves_when_it_flips() -> None:
    tc: dict[str, object] = {"metadata": {"generation": 1}}
    first = verified_status(_verdict([]), tc, SYNC, NOW)
    later = NOW + timedelta(minutes=7)
    tc["status"] = first
    same = verified_status(_verdict([]), tc, SYNC, later)
    assert same["conditions"][0]["lastTransitionTime"] == "2026-11-27T10:05:00Z"
    flipped = verified_status(_verdict([], "Healthy"), tc, SYNC, later)
    assert flipped["conditions"][0] == {
        "type": "Verified",
        "status": "True",
        "reason": "Healthy",
        "message": "s",
        "lastTransitionTime": "2026-11-27T10:12:00Z",
    }


def test_newer_sync_start_orders_statuses_not_the_revision_string() -> None:
    old = {"revision": "fff", "syncStartedAt": "2026-11-27T09:00:00Z"}
    new = {"revision": "aaa", "syncStartedAt": "2026-11-27T10:00:00+00:00"}
    assert supersedes(old, new) and not supersedes(new, old)
    assert supersedes(new, new)  # the same sync re-verified
    assert supersedes(None, old) and supersedes({"verdict": "Healthy"}, old)
