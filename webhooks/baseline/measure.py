"""Everything the baseline judge measures about one metric before it decides.

``prepare`` reads a metric's points, cuts them at ``changeAt`` and runs what it can on its own:
the interval tests against the tolerance (a short baseline), or, with a long one, the request
for its calibrated tests, which ``calibrate`` runs for every metric of a call at once (metrics
read over the same range share every array operation; see ``calibrated``). What comes out is a
``Measure``: per side, the Simes-combined p-value of the tests, which test decides, and what
``episode`` needs to tell whether the divergence is still there and how long it lasted. The
judge (``judge``) then controls the p-values across metrics and decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from webhooks.baseline import calibrated, rhythm, season, stats
from webhooks.baseline.assessment import CONFIDENCE, Windows
from webhooks.baseline.calibrated import Calibrated
from webhooks.baseline.season import MIN_HISTORY_POINTS, MIN_TREND_POINTS
from webhooks.baseline.series import (
    FloatArray,
    HistorySplit,
    Split,
    Window,
    cut,
    split_history,
)
from webhooks.baseline.series import prepare as read_points
from webhooks.baseline.stats import Estimate
from webhooks.common.times import parse_time
from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import MetricSeries

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


@dataclass(frozen=True)
class Pending:
    """A metric waiting for its calibrated tests (``calibrated.calibrate_many`` runs them
    for every metric of a call at once)."""

    before: FloatArray  # what the tests run on: values, or their day-over-day residual
    tested: Window  # the observation, the same way
    min_pairs: int
    level: float | None  # the level before the change, when not the tests' own
    residual: bool


@dataclass
class Measure:
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
    pending: Pending | None = None  # calibrated tests still to run


def measure(metric: MetricSeries, now: float | None) -> Measure:
    """Everything measured about one metric."""
    m = prepare(metric, now)
    calibrate([m])
    return m


def calibrate(measures: Sequence[Measure]) -> None:
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


def prepare(metric: MetricSeries, now: float | None) -> Measure:
    """Everything measured about one metric but its calibrated tests (see ``calibrate``)."""
    m = Measure(metric)
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
    t, v = read_points(metric.get("series", []), counter)
    if v.size and max(float(v.max()), -float(v.min())) > MAX_MAGNITUDE:
        m.nodata = f"values beyond ±{MAX_MAGNITUDE:g} cannot be compared without overflow"
        return m
    end = float(now) if now is not None else (float(t[-1]) if t.size else change_at)
    split = cut(t, v, change_at, -math.inf, end)
    before, after = split.before, split.after
    if before.n < MIN_BASELINE_POINTS or after.n < MIN_OBSERVATION_POINTS:
        m.nodata = _too_few(before.n, after.n)
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


def _too_few(before: int, after: int) -> str:
    """Why a metric with too few usable points is not judged: no data at all on a side (a
    query that matched nothing, or only NaN or empty values) is said as such."""
    if before and after:
        return (
            f"{before} usable points before the change and {after} after,"
            f" needs {MIN_BASELINE_POINTS} and {MIN_OBSERVATION_POINTS}"
        )
    where = "after the change" if before else "before the change"
    if not before and not after:
        where = "before the change or after it"
    return (
        f"no data {where} (the query returned no series there, or only NaN or empty values):"
        " it cannot be judged, and this is not a regression"
    )


def _check_shape(metric: MetricSeries, name: str) -> None:
    """Refuse what would otherwise be silently misread (a typo'd direction read as "either")."""
    direction = metric.get("direction", "either")
    if direction not in ("increase-is-bad", "decrease-is-bad", "either"):
        raise BadRequestError(
            f"metric {name!r}: direction must be increase-is-bad, decrease-is-bad or either,"
            f" got {short(direction, 40)!r}"
        )
    drift_budget(metric)
    if metric.get("kind", "gauge") not in ("gauge", "counter"):
        raise BadRequestError(f"metric {name!r}: kind must be gauge or counter")
    if not isinstance(metric.get("series", []), list) or not isinstance(
        metric.get("history", []), list
    ):
        raise BadRequestError(f"metric {name!r}: series and history must be lists")


def drift_budget(metric: MetricSeries) -> float:
    """``driftBudgetSeconds``, 0 when absent; a clear error when it is not a number >= 0."""
    wrong = f"metric {metric.get('name')!r}: driftBudgetSeconds must be a number >= 0"
    try:
        budget = float(metric.get("driftBudgetSeconds", 0.0) or 0.0)
    except (TypeError, ValueError) as e:
        raise BadRequestError(wrong) from e
    if not (math.isfinite(budget) and budget >= 0):
        raise BadRequestError(wrong)
    return budget


def _run_tests(m: Measure, split: Split, histories: list[HistorySplit], change_at: float) -> None:
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
        m.pending = Pending(dod.before, dod.after, rhythm.MIN_PAIRS, dod.level, residual=True)
        return
    if calibrated.fits(before.n, after.n):
        m.pending = Pending(rest_before, rest[1], calibrated.MIN_PAIRS, None, residual=False)
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
    m: Measure, cal: dict[str, Calibrated], tested: Window, change_at: float, level: float
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
