"""A plain Kayenta-style judge, the baseline the benchmarks compare against.

It follows NetflixACAJudge's Mann-Whitney classifier: NaNs removed, a two-sided Mann-Whitney
U test of the observation against the baseline at 98% confidence, the Hodges-Lehmann shift
interval computed on all points as if they were independent, and High (Low) when the whole
interval lies above (below) a band of ±25% of the shift estimate itself. No history, no
trend, no drift budget, no correction for autocorrelation or for many metrics; counters are
judged on their rate (Kayenta's queries would ask for a rate). A metric whose classification
is in its bad direction is a Degraded.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from webhooks.baseline.series import cut, prepare
from webhooks.common.times import parse_time
from webhooks.evidence.model import MetricSeries

CONFIDENCE = 0.98
FRACTION = 0.25


def classify(metric: MetricSeries, now: float | None = None) -> str:
    """``High`` | ``Low`` | ``Pass`` | ``NoData`` for one metric."""
    t, v = prepare(metric["series"], metric.get("kind") == "counter")
    change = parse_time(metric["changeAt"]).timestamp()
    end = now if now is not None else (float(t[-1]) if t.size else change)
    split = cut(t, v, change, -math.inf, end)
    x, y = split.after.v, split.before.v
    if x.size == 0 or y.size == 0:
        return "NoData"
    if np.unique(np.concatenate([x, y])).size == 1:
        return "Pass"
    n, m = x.size, y.size
    diffs = np.sort((x[:, None] - y[None, :]).ravel())
    z = float(stats.norm.isf((1 - CONFIDENCE) / 2))
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    estimate = float(np.median(diffs))
    lo, hi = (float(diffs[k - 1]), float(diffs[-k])) if k >= 1 else (-math.inf, math.inf)
    bound = FRACTION * abs(estimate)
    direction = metric.get("direction", "either")
    if direction in ("increase-is-bad", "either") and lo > bound:
        return "High"
    if direction in ("decrease-is-bad", "either") and hi < -bound:
        return "Low"
    return "Pass"


def degraded(metric: MetricSeries, now: float | None = None) -> bool:
    """True when the classification is in the metric's bad direction."""
    c = classify(metric, now)
    direction = metric.get("direction", "either")
    if c == "High":
        return direction in ("increase-is-bad", "either")
    if c == "Low":
        return direction in ("decrease-is-bad", "either")
    return False
