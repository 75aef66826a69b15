"""The judge's intervals mean what they say on autocorrelated noise: a 98% interval for the shift
misses a true zero shift about 2% of the time, whether the metric is jumpy or wanders slowly
(including when ranks saturate and the robust-scale interval takes over)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.baseline.test_judge import ar1
from webhooks.baseline import stats


@pytest.mark.parametrize("rho", [0.3, 0.9])
def test_the_shift_interval_covers_no_change_about_98_percent_of_the_time(rho: float) -> None:
    rng = np.random.default_rng(int(rho * 100))
    runs, misses = 600, 0
    for _ in range(runs):
        x = ar1(rng, 172, rho)[100:]  # burn-in, then 48 baseline and 24 observed points
        before, after = x[:48], x[48:]
        learnt = stats.lag1(before - stats.median(before))  # as the judge learns it

        est = stats.hodges_lehmann(after, before, 0.98, learnt)

        misses += bool(est.lo > 0 or est.hi < 0)
    # Nominal 2% of 600 is 12; the binomial spread is about 3.4.
    assert 2 <= misses <= 26
