"""A metric with a daily rhythm and two days of baseline: the calibrated tests run on the
difference from the same time the day before, so the time of day does not hide a real step;
a metric without a rhythm is judged on its values exactly as before (the gate stays shut)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.baseline.test_judge import CHANGE, DAY, STEP, ar1, make, noise
from tests.baseline.test_judge_calibrated import DAY_POINTS, OBSERVE
from webhooks.baseline import calibrated, rhythm
from webhooks.baseline.judge import assess
from webhooks.evidence.model import MetricSeries


def daily(seed: int, amplitude: float, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Two days and two hours of a request rate at 60 s: a daily sine of ``amplitude`` around
    100 with AR(1) noise, the observation multiplied by ``step``."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(-2 * DAY_POINTS, OBSERVE)
    phase = rng.uniform(0.0, 2 * np.pi)
    wave = 1.0 + amplitude * np.sin(2 * np.pi * minutes / DAY_POINTS + phase)
    v = 100.0 * wave * np.exp(0.03 * ar1(rng, minutes.size, 0.8))
    v[minutes >= 0] *= step
    return CHANGE + STEP * minutes, v


def metric(v: np.ndarray) -> MetricSeries:
    return make(v[: 2 * DAY_POINTS], v[2 * DAY_POINTS :], name="requests", direction="either")


@pytest.mark.parametrize("amplitude", [0.1, 0.3])
def test_a_10_percent_step_riding_a_daily_rhythm_is_caught_day_over_day(amplitude: float) -> None:
    _, v = daily(1, amplitude, step=1.10)

    a = assess(metric(v))

    assert a.severity == "critical" and a.classification == "High", a.message
    assert a.decisive == "step" and "day-over-day median" in a.message
    assert "each point against the same time the day before" in a.message
    assert "over the last 1d of its own history" in a.message
    assert a.ratio is not None and 1.05 < a.ratio < 1.15  # today's move, not the residual's
    # Against the values' own two-day null the same step is lost in the time of day.
    raw = calibrated.calibrate(v[: 2 * DAY_POINTS], v[2 * DAY_POINTS :])
    assert raw is not None and raw["step"].p_high > 0.05


def test_the_same_rhythm_without_a_change_stays_healthy() -> None:
    for seed in range(8):
        _, v = daily(seed, 0.3)

        a = assess(metric(v))

        assert a.severity is None and a.classification == "Pass", a.message
        assert a.windows is not None and a.windows.period_seconds == DAY  # the gate opened


def test_a_flat_noisy_metric_is_judged_on_its_values_as_before() -> None:
    rng = np.random.default_rng(1)
    before = np.asarray(noise(rng, 2 * DAY_POINTS, 100.0, 0.01), dtype=np.float64)
    stepped, same = noise(rng, OBSERVE, 106.0, 0.01), noise(rng, OBSERVE, 100.0, 0.01)
    t = np.asarray(CHANGE + STEP * np.arange(-before.size, 0), dtype=np.float64)

    a, b = assess(make(before, stepped)), assess(make(before, same))

    strength = rhythm.strength(t, before, DAY)
    assert strength is not None and strength < rhythm.GATE
    for x in (a, b):
        assert x.windows is not None and x.windows.period_seconds is None
        assert "day-over-day" not in x.message
    # The very numbers the values' own null gives.
    raw = calibrated.calibrate(before, stepped)
    assert raw is not None and a.decisive == "step" and a.calibrated == raw["step"]
    assert a.severity == "critical" and b.severity is None, b.message


def gappy(v: np.ndarray, t: np.ndarray, lost: float, seed: int) -> MetricSeries:
    """``metric(v)`` with a share ``lost`` of the scrapes missing, an hour-long gap a day
    and a half before the change, another half a day before it, and a few NaNs."""
    rng = np.random.default_rng(seed)
    keep = rng.random(t.size) > lost
    keep[(t > CHANGE - 1.5 * DAY) & (t <= CHANGE - 1.5 * DAY + 3600)] = False
    keep[(t > CHANGE - 0.5 * DAY) & (t <= CHANGE - 0.5 * DAY + 3600)] = False
    m = metric(np.where(rng.random(t.size) < 0.01, np.nan, v))
    m["series"] = [p for p, k in zip(m["series"], keep, strict=True) if k]
    return m


def test_a_rhythmic_metric_with_gaps_and_missing_points_is_still_judged_day_over_day() -> None:
    t, v = daily(4, 0.3, step=1.10)

    a = assess(gappy(v, t, 0.05, 4))

    assert a.severity == "critical" and "day-over-day" in a.message, a.message


def test_a_gap_too_long_for_the_residual_falls_back_to_the_values() -> None:
    _, v = daily(4, 0.3)
    m = metric(v)
    # Six hours missing from the last day: too few points left for the residual's null.
    m["series"] = [p for p in m["series"] if not CHANGE - 0.5 * DAY < p[0] < CHANGE - 0.25 * DAY]

    a = assess(m)

    assert a.windows is not None and a.windows.period_seconds is None
    assert "no change unusual for this metric's own history" in a.message  # calibrated


def test_a_baseline_too_short_for_the_residual_falls_back_to_the_values() -> None:
    _, v = daily(5, 0.3)
    short = v[DAY_POINTS // 2 :]  # a day and a half before the change

    a = assess(make(short[:-OBSERVE], short[-OBSERVE:], direction="either"))

    assert a.windows is not None and a.windows.period_seconds is None
    assert "no change unusual for this metric's own history" in a.message  # calibrated


def test_the_period_is_the_smallest_history_offset_the_metric_names() -> None:
    # A twelve-hour rhythm: with history named at 12h, each point is compared with the same
    # time twelve hours earlier (the history's few points are too few to use themselves).
    rng = np.random.default_rng(6)
    minutes = np.arange(-2 * DAY_POINTS, OBSERVE)
    v = 100.0 * (1.0 + 0.3 * np.sin(4 * np.pi * minutes / DAY_POINTS))
    v *= np.exp(0.03 * ar1(rng, minutes.size, 0.8))
    v[minutes >= 0] *= 1.1
    few = [[CHANGE - DAY / 2, 100.0], [CHANGE - DAY / 2 + STEP, 100.0]]
    m = metric(v)
    m["history"] = [
        {"offsetSeconds": 7 * DAY, "series": few},
        {"offsetSeconds": DAY / 2, "series": few},
    ]

    a = assess(m)

    assert a.windows is not None and a.windows.period_seconds == DAY / 2
    assert a.severity == "critical" and "against the same time 12h earlier" in a.message, a.message
