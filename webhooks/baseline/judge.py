"""The behaviour-baseline judge: did this change make a metric regress?

Pure functions over ``MetricSeries`` (no I/O). For each metric the judge compares the
observation (points after ``changeAt``) with the baseline (points before it):

1. **Shift** — the Hodges-Lehmann location shift with its Mann-Whitney interval (Kayenta's
   judge), widened for autocorrelation (see ``stats``).
2. **Seasonality** — with ``history`` (the same span one period earlier) the shift that the
   same hour showed then is subtracted (difference-in-differences, as FUNNEL does), so a
   daily ramp that crosses the change does not read as a regression.
3. **Trend** — a leak is a slope, not a step: the Theil-Sen slope of the observation, minus
   the slope the history showed, times the observation's length, is the rise the change
   added; it counts only if the fitted line also *ends* beyond the tolerance.
4. **Tolerance gate** — both tests ask "is the effect beyond the tolerance?", not "is it
   non-zero?": the interval must clear ``max(absolute, relative * baseline level)``.
5. **Many metrics** — one-sided p-values (Bonferroni over the two tests of a metric) are
   controlled across metrics with Benjamini-Hochberg before anything is flagged.
6. **Drift budget** — a divergence that has not lasted longer than ``driftBudgetSeconds``
   (or has already recovered) is a warning; only a persistent one is critical.

Too few points say NoData (an info finding) rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as sps

from webhooks.baseline import stats
from webhooks.baseline.assessment import CONFIDENCE, Assessment, Classification, Windows
from webhooks.baseline.messages import describe
from webhooks.baseline.series import (
    FloatArray,
    HistorySplit,
    cut,
    parse_time,
    prepare,
    split_history,
)
from webhooks.baseline.stats import Estimate
from webhooks.errors import BadRequestError
from webhooks.evidence.model import Direction, Finding, MetricSeries, Severity

__all__ = ["CONFIDENCE", "Assessment", "Classification", "Windows", "assess", "judge_metrics"]
#: Relative tolerance used when a metric declares none: smaller changes are noise.
DEFAULT_RELATIVE_TOLERANCE = 0.2
#: Fewer clean points than this on either side of the change is NoData, not a guess.
MIN_BASELINE_POINTS = 10
MIN_OBSERVATION_POINTS = 5
#: A history window needs this many points on each side to tell the seasonal shift.
MIN_HISTORY_POINTS = 5
#: A slope needs this many observation points before it is trusted at all.
MIN_TREND_POINTS = 8
#: How many trailing points must still be divergent for a divergence to count as ongoing.
ONGOING_POINTS = 5
#: The seasonal scale (baseline level now / then) is clamped: history from a very different
#: regime says little about today.
MAX_SEASONAL_SCALE = 4.0


@dataclass
class _Measure:
    """Everything measured about a metric before the cross-metric decision."""

    metric: MetricSeries
    nodata: str | None = None
    windows: Windows | None = None
    level: float = 0.0
    observed: float = 0.0
    ratio: float | None = None
    shift: Estimate | None = None
    seasonal: float | None = None
    rise_up: Estimate | None = None
    rise_used: dict[str, bool] = field(default_factory=dict)
    tolerance: float = 0.0
    p_high: float = 1.0
    p_low: float = 1.0
    onset_high: float | None = None
    onset_low: float | None = None
    end: float = 0.0


def assess(metric: MetricSeries, now: float | None = None) -> Assessment:
    """Judge one metric on its own (no cross-metric false-discovery control)."""
    m = _measure(metric, now)
    return _decide(m, _bad_p(m))


def judge_metrics(
    metrics: Sequence[MetricSeries], *, now: float | None = None
) -> list[Finding]:
    """Findings for every metric that regressed (or could not be judged).

    p-values are controlled across all judged metrics with Benjamini-Hochberg, so listing
    fifty noisy metrics does not make one of them fail by chance.
    """
    return [a_finding for a in assess_all(metrics, now=now) if (a_finding := finding(a))]


def assess_all(
    metrics: Sequence[MetricSeries], *, now: float | None = None
) -> list[Assessment]:
    """``assess`` for many metrics at once, with Benjamini-Hochberg across them."""
    measures = [_measure(m, now) for m in metrics]
    judged = [i for i, m in enumerate(measures) if m.nodata is None]
    adjusted = [1.0] * len(measures)
    if judged:
        raw = np.array([_bad_p(measures[i]) for i in judged], dtype=np.float64)
        bh = sps.false_discovery_control(raw, method="bh") if raw.size > 1 else raw
        for i, p in zip(judged, bh, strict=True):
            adjusted[i] = float(p)
    return [_decide(m, p) for m, p in zip(measures, adjusted, strict=True)]


def finding(a: Assessment) -> Finding | None:
    """The Finding for an assessment, or None when there is nothing to say."""
    if a.severity is None:
        return None
    return {
        "layer": "behaviour",
        "check": "baseline",
        "resource": {"kind": "Metric", "namespace": None, "name": a.name},
        "message": a.message,
        "severity": a.severity,
    }


# --- measuring ------------------------------------------------------------------------------


def _measure(metric: MetricSeries, now: float | None) -> _Measure:
    m = _Measure(metric)
    name = metric.get("name", "?")
    if metric.get("error"):
        m.nodata = f"the collector could not fetch it: {metric.get('error')}"
        return m
    try:
        change_at = parse_time(metric["changeAt"])
    except KeyError as e:
        raise BadRequestError(f"metric {name!r} has no changeAt") from e
    counter = metric.get("kind") == "counter"
    t, v = prepare(metric.get("series", []), counter)
    end = float(now) if now is not None else (float(t[-1]) if t.size else change_at)
    split = cut(t, v, change_at, -math.inf, end)
    before, after = split.before, split.after
    if before.n < MIN_BASELINE_POINTS or after.n < MIN_OBSERVATION_POINTS:
        m.nodata = (
            f"{before.n} usable points before the change and {after.n} after"
            f" (needs {MIN_BASELINE_POINTS} and {MIN_OBSERVATION_POINTS})"
        )
        return m
    start = float(before.t[0])
    histories = [
        h
        for h in split_history(metric.get("history", []), counter, change_at, start, end)
        if h.split.before.n >= MIN_HISTORY_POINTS and h.split.after.n >= MIN_HISTORY_POINTS
    ]
    m.end = float(after.t[-1])
    m.windows = Windows(
        baseline_seconds=change_at - start,
        observation_seconds=m.end - change_at,
        baseline_points=before.n,
        observation_points=after.n,
        history_offsets=tuple(h.offset for h in histories),
    )
    m.level = float(np.median(before.v))
    m.observed = float(np.median(after.v))
    mean_before = float(np.mean(before.v))
    m.ratio = float(np.mean(after.v)) / mean_before if mean_before > 0 else None
    m.tolerance = _tolerance(metric, m.level)

    rho = stats.lag1(before.v - m.level, after.v - m.observed)
    raw = stats.hodges_lehmann(after.v, before.v, CONFIDENCE, rho)
    seasonal = _seasonal_shift(histories, m.level)
    m.shift = raw.minus(seasonal) if seasonal else raw
    m.seasonal = seasonal.value if seasonal else None
    m.p_high = m.shift.p_above(m.tolerance)
    m.p_low = m.shift.p_below(-m.tolerance)

    expected = _expected_path(histories, after.t, m.level)
    adjusted = after.v - expected
    if after.n >= MIN_TREND_POINTS and after.span > 0:
        rise, end_level = _trend(after.t, adjusted, after.span)
        m.rise_up = rise
        # A rise counts only when the fitted line also ends beyond the tolerance: memory that
        # refills to its old level after a restart climbs steadily without regressing.
        if end_level - m.level > m.tolerance:
            m.rise_used["high"] = True
            m.p_high = min(m.p_high, rise.p_above(m.tolerance))
        if m.level - end_level > m.tolerance:
            m.rise_used["low"] = True
            m.p_low = min(m.p_low, rise.p_below(-m.tolerance))
        # Two tests looked at each side: Bonferroni keeps the metric's error rate honest.
        m.p_high = min(1.0, 2.0 * m.p_high)
        m.p_low = min(1.0, 2.0 * m.p_low)
    m.onset_high, m.onset_low = _onsets(after.t, adjusted - m.level, m.tolerance)
    return m


def _tolerance(metric: MetricSeries, level: float) -> float:
    tol = metric.get("tolerance") or {}
    relative = float(tol.get("relative", DEFAULT_RELATIVE_TOLERANCE))
    absolute = float(tol.get("absolute", 0.0))
    if relative < 0 or absolute < 0 or not (math.isfinite(relative) and math.isfinite(absolute)):
        raise BadRequestError(f"metric {metric.get('name')!r}: tolerance must be >= 0")
    return max(absolute, relative * abs(level))


def _scale(level_now: float, level_then: float) -> float:
    """How much bigger today's level is than the history's: seasonal swings scale with it."""
    if level_now <= 0 or level_then <= 0:
        return 1.0
    return min(max(level_now / level_then, 1.0 / MAX_SEASONAL_SCALE), MAX_SEASONAL_SCALE)


def _median_estimate(estimates: list[Estimate]) -> Estimate | None:
    if not estimates:
        return None
    return sorted(estimates, key=lambda e: e.value)[(len(estimates) - 1) // 2]


def _seasonal_shift(histories: list[HistorySplit], level: float) -> Estimate | None:
    """The shift the same windows showed one period earlier, scaled to today's level."""
    shifts = []
    for h in histories:
        b, a = h.split.before, h.split.after
        then = float(np.median(b.v))
        rho = stats.lag1(b.v - then, a.v - float(np.median(a.v)))
        shifts.append(stats.hodges_lehmann(a.v, b.v, CONFIDENCE, rho).scaled(_scale(level, then)))
    return _median_estimate(shifts)


def _expected_path(histories: list[HistorySplit], t: FloatArray, level: float) -> FloatArray:
    """Point by point, how far above its baseline level the history was at the same time of
    the period (smoothed), scaled to today: what the observation should look like anyway."""
    paths = []
    for h in histories:
        b, a = h.split.before, h.split.after
        then = float(np.median(b.v))
        ht = np.concatenate([b.t, a.t])
        hv = np.concatenate([b.v, a.v])
        smooth = _running_median(hv, 5)
        paths.append((np.interp(t - h.offset, ht, smooth) - then) * _scale(level, then))
    if not paths:
        return np.zeros_like(t)
    return np.asarray(np.median(np.vstack(paths), axis=0), dtype=np.float64)


def _running_median(v: FloatArray, width: int) -> FloatArray:
    if v.size < width:
        return v
    pad = width // 2
    padded = np.pad(v, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.asarray(np.median(windows, axis=1), dtype=np.float64)


def _trend(t: FloatArray, adjusted: FloatArray, span: float) -> tuple[Estimate, float]:
    """Theil-Sen line through the seasonally adjusted observation: the rise it makes over the
    observation (slope x span, with its interval) and the line's value at the last point."""
    slope, intercept = stats.theil_sen(t - t[0], adjusted, CONFIDENCE)
    return slope.scaled(span), intercept + slope.value * float(t[-1] - t[0])


def _onsets(
    t: FloatArray, excess: FloatArray, tol: float
) -> tuple[float | None, float | None]:
    """When the current divergence began, for each direction (None: not divergent now).

    ``excess`` is the observation minus the baseline level and the seasonal path. A
    divergence is *ongoing* when the median of the last few points is beyond the tolerance;
    it began at the start of the longest trailing stretch whose median is beyond it.
    """
    tt, s = stats.thin(t)
    x = excess[::s] if s > 1 else excess
    n = x.size
    tail = x[-min(ONGOING_POINTS, n) :]
    tail_median = float(np.median(tail))
    # Suffix medians: row i holds x[i:], the rest padded so it sorts to the end.
    idx = np.arange(n)
    counts = n - idx
    out: list[float | None] = []
    for sign in (1.0, -1.0):
        if sign * tail_median <= tol:
            out.append(None)
            continue
        y = sign * x
        grid = np.where(idx[None, :] >= idx[:, None], y[None, :], np.inf)
        grid.sort(axis=1)
        med = 0.5 * (grid[idx, (counts - 1) // 2] + grid[idx, counts // 2])
        beyond = np.flatnonzero(med > tol)
        out.append(float(tt[beyond[0]]) if beyond.size else float(tt[-1]))
    return out[0], out[1]


# --- deciding -------------------------------------------------------------------------------


def _bad_p(m: _Measure) -> float:
    direction = m.metric.get("direction", "either")
    if direction == "increase-is-bad":
        return m.p_high
    if direction == "decrease-is-bad":
        return m.p_low
    return min(1.0, 2.0 * min(m.p_high, m.p_low))


def _decide(m: _Measure, p_bad: float) -> Assessment:
    metric = m.metric
    name = metric.get("name", "?")
    direction: Direction = metric.get("direction", "either")
    budget = float(metric.get("driftBudgetSeconds", 0.0) or 0.0)
    if m.nodata is not None:
        return Assessment(
            name=name,
            direction=direction,
            classification="NoData",
            regression=False,
            severity="info",
            message=f"{name}: no data to judge ({m.nodata}); not guessing",
            reasons=(m.nodata,),
            drift_budget_seconds=budget,
        )
    alpha = (1.0 - CONFIDENCE) / 2.0
    up_bad = direction in ("increase-is-bad", "either")
    down_bad = direction in ("decrease-is-bad", "either")
    side_high = m.p_high <= m.p_low if direction == "either" else direction == "increase-is-bad"
    reasons: list[str] = []
    classification: Classification = "Pass"
    regression = False
    severity: Severity | None = None
    divergent: float | None = None
    if p_bad < alpha:
        classification = "High" if side_high else "Low"
        regression = True
        onset = m.onset_high if side_high else m.onset_low
        divergent = (m.end - onset) if onset is not None else 0.0
        critical = bool(metric.get("critical", True))
        if onset is None:
            reasons.append("diverged after the change but has recovered")
            severity = "warning"
        elif divergent <= budget:
            reasons.append("divergent, but not for longer than the drift budget yet")
            severity = "warning"
        elif not critical:
            reasons.append("regressed, but the metric is not critical")
            severity = "warning"
        else:
            severity = "critical"
    elif m.p_high < alpha and not up_bad:
        classification = "High"
        reasons.append("went up, which this metric does not count as bad")
    elif m.p_low < alpha and not down_bad:
        classification = "Low"
        reasons.append("went down, which this metric does not count as bad")
    else:
        reasons.append("no change beyond the tolerance at the chosen confidence")
    a = Assessment(
        name=name,
        direction=direction,
        classification=classification,
        regression=regression,
        severity=severity,
        message="",
        reasons=tuple(reasons),
        windows=m.windows,
        baseline_level=m.level,
        observed_level=m.observed,
        ratio=m.ratio,
        shift=m.shift,
        seasonal_shift=m.seasonal,
        rise=m.rise_up,
        tolerance=m.tolerance,
        p_value=p_bad,
        divergent_seconds=divergent,
        drift_budget_seconds=budget,
    )
    trend = m.rise_used.get("high" if side_high else "low", False)
    return replace(a, message=describe(a, trend=trend))
