"""The behaviour-baseline judge: did this change make a metric regress?

Pure functions over ``MetricSeries`` (no I/O). For each metric the judge compares the
observation (points after ``changeAt``) with the baseline (points before it) with four tests:

1. **Shift** — the Hodges-Lehmann location shift with its Mann-Whitney interval (Kayenta's
   judge), widened for autocorrelation (see ``stats``).
2. **Later half** — the same on the later half of the observation, for regressions that
   begin some minutes after the change.
3. **Mean** — the difference of means (Welch-type interval): errors that come in bursts
   move the mean while the robust shift ignores them.
4. **Trend** — a leak is a slope, not a step: how much more the observation rose than the
   same length of baseline did (Theil-Sen slopes); it counts only if the observation also
   *ends* beyond the tolerance.

Around the tests:

- **Seasonality** — with ``history`` (the same span one period earlier) whatever the same
  windows showed then is subtracted (difference-in-differences, as FUNNEL does), so a daily
  ramp that crosses the change does not read as a regression. A long baseline that still
  shows a daily rhythm (no history given, or one longer than the baseline) is judged on
  each point minus the same time the day before (``rhythm``).
- **Tolerance gate** — every test asks "is the effect beyond the tolerance?", not "is it
  non-zero?": its interval must clear ``max(absolute, relative * baseline level)``.
- **Multiplicity** — a metric's one-sided p-values are combined with Simes' test, and the
  metrics of one call are controlled with Benjamini-Hochberg before anything is flagged.
- **Drift budget** — a divergence that has not yet lasted ``driftBudgetSeconds``, or that
  is over after less than a quarter of the observation, is a warning; a persistent one, or
  one that lasted (a regression rolled back inside the observation), is critical unless the
  metric is marked advisory (``critical: false``; every metric counts by default).

Too few points say NoData (an info finding) rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats as sps

from webhooks.baseline import calibrated, rhythm, season, stats
from webhooks.baseline.assessment import CONFIDENCE, Assessment, Classification, Windows
from webhooks.baseline.calibrated import Calibrated
from webhooks.baseline.messages import describe
from webhooks.baseline.season import MIN_HISTORY_POINTS, MIN_TREND_POINTS
from webhooks.baseline.series import (
    FloatArray,
    HistorySplit,
    Split,
    Window,
    cut,
    prepare,
    split_history,
)
from webhooks.baseline.stats import Estimate
from webhooks.common.durations import format_duration
from webhooks.common.times import parse_time
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import Direction, Finding, MetricSeries, Severity

__all__ = [
    "CONFIDENCE",
    "Assessment",
    "Classification",
    "Windows",
    "assess",
    "assess_all",
    "finding",
    "judge_metrics",
]

#: Relative tolerance used when a metric declares none and the baseline is too short to
#: calibrate the tests on (see ``calibrated``): smaller changes are noise.
DEFAULT_RELATIVE_TOLERANCE = 0.2
#: A divergence is still there while the later half of the observation lies this many of
#: the history's usual differences beyond the level before the change (calibrated tests).
STILL_THERE_SCALES = 2.0
#: The significance level of a metric's calibrated tests (after Simes over its tests, and
#: Benjamini-Hochberg across metrics). Looser than the interval tests' 1%: the null is the
#: metric's own history, read with a tail-aware scale and a Student-t tail, and on real
#: healthy windows this level adds about one false Degraded in 250 to the 1% it keeps
#: (see docs/baselines.md, "Accuracy").
CALIBRATED_ALPHA = 0.025
#: Fewer clean points than this on either side of the change is NoData, not a guess.
MIN_BASELINE_POINTS = 10
MIN_OBSERVATION_POINTS = 5
#: Larger values would overflow squared sums; no real metric comes near.
MAX_MAGNITUDE = 1e150
#: The shortest trailing stretch that can date the start of a divergence.
ONGOING_POINTS = 5
#: A regression that has recovered (rolled back, or over by itself) still counts when it
#: lasted at least this share of the observation (and the drift budget): the change made
#: the metric regress, and a rollback does not make the change good.
RECOVERED_SHARE = 0.25
#: How long a divergence lasted is read off runs of this share of the observation, each
#: beyond this many of the null's scales (widened for the run's length, see ``_episode``).
EPISODE_SHARE = 0.125
EPISODE_SCALES = 3.0


@dataclass(frozen=True)
class _Pending:
    """A metric waiting for its calibrated tests (``calibrated.calibrate_many`` runs them
    for every metric of a call at once)."""

    before: FloatArray  # what the tests run on: values, or their day-over-day residual
    tested: Window  # the observation, the same way
    min_pairs: int
    level: float | None  # the level before the change, when not the tests' own
    residual: bool


@dataclass
class _Measure:
    """Everything measured about a metric before the cross-metric decision."""

    metric: MetricSeries
    nodata: str | None = None
    windows: Windows | None = None
    level: float = 0.0
    observed: float = 0.0
    estimates: dict[str, Estimate] = field(default_factory=dict)
    end_level: float | None = None
    shift: Estimate | None = None
    seasonal: float | None = None
    rise_up: Estimate | None = None
    decisive: dict[str, str] = field(default_factory=dict)  # side -> test that decided it
    tolerance: float = 0.0
    #: Per test, how far beyond the level before the change the later half must still lie
    #: to count as ongoing (default: the tolerance).
    thresholds: dict[str, float] = field(default_factory=dict)
    #: Calibrated tests: each side's p-value per test, as they entered Simes.
    side_ps: dict[str, dict[str, float]] = field(default_factory=dict)
    calibration: dict[str, Calibrated] | None = None
    p_high: float = 1.0
    p_low: float = 1.0
    p_either: float | None = None  # calibrated: Simes over both sides' tests at once
    latest: dict[str, float] = field(default_factory=dict)  # each test over the later half
    half: float = 0.0  # where the later half starts
    excess_t: FloatArray | None = None  # observation times …
    #: … and values minus baseline level and seasonal path (calibrated: the series the tests
    #: ran on, values or day-over-day residual, minus its own level before the change)
    excess: FloatArray | None = None
    end: float = 0.0  # time of the last observation point
    step: float = 0.0  # typical spacing of the points: each stands for that much time
    change_at: float = 0.0
    period: float = rhythm.DAY  # the rhythm's period, for the day-over-day residual
    residual: bool = False  # the calibrated tests ran on the day-over-day residual
    #: A divergence that is over: how far beyond the level before the change its longest
    #: episode lay (the median excess over it, in its bad direction).
    episode_level: float | None = None
    pending: _Pending | None = None  # calibrated tests still to run


def assess(metric: MetricSeries, now: float | None = None) -> Assessment:
    """Judge one metric on its own (no cross-metric false-discovery control)."""
    m = _measure(metric, now)
    return _decide(m, _bad_p(m))


def judge_metrics(metrics: Sequence[MetricSeries], *, now: float | None = None) -> list[Finding]:
    """Findings for every metric that regressed (or could not be judged).

    p-values are controlled across all judged metrics with Benjamini-Hochberg, so listing
    fifty noisy metrics does not make one of them fail by chance.
    """
    return [a_finding for a in assess_all(metrics, now=now) if (a_finding := finding(a))]


def assess_all(metrics: Sequence[MetricSeries], *, now: float | None = None) -> list[Assessment]:
    """``assess`` for many metrics at once, with Benjamini-Hochberg across them."""
    measures = [_prepare(m, now) for m in metrics]
    _calibrate(measures)
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
    """Everything measured about one metric."""
    m = _prepare(metric, now)
    _calibrate([m])
    return m


def _calibrate(measures: Sequence[_Measure]) -> None:
    """Run the calibrated tests of every metric waiting for them, all at once (metrics read
    over the same range share every array operation), and finish measuring them."""
    waiting = [m for m in measures if m.pending is not None]
    requests = [(p.before, p.tested.v, p.min_pairs) for m in waiting if (p := m.pending)]
    for m, cal in zip(waiting, calibrated.calibrate_many(requests), strict=True):
        p, m.pending = m.pending, None
        assert p is not None and cal is not None  # fits() held when the request was made
        m.residual = p.residual
        level = p.level if p.level is not None else cal["step"].before
        _use_calibrated(m, cal, p.tested, m.change_at, level)
        if m.windows is not None:
            observed = m.windows.observation_points
            s = calibrated.block_size(observed)
            m.windows = replace(
                m.windows,
                reference_seconds=calibrated.BEFORE_FACTOR * (observed // s) * s * m.step,
                period_seconds=m.period if m.residual else None,
            )


def _prepare(metric: MetricSeries, now: float | None) -> _Measure:
    """Everything measured about one metric but its calibrated tests (see ``_calibrate``)."""
    m = _Measure(metric)
    name = metric.get("name", "?")
    if metric.get("error"):
        m.nodata = f"the collector could not fetch it: {metric.get('error')}"
        return m
    try:
        change_at = parse_time(metric["changeAt"], what="changeAt").timestamp()
    except KeyError as e:
        raise BadRequestError(f"metric {name!r} has no changeAt") from e
    _check_shape(metric, name)
    counter = metric.get("kind") == "counter"
    t, v = prepare(metric.get("series", []), counter)
    if v.size and max(float(v.max()), -float(v.min())) > MAX_MAGNITUDE:
        m.nodata = f"values beyond ±{MAX_MAGNITUDE:g} cannot be compared without overflow"
        return m
    end = float(now) if now is not None else (float(t[-1]) if t.size else change_at)
    split = cut(t, v, change_at, -math.inf, end)
    before, after = split.before, split.after
    if before.n < MIN_BASELINE_POINTS or after.n < MIN_OBSERVATION_POINTS:
        m.nodata = (
            f"{before.n} usable points before the change and {after.n} after,"
            f" needs {MIN_BASELINE_POINTS} and {MIN_OBSERVATION_POINTS}"
        )
        return m
    start = float(before.t[0])
    declared = split_history(metric.get("history", []), counter, change_at, start, end)
    m.period = rhythm.period([h.offset for h in declared])
    histories = [
        h
        for h in declared
        if h.split.before.n >= MIN_HISTORY_POINTS and h.split.after.n >= MIN_HISTORY_POINTS
    ]
    m.end = float(after.t[-1])
    m.change_at = change_at
    m.step = stats.median(np.diff(t)) if t.size > 1 else 0.0
    m.windows = Windows(
        baseline_seconds=change_at - start,
        # Each point stands for one sampling interval (see the drift budget below).
        observation_seconds=m.end + m.step - change_at,
        baseline_points=before.n,
        observation_points=after.n,
        history_offsets=tuple(h.offset for h in histories),
    )
    m.level = stats.median(before.v)
    m.observed = stats.median(after.v)
    m.tolerance = _tolerance(metric, m.level)
    _run_tests(m, split, histories, change_at)
    return m


def _check_shape(metric: MetricSeries, name: str) -> None:
    """Refuse what would otherwise be silently misread (a typo'd direction read as "either")."""
    direction = metric.get("direction", "either")
    if direction not in ("increase-is-bad", "decrease-is-bad", "either"):
        raise BadRequestError(
            f"metric {name!r}: direction must be increase-is-bad, decrease-is-bad or either,"
            f" got {short(direction, 40)!r}"
        )
    _budget(metric)
    if metric.get("kind", "gauge") not in ("gauge", "counter"):
        raise BadRequestError(f"metric {name!r}: kind must be gauge or counter")
    if not isinstance(metric.get("series", []), list) or not isinstance(
        metric.get("history", []), list
    ):
        raise BadRequestError(f"metric {name!r}: series and history must be lists")


def _budget(metric: MetricSeries) -> float:
    """``driftBudgetSeconds``, 0 when absent; a clear error when it is not a number >= 0."""
    wrong = f"metric {metric.get('name')!r}: driftBudgetSeconds must be a number >= 0"
    try:
        budget = float(metric.get("driftBudgetSeconds", 0.0) or 0.0)
    except (TypeError, ValueError) as e:
        raise BadRequestError(wrong) from e
    if not (math.isfinite(budget) and budget >= 0):
        raise BadRequestError(wrong)
    return budget


def _run_tests(m: _Measure, split: Split, histories: list[HistorySplit], change_at: float) -> None:
    """Shift, mean, later-half shift and trend tests; their combined p-value per side; and
    what is needed to tell later when the divergence began."""
    before, after = split.before, split.after
    # Autocorrelation is learnt where nothing changed, the baseline (a step inside the
    # observation would pass for autocorrelation), and on what is left once the daily rhythm
    # is taken out: the baseline minus the path the history took. (The history windows
    # themselves are not used: inside them the rhythm would pass for autocorrelation.)
    if histories:
        path = season.expected_path(histories, np.concatenate([before.t, after.t]), m.level)
        rest_before, rest_after = before.v - path[: before.n], after.v - path[before.n :]
    else:
        rest_before, rest_after = before.v, after.v
    # A daily rhythm the baseline shows (and no history took out): the calibrated tests run
    # on each point minus the same time one period earlier, so the time of day does not
    # widen the null (see ``rhythm``).
    rest = Window(before.t, rest_before), Window(after.t, rest_after)
    dod = rhythm.day_over_day(*rest, change_at, m.step, m.period)
    if dod is not None:
        m.pending = _Pending(dod.before, dod.after, rhythm.MIN_PAIRS, dod.level, residual=True)
        return
    if calibrated.fits(before.n, after.n):
        m.pending = _Pending(rest_before, rest[1], calibrated.MIN_PAIRS, None, residual=False)
        return
    rho = stats.lag1(rest_before - stats.median(rest_before))
    seasonal = season.seasonal_shift(histories, m.level, 0.0, rho)
    m.seasonal = seasonal.value if seasonal else None
    tests = [("shift", _adjusted_shift(after, before, rho, seasonal))]
    m.shift = tests[0][1]
    mean = stats.mean_difference(after.v, before.v, CONFIDENCE, rho)
    tests.append(("mean", mean.minus(seasonal) if seasonal is not None else mean))
    # The later half alone: a regression that began some minutes after the change (a slow
    # rollout, a cache that empties, a queue that fills) is diluted in the whole window.
    half = change_at + (m.end - change_at) / 2.0
    recent = after.since(half)
    if recent.n >= MIN_OBSERVATION_POINTS and recent.n < after.n:
        seasonal_recent = season.seasonal_shift(histories, m.level, half - change_at, rho)
        tests.append(("recent", _adjusted_shift(recent, before, rho, seasonal_recent)))
    gates: dict[str, tuple[bool, bool]] = {}
    # A trend counts only when the observation also *ends* beyond the tolerance (memory that
    # refills to its old level after a restart climbs steadily without regressing). That
    # gate is cheap, so the Theil-Sen fits run only for metrics that pass it.
    latest_level = stats.median(rest_after[-max(3, after.n // 4) :])
    excess = latest_level - m.level
    gate = (excess > m.tolerance, -excess > m.tolerance)
    if (gate[0] or gate[1]) and after.n >= MIN_TREND_POINTS and after.span > 0:
        rise, m.end_level = season.trend(split, histories, m.level, rho)
        m.rise_up = rise
        tests.append(("trend", rise))
        gates["trend"] = gate
    m.estimates = dict(tests)
    ps_up = [est.p_above(m.tolerance) if gates.get(n, (True, True))[0] else 1.0 for n, est in tests]
    ps_down = [
        est.p_below(-m.tolerance) if gates.get(n, (True, True))[1] else 1.0 for n, est in tests
    ]
    m.p_high, m.p_low = _simes(ps_up), _simes(ps_down)
    m.decisive = {"high": _decisive(tests, ps_up), "low": _decisive(tests, ps_down)}
    # Is the divergence still there? The deciding statistic, taken over the later half of the
    # observation (early on: all of it), must still lie beyond the tolerance.
    later = rest_after[after.n - max(recent.n, min(after.n, MIN_OBSERVATION_POINTS)) :]
    m.latest = {
        "shift": m.estimates.get("recent", m.shift).value,
        "recent": m.estimates.get("recent", m.shift).value,
        "mean": float(np.mean(later)) - float(np.mean(rest_before)),
        "trend": excess,
    }
    m.half = half
    m.excess_t, m.excess = after.t, rest_after - m.level


def _use_calibrated(
    m: _Measure, cal: dict[str, Calibrated], tested: Window, change_at: float, level: float
) -> None:
    """The baseline is long enough to calibrate every test on the metric's own history: its
    p-values replace the interval tests, and the tolerance is only the floor the user set.

    ``tested`` is the observation as the tests saw it (the values, or their day-over-day
    residual), ``level`` the metric's level just before the change (the floor is a share of
    it). Whether the divergence is still there, and how long it lasted, are read off the
    same series as the tests, measured from its own level before the change."""
    m.calibration = cal
    m.level = level  # the level just before the change, not two days' median
    m.tolerance = _tolerance(m.metric, m.level, default_relative=0.0)
    floor = m.tolerance
    up = {k: c.p_high if c.value > floor else 1.0 for k, c in cal.items() if k != "variability"}
    down = {k: c.p_low if -c.value > floor else 1.0 for k, c in cal.items() if k != "variability"}
    # Jumpier is bad whichever way the metric's level is bad.
    jumpy = cal["variability"].p_high
    up["variability"] = down["variability"] = jumpy
    m.p_high, m.p_low = _simes(list(up.values())), _simes(list(down.values()))
    m.p_either = _simes([*up.values(), *(p for k, p in down.items() if k != "variability")])
    m.decisive = {"high": _first_significant(up, cal), "low": _first_significant(down, cal)}
    m.side_ps = {"high": up, "low": down}
    half = change_at + (m.end - change_at) / 2.0
    recent = tested.since(half)
    x, origin = tested.v, cal["step"].before
    later = x[tested.n - max(recent.n, min(tested.n, MIN_OBSERVATION_POINTS)) :]
    m.latest = {
        "step": stats.median(later) - origin,
        "burst": float(np.mean(later)) - cal["burst"].before,
        "leak": stats.median(x[-max(3, tested.n // 4) :]) - origin,
    }
    m.thresholds = {
        k: max(floor, STILL_THERE_SCALES * cal[k if k != "leak" else "step"].scale)
        for k in ("step", "burst", "leak")
    }
    m.half = half
    m.excess_t, m.excess = tested.t, x - origin


def _first_significant(ps: dict[str, float], cal: dict[str, Calibrated]) -> str:
    """Which kind of change to report when several tests are significant: variability when
    the jumps stand out most (a jumpy service drifts its median a little too); else a leak
    (a window that tilts also moves its median), a step, bursts (the mean moved, the median
    did not) in that order. With none significant: the strongest.

    A leak is named only when its rise accounts for the level's move: a ramp from the change
    on rises twice as far as its median moves, while a step that tilts a little on its new
    level (a 250x jump, noisier up there) moved far more than it rose."""
    significant = [k for k in calibrated.TESTS if ps.get(k, 1.0) < CALIBRATED_ALPHA]
    if "step" in significant and abs(cal["leak"].value) < abs(cal["step"].value):
        significant = [k for k in significant if k != "leak"]
    strongest = min(calibrated.TESTS, key=lambda k: ps.get(k, 1.0))
    if not significant or strongest == "variability":
        return strongest
    return next(k for k in ("leak", "step", "burst", "variability") if k in significant)


#: Which test a message reports when several are significant: the robust shift first.
_REPORT_ORDER = ("shift", "trend", "recent", "mean")


def _decisive(tests: list[tuple[str, Estimate]], ps: list[float]) -> str:
    """The test to report: the first significant one in ``_REPORT_ORDER``, else the
    strongest."""
    alpha = (1.0 - CONFIDENCE) / 2.0
    named = {name: p for (name, _), p in zip(tests, ps, strict=True)}
    for name in _REPORT_ORDER:
        if named.get(name, 1.0) < alpha:
            return name
    return tests[int(np.argmin(ps))][0]


def _simes(ps: list[float]) -> float:
    """Simes' combination of one metric's test p-values (its shift, mean, later-half and trend
    tests look at the same data, so they are positively dependent, where Simes is valid and
    much less wasteful than Bonferroni): the smallest Benjamini-Hochberg adjusted p-value."""
    # (With at most four p-values, plain Python beats scipy's array machinery tenfold.)
    ranked = sorted(ps)
    k = len(ranked)
    return min(1.0, *(p * k / (i + 1) for i, p in enumerate(ranked)))


def _adjusted_shift(
    after: Window, before: Window, rho: float, seasonal: Estimate | None
) -> Estimate:
    """HL shift of ``after`` against ``before``, minus what the history showed (if any)."""
    raw = stats.hodges_lehmann(after.v, before.v, CONFIDENCE, rho)
    return raw.minus(seasonal) if seasonal is not None else raw


def _tolerance(
    metric: MetricSeries, level: float, default_relative: float = DEFAULT_RELATIVE_TOLERANCE
) -> float:
    tol = metric.get("tolerance") or {}
    try:
        relative = float(tol.get("relative", default_relative))
        absolute = float(tol.get("absolute", 0.0))
    except (TypeError, ValueError, AttributeError) as e:
        raise BadRequestError(f"metric {metric.get('name')!r}: tolerance must be numbers") from e
    if relative < 0 or absolute < 0 or not (math.isfinite(relative) and math.isfinite(absolute)):
        raise BadRequestError(f"metric {metric.get('name')!r}: tolerance must be >= 0")
    return max(absolute, relative * abs(level))


def _onset(m: _Measure, sign: float, decisive: str) -> float | None:
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


def _episode(m: _Measure, sign: float, decisive: str) -> tuple[float, float, float]:
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


# --- deciding -------------------------------------------------------------------------------


def _bad_p(m: _Measure) -> float:
    direction = m.metric.get("direction", "either")
    if direction == "increase-is-bad":
        return m.p_high
    if direction == "decrease-is-bad":
        return m.p_low
    if m.p_either is not None:
        return m.p_either
    return min(1.0, 2.0 * min(m.p_high, m.p_low))


def _decide(m: _Measure, p_bad: float) -> Assessment:
    metric = m.metric
    name = metric.get("name", "?")
    direction: Direction = metric.get("direction", "either")
    budget = _budget(metric)
    if m.nodata is not None:
        return Assessment(
            name=name,
            direction=direction,
            classification="NoData",
            regression=False,
            severity="info",
            message=f"{name}: no data to judge, not guessing: {m.nodata}",
            reasons=(m.nodata,),
            drift_budget_seconds=budget,
        )
    alpha = CALIBRATED_ALPHA if m.calibration is not None else (1.0 - CONFIDENCE) / 2.0
    decisive = "shift"
    up_bad = direction in ("increase-is-bad", "either")
    down_bad = direction in ("decrease-is-bad", "either")
    side_high = m.p_high <= m.p_low if direction == "either" else direction == "increase-is-bad"
    reasons: list[str] = []
    classification: Classification = "Pass"
    regression = False
    severity: Severity | None = None
    divergent: float | None = None
    if p_bad < alpha:
        regression = True
        side_high, decisive, onset = _ongoing_side(m, side_high)
        episode = None
        if onset is None:
            side_high, decisive, *episode = _recovered(m, side_high, decisive)
        classification = "High" if side_high else "Low"
        severity, divergent = _severity(m, onset, episode, budget=budget, reasons=reasons)
    elif m.p_high < alpha and not up_bad:
        classification = "High"
        decisive = m.decisive.get("high", "shift")
        reasons.append("went up, which this metric does not count as bad")
    elif m.p_low < alpha and not down_bad:
        classification = "Low"
        decisive = m.decisive.get("low", "shift")
        reasons.append("went down, which this metric does not count as bad")
    elif m.shift is not None and (m.shift.saturated or not math.isfinite(m.shift.hi - m.shift.lo)):
        # Too few *effective* points is a tiny sample too: say so rather than call it healthy.
        classification, severity = "NoData", "info"
        reasons.append(
            "inconclusive: the metric wanders so slowly that these windows hold too few"
            " independent points (add history or a longer baseline)"
        )
    elif m.calibration is not None:
        reasons.append("no change unusual for this metric's own history")
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
        ratio=_episode_ratio(m, classification == "High") or _ratio(m, decisive),
        effect=m.estimates.get(decisive),
        decisive=decisive,
        calibrated=m.calibration.get(decisive) if m.calibration else None,
        stood_out=_stood_out(m, decisive, classification == "High") if regression else None,
        shift=m.shift,
        seasonal_shift=m.seasonal,
        rise=m.rise_up,
        tolerance=m.tolerance,
        p_value=p_bad,
        divergent_seconds=divergent,
        drift_budget_seconds=budget,
    )
    return replace(a, message=describe(a))


def _stood_out(m: _Measure, decisive: str, high: bool) -> tuple[Calibrated, bool] | None:
    """The calibrated test (and its side: True for high) whose p-value made the metric
    significant, when the change the finding names is not significant by itself: a step
    rolled back inside the observation is named for the level it held, but what stood out
    in the history may be the steep fall that followed it."""
    if m.calibration is None:
        return None
    if m.side_ps.get("high" if high else "low", {}).get(decisive, 1.0) < CALIBRATED_ALPHA:
        return None
    direction = m.metric.get("direction", "either")
    bad = {"high": ("either", "increase-is-bad"), "low": ("either", "decrease-is-bad")}
    candidates = [
        (p, k, s) for s, ps in m.side_ps.items() if direction in bad[s] for k, p in ps.items()
    ]
    if not candidates:
        return None
    _, kind, side = min(candidates)
    return m.calibration[kind], side == "high"


def _severity(
    m: _Measure,
    onset: float | None,
    episode: list[float] | None,
    *,
    budget: float,
    reasons: list[str],
) -> tuple[Severity, float]:
    """Critical or warning for a significant regression, and how long it diverged.

    Critical when the metric is not advisory and the divergence is still there and has
    lasted the drift budget — or is over but lasted at least ``RECOVERED_SHARE`` of the
    observation (and the budget): a rollback inside the observation does not make the
    change good."""
    critical = bool(m.metric.get("critical", True))
    if onset is None:
        divergent, back = episode or (0.0, 0.0)
        lasted = divergent >= max(budget, RECOVERED_SHARE * (m.end + m.step - m.change_at))
        reasons.append(
            f"back within its usual range {format_duration(back, largest=2)} after the"
            " change (rolled back or recovered)"
            if divergent > 0
            else "diverged after the change but has recovered"
        )
        if not lasted:
            reasons.append("too short to count: under a quarter of the observation")
    else:
        # Each point stands for one sampling interval, so a divergence seen at every point of
        # a 10-minute observation has lasted 10 minutes, not 10 minutes less one step.
        divergent = m.end + m.step - onset
        lasted = divergent >= budget
        if not lasted:
            reasons.append("divergent, but not yet for as long as the drift budget")
    if lasted and not critical:
        reasons.append("regressed, but the metric is advisory (critical: false)")
    return ("critical" if lasted and critical else "warning"), divergent


def _recovered(m: _Measure, side_high: bool, decisive: str) -> tuple[bool, str, float, float]:
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


def _ongoing_side(m: _Measure, side_high: bool) -> tuple[bool, str, float | None]:
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


def _episode_ratio(m: _Measure, high: bool) -> float | None:
    """For a divergence that is over: its episode's level over the level before the change
    (the "3x" of a step that held 40 minutes and was rolled back, which the whole
    observation's median no longer shows)."""
    if m.episode_level is None or m.level <= 0:
        return None
    after = m.level + (m.episode_level if high else -m.episode_level)
    return after / m.level if after >= 0 else None


def _ratio(m: _Measure, decisive: str) -> float | None:
    """Today's level over the baseline's as the deciding test sees it (Kayenta's effect size,
    on robust levels: the observed point of the trend line, or the baseline plus the shift)."""
    if m.calibration is not None and decisive in m.calibration:
        c = m.calibration[decisive]
        before, after = c.before, c.after
        if decisive == "leak":
            before, after = m.level, m.level + c.after
        elif m.residual and decisive != "variability":
            # Residual levels are differences from the day before: the move, on today's level.
            before, after = m.level, m.level + c.value
        return after / before if before > 0 and after >= 0 else None
    if m.level <= 0:
        return None
    if decisive == "trend" and m.end_level is not None:
        return m.end_level / m.level
    est = m.estimates.get(decisive)
    return (m.level + est.value) / m.level if est is not None else None
