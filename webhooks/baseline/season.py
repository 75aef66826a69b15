"""What the same windows looked like one period earlier, and how the metric trended.

The judge's difference-in-differences pieces: the shift the history showed across the same
split (scaled to today's level), the path the history took point by point (for dating a
divergence and learning the noise without the daily rhythm), and the change in Theil-Sen
slope at the change, net of the history's.
"""

from __future__ import annotations

import math

import numpy as np

from webhooks.baseline import stats
from webhooks.baseline.assessment import CONFIDENCE
from webhooks.baseline.series import FloatArray, HistorySplit, Split
from webhooks.baseline.stats import Estimate

#: A history window needs this many points on each side to tell the seasonal shift.
MIN_HISTORY_POINTS = 5
#: A slope needs this many points before it is trusted at all.
MIN_TREND_POINTS = 8
#: The seasonal scale (baseline level now / then) is clamped: history from a very different
#: regime says little about today.
MAX_SEASONAL_SCALE = 4.0


def scale(level_now: float, level_then: float) -> float:
    """How much bigger today's level is than the history's: seasonal swings scale with it."""
    if level_now <= 0 or level_then <= 0:
        return 1.0
    return min(max(level_now / level_then, 1.0 / MAX_SEASONAL_SCALE), MAX_SEASONAL_SCALE)


def median_estimate(estimates: list[Estimate]) -> Estimate | None:
    """Several history offsets (a day, a week) combined: the median estimate with the median
    half-widths, so one unusual earlier period (a holiday, an incident) does not decide."""
    if not estimates:
        return None
    if len(estimates) == 1:
        return estimates[0]
    value = float(np.median([e.value for e in estimates]))
    below = float(np.median([e.value - e.lo for e in estimates]))
    above = float(np.median([e.hi - e.value for e in estimates]))
    saturated = any(e.saturated for e in estimates)
    return Estimate(value, value - below, value + above, estimates[0].z, saturated)


def seasonal_shift(
    histories: list[HistorySplit], level: float, skip: float, rho: float
) -> Estimate | None:
    """The shift the same windows showed one period earlier, scaled to today's level
    (``skip``: seconds after the change where the compared observation starts). ``rho`` is
    the autocorrelation learnt on today's baseline: inside a history window the daily rhythm
    itself would pass for autocorrelation."""
    shifts = []
    for h in histories:
        b, a = h.split.before, h.split.after.since(h.split.after.t[0] + skip if skip else -math.inf)
        if a.n < MIN_HISTORY_POINTS:
            continue
        then = h.level
        shifts.append(stats.hodges_lehmann(a.v, b.v, CONFIDENCE, rho).scaled(scale(level, then)))
    return median_estimate(shifts)


def expected_path(histories: list[HistorySplit], t: FloatArray, level: float) -> FloatArray:
    """Point by point, how far above its baseline level the history was at the same time of
    the period (smoothed), scaled to today: what the observation should look like anyway."""
    paths = []
    for h in histories:
        b, a = h.split.before, h.split.after
        then = h.level
        # A long history is thinned first: the path is a rhythm, not a detail (and a day of
        # minutes would otherwise cost more than all four tests together).
        ht, stride = stats.thin(np.concatenate([b.t, a.t]), 4 * stats.MAX_POINTS)
        hv = np.concatenate([b.v, a.v])[::stride]
        smooth = running_median(hv, 5)
        paths.append((np.interp(t - h.offset, ht, smooth) - then) * scale(level, then))
    if not paths:
        return np.zeros_like(t)
    if len(paths) == 1:
        return paths[0]
    return np.asarray(np.median(np.vstack(paths), axis=0), dtype=np.float64)


def running_median(v: FloatArray, width: int) -> FloatArray:
    """Median of each ``width`` consecutive points (odd ``width``), the ends padded with the
    edge values: the middle order statistic of ``width`` shifted copies, which is much cheaper
    than a median over a sliding-window view."""
    if v.size < width:
        return v
    pad = width // 2
    padded = np.concatenate([np.full(pad, v[0]), v, np.full(pad, v[-1])])
    shifted = np.stack([padded[i : i + v.size] for i in range(width)])
    return np.asarray(np.partition(shifted, pad, axis=0)[pad], dtype=np.float64)


def trend(
    split: Split, histories: list[HistorySplit], level: float, rho: float
) -> tuple[Estimate, float]:
    """How much more the observation rose over its span than the same length of baseline
    before it did (a change in Theil-Sen slope, so a ramp that merely continues is not a
    leak), minus the same difference one period earlier; and where the observation's fitted
    line ends."""
    after = split.after
    before = split.before.since(float(after.t[0]) - after.span)
    slope, intercept = stats.theil_sen(after.t - after.t[0], after.v, CONFIDENCE, rho)
    diff = slope
    if before.n >= MIN_TREND_POINTS:
        diff = diff.minus(stats.theil_sen(before.t, before.v, CONFIDENCE, rho)[0])
    refs = []
    for h in histories:
        ha = h.split.after
        hb = h.split.before.since(float(ha.t[0]) - ha.span)
        if ha.n >= MIN_TREND_POINTS and hb.n >= MIN_TREND_POINTS:
            then = scale(level, h.level)
            ref = stats.theil_sen(ha.t, ha.v, CONFIDENCE, rho)[0].minus(
                stats.theil_sen(hb.t, hb.v, CONFIDENCE, rho)[0]
            )
            refs.append(ref.scaled(then))
    ref_est = median_estimate(refs)
    if ref_est is not None:
        diff = diff.minus(ref_est)
    return diff.scaled(after.span), intercept + slope.value * after.span
