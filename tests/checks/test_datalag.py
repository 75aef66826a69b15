"""Observability that lags behind reality: a metric whose newest point is old says so."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.checks.helpers import evidence, only, run
from webhooks.checks import datalag

CHECK = "data-lag"
NOW_TEXT = "2026-11-27T10:00:00Z"
NOW = datetime.fromisoformat(NOW_TEXT).timestamp()


def _metric(last_age: float, step: float = 60.0, **extra: Any) -> dict[str, Any]:
    end = NOW - last_age
    series = [[end - i * step, 1.0] for i in range(100)][::-1]
    return {
        "name": "errors",
        "direction": "increase-is-bad",
        "changeAt": NOW_TEXT,
        "series": series,
    } | extra


def test_a_metric_twenty_minutes_behind_is_reported_with_its_lag() -> None:
    [f] = only(run(datalag.check, evidence(now=NOW_TEXT, metrics=[_metric(1200)])), CHECK)
    assert f["resource"] == {"kind": "Metric", "namespace": None, "name": "errors"}
    assert "newest point is 20m old at collection (bound 5m)" in f["message"]
    assert f["severity"] == "warning"


def test_a_fresh_metric_and_one_within_three_steps_are_not() -> None:
    fresh = _metric(30)
    slow = _metric(800, step=300.0) | {"name": "slow"}
    assert run(datalag.check, evidence(now=NOW_TEXT, metrics=[fresh, slow])) == []


def test_the_bound_can_be_set_on_the_truthcheck() -> None:
    tc = {"spec": {"baseline": {"maxDataLag": "1m"}}}
    found = run(datalag.check, evidence(now=NOW_TEXT, metrics=[_metric(120)], truthCheck=tc))
    assert [f["check"] for f in found] == [CHECK]


def test_metrics_that_could_not_be_fetched_or_are_garbage_are_left_to_the_judge() -> None:
    broken = [
        _metric(5000) | {"error": "timeout"},
        {"name": "junk", "series": "not a list"},
        {"name": "bad-points", "series": [["x", 1], [None, 2], [float("nan"), 3]]},
    ]
    assert run(datalag.check, evidence(now=NOW_TEXT, metrics=broken)) == []
