"""`truthgate replay` on Evidence that holds only behaviour metrics: a real regression turns
the verdict Degraded naming the metric; a seasonal rise and a noisy healthy change stay
Healthy. Run as a user runs it: the real command, in a subprocess, on a file."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tests.baseline.test_judge import make, noise
from webhooks.evidence.model import MetricSeries

CHANGE = 1_764_000_000.0
DAY = 86400.0


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def pairs(t: np.ndarray, v: np.ndarray) -> list[list[float]]:
    return [[float(a), float(b)] for a, b in zip(t, v, strict=True)]


def evidence(*metrics: MetricSeries) -> dict[str, Any]:
    return {
        "apiVersion": "truthgate.dev/v1alpha1",
        "kind": "Evidence",
        "collectedAt": stamp(CHANGE + 3600),
        "metrics": list(metrics),
    }


def replay(tmp_path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(doc))
    out = subprocess.run(
        [sys.executable, "-m", "webhooks", "replay", str(path)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    verdict: dict[str, Any] = json.loads(out.stdout)
    return verdict


def error_rate(rng: np.random.Generator, factor: float) -> MetricSeries:
    t = CHANGE + 60.0 * np.arange(-60, 60)
    v = 0.002 * np.exp(0.15 * rng.standard_normal(t.size))
    v[t >= CHANGE] *= factor
    return {
        "name": "http_error_ratio",
        "direction": "increase-is-bad",
        "changeAt": stamp(CHANGE),
        "series": pairs(t, v),
        "critical": True,
        "driftBudgetSeconds": 600,
    }


def seasonal_traffic(rng: np.random.Generator) -> MetricSeries:
    t = CHANGE + 60.0 * np.arange(-60, 60)

    def rhythm(x: np.ndarray) -> np.ndarray:
        return 400 * (1 + 0.5 * np.sin(2 * np.pi * (x - CHANGE) / DAY))

    return {
        "name": "http_requests_per_second",
        "direction": "either",
        "changeAt": stamp(CHANGE),
        "series": pairs(t, rhythm(t) * np.exp(0.03 * rng.standard_normal(t.size))),
        "critical": True,
        "tolerance": {"relative": 0.05},
        "history": [
            {
                "offsetSeconds": DAY,
                "series": pairs(t - DAY, rhythm(t) * np.exp(0.03 * rng.standard_normal(t.size))),
            }
        ],
    }


def test_replay_of_a_four_fold_error_rate_is_degraded_naming_the_metric(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)

    verdict = replay(tmp_path, evidence(error_rate(rng, 4.0), seasonal_traffic(rng)))

    assert verdict["verdict"] == "Degraded"
    behaviour = [f for f in verdict["findings"] if f["layer"] == "behaviour"]
    assert [f["resource"]["name"] for f in behaviour if f["severity"] == "critical"] == [
        "http_error_ratio"
    ]
    assert "http_error_ratio up 4" in verdict["summary"] or any(
        "http_error_ratio up 4" in f["message"] for f in behaviour
    )


def test_replay_of_a_seasonal_rise_and_noisy_healthy_change_is_healthy(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)

    verdict = replay(tmp_path, evidence(error_rate(rng, 1.0), seasonal_traffic(rng)))

    assert verdict["verdict"] == "Healthy", verdict
    assert not [f for f in verdict["findings"] if f["severity"] == "critical"]


def two_hours_after(*metrics: MetricSeries) -> dict[str, Any]:
    doc = evidence(*metrics)
    doc["collectedAt"] = stamp(CHANGE + 7200)
    return doc


def messages(verdict: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        f["resource"]["name"]: (f["severity"], f["message"])
        for f in verdict["findings"]
        if f["layer"] == "behaviour"
    }


def test_replay_dates_a_spike_by_the_minutes_it_lasted_and_a_step_by_how_long_it_held(
    tmp_path: Path,
) -> None:
    """Against two days of history, 2 h after the change: a 10-minute spike to 5x in the
    middle, a 3x step rolled back after 40 minutes, and a 3x step still there since the
    change."""

    def metric(name: str, seed: int, out: slice, factor: float) -> MetricSeries:
        rng = np.random.default_rng(seed)
        after = noise(rng, 120, 10.0, 0.05)
        after[out] *= factor
        return make(noise(rng, 2880, 10.0, 0.05), after, name=name, direction="either")

    metrics = [
        metric("cpu", 1, slice(55, 65), 5.0),
        metric("memory", 21, slice(0, 40), 3.0),
        metric("latency", 22, slice(0, None), 3.0),
    ]

    said = messages(replay(tmp_path, two_hours_after(*metrics)))

    severity, spiked = said["cpu"]
    assert severity == "critical" and "cpu up 1.3x: bursts" in spiked
    assert "divergent for 10m — back within its usual range 1h6m after the change" in spiked
    assert "divergent for 2h" not in spiked
    severity, rolled_back = said["memory"]
    assert severity == "critical"
    assert "divergent for 40m — back within its usual range 40m after the change" in rolled_back
    severity, still = said["latency"]
    assert severity == "critical" and still.endswith("; divergent for 2h")


def test_replay_of_a_metric_without_data_says_so_and_stays_healthy(tmp_path: Path) -> None:
    nothing = error_rate(np.random.default_rng(3), 1.0)
    nothing["series"] = []
    only_nan = error_rate(np.random.default_rng(4), 1.0)
    only_nan["name"] = "http_latency_seconds"
    doc = evidence(nothing, only_nan)
    # Prometheus writes a missing value as "NaN", and Evidence keeps its words.
    doc["metrics"][1]["series"] = [[t, "NaN"] for t, _ in only_nan["series"]]

    verdict = replay(tmp_path, doc)

    assert verdict["verdict"] == "Healthy", verdict
    said = messages(verdict)
    assert set(said) == {"http_error_ratio", "http_latency_seconds"}
    for name, (severity, message) in said.items():
        assert severity == "info"
        assert message.startswith(f"{name}: no data to judge, not guessing: no data before")
        assert "no data before the change or after it" in message
        assert "it cannot be judged, and this is not a regression" in message
