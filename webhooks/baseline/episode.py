"""When a metric's divergence began, whether it is still there, and how long it lasted.

The judge has found a metric significant; this module reads *when*, off the series its tests
ran on (values, or their day-over-day residual, minus the level before the change). A
divergence is still there when the deciding statistic over the later half of the observation
lies beyond its threshold (the tolerance, or with calibrated tests ``STILL_THERE_SCALES`` of
the null's scale); it began at the start of the longest trailing stretch beyond it. One that
is over is measured by its longest episode: runs of ``EPISODE_SHARE`` of the observation
beyond ``EPISODE_SCALES`` of the null's scale. Pure functions over a ``Measure``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from webhooks.baseline import stats
from webhooks.baseline.measure import CALIBRATED_ALPHA, Measure

#: The shortest trailing stretch that can date the start of a divergence.
ONGOING_POINTS = 5
#: How long a divergence lasted is read off runs of this share of the observation, each
#: beyond this many of the null's scales (widened for the run's length, see ``_episode``).
EPISODE_SHARE = 0.125
EPISODE_SCALES = 3.0


def ongoing_side(m: Measure, side_high: bool) -> tuple[bool, str, float | None]:
    """The side to report, its deciding test and when its divergence began (None: over).

    A spike that decays reads as a rise *and* a falling trend; when the side with the
    smaller p-value is over and the other one is significant and still there (calibrated
    tests, ``direction: either``), that one is reported."""
    decisive = m.decisive.get("high" if side_high else "low", "shift")
    onset = _onset(m, 1.0 if side_high else -1.0, decisive)
    other = m.p_low if side_high else m.p_high
    either = m.metric.get("direction", "either") == "either"
    if onset is None and m.calibration is not None and either and other < CALIBRATED_ALPHA:
        flipped = m.decisive.get("low" if side_high else "high", "step")
        if (again := _onset(m, -1.0 if side_high else 1.0, flipped)) is not None:
            return not side_high, flipped, again
    return side_high, decisive, onset


def recovered(m: Measure, side_high: bool, decisive: str) -> tuple[bool, str, float, float]:
    """For a divergence that is over: the side and test of its longest episode, how long
    that lasted and when the metric was back. Medians date an episode best (a mean is
    beyond as soon as one point of a run is far out), so the level's episodes come first;
    a rollback reads as a falling trend after a rise, so with calibrated tests the level is
    searched on either side (as far as the direction counts them)."""
    sides = [side_high]
    if m.calibration is not None and m.metric.get("direction", "either") == "either":
        sides.append(not side_high)
    level = "step" if m.calibration is not None else "shift"
    best = (side_high, decisive, *_episode(m, 1.0 if side_high else -1.0, decisive))
    found = [(s, level, *_episode(m, 1.0 if s else -1.0, level)) for s in sides]
    longest = max(found, key=lambda e: e[2])
    side, kind, lasted, back, excess = longest if longest[2] > 0 else best
    m.episode_level = excess if lasted > 0 else None
    return side, kind, lasted, back


def _onset(m: Measure, sign: float, decisive: str) -> float | None:
    """When the divergence in direction ``sign`` began, or None if it is over.

    It is still there when the deciding statistic over the later half of the observation
    (early on: all of it) lies beyond the tolerance. It began at the start of the longest
    trailing stretch (of at least ``ONGOING_POINTS`` points) whose median — or mean, when the
    mean decided — lies beyond the tolerance.
    """
    if decisive == "variability":
        return m.change_at  # jumpiness is judged over the whole observation
    threshold = m.thresholds.get(decisive, m.tolerance)
    if sign * m.latest.get(decisive, 0.0) <= threshold or m.excess is None:
        return None
    assert m.excess_t is not None
    tt, s = stats.thin(m.excess_t)
    x = sign * (m.excess[::s] if s > 1 else m.excess)
    n = x.size
    idx = np.arange(n)
    counts = n - idx
    if decisive in ("mean", "burst"):
        centre = np.cumsum(x[::-1])[::-1] / counts
    else:
        # Suffix medians: row i holds x[i:], the rest padded so it sorts to the end.
        grid = np.where(idx[None, :] >= idx[:, None], x[None, :], np.inf)
        grid.sort(axis=1)
        centre = 0.5 * (grid[idx, (counts - 1) // 2] + grid[idx, counts // 2])
    beyond = np.flatnonzero((centre > threshold) & (counts >= min(ONGOING_POINTS, n)))
    if not beyond.size:
        return m.half
    # Diverging from the first point on means diverging since the change itself.
    return m.change_at if beyond[0] == 0 else float(tt[beyond[0]])


def _episode(m: Measure, sign: float, decisive: str) -> tuple[float, float, float]:
    """How long a divergence that is over lasted, when (seconds after the change) the metric
    was back, and how far beyond its level before the change it lay meanwhile (the median
    excess over the episode).

    A stretch is divergent where the median (or mean, when the mean decided) of a run of
    ``EPISODE_SHARE`` of the observation lies beyond the threshold; with calibrated tests the
    threshold is ``EPISODE_SCALES`` of the null's scale, widened for the shorter run (times the square root of how many runs fit in the observation). The longest
    stretch of such runs lasted from the centre of its first run (the change itself, when
    that run starts there) to the centre of its last. (0, 0, 0) when there is none (a spike)."""
    if m.excess is None or m.excess_t is None or decisive == "variability":
        return 0.0, 0.0, 0.0
    tt, s = stats.thin(m.excess_t)
    x = sign * (m.excess[::s] if s > 1 else m.excess)
    k = min(x.size, max(ONGOING_POINTS, round(EPISODE_SHARE * x.size)) | 1)  # odd: a middle
    threshold = m.tolerance
    if m.calibration is not None:
        scale = m.calibration["step" if decisive == "leak" else decisive].scale
        threshold = max(threshold, EPISODE_SCALES * scale * math.sqrt(x.size / k))
    runs = sliding_window_view(x, k)
    centre = runs.mean(axis=1) if decisive in ("mean", "burst") else np.median(runs, axis=1)
    beyond = np.flatnonzero(centre > threshold)
    if not beyond.size:
        return 0.0, 0.0, 0.0
    # The longest stretch of consecutive runs beyond it.
    breaks = np.flatnonzero(np.diff(beyond) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [beyond.size - 1]])
    longest = int(np.argmax(beyond[ends] - beyond[starts]))
    lo, hi = int(beyond[starts[longest]]), int(beyond[ends[longest]])
    first = m.change_at if lo == 0 else float(tt[lo + k // 2])
    last = float(tt[hi + k // 2]) + m.step * s
    return last - first, last - m.change_at, stats.median(x[lo : hi + k])
