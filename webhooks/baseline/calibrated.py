"""Tests calibrated on the metric's own history: an empirical null drawn from the baseline.

With a long baseline (hours to days before the change), the judge does not need a fixed
tolerance to tell a regression from the usual noise: it can ask, for each statistic, *how
unusual is this before/after difference compared with the same difference at every other
point of this metric's own history?*

For an observation of ``m`` points the actual difference is the statistic of the ``m``
points after the change minus the statistic of the ``4 m`` points just before it (a blip just
before the change then does not pass for one; their median is the median of their four
``m``-point medians). The null is the same difference for every window pair of the same lengths that lies entirely inside the
baseline, slid along it one block at a time (where, as far as anyone knows, nothing changed).
Four statistics, each a kind of change a deploy causes:

* **step** — the median (of block medians): the level moved;
* **burst** — the mean: errors that come in bursts move the mean, not the median;
* **variability** — the log of the mean absolute step from one point to the next: the service
  turned jumpy (retries, GC pauses, flapping) with its level where it was; slow wander
  hardly moves it. Only an *increase* counts;
* **leak** — the observation's own least-squares rise (slope times length) against the rise
  of every other window of its length: a leak is a slope (a step at the window's edge does
  not tilt it).

The windows of the null overlap, so they are far from independent: a two-day baseline holds
only about two dozen non-overlapping two-hour pairs, and "more extreme than any of them" is
not rare enough to fail a deploy on. The difference is therefore scored as a z —
``(difference - median of the null) / scale`` — whose scale is read off the null's middle
*and* its tail (the largest of what its median, 90th and 99th percentile absolute deviation
each imply for a normal null, so a heavy-tailed history widens it), and read against a
Student-t tail with ten degrees of freedom. A difference that one in twenty of the history's
own window pairs reaches is never called rare, whatever the tail says: its p-value is then
the empirical one, ``(1 + #as far) / (1 + K)``.

Everything is vectorised over the null's offsets: the series is cut into blocks (at most
``MAX_BLOCKS`` per observation), block sums and medians are taken once, and every window
statistic is a cumulative-sum difference or a row of a sliding-window view.

A baseline too short for the null (fewer than ``MIN_PAIRS`` non-overlapping window pairs
before the change) gets ``None``: the judge then falls back to its interval tests against
the fixed tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy import special

from webhooks.baseline.series import FloatArray
from webhooks.baseline.stats import median

IntArray = npt.NDArray[np.int64]

#: An observation is cut into at most this many blocks (cost, and robustness to a spike).
MAX_BLOCKS = 24
#: The window just before the change is this many times the observation's length (a burst
#: or a dip just before the change then does not pass for a change).
BEFORE_FACTOR = 4
#: The null needs at least this many non-overlapping window pairs inside the baseline.
MIN_PAIRS = 8
#: Degrees of freedom of the Student-t tail the z is read against.
TAIL_DF = 10.0
#: (quantile of the null's absolute deviations, the normal quantile it stands for).
_SCALE_QUANTILES = ((0.5, 0.6745), (0.9, 1.6449), (0.99, 2.5758))
#: A difference at least this share of the null's window pairs reach is never rare.
EMPIRICAL_GUARD = 0.05
#: The tests, in the order ``calibrate`` computes them (which one a finding names is the
#: judge's choice: see ``judge._first_significant``).
TESTS = ("step", "burst", "leak", "variability")


@dataclass(frozen=True)
class Calibrated:
    """One statistic's before/after difference and where it falls in its own history."""

    kind: str  # step | burst | variability | leak
    value: float  # the actual difference (metric units; log-ratio for variability)
    before: float  # the statistic just before the change (median, mean, jumpiness; 0 for a leak)
    after: float  # the statistic after it (for a leak: the rise over the observation)
    centre: float  # the null's median difference
    scale: float  # the null's robust standard deviation
    p_high: float  # one-sided p-value: the difference is unusually high
    p_low: float  # … unusually low
    pairs: int  # non-overlapping window pairs the null spans

    @property
    def z(self) -> float:
        """How many of the history's usual differences this one is away from its middle."""
        if self.scale > 0:
            return (self.value - self.centre) / self.scale
        return 0.0 if self.value == self.centre else math.copysign(math.inf, self.value)


def _row_medians(rows: FloatArray) -> FloatArray:
    """The median of each row of a 2-D array (sorting short rows beats np.median's and a
    two-pivot partition's overhead several times over)."""
    k = rows.shape[1]
    ordered = np.sort(rows, axis=1)
    if k % 2:
        return np.asarray(ordered[:, k // 2], dtype=np.float64)
    return np.asarray(0.5 * (ordered[:, k // 2 - 1] + ordered[:, k // 2]), dtype=np.float64)


def _tail(z: FloatArray) -> FloatArray:
    """Upper-tail probability of a Student-t with ``TAIL_DF`` degrees of freedom."""
    return np.asarray(special.stdtr(TAIL_DF, -z), dtype=np.float64)


def block_size(observed: int) -> int:
    """Points per block for an observation of ``observed`` points."""
    return max(1, math.ceil(observed / MAX_BLOCKS))


def fits(before: int, observed: int, min_pairs: int = MIN_PAIRS) -> bool:
    """Whether ``before`` baseline points hold a null for ``observed`` points: at least
    ``min_pairs`` non-overlapping window pairs (and two observation blocks)."""
    s = block_size(observed)
    m, n = observed // s, before // s
    w = BEFORE_FACTOR * m
    return m >= 2 and n - w - m + 1 >= 1 and (n - w) / m >= min_pairs


def calibrate(
    before: FloatArray, after: FloatArray, min_pairs: int = MIN_PAIRS
) -> dict[str, Calibrated] | None:
    """The four calibrated tests for an observation against a long baseline, or None when
    the baseline holds fewer than ``min_pairs`` window pairs."""
    if not fits(before.size, after.size, min_pairs):
        return None
    s = block_size(after.size)
    m = after.size // s  # observation blocks
    n = before.size // s  # baseline blocks, aligned to end at the change
    w = BEFORE_FACTOR * m
    x = np.concatenate([before[before.size - n * s :], after[: m * s]]).reshape(n + m, s)
    # Centre on the baseline's middle first: sums of squares of large values lose precision.
    origin = median(x[:n].ravel())
    x = x - origin
    bsum = x.sum(axis=1)
    bmed = _row_medians(x) if s > 1 else x[:, 0]
    c1 = np.concatenate([[0.0], np.cumsum(bsum)])
    # Jumpiness: the mean absolute step from one point to the next inside a window (slow
    # wander, and a level shift at the window's edge, hardly count).
    cj = np.concatenate([[0.0, 0.0], np.cumsum(np.abs(np.diff(x.ravel())))])
    # Least-squares slope of the block means over a window of k blocks: sum of (j - mid) *
    # mean_j over the window, from the cumulative sums of mean and index * mean.
    bmean = bsum / s
    idx = np.arange(n + m, dtype=np.float64)
    c3 = np.concatenate([[0.0], np.cumsum(idx * bmean)])
    cm = np.concatenate([[0.0], np.cumsum(bmean)])

    # Window starts: after-windows start at k (k = w .. n - m for the null, n for the actual);
    # before-windows are the w blocks ending at k.
    ks = np.append(np.arange(w, n - m + 1), n)

    def mean(start: IntArray, k: int) -> FloatArray:
        return np.asarray((c1[start + k] - c1[start]) / (k * s), dtype=np.float64)

    def jumps(start: IntArray, k: int) -> FloatArray:
        lo, hi = start * s + 1, (start + k) * s  # steps wholly inside the window
        return np.asarray((cj[hi] - cj[lo]) / (hi - lo), dtype=np.float64)

    def rise(start: IntArray, k: int) -> FloatArray:
        mid = (k - 1) / 2.0
        ssx = k * (k * k - 1) / 12.0
        sxy = (c3[start + k] - c3[start]) - (start + mid) * (cm[start + k] - cm[start])
        return np.asarray(sxy / ssx * k, dtype=np.float64) if k > 1 else np.zeros(start.size)

    # The median of every window of m blocks, one partition for all of them; the level of a
    # before-window (BEFORE_FACTOR * m blocks) is the median of its sub-windows' medians.
    window_med = _row_medians(sliding_window_view(bmed, m))
    after_med = window_med[ks]
    before_med = _row_medians(
        np.stack([window_med[ks - (i + 1) * m] for i in range(BEFORE_FACTOR)], axis=1)
    )
    mu_a, mu_b = mean(ks, m), mean(ks - w, w)
    jump_a, jump_b = jumps(ks, m), jumps(ks - w, w)
    # A constant stretch does not jump: a floor of a thousandth of the baseline's usual jump
    # (or of its level, or of one unit) keeps the log-ratio finite.
    floor = 1e-3 * (float(cj[n * s] / (n * s - 1)) or abs(origin) or 1.0)
    leak = rise(ks, m)
    diffs = np.stack(
        [
            after_med - before_med,  # step
            mu_a - mu_b,  # burst
            # A leak is a window that rises as no window of its length did before: its own
            # slope, not a difference (a step at its edge does not tilt it).
            leak,
            np.log((jump_a + floor) / (jump_b + floor)),  # variability
        ]
    )
    # What messages show: levels in the metric's units, jumpiness as it is, the rise.
    shown = (
        (origin + before_med[-1], origin + after_med[-1]),
        (origin + mu_b[-1], origin + mu_a[-1]),
        (0.0, leak[-1]),
        (jump_b[-1], jump_a[-1]),
    )
    return _score(diffs, shown, int((n - w) // m))


def _score(
    diffs: FloatArray, shown: tuple[tuple[float, float], ...], pairs: int
) -> dict[str, Calibrated]:
    """Where the last difference of each row (the actual one) falls among the row's others
    (the null), for the four tests at once."""
    null, actual = diffs[:, :-1], diffs[:, -1]
    k = null.shape[1]
    centre = _row_medians(null)
    dev = np.sort(np.abs(null - centre[:, None]), axis=1)
    # The null's scale, read off its middle (MAD) and off its tail: the largest of what
    # its median, 90th and 99th percentile deviation each imply for a normal null. A light
    # tail leaves the MAD; a heavy one (telemetry's usual) widens the scale to match.
    scale = np.max([dev[:, min(k - 1, int(q * k))] / zq for q, zq in _SCALE_QUANTILES], axis=0)
    if not np.all(scale > 0):  # nearly the whole null identical: its plain spread
        scale = np.where(scale > 0, scale, np.std(null, axis=1))
    emp_hi = (1 + np.count_nonzero(null >= actual[:, None], axis=1)) / (1 + k)
    emp_lo = (1 + np.count_nonzero(null <= actual[:, None], axis=1)) / (1 + k)
    spread = scale > 0
    z = np.where(spread, (actual - centre) / np.where(spread, scale, 1.0), 0.0)
    p_hi = np.where(spread, _tail(z), np.where(actual > centre, 0.0, 1.0))
    p_lo = np.where(spread, _tail(-z), np.where(actual < centre, 0.0, 1.0))
    # What a twentieth of the history's own window pairs reach is never called rare,
    # whatever the tail model says.
    p_hi = np.where(emp_hi <= EMPIRICAL_GUARD, p_hi, np.maximum(p_hi, emp_hi))
    p_lo = np.where(emp_lo <= EMPIRICAL_GUARD, p_lo, np.maximum(p_lo, emp_lo))
    return {
        kind: Calibrated(
            kind=kind,
            value=float(actual[i]),
            before=float(shown[i][0]),
            after=float(shown[i][1]),
            centre=float(centre[i]),
            scale=float(scale[i]),
            p_high=float(p_hi[i]),
            p_low=float(p_lo[i]),
            pairs=pairs,
        )
        for i, kind in enumerate(TESTS)
    }
