"""Day-over-day residuals: the calibrated tests for a metric with a daily rhythm.

A metric that climbs every morning and falls every night (request rates, latency) carries
its rhythm into the calibrated tests' null: the difference "2 h after minus 8 h before" at
every offset of a two-day baseline is mostly the time of day, so the null's scale is wide
and a real 10% step hides inside it. Taking yesterday out first — the residual
``r(t) = x(t) - x(t - period)``, each point against the same time one period earlier —
leaves the noise, and the same four tests (``calibrated``) run on the residual find the step.

The residual is used only when the baseline itself shows the rhythm (a **gate** on its
strength): the baseline's means over each twenty-fourth of the period (hours, for a day)
correlate at least ``GATE`` with the same twenty-fourths one period earlier. The residual
is not free: it adds yesterday's noise, and yesterday's incidents, to today. At the scale of
hours its variance is about ``2 (1 - r)`` of the values' for a correlation ``r``: at 0.6
that is hardly a gain, at 0.8 it is less than half. On a metric without a rhythm, and on
one that sits at one value most of the time (its day-over-day difference is mostly exactly
zero, a null too narrow to trust), the gate keeps the plain tests.

The period is a day, or the smallest ``windows.history`` offset when the metric names some
(see ``period``). The residual's null spans only what lies one period after the baseline's
first point (the last day of a two-day baseline), so it needs ``baseline >= period + 11 x
observe`` or so; anything shorter, and a period shorter than the observation (the residual
would compare the observation with itself), is skipped before any work is done.

Everything here is pure and vectorised: one ``bincount`` for the gate, one
``searchsorted`` to match each point with the point one period earlier. The tests
themselves run later, with every other metric's (``calibrated.calibrate_many``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from webhooks.baseline import calibrated
from webhooks.baseline.series import FloatArray, Window
from webhooks.baseline.stats import median

DAY = 86_400.0
#: The gate: the baseline's means per twenty-fourth of the period correlate at least this
#: much with the same twenty-fourths one period earlier. (At 0.6 it also opened on real
#: metrics with a weak rhythm, where yesterday's bursts then read as today's regressions:
#: see docs/baselines.md, "Accuracy".)
GATE = 0.8
#: The period is cut into this many bins for the gate (hours, for a day).
BINS = 24
#: The gate needs at least this many bins seen both now and one period earlier.
MIN_BIN_PAIRS = 12
#: Window pairs the residual's null needs: one fewer than the plain null's, so a two-day
#: baseline a few points short (a scrape gap, a range that starts one step late) keeps its
#: residual; the null then spans 22 h rather than 24 h for a 2 h observation.
MIN_PAIRS = calibrated.MIN_PAIRS - 1
#: A point is compared with the nearest point one period earlier within this many steps
#: (a scrape lost yesterday borrows its neighbour rather than losing today's point too).
MATCH_STEPS = 1.5


@dataclass(frozen=True)
class DayOverDay:
    """Each point minus the same time one period earlier: what the calibrated tests run on
    for a metric with a daily rhythm."""

    period: float  # seconds between a point and the one it is compared with
    strength: float  # the gate's correlation
    before: FloatArray  # the baseline's residual (points with a match one period earlier)
    after: Window  # the observation's residual
    #: The level the observation had one period earlier (the median of the points it was
    #: compared with): what "1.1x" and a relative floor are measured from.
    level: float


def period(offsets: Sequence[float]) -> float:
    """The rhythm's period: the smallest history offset the metric names (the user said
    that is when the metric looks alike), else a day."""
    return min(offsets, default=DAY)


def strength(t: FloatArray, v: FloatArray, period: float) -> float | None:
    """How much the baseline's rhythm repeats: the correlation of its means per twenty-fourth
    of the period with the same twenty-fourths one period earlier (None: too few pairs, or
    one side constant)."""
    if t.size < 2:
        return None
    k = np.floor((t - t[0]) / (period / BINS)).astype(np.int64)
    counts = np.bincount(k)
    if counts.size <= BINS:
        return None
    means = np.bincount(k, weights=v) / np.maximum(counts, 1)
    seen = counts > 0
    both = seen[BINS:] & seen[:-BINS]
    if int(np.count_nonzero(both)) < MIN_BIN_PAIRS:
        return None
    now, then = means[BINS:][both], means[:-BINS][both]
    now, then = now - now.mean(), then - then.mean()
    norm = float(np.sqrt(np.dot(now, now) * np.dot(then, then)))
    return float(np.dot(now, then)) / norm if norm > 0 else None


def day_over_day(
    before: Window, after: Window, change_at: float, step: float, period: float
) -> DayOverDay | None:
    """The residual against the same time one period earlier, or None when the baseline is
    too short for its null or shows no rhythm (the gate). A residual returned always holds
    the ``MIN_PAIRS`` window pairs ``calibrated.calibrate`` needs."""
    if step <= 0 or before.n == 0 or after.n == 0 or period <= after.t[-1] - change_at:
        return None
    tolerance = MATCH_STEPS * step
    first = int(np.searchsorted(before.t, before.t[0] + period - tolerance))
    if not calibrated.fits(before.n - first, after.n, MIN_PAIRS):
        return None
    gate = strength(before.t, before.v, period)
    if gate is None or gate < GATE:
        return None
    # Each point from one period into the baseline on, matched with the nearest baseline
    # point one period earlier (unmatched points are left out).
    t = np.concatenate([before.t[first:], after.t])
    v = np.concatenate([before.v[first:], after.v])
    target = t - period
    hi = np.minimum(np.searchsorted(before.t, target), before.n - 1)
    lo = np.maximum(hi - 1, 0)
    nearest = np.where(np.abs(before.t[lo] - target) <= np.abs(before.t[hi] - target), lo, hi)
    matched = np.abs(before.t[nearest] - target) <= tolerance
    residual = v - before.v[nearest]
    split = before.n - first
    keep_b, keep_a = matched[:split], matched[split:]
    residual_before = residual[:split][keep_b]
    if not calibrated.fits(residual_before.size, int(np.count_nonzero(keep_a)), MIN_PAIRS):
        return None
    earlier = before.v[nearest[split:][keep_a]]
    after_residual = Window(after.t[keep_a], residual[split:][keep_a])
    return DayOverDay(period, gate, residual_before, after_residual, median(earlier))
