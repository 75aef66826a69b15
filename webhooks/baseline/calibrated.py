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
``MAX_BLOCKS`` per observation), block sums and medians are taken once, every window median
is one moving median over the block medians, and every other window statistic is a
cumulative-sum difference. It is vectorised over metrics too (``calibrate_many``): metrics
read over the same range at the same step share every array operation, which is what keeps a
thousand metrics with a day of history each under a second; each metric's result is exactly
what it gets on its own.

A baseline too short for the null (fewer than ``MIN_PAIRS`` non-overlapping window pairs
before the change) gets ``None``: the judge then falls back to its interval tests against
the fixed tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import bottleneck as bn
import numpy as np
import numpy.typing as npt
from scipy import special

from webhooks.baseline.series import FloatArray

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
_SCALE_NORMAL = np.array([zq for _, zq in _SCALE_QUANTILES])
#: A difference at least this share of the null's window pairs reach is never rare.
EMPIRICAL_GUARD = 0.05
#: The tests, in the order ``calibrate`` computes them (which one a finding names is the
#: judge's choice: see ``measure._first_significant``).
TESTS = ("step", "burst", "leak", "variability")


class Calibrated(NamedTuple):
    """One statistic's before/after difference and where it falls in its own history (a
    named tuple: a verification builds four per metric, and a tuple is built four times
    faster than a frozen dataclass)."""

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


def _median_of(window_med: FloatArray, ks: IntArray, m: int) -> FloatArray:
    """The median of the ``BEFORE_FACTOR`` consecutive m-block window medians ending at each
    of ``ks`` (along the last axis). For four of them (the usual factor) without a sort: the
    two middle values of four are the larger of the two pairs' minima and the smaller of
    their maxima."""
    parts = [window_med[..., ks - (i + 1) * m] for i in range(BEFORE_FACTOR)]
    if BEFORE_FACTOR != 4:
        return np.asarray(bn.median(np.stack(parts, axis=-1), axis=-1), dtype=np.float64)
    a, b, c, d = parts
    low = np.maximum(np.minimum(a, b), np.minimum(c, d))
    high = np.minimum(np.maximum(a, b), np.maximum(c, d))
    return np.asarray(0.5 * (low + high), dtype=np.float64)


def _cumsum0(x: FloatArray) -> FloatArray:
    """Cumulative sums along the last axis with a leading zero: window sums are differences
    of two entries."""
    out = np.zeros((*x.shape[:-1], x.shape[-1] + 1))
    np.cumsum(x, axis=-1, out=out[..., 1:])
    return out


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
    return calibrate_many([(before, after, min_pairs)])[0]


def calibrate_many(
    requests: Sequence[tuple[FloatArray, FloatArray, int]],
) -> list[dict[str, Calibrated] | None]:
    """``calibrate`` for many ``(before, after, min_pairs)`` at once. Observations of the same
    shape (block size, blocks before and after the change: metrics read over the same range
    at the same step) share every array operation, so a verification's metrics cost a few
    array passes together rather than a hundred small ones each."""
    out: list[dict[str, Calibrated] | None] = [None] * len(requests)
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, (before, after, min_pairs) in enumerate(requests):
        if fits(before.size, after.size, min_pairs):
            s = block_size(after.size)
            groups.setdefault((s, before.size // s, after.size // s), []).append(i)
    for (s, n, m), members in groups.items():
        x = np.empty((len(members), (n + m) * s))
        for row, i in enumerate(members):
            before, after = requests[i][0], requests[i][1]
            x[row, : n * s] = before[before.size - n * s :]  # aligned to end at the change
            x[row, n * s :] = after[: m * s]
        for i, result in zip(members, _calibrate_group(x, s, n, m), strict=True):
            out[i] = result
    return out


def _calibrate_group(flat: FloatArray, s: int, n: int, m: int) -> list[dict[str, Calibrated]]:
    """The calibrated tests for each row of ``flat``: ``n`` blocks of ``s`` points before the
    change, then ``m`` after it (``flat`` is used as scratch space)."""
    g = flat.shape[0]
    w = BEFORE_FACTOR * m
    x = flat.reshape(g, n + m, s)
    bmed = np.asarray(bn.median(x, axis=2), dtype=np.float64) if s > 1 else x[:, :, 0].copy()
    # Centre on the baseline's middle first: sums of squares of large values lose precision.
    origin = np.asarray(bn.median(bmed[:, :n], axis=1), dtype=np.float64)
    x -= origin[:, None, None]  # x is this call's own buffer
    bmed -= origin[:, None]
    bsum = x.sum(axis=2)
    c1 = _cumsum0(bsum)
    # Jumpiness: the mean absolute step from one point to the next inside a window (slow
    # wander, and a level shift at the window's edge, hardly count).
    steps = np.diff(x.reshape(g, -1), axis=1)
    np.abs(steps, out=steps)
    cj = np.zeros((g, (n + m) * s + 1))
    np.cumsum(steps, axis=1, out=cj[:, 2:])
    # Least-squares slope of the block means over a window of m blocks: sum of (j - mid) *
    # mean_j over the window, from the cumulative sums of mean and index * mean.
    bmean = bsum / s
    cm = _cumsum0(bmean)
    c3 = _cumsum0(np.arange(n + m, dtype=np.float64) * bmean)

    # Window starts: after-windows start at k (k = w .. n - m for the null, n for the actual);
    # before-windows are the w blocks ending at k.
    ks = np.arange(w, n - m + 2)
    ks[-1] = n
    kb = ks - w

    # The median of every window of m blocks, one moving median for all of them; the level
    # of a before-window (BEFORE_FACTOR * m blocks) is the median of its sub-windows' medians.
    window_med = np.asarray(bn.move_median(bmed, m, axis=1), dtype=np.float64)[:, m - 1 :]
    after_med = window_med[:, ks]
    before_med = _median_of(window_med, ks, m)
    mu_a = (c1[:, ks + m] - c1[:, ks]) / (m * s)
    mu_b = (c1[:, ks] - c1[:, kb]) / (w * s)
    # Steps wholly inside a window: from its second point to its last.
    jump_a = (cj[:, (ks + m) * s] - cj[:, ks * s + 1]) / (m * s - 1)
    jump_b = (cj[:, ks * s] - cj[:, kb * s + 1]) / (w * s - 1)
    # A constant stretch does not jump: a floor of a thousandth of the baseline's usual jump
    # (or of its level, or of one unit) keeps the log-ratio finite.
    usual = cj[:, n * s] / (n * s - 1)
    floor = 1e-3 * np.where(usual != 0, usual, np.where(origin != 0, np.abs(origin), 1.0))
    # A leak is a window that rises as no window of its length did before: its own slope,
    # not a difference (a step at its edge does not tilt it).
    sxy = (c3[:, ks + m] - c3[:, ks]) - (ks + (m - 1) / 2.0) * (cm[:, ks + m] - cm[:, ks])
    leak = sxy * (12.0 / (m * m - 1))
    diffs = np.empty((g, len(TESTS), ks.size))
    np.subtract(after_med, before_med, out=diffs[:, 0])  # step
    np.subtract(mu_a, mu_b, out=diffs[:, 1])  # burst
    diffs[:, 2] = leak
    np.log((jump_a + floor[:, None]) / (jump_b + floor[:, None]), out=diffs[:, 3])  # variability
    # What messages show: levels in the metric's units, jumpiness as it is, the rise.
    shown = np.stack(
        [
            np.stack([origin + before_med[:, -1], origin + after_med[:, -1]], axis=1),
            np.stack([origin + mu_b[:, -1], origin + mu_a[:, -1]], axis=1),
            np.stack([np.zeros(g), leak[:, -1]], axis=1),
            np.stack([jump_b[:, -1], jump_a[:, -1]], axis=1),
        ],
        axis=1,
    )
    return _score(diffs, shown, int((n - w) // m))


def _score(diffs: FloatArray, shown: FloatArray, pairs: int) -> list[dict[str, Calibrated]]:
    """Where the last difference along the last axis (the actual one) falls among the others
    (the null), for every metric of a group (first axis) and its four tests (second)."""
    null, actual = diffs[..., :-1], diffs[..., -1]
    k = null.shape[-1]
    centre = np.asarray(bn.median(null, axis=-1), dtype=np.float64)
    dev = np.abs(null - centre[..., None])
    dev.sort(axis=-1)
    # The null's scale, read off its middle (MAD) and off its tail: the largest of what
    # its median, 90th and 99th percentile deviation each imply for a normal null. A light
    # tail leaves the MAD; a heavy one (telemetry's usual) widens the scale to match.
    at = [min(k - 1, int(q * k)) for q, _ in _SCALE_QUANTILES]
    scale = (dev[..., at] / _SCALE_NORMAL).max(axis=-1)
    if not np.all(scale > 0):  # nearly the whole null identical: its plain spread
        scale = np.where(scale > 0, scale, np.std(null, axis=-1))
    emp_hi = (1 + (null >= actual[..., None]).sum(axis=-1)) / (1 + k)
    emp_lo = (1 + (null <= actual[..., None]).sum(axis=-1)) / (1 + k)
    spread = scale > 0
    z = np.where(spread, (actual - centre) / np.where(spread, scale, 1.0), 0.0)
    p_hi = np.where(spread, _tail(z), np.where(actual > centre, 0.0, 1.0))
    p_lo = np.where(spread, _tail(-z), np.where(actual < centre, 0.0, 1.0))
    # What a twentieth of the history's own window pairs reach is never called rare,
    # whatever the tail model says.
    p_hi = np.where(emp_hi <= EMPIRICAL_GUARD, p_hi, np.maximum(p_hi, emp_hi))
    p_lo = np.where(emp_lo <= EMPIRICAL_GUARD, p_lo, np.maximum(p_lo, emp_lo))
    rows = zip(
        actual.tolist(),
        shown.tolist(),
        centre.tolist(),
        scale.tolist(),
        p_hi.tolist(),
        p_lo.tolist(),
        strict=True,
    )
    return [
        {
            kind: Calibrated(kind, v[i], sh[i][0], sh[i][1], c[i], sc[i], hi[i], lo[i], pairs)
            for i, kind in enumerate(TESTS)
        }
        for v, sh, c, sc, hi, lo in rows
    ]
