"""Tests calibrated on the metric's own history: with two days of baseline the judge asks how
unusual the before/after difference is against the same difference everywhere else in that
history, not whether it clears a fixed 20% tolerance."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.baseline.test_judge import CHANGE, STEP, ar1, make, noise, series
from webhooks.baseline import calibrated, judge, measure
from webhooks.baseline.judge import assess, judge_metrics
from webhooks.evidence.model import Direction, HistoryWindow

DAY_POINTS = 1440  # one day at 60 s
OBSERVE = 120  # two hours


def test_a_6_percent_step_on_a_flat_metric_is_a_regression() -> None:
    rng = np.random.default_rng(1)
    metric = make(noise(rng, 2 * DAY_POINTS, 100.0, 0.01), noise(rng, OBSERVE, 106.0, 0.01))

    a = assess(metric)

    assert a.severity == "critical" and a.classification == "High"
    assert a.decisive == "step" and "a step (the level moved)" in a.message
    assert "over 2d of its own history" in a.message


@pytest.mark.parametrize(
    ("after_level", "headline"),
    [(106.0, "latency up 6.3%: a step"), (25_000.0, "latency up 250x: a step")],
)
def test_the_headline_reads_a_small_move_as_a_share_and_a_large_one_as_a_ratio(
    after_level: float, headline: str
) -> None:
    """A 6% step is "up 6.3%", not "up 1.1x"; a 250x jump "up 250x", not "up 2.5e+02x" (and
    a step, though noisier on its new level it tilts a little: not a leak)."""
    rng = np.random.default_rng(2)
    metric = make(
        noise(rng, 2 * DAY_POINTS, 100.0, 0.01),
        noise(rng, OBSERVE, after_level, 0.01),
        name="latency",
    )

    assert assess(metric).message.startswith(headline)


@pytest.mark.parametrize("direction", ["decrease-is-bad", "increase-is-bad", "either"])
def test_a_metric_that_turned_jumpy_reads_jumpier_whichever_way_its_level_is_bad(
    direction: Direction,
) -> None:
    rng = np.random.default_rng(5)
    metric = make(
        noise(rng, 2 * DAY_POINTS, 100.0, 0.01),
        noise(rng, OBSERVE, 100.0, 0.08),
        name="rps",
        direction=direction,
    )

    a = assess(metric)

    assert a.severity == "critical" and a.decisive == "variability"
    assert a.message.startswith("rps jumpier ") and "steadier" not in a.message


def test_a_metric_is_judged_the_same_alone_and_among_many() -> None:
    """Metrics of the same layout are calibrated together (one array pass for all): that must
    not change any metric's result, whatever the others hold or how long their series are."""
    rng = np.random.default_rng(12)
    metrics = [
        make(noise(rng, 2 * DAY_POINTS, 100.0, 0.01), noise(rng, OBSERVE, level, 0.01), name=n)
        for n, level in (("flat", 100.0), ("stepped", 106.0), ("dropped", 93.0))
    ]
    shorter = make(noise(rng, DAY_POINTS + 7, 5.0, 0.2), noise(rng, OBSERVE - 3, 9.0, 0.2))
    jumpy = make(noise(rng, 2 * DAY_POINTS, 50.0, 0.02), noise(rng, OBSERVE, 50.0, 0.3))
    metrics += [shorter, jumpy]

    together = [measure.prepare(m, None) for m in metrics]
    measure.calibrate(together)
    alone = [measure.measure(m, None) for m in metrics]

    assert all(m.calibration is not None for m in together)
    assert [m.calibration for m in together] == [m.calibration for m in alone]
    assert [a.classification for a in judge.assess_all(metrics)] == [
        "Pass",
        "High",
        "Low",
        "High",
        "High",
    ]


def test_a_step_rolled_back_says_how_high_it_was_and_what_stood_out() -> None:
    """Tripled for 40 minutes, then rolled back: the 2 h median hardly moved, so the finding
    gives the height the metric held (3x, not 1x) and names the test that made it unusual
    (the steep fall back), so its numbers agree with its p-value."""
    rng = np.random.default_rng(21)
    after = noise(rng, OBSERVE, 10.0, 0.05)
    after[:40] *= 3.0
    metric = make(noise(rng, 2 * DAY_POINTS, 10.0, 0.05), after, direction="either", name="cpu")

    a = assess(metric)

    assert a.severity == "critical" and a.classification == "High" and a.decisive == "step"
    assert a.ratio is not None and 2.7 < a.ratio < 3.3
    assert a.message.startswith("cpu up 3x: a step (the level moved)")
    assert "what stood out: a steady fall (-27" in a.message
    assert "divergent for 40m — back within its usual range 40m after the change" in a.message
    assert a.stood_out is not None and a.stood_out[0].kind == "leak" and not a.stood_out[1]


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_a_spike_in_the_middle_reads_as_the_minutes_it_lasted_not_the_whole_observation(
    seed: int,
) -> None:
    """Five times the level for 10 minutes an hour into a 2 h observation, normal again
    after: the mean over any stretch that holds the spike is beyond its usual range, but
    the finding says how long the metric was out and when it was back."""
    rng = np.random.default_rng(seed)
    after = noise(rng, OBSERVE, 10.0, 0.05)
    after[55:65] *= 5.0
    metric = make(noise(rng, 2 * DAY_POINTS, 10.0, 0.05), after, direction="either", name="cpu")

    a = assess(metric)

    assert a.severity == "critical" and a.decisive == "burst", a.message
    assert "cpu up 1.3x: bursts (the mean moved, not the median)" in a.message
    assert "divergent for 10m — back within its usual range 1h6m after the change" in a.message
    assert "(over, but it moved the mean of the whole observation)" in a.message
    assert "divergent for 2h" not in a.message


def test_bursts_all_through_the_observation_read_as_divergent_all_along() -> None:
    rng = np.random.default_rng(1)
    after = noise(rng, OBSERVE, 10.0, 0.05)
    after[::5] *= 4.0  # a fifth of the minutes at 4x, from the change to the end

    a = assess(make(noise(rng, 2 * DAY_POINTS, 10.0, 0.05), after))

    assert a.severity == "critical" and a.decisive == "burst", a.message
    assert a.message.endswith("; observed 2h after the change; divergent for 2h")


def test_a_step_that_stands_out_by_itself_names_nothing_else() -> None:
    rng = np.random.default_rng(22)
    metric = make(noise(rng, 2 * DAY_POINTS, 10.0, 0.05), noise(rng, OBSERVE, 13.0, 0.05))

    a = assess(metric)

    assert a.decisive == "step" and a.stood_out is None
    assert "what stood out" not in a.message


def test_a_30_percent_swing_on_a_metric_that_always_swings_so_is_not() -> None:
    rng = np.random.default_rng(2)
    # Slow swings of about ±30% around the level, all through its history.
    wander = 1.0 + 0.3 * ar1(rng, 2 * DAY_POINTS + OBSERVE, 0.995)
    v = 100.0 * wander * noise(rng, wander.size, 1.0, 0.02)
    metric = make(v[: 2 * DAY_POINTS], v[2 * DAY_POINTS :], direction="either")

    a = assess(metric)

    assert a.severity is None, a.message


def test_the_same_step_on_a_short_baseline_falls_back_to_the_20_percent_tolerance() -> None:
    rng = np.random.default_rng(1)
    metric = make(noise(rng, 60, 100.0, 0.01), noise(rng, OBSERVE, 106.0, 0.01))

    a = assess(metric)

    # 60 points before 120 observed hold no null at all: the interval tests decide, and a
    # 6% move is inside their default tolerance.
    assert a.classification == "Pass" and a.tolerance == pytest.approx(20.0, rel=0.01)


def test_a_service_that_turns_jumpy_is_a_variability_regression() -> None:
    rng = np.random.default_rng(3)
    before = noise(rng, 2 * DAY_POINTS, 50.0, 0.02)
    after = noise(rng, OBSERVE, 50.0, 0.15)  # same level, seven times the jitter

    a = assess(make(before, after, direction="increase-is-bad"))

    assert a.severity == "critical" and a.decisive == "variability"
    assert "jumpier" in a.message and "it turned jumpy" in a.message


def test_errors_in_bursts_move_the_mean_and_are_named_bursts() -> None:
    rng = np.random.default_rng(4)
    before = noise(rng, 2 * DAY_POINTS, 10.0, 0.05)
    after = noise(rng, OBSERVE, 10.0, 0.05)
    after[::5] *= 4.0  # a fifth of the minutes at 4x: the median hardly moves

    a = assess(make(before, after))

    assert a.severity == "critical" and a.decisive in ("burst", "variability")
    assert calibrated.TESTS.index(a.decisive) >= 1  # not a step: the median stayed put


def test_a_regression_rolled_back_inside_the_observation_still_fails_the_change() -> None:
    """An hour of a 20% step, then the rollback: the change made the metric regress, and
    the finding says when it was back."""
    rng = np.random.default_rng(6)
    before = noise(rng, 2 * DAY_POINTS, 100.0, 0.01)
    after = noise(rng, OBSERVE, 100.0, 0.01)
    after[:60] *= 1.2

    a = assess(make(before, after, direction="either"))

    assert a.severity == "critical" and a.classification == "High", a.message
    assert re.search(
        r"back within its usual range 1h(\dm)? after the change \(rolled back", a.message
    )


def test_a_regression_over_within_minutes_is_only_a_warning() -> None:
    rng = np.random.default_rng(6)
    before = noise(rng, 2 * DAY_POINTS, 100.0, 0.01)
    after = noise(rng, OBSERVE, 100.0, 0.01)
    after[:15] *= 1.5  # a quarter of an hour of a restart's errors, then normal

    a = assess(make(before, after, direction="either"))

    assert a.severity == "warning" and "too short to count" in a.message, a.message


def test_a_leak_is_named_a_leak() -> None:
    rng = np.random.default_rng(5)
    before = noise(rng, 2 * DAY_POINTS, 500.0, 0.01)
    after = noise(rng, OBSERVE, 500.0, 0.01) * np.linspace(1.0, 1.3, OBSERVE)

    a = assess(make(before, after, name="memory"))

    # Its median moved too, but the window tilts as no two hours of its history did.
    assert a.severity == "critical" and a.decisive == "leak"
    assert "a leak (a steady trend)" in a.message and "rise +" in a.message


def test_the_tolerance_is_an_optional_floor() -> None:
    rng = np.random.default_rng(1)
    before, after = noise(rng, 2 * DAY_POINTS, 100.0, 0.01), noise(rng, OBSERVE, 106.0, 0.01)

    floored = assess(make(before, after, tolerance={"relative": 0.1}))
    unset = assess(make(before, after))

    assert floored.severity is None  # "never flag a move under 10%"
    assert unset.severity == "critical"


def test_a_metric_that_improves_is_not_a_regression() -> None:
    rng = np.random.default_rng(6)
    metric = make(noise(rng, 2 * DAY_POINTS, 0.02, 0.02), noise(rng, OBSERVE, 0.01, 0.02))

    a = assess(metric)

    assert a.classification == "Low" and not a.regression and a.severity is None


def test_healthy_autocorrelated_metrics_rarely_turn_degraded() -> None:
    """Two days of AR(1) noise around a level, nothing changed: across many metrics of one
    verification hardly any critical finding (the null is learnt per metric, and the p-values
    are controlled across metrics)."""
    rng = np.random.default_rng(7)
    metrics = []
    for i, rho in enumerate(np.linspace(0.0, 0.98, 100)):
        v = 100.0 + 5.0 * ar1(rng, 2 * DAY_POINTS + OBSERVE, float(rho))
        metrics.append(make(v[: 2 * DAY_POINTS], v[2 * DAY_POINTS :], name=f"m{i}"))

    findings = judge_metrics(metrics)

    assert sum(f["severity"] == "critical" for f in findings) <= 1


def test_history_takes_the_daily_rhythm_out_before_calibrating() -> None:
    rng = np.random.default_rng(8)
    minutes = np.arange(-3 * DAY_POINTS, OBSERVE)
    rhythm = 1.0 + 0.5 * np.sin(2 * np.pi * minutes / DAY_POINTS + 1.0)
    v = 100.0 * rhythm * noise(rng, minutes.size, 1.0, 0.02)
    v[minutes >= 0] *= 1.15  # a 15% regression riding the rhythm
    t = CHANGE + STEP * minutes
    today = minutes >= -2 * DAY_POINTS
    yesterday = (minutes >= -3 * DAY_POINTS) & (minutes < -DAY_POINTS + OBSERVE)
    history: HistoryWindow = {
        "offsetSeconds": 86400.0,
        "series": series(t[yesterday], v[yesterday]),
    }
    plain = make(v[today][: 2 * DAY_POINTS], v[today][2 * DAY_POINTS :], direction="either")
    with_history = make(
        v[today][: 2 * DAY_POINTS],
        v[today][2 * DAY_POINTS :],
        direction="either",
        history=[history],
    )

    a = assess(with_history)

    assert a.severity == "critical" and a.classification == "High", a.message
    assert "net of the same windows 1d earlier" in a.message
    # Without history the rhythm swings more than 15% within hours, every day: against the
    # values' own null the step is not rare, against the same time the day before it is.
    raw = calibrated.calibrate(v[today][: 2 * DAY_POINTS], v[today][2 * DAY_POINTS :])
    assert raw is not None and raw["step"].p_high > judge.CALIBRATED_ALPHA
    b = assess(plain)
    assert b.severity == "critical" and "day-over-day" in b.message, b.message


def test_an_overshoot_that_settles_higher_is_reported_as_the_step_that_is_still_there() -> None:
    rng = np.random.default_rng(9)
    before = noise(rng, 2 * DAY_POINTS, 100.0, 0.01)
    minutes = np.arange(OBSERVE)
    # A restart spike to 6x that decays within the hour onto a level 10% higher: the decay
    # is the most unusual thing (a falling trend) but it is over; the step is still there.
    after = noise(rng, OBSERVE, 110.0, 0.01) + 500.0 * np.exp(-minutes / 20.0)
    metric = make(before, after, direction="either")
    measured = measure.measure(metric, None)
    assert measured.p_low < measured.p_high  # the falling trend alone would be "recovered"

    a = assess(metric)

    assert a.severity == "critical" and a.classification == "High", a.message
    assert a.decisive == "step"
