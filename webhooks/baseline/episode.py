"""When a metric's divergence began, whether it is still there, and how long it lasted.

The judge has found a metric significant; this module reads *when*, off the series its tests
ran on (values, or their day-over-day residual, minus the level before the change). A
divergence is still there when the deciding statistic over the later half of the observation
lies beyond its threshold (the tolerance, or with calibrated tests ``STILL_THERE_SCALES`` of
the null's scale); it began at the start of the longest trailing stretch beyond it. One that
is over is measured by its longest episode: runs of ``EPISODE_SHARE`` of the observation
beyond ``EPISODE_SCALES`` of the null's scale. A mean-decided divergence (bursts) that is
still there by its test is described by those runs too (``spell``): one far-out stretch keeps
every trailing mean that holds it beyond, so a spike that is over is told as one. Pure
functions over a ``Measure``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from webhooks.baseline import stats
from webhooks.baseline.calibrated import IntArray
from webhooks.baseline.measure import CALIBRATED_ALPHA, Measure
from webhooks.baseline.series import FloatArray

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


def spell(m: Measure, side_high: bool, decisive: str, onset: float) -> tuple[float, float | None]:
    """How long a divergence still there by its deciding test has really lasted, and when
    the metric was back (seconds after the change; None: it is still out).

    A mean is beyond as soon as one stretch of it is far out: every trailing mean that holds
    a 10-minute spike stays beyond its threshold, so a mean-decided divergence is read off
    its episodes instead, the level's first (medians date a stretch best, as in
    ``recovered``), then the mean's. When the last run of the observation still lies beyond,
    the metric is out since the start of the stretch that run ends; otherwise the spike is
    over and measured by its longest episode. Other tests are dated as the judge dated
    them: from ``onset`` to the end of the observation."""
    since = m.end + m.step - onset
    if decisive not in ("mean", "burst"):
        return since, None
    sign = 1.0 if side_high else -1.0
    kinds = ("step" if m.calibration is not None else "shift", decisive)
    for kind in kinds:
        runs = _runs_beyond(m, sign, kind, every_point=True)
        if runs is not None and runs.beyond[-1] == runs.last:
            lo, _ = runs.stretches()[-1]
            return min(since, m.end + m.step - runs.first(lo, m.change_at)), None
    for kind in kinds:
        lasted, back, _ = _episode(m, sign, kind, every_point=True)
        if lasted > 0:
            return lasted, back
    return since, None


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


@dataclass(frozen=True)
class _Runs:
    """The runs of ``k`` (thinned) observation points whose centre lies beyond the
    threshold: ``beyond`` indexes the runs, ``last`` is the index of the observation's last."""

    beyond: IntArray
    last: int
    k: int
    stride: int
    t: FloatArray
    x: FloatArray

    def stretches(self) -> list[tuple[int, int]]:
        """The first and last run of each stretch of consecutive runs beyond."""
        breaks = np.flatnonzero(np.diff(self.beyond) > 1)
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks, [self.beyond.size - 1]])
        return [
            (int(self.beyond[a]), int(self.beyond[b])) for a, b in zip(starts, ends, strict=True)
        ]

    def first(self, lo: int, change_at: float) -> float:
        """When a stretch that starts with run ``lo`` began: the centre of that run, or the
        change itself when that run starts there."""
        return change_at if lo == 0 else float(self.t[lo + self.k // 2])


def _runs_beyond(
    m: Measure, sign: float, decisive: str, *, every_point: bool = False
) -> _Runs | None:
    """Runs of ``EPISODE_SHARE`` of the observation whose median (or mean, when the mean
    decided) lies beyond the threshold; with calibrated tests the threshold is
    ``EPISODE_SCALES`` of the null's scale, widened for the shorter run (times the square
    root of how many runs fit in the observation). A long observation is thinned to at most
    ``stats.MAX_POINTS``, so a run holds fewer points than its span: ``every_point`` widens
    for all the points the null's scale was measured on (how episodes are measured leaves
    that out). None when there is none."""
    if m.excess is None or m.excess_t is None or decisive == "variability":
        return None
    tt, s = stats.thin(m.excess_t)
    x = sign * (m.excess[::s] if s > 1 else m.excess)
    k = min(x.size, max(ONGOING_POINTS, round(EPISODE_SHARE * x.size)) | 1)  # odd: a middle
    threshold = m.tolerance
    if m.calibration is not None:
        scale = m.calibration["step" if decisive == "leak" else decisive].scale
        points = x.size * s if every_point else x.size
        threshold = max(threshold, EPISODE_SCALES * scale * math.sqrt(points / k))
    runs = sliding_window_view(x, k)
    centre = runs.mean(axis=1) if decisive in ("mean", "burst") else np.median(runs, axis=1)
    beyond = np.flatnonzero(centre > threshold)
    if not beyond.size:
        return None
    return _Runs(beyond, x.size - k, k, s, tt, x)


def _episode(
    m: Measure, sign: float, decisive: str, *, every_point: bool = False
) -> tuple[float, float, float]:
    """How long a divergence that is over lasted, when (seconds after the change) the metric
    was back, and how far beyond its level before the change it lay meanwhile (the median
    excess over the episode).

    The longest stretch of runs beyond (see ``_runs_beyond``) lasted from the centre of its
    first run (the change itself, when that run starts there) to the centre of its last.
    (0, 0, 0) when there is none (a spike)."""
    runs = _runs_beyond(m, sign, decisive, every_point=every_point)
    if runs is None:
        return 0.0, 0.0, 0.0
    lo, hi = max(runs.stretches(), key=lambda e: e[1] - e[0])
    first = runs.first(lo, m.change_at)
    last = float(runs.t[hi + runs.k // 2]) + m.step * runs.stride
    return last - first, last - m.change_at, stats.median(runs.x[lo : hi + runs.k])
