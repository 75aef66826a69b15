"""Between syncs: a regression is tied to the intent it followed, or called undeclared."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tests.checks.helpers import application
from webhooks.evidence.model import Evidence
from webhooks.verdict.attribution import onset
from webhooks.verdict.judge import judge

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AUDIT_WINDOW = timedelta(hours=1)
STEP_AT = NOW - timedelta(minutes=40)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _series(step_at: datetime | None, *, seed: int = 7, factor: float = 1.6) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    start = NOW - timedelta(hours=8)
    out: list[list[float]] = []
    for i in range(8 * 60 + 1):
        t = start + timedelta(minutes=i)
        daily = 8 * math.sin(2 * math.pi * t.timestamp() / 86400)
        level = 100 + daily
        if step_at is not None and t >= step_at:
            level *= factor
        out.append([t.timestamp(), float(level + rng.normal(0, 2))])
    return out


def _intent(uid: str, at: datetime, user: str = "alice@example.com") -> dict[str, Any]:
    return {
        "uid": uid,
        "time": _stamp(at),
        "app": "shop-web",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "namespace": "shop",
        "name": "web",
        "operation": "UPDATE",
        "actor": {"username": user, "groups": [], "class": "human"},
        "patch": [],
        "decision": {"allowed": True, "denials": [], "warnings": []},
        "dryRun": False,
    }


def _audit(series: list[list[float]], intents: list[dict[str, Any]] | None) -> Evidence:
    app = application(started="2026-11-27T06:00:00Z")
    app["status"]["history"] = [
        {
            "revision": "feedbeef1234",
            "deployStartedAt": "2026-11-27T06:00:00Z",
            "deployedAt": "2026-11-27T06:01:00Z",
        }
    ]
    doc: dict[str, Any] = {
        "apiVersion": "truthgate.dev/v1alpha1",
        "kind": "Evidence",
        "trigger": "audit",
        "collectedAt": _stamp(NOW),
        "application": app,
        "metrics": [
            {
                "name": "checkout-latency",
                "direction": "increase-is-bad",
                "critical": True,
                "changeAt": _stamp(NOW - AUDIT_WINDOW),
                "series": series,
            }
        ],
    }
    if intents is not None:
        doc["intents"] = intents
    return doc  # type: ignore[return-value]


def _checks(verdict: Any, check: str) -> list[Any]:
    return [f for f in verdict["findings"] if f["check"] == check]


def test_onset_is_found_near_the_real_start_of_the_move() -> None:
    began = onset(_audit(_series(STEP_AT), [])["metrics"][0])
    assert began is not None
    assert abs(began - STEP_AT.timestamp()) <= 180


def test_a_step_with_no_declared_change_is_undeclared_and_names_the_last_change() -> None:
    earlier = _intent("7b0c-sync", datetime(2026, 11, 27, 6, 0, 30, tzinfo=UTC), user="argocd")
    verdict = judge(_audit(_series(STEP_AT), [earlier]))
    assert verdict["verdict"] == "Degraded"
    [f] = _checks(verdict, "undeclared-change")
    assert f["severity"] == "critical"
    assert "checkout-latency moved from 2026-11-27T11:2" in f["message"]
    assert "7b0c-sync" in f["message"] and "revision feedbee" in f["message"]
    assert _checks(verdict, "change-attribution") == []


def test_an_empty_ledger_still_makes_the_step_undeclared() -> None:
    verdict = judge(_audit(_series(STEP_AT), []))
    [f] = _checks(verdict, "undeclared-change")
    assert "the ledger holds no declared change" in f["message"]


def test_a_step_right_after_an_intent_is_attributed_to_it() -> None:
    hotfix = _intent("c0ffee-42", STEP_AT - timedelta(minutes=2))
    verdict = judge(_audit(_series(STEP_AT), [hotfix]))
    assert verdict["verdict"] == "Degraded"
    [f] = _checks(verdict, "change-attribution")
    assert "c0ffee-42" in f["message"] and "alice@example.com" in f["message"]
    assert "UPDATE Deployment shop/web" in f["message"]
    assert _checks(verdict, "undeclared-change") == []


def test_without_a_ledger_nothing_is_attributed() -> None:
    verdict = judge(_audit(_series(STEP_AT), None))
    assert verdict["verdict"] == "Degraded"
    assert _checks(verdict, "undeclared-change") == _checks(verdict, "change-attribution") == []


def test_seasonal_noise_stays_healthy() -> None:
    for seed in range(5):
        verdict = judge(_audit(_series(None, seed=seed), []))
        assert verdict["verdict"] == "Healthy", verdict["summary"]
        assert _checks(verdict, "undeclared-change") == []


def test_replay_judges_audit_evidence_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(_audit(_series(STEP_AT), [])))
    out = subprocess.run(
        [sys.executable, "-m", "webhooks", "replay", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    verdict = json.loads(out.stdout)
    assert verdict["verdict"] == "Degraded"
    assert "undeclared-change" in {f["check"] for f in verdict["findings"]}
