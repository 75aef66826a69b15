"""When the windows hold too few effective points for a rank interval, the judge still tells a
step far beyond the metric's wander from the wander itself (and says "inconclusive" only when
it truly cannot tell)."""

from __future__ import annotations

import math

import numpy as np

from tests.baseline.test_judge import ar1, make
from webhooks.baseline.judge import assess
from webhooks.baseline.stats import hodges_lehmann, robust_variance


def test_a_large_step_on_a_slowly_wandering_metric_is_a_regression_not_inconclusive() -> None:
    rng = np.random.default_rng(5)
    # A temperature-like metric: level 60, wandering with rho 0.97 and a spread of about 2.
    v = 60 + 2 * ar1(rng, 120, 0.97)
    v[60:] += 40  # the change heats it by two thirds: far beyond anything it wandered

    a = assess(make(v[:60], v[60:], name="temperature", direction="increase-is-bad"))

    assert a.classification == "High"
    assert a.severity == "critical"
    assert a.shift is not None and a.shift.saturated
    assert a.shift.lo > a.tolerance  # type: ignore[operator]


def test_the_same_wander_without_a_step_is_not_a_regression() -> None:
    for seed in range(20):
        v = 60 + 2 * ar1(np.random.default_rng(seed), 120, 0.97)

        a = assess(make(v[:60], v[60:], name="temperature", direction="either"))

        assert a.classification in ("Pass", "NoData"), seed


def test_a_saturated_interval_is_finite_and_never_narrower_than_every_difference() -> None:
    rng = np.random.default_rng(8)
    before, after = rng.normal(0, 1, 48), rng.normal(30, 1, 24)

    est = hodges_lehmann(after, before, 0.98, rho=0.95)

    diffs = after[:, None] - before[None, :]
    assert est.saturated
    assert math.isfinite(est.lo) and math.isfinite(est.hi)
    assert est.lo <= diffs.min() and est.hi >= diffs.max()
    assert est.lo > 0  # thirty spreads apart is a shift, however slowly the metric wanders


def test_without_much_autocorrelation_the_rank_interval_is_used_as_before() -> None:
    rng = np.random.default_rng(9)
    before, after = rng.normal(0, 1, 48), rng.normal(1, 1, 24)

    est = hodges_lehmann(after, before, 0.98, rho=0.2)

    assert not est.saturated
    diffs = np.sort((after[:, None] - before[None, :]).ravel())
    assert est.lo in diffs and est.hi in diffs  # order statistics of the differences


def test_robust_variance_recovers_the_spread_a_short_slow_window_hides() -> None:
    rng = np.random.default_rng(10)
    rho, n = 0.9, 48
    windows = [ar1(rng, n + 200, rho)[200:] for _ in range(400)]  # marginal variance 1

    corrected = np.mean([robust_variance(w, rho) for w in windows])
    naive = np.mean([(1.4826 * np.median(np.abs(w - np.median(w)))) ** 2 for w in windows])

    assert naive < 0.85  # around its own centre a short window looks calm …
    assert 0.8 < corrected < 1.25  # … the AR(1) correction restores the process's spread
