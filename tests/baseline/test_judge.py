"""Behaviour of the baseline judge on synthetic series made here (numpy, fixed seeds)."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pytest

from webhooks.baseline.judge import assess, assess_all, judge_metrics
from webhooks.baseline.stats import hodges_lehmann
from webhooks.errors import BadRequestError
from webhooks.evidence.model import Direction, HistoryWindow, MetricSeries

CHANGE = 1_764_000_000.0
STEP = 60.0
DAY = 86400.0


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def series(t: np.ndarray, v: np.ndarray) -> list[list[float]]:
    return [[float(a), float(b)] for a, b in zip(t, v, strict=True)]


def make(
    before: np.ndarray,
    after: np.ndarray,
    *,
    name: str = "error_ratio",
    direction: Direction = "increase-is-bad",
    critical: bool = True,
    **extra: Any,
) -> MetricSeries:
    """A metric whose points before the change are ``before`` and after it ``after``."""
    t = CHANGE + STEP * np.arange(-before.size, after.size)
    metric: MetricSeries = {
        "name": name,
        "direction": direction,
        "changeAt": stamp(CHANGE),
        "series": series(t, np.concatenate([before, after])),
        "critical": critical,
    }
    metric.update(extra)  # type: ignore[typeddict-item]
    return metric


def noise(rng: np.random.Generator, n: int, level: float, cv: float = 0.1) -> np.ndarray:
    return level * np.exp(cv * rng.standard_normal(n))


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    e = rng.standard_normal(n)
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = rho * acc + math.sqrt(1 - rho * rho) * e[i]
        out[i] = acc
    return out


def critical(findings: list[Any]) -> list[Any]:
    return [f for f in findings if f["severity"] == "critical"]


def test_four_fold_error_rate_step_is_a_critical_high_naming_metric_effect_and_windows() -> None:
    rng = np.random.default_rng(1)
    metric = make(noise(rng, 30, 0.002), noise(rng, 30, 0.008), name="error-rate")

    findings = judge_metrics([metric])

    assert len(findings) == 1
    f = findings[0]
    assert f["severity"] == "critical"
    assert f["layer"] == "behaviour"
    assert f["check"] == "baseline"
    assert f["resource"] == {"kind": "Metric", "namespace": None, "name": "error-rate"}
    msg = f["message"]
    assert msg.startswith("error-rate up 4")  # the metric, the direction and the ratio
    assert re.search(r"HL shift \+0\.00[56]\d*, ", msg)  # the effect in the metric's units …
    assert "98% CI [" in msg  # … with its interval
    assert "vs 30m before the change" in msg  # the windows compared
    assert "observed 30m after the change" in msg
    a = assess(metric)
    assert a.classification == "High"
    assert a.regression
    assert a.ratio == pytest.approx(4.0, rel=0.15)
    assert a.shift is not None and a.shift.lo > a.tolerance  # type: ignore[operator]


def test_noisy_healthy_change_passes() -> None:
    rng = np.random.default_rng(2)
    metric = make(noise(rng, 60, 0.2, cv=0.3), noise(rng, 60, 0.2, cv=0.3), name="latency")

    a = assess(metric)

    assert a.classification == "Pass"
    assert a.severity is None
    assert critical(judge_metrics([metric])) == []


def _daily(t: np.ndarray) -> np.ndarray:
    """Traffic-like rhythm: the change lands on the steep morning ramp."""
    return 100.0 * (1.0 + 0.5 * np.sin(2 * np.pi * (t - CHANGE) / DAY))


def _seasonal(rng: np.random.Generator, with_history: bool) -> MetricSeries:
    t = CHANGE + STEP * np.arange(-120, 120)
    today = _daily(t) * np.exp(0.03 * rng.standard_normal(t.size))
    metric: MetricSeries = {
        "name": "requests_per_second",
        "direction": "either",
        "changeAt": stamp(CHANGE),
        "series": series(t, today),
        "critical": True,
        "tolerance": {"relative": 0.05},
    }
    if with_history:
        then = 0.9 * _daily(t) * np.exp(0.03 * rng.standard_normal(t.size))
        metric["history"] = [{"offsetSeconds": DAY, "series": series(t - DAY, then)}]
    return metric


def test_daily_rhythm_crossing_the_change_passes_when_history_shows_it() -> None:
    with_history = assess(_seasonal(np.random.default_rng(3), with_history=True))
    without = assess(_seasonal(np.random.default_rng(3), with_history=False))

    assert with_history.classification == "Pass"
    assert with_history.seasonal_shift is not None and with_history.seasonal_shift > 5
    assert "same windows 1d earlier" in with_history.message
    # The same series without its history reads as a regression: history is what tells them apart.
    assert without.classification == "High"
    assert without.severity == "critical"
    assert "no history" in without.message


def test_a_day_and_a_week_of_history_are_both_used() -> None:
    metric = _seasonal(np.random.default_rng(21), with_history=True)
    t = np.array([p[0] for p in metric["series"]])
    week = 1.1 * _daily(t) * np.exp(0.03 * np.random.default_rng(22).standard_normal(t.size))
    weekly: HistoryWindow = {"offsetSeconds": 7 * DAY, "series": series(t - 7 * DAY, week)}
    metric["history"] = [*metric["history"], weekly]

    a = assess(metric)

    assert a.classification == "Pass"
    assert a.windows is not None and a.windows.history_offsets == (DAY, 7 * DAY)
    assert "the same windows 1d and 7d earlier" in a.message


def test_slow_leak_is_high_although_the_mean_moved_less_than_the_tolerance() -> None:
    rng = np.random.default_rng(4)
    before = noise(rng, 60, 1e9, cv=0.02)
    after = noise(rng, 60, 1e9, cv=0.02) * (1.0 + 0.35 * np.arange(60) / 60)
    metric = make(before, after, name="memory_working_set_bytes")

    a = assess(metric)

    assert a.shift is not None and a.tolerance is not None
    assert a.shift.value < a.tolerance  # the whole-window shift alone would pass it …
    assert a.classification == "High"  # … the trend does not
    assert a.decisive == "trend"
    assert a.severity == "critical"
    assert "steady trend +" in a.message


def test_memory_refilling_after_a_restart_is_not_a_leak() -> None:
    rng = np.random.default_rng(5)
    before = noise(rng, 60, 1e9, cv=0.02)
    refill = np.minimum(1.0, 0.5 + 0.5 * np.arange(60) / 20)
    metric = make(before, noise(rng, 60, 1e9, cv=0.02) * refill, name="memory_working_set_bytes")

    assert critical(judge_metrics([metric])) == []


def test_throughput_drop_is_low_for_decrease_is_bad() -> None:
    rng = np.random.default_rng(6)
    metric = make(noise(rng, 30, 500), noise(rng, 30, 250), name="rps", direction="decrease-is-bad")

    a = assess(metric)

    assert a.classification == "Low"
    assert a.regression
    assert a.severity == "critical"
    assert a.message.startswith("rps down 0.49x (516 → 253")


def test_increase_is_bad_ignores_a_decrease() -> None:
    rng = np.random.default_rng(7)
    metric = make(noise(rng, 30, 0.01), noise(rng, 30, 0.002))

    a = assess(metric)

    assert a.classification == "Low"  # it did go down, and the judge says so …
    assert not a.regression  # … but that is not bad for this metric
    assert judge_metrics([metric]) == []


def test_either_direction_flags_both_ways() -> None:
    rng = np.random.default_rng(8)
    up = make(noise(rng, 30, 10), noise(rng, 30, 20), direction="either")
    down = make(noise(rng, 30, 10), noise(rng, 30, 5), direction="either")

    assert assess(up).classification == "High" and assess(up).regression
    assert assess(down).classification == "Low" and assess(down).regression


def test_nans_gaps_and_junk_points_are_dropped_and_the_step_still_found() -> None:
    rng = np.random.default_rng(9)
    metric = make(noise(rng, 40, 0.002), noise(rng, 40, 0.008))
    points: list[Any] = list(metric["series"])
    for i in range(0, len(points), 7):
        points[i] = [points[i][0], float("nan")]
    del points[10:18]  # a scrape gap before the change
    del points[50:55]  # and one after it
    points[3] = [points[3][0], float("inf")]
    points.insert(20, ["not", "a number"])
    metric["series"] = points

    a = assess(metric)

    assert a.classification == "High"
    assert a.windows is not None
    assert a.windows.baseline_points < 40 and a.windows.observation_points < 40


def test_points_that_are_not_number_pairs_are_dropped_not_a_crash() -> None:
    """A hand-written Evidence file can hold anything where a point should be: an object,
    an integer too large for a float, a bare number. Those points are dropped and the rest
    is judged."""
    rng = np.random.default_rng(19)
    metric = make(noise(rng, 40, 0.002), noise(rng, 40, 0.008))
    points: list[Any] = list(metric["series"])
    points[5] = {"t": points[5][0], "v": points[5][1]}
    points[12] = [points[12][0], 10**400]
    points[30] = 7
    points[45] = [points[45][0]]
    metric["series"] = points

    a = assess(metric)

    assert a.classification == "High"
    assert a.windows is not None
    assert (a.windows.baseline_points, a.windows.observation_points) == (37, 39)


def test_constant_series_is_decided_by_the_tolerance_without_dividing_by_zero() -> None:
    same = make(np.full(30, 5.0), np.full(30, 5.0))
    within = make(np.full(30, 5.0), np.full(30, 5.5))  # +10% < the 20% default tolerance
    beyond = make(np.full(30, 5.0), np.full(30, 8.0))
    zero_to_zero = make(np.zeros(30), np.zeros(30))
    absolute = make(np.zeros(30), np.full(30, 0.01), tolerance={"absolute": 0.05})

    assert assess(same).classification == "Pass"
    assert assess(within).classification == "Pass"
    assert assess(beyond).classification == "High"
    assert assess(beyond).severity == "critical"
    assert assess(zero_to_zero).classification == "Pass"
    assert assess(absolute).classification == "Pass"


def test_tiny_sample_says_nodata_instead_of_guessing() -> None:
    rng = np.random.default_rng(10)
    metric = make(noise(rng, 4, 0.002), noise(rng, 3, 0.05))

    findings = judge_metrics([metric])

    assert [f["severity"] for f in findings] == ["info"]
    assert "no data to judge" in findings[0]["message"]
    assert "4 usable points before the change and 3 after" in findings[0]["message"]
    assert assess(metric).classification == "NoData"


@pytest.mark.parametrize(
    ("spike", "said"),
    [
        (slice(55, 65), "; divergent for 10m — back within its usual range 1h6m after the change"),
        (slice(105, None), "; divergent for 14m"),
    ],
)
def test_a_spike_that_moved_the_mean_is_dated_by_when_it_was_out(spike: slice, said: str) -> None:
    """Ten minutes at 20x in the middle of 2 h moves the mean: the finding says it lasted
    10 minutes and is over, not that the metric diverged for 2 h; one still out at the end
    is out since it began."""
    rng = np.random.default_rng(1)
    after = noise(rng, 120, 10.0, 0.05)
    after[spike] *= 20.0

    a = assess(make(noise(rng, 60, 10.0, 0.05), after))

    assert a.severity == "critical" and a.decisive == "mean", a.message
    assert "error_ratio up" in a.message and "bursts: mean" in a.message
    assert said in a.message
    assert "divergent for 2h" not in a.message


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        (np.array([]), np.array([]), "no data before the change or after it"),
        (np.full(30, np.nan), np.full(30, np.nan), "no data before the change or after it"),
        (np.array([]), np.ones(30), "no data before the change"),
        (np.ones(30), np.full(30, np.nan), "no data after the change"),
    ],
)
def test_a_metric_without_data_says_so_and_is_not_a_regression(
    before: np.ndarray, after: np.ndarray, said: str
) -> None:
    """A query that matched nothing (or only NaN) has no data on that side: the finding says
    so plainly, not "0 usable points", and it never counts against the change."""
    metric = make(before, after)

    findings = judge_metrics([metric])

    assert [f["severity"] for f in findings] == ["info"]
    message = findings[0]["message"]
    assert f"error_ratio: no data to judge, not guessing: {said} (" in message
    assert "cannot be judged, and this is not a regression" in message
    assert "usable points" not in message
    assert assess(metric).classification == "NoData" and not assess(metric).regression


def test_collector_error_is_nodata_with_the_reason() -> None:
    metric = make(np.ones(30), np.ones(30))
    metric["error"] = "query timed out after 10s"

    a = assess(metric)

    assert a.classification == "NoData"
    assert a.severity == "info"
    assert "query timed out after 10s" in a.message


def test_counter_with_a_reset_is_judged_on_its_rate() -> None:
    rng = np.random.default_rng(11)

    def counter(rate_before: float, rate_after: float) -> MetricSeries:
        rate = np.concatenate([noise(rng, 40, rate_before), noise(rng, 40, rate_after)])
        total = np.cumsum(rate * STEP) + 1e6
        total[55:] -= total[54]  # the process restarted after the change
        return make(total[:40], total[40:], name="errors_total", kind="counter")

    steady = assess(counter(2.0, 2.0))
    doubled = assess(counter(2.0, 4.0))

    assert steady.classification == "Pass"  # the reset is not a drop in errors
    assert doubled.classification == "High"
    assert doubled.severity == "critical"
    assert doubled.baseline_level == pytest.approx(2.0, rel=0.1)  # judged per second


def test_fifty_noise_metrics_at_once_raise_no_false_critical() -> None:
    rng = np.random.default_rng(12)
    metrics = [
        make(
            10 * np.exp(0.2 * ar1(rng, 120, 0.6)[:60]),
            10 * np.exp(0.2 * ar1(rng, 120, 0.6)[60:]),
            name=f"noise_{i}",
            direction="either",
            tolerance={"relative": 0.05},
        )
        for i in range(50)
    ]
    metrics.append(make(noise(rng, 60, 10), noise(rng, 60, 30), name="real_regression"))

    findings = judge_metrics(metrics)

    assert [f["resource"]["name"] for f in critical(findings)] == ["real_regression"]


def test_autocorrelated_noise_widens_the_interval() -> None:
    rng = np.random.default_rng(13)
    x = ar1(rng, 120, 0.9)

    independent = hodges_lehmann(x[60:], x[:60], 0.98, rho=0.0)
    corrected = hodges_lehmann(x[60:], x[:60], 0.98, rho=0.9)

    assert corrected.hi - corrected.lo > 3 * (independent.hi - independent.lo)


def test_slowly_wandering_healthy_metric_is_not_a_regression() -> None:
    rng = np.random.default_rng(14)
    passes = 0
    for _ in range(20):
        v = 50 * np.exp(0.12 * ar1(rng, 120, 0.95))
        passes += assess(make(v[:60], v[60:], direction="either")).severity != "critical"
    assert passes == 20


def _step_at_change(rng: np.random.Generator, after_minutes: int, budget: float) -> MetricSeries:
    return make(noise(rng, 60, 0.002), noise(rng, after_minutes, 0.008), driftBudgetSeconds=budget)


def test_divergence_inside_the_drift_budget_is_a_warning_and_past_it_critical() -> None:
    rng = np.random.default_rng(15)
    metric = _step_at_change(rng, 40, budget=600)
    early = assess(metric, now=CHANGE + 6 * 60)
    late = assess(metric, now=CHANGE + 39 * 60)

    assert early.classification == "High"
    assert early.severity == "warning"
    assert "drift budget" in early.message
    assert late.severity == "critical"
    assert late.divergent_seconds is not None and late.divergent_seconds > 600


def test_divergence_over_the_whole_observe_window_meets_a_budget_as_long_as_it() -> None:
    # The collector's defaults: 30m baseline, 10m observed at a 15 s step, budget = observe.
    rng = np.random.default_rng(20)
    t = CHANGE - 1800 + 15.0 * np.arange(200)  # the grid does not start at the change
    v = 0.002 * np.exp(0.1 * rng.standard_normal(t.size))
    v[t >= CHANGE + 7] *= 4
    metric: MetricSeries = {
        "name": "error_ratio",
        "direction": "increase-is-bad",
        "changeAt": stamp(CHANGE + 7),
        "series": series(t[t <= CHANGE + 7 + 600], v[t <= CHANGE + 7 + 600]),
        "critical": True,
        "driftBudgetSeconds": 600.0,
    }

    a = assess(metric)

    assert a.severity == "critical"
    assert a.divergent_seconds is not None and a.divergent_seconds >= 600


def test_transient_blip_that_recovered_is_not_critical() -> None:
    rng = np.random.default_rng(16)
    after = noise(rng, 40, 0.002)
    after[:8] *= 5  # eight minutes of errors after the restart, then back to normal
    metric = make(noise(rng, 60, 0.002), after, driftBudgetSeconds=600)

    assert critical(judge_metrics([metric])) == []


def test_advisory_metric_regression_is_a_warning() -> None:
    rng = np.random.default_rng(17)
    metric = make(noise(rng, 30, 1.0), noise(rng, 30, 3.0), critical=False)

    [f] = judge_metrics([metric])
    assert f["severity"] == "warning" and "advisory" in f["message"]


def test_a_metric_that_does_not_say_is_critical() -> None:
    """Like a failed metric in Argo Rollouts, Flagger or Kayenta: a listed metric that
    regressed fails the verification unless it is marked advisory."""
    rng = np.random.default_rng(17)
    metric = make(noise(rng, 30, 1.0), noise(rng, 30, 3.0))
    del metric["critical"]

    assert [f["severity"] for f in judge_metrics([metric])] == ["critical"]


def test_many_metrics_share_false_discovery_control() -> None:
    rng = np.random.default_rng(18)
    metrics = [make(noise(rng, 30, 1.0), noise(rng, 30, 1.0), name=f"m{i}") for i in range(5)]

    together = assess_all(metrics)
    alone = [assess(m) for m in metrics]

    # Benjamini-Hochberg never makes a metric *more* significant than it is alone.
    for t, a in zip(together, alone, strict=True):
        assert t.p_value is not None and a.p_value is not None
        assert t.p_value >= a.p_value - 1e-12


def test_history_that_does_not_reach_far_enough_back_is_ignored() -> None:
    rng = np.random.default_rng(19)
    metric = make(noise(rng, 30, 1.0), noise(rng, 30, 4.0))
    metric["history"] = [{"offsetSeconds": DAY, "series": [[CHANGE - DAY, 1.0]]}]

    a = assess(metric)

    assert a.classification == "High"
    assert a.windows is not None and a.windows.history_offsets == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [("changeAt", "yesterday"), ("changeAt", "2026-11-27T10:00:00")],
)
def test_malformed_change_time_is_a_bad_request(field: str, value: str) -> None:
    metric = make(np.ones(30), np.ones(30))
    metric[field] = value  # type: ignore[literal-required]

    with pytest.raises(BadRequestError, match="changeAt"):
        judge_metrics([metric])


def test_negative_tolerance_is_a_bad_request() -> None:
    metric = make(np.ones(30), np.ones(30), tolerance={"relative": -0.1})

    with pytest.raises(BadRequestError, match="tolerance"):
        assess(metric)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("direction", "up-is-bad", "direction must be"),
        ("kind", "histogram", "kind must be gauge or counter"),
        ("series", None, "series and history must be lists"),
        ("tolerance", {"relative": "a lot"}, "tolerance must be numbers"),
        ("driftBudgetSeconds", -60, "driftBudgetSeconds must be a number >= 0"),
        ("history", [{"offsetSeconds": 86400, "series": "none"}], "series must be a list"),
    ],
)
def test_malformed_metric_fields_are_a_bad_request(field: str, value: Any, match: str) -> None:
    metric = make(np.ones(30), np.ones(30))
    metric[field] = value  # type: ignore[literal-required]

    with pytest.raises(BadRequestError, match=match):
        judge_metrics([metric])


def test_an_unset_tolerance_bound_keeps_its_default() -> None:
    only_absolute = make(np.full(30, 5.0), np.full(30, 5.5), tolerance={"absolute": 0.01})
    relative_off = make(
        np.full(30, 5.0), np.full(30, 5.5), tolerance={"relative": 0.0, "absolute": 0.01}
    )

    assert assess(only_absolute).classification == "Pass"  # the default 20% still applies
    assert assess(relative_off).classification == "High"  # 0.5 is beyond the 0.01 asked for


def test_a_day_of_baseline_calibrates_the_tests_and_still_finds_the_step() -> None:
    rng = np.random.default_rng(23)
    metric = make(noise(rng, 1440, 0.002), noise(rng, 120, 0.006), driftBudgetSeconds=600)

    a = assess(metric)

    assert a.severity == "critical" and a.decisive == "step"
    assert "a step" in a.message and "over 1d of its own history" in a.message
    assert "vs the 8h before the change" in a.message
    assert a.windows is not None and a.windows.baseline_points == 1440


def test_a_metric_too_slow_to_tell_says_inconclusive_instead_of_healthy() -> None:
    v = 50 + np.cumsum(np.random.default_rng(24).standard_normal(120))  # a random walk

    a = assess(make(v[:60], v[60:], direction="either"))

    assert a.classification == "NoData"
    assert a.severity == "info"
    # 60 points hold ~2 of news: no rank interval exists, and the robust-scale interval that
    # continues it still reaches past the tolerance, so nothing can be concluded.
    assert a.shift is not None and a.shift.saturated
    assert a.tolerance is not None and a.shift.lo < -a.tolerance
    assert "inconclusive" in a.message


def test_absurdly_large_values_say_nodata_instead_of_overflowing() -> None:
    metric = make(np.full(30, 1e300), np.full(30, 2e300))

    a = assess(metric)

    assert a.classification == "NoData"
    assert "cannot be compared" in a.message
