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

This module decides; what it decides on is measured in ``measure`` (the tests, per metric),
when a divergence began and how long it lasted is read in ``episode``, and the finding's
words come from ``messages``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy import stats as sps

from webhooks.baseline.assessment import CONFIDENCE, Assessment, Classification, Windows
from webhooks.baseline.calibrated import Calibrated
from webhooks.baseline.episode import ongoing_side, recovered, spell
from webhooks.baseline.measure import (
    CALIBRATED_ALPHA,
    DEFAULT_RELATIVE_TOLERANCE,
    Measure,
    calibrate,
    drift_budget,
    measure,
    prepare,
)
from webhooks.baseline.messages import describe
from webhooks.common.durations import format_duration
from webhooks.evidence.model import Direction, Finding, MetricSeries, Severity

__all__ = [
    "CALIBRATED_ALPHA",
    "CONFIDENCE",
    "DEFAULT_RELATIVE_TOLERANCE",
    "Assessment",
    "Classification",
    "Windows",
    "assess",
    "assess_all",
    "finding",
    "judge_metrics",
]

#: A regression that has recovered (rolled back, or over by itself) still counts when it
#: lasted at least this share of the observation (and the drift budget): the change made
#: the metric regress, and a rollback does not make the change good.
RECOVERED_SHARE = 0.25


def assess(metric: MetricSeries, now: float | None = None) -> Assessment:
    """Judge one metric on its own (no cross-metric false-discovery control)."""
    m = measure(metric, now)
    return _decide(m, _bad_p(m))


def judge_metrics(metrics: Sequence[MetricSeries], *, now: float | None = None) -> list[Finding]:
    """Findings for every metric that regressed (or could not be judged).

    p-values are controlled across all judged metrics with Benjamini-Hochberg, so listing
    fifty noisy metrics does not make one of them fail by chance.
    """
    return [a_finding for a in assess_all(metrics, now=now) if (a_finding := finding(a))]


def assess_all(metrics: Sequence[MetricSeries], *, now: float | None = None) -> list[Assessment]:
    """``assess`` for many metrics at once, with Benjamini-Hochberg across them."""
    measures = [prepare(m, now) for m in metrics]
    calibrate(measures)
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


def _bad_p(m: Measure) -> float:
    direction = m.metric.get("direction", "either")
    if direction == "increase-is-bad":
        return m.p_high
    if direction == "decrease-is-bad":
        return m.p_low
    if m.p_either is not None:
        return m.p_either
    return min(1.0, 2.0 * min(m.p_high, m.p_low))


def _decide(m: Measure, p_bad: float) -> Assessment:
    metric = m.metric
    name = metric.get("name", "?")
    direction: Direction = metric.get("direction", "either")
    budget = drift_budget(metric)
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
        side_high, decisive, onset = ongoing_side(m, side_high)
        episode = None
        if onset is None:
            side_high, decisive, *episode = recovered(m, side_high, decisive)
        classification = "High" if side_high else "Low"
        severity, divergent = _severity(m, onset, episode, budget=budget, reasons=reasons)
        if onset is not None:
            divergent = _spell(m, side_high, decisive, onset, reasons)
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


def _stood_out(m: Measure, decisive: str, high: bool) -> tuple[Calibrated, bool] | None:
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
    m: Measure,
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


def _spell(m: Measure, side_high: bool, decisive: str, onset: float, reasons: list[str]) -> float:
    """How long a divergence still there by its deciding test has really lasted, for the
    finding's words (the severity stays the test's): a spike that moved the mean is over,
    and says when the metric was back."""
    divergent, back = spell(m, side_high, decisive, onset)
    if back is not None:
        reasons.insert(
            0,
            f"back within its usual range {format_duration(back, largest=2)} after the change"
            " (over, but it moved the mean of the whole observation)",
        )
    return divergent


def _episode_ratio(m: Measure, high: bool) -> float | None:
    """For a divergence that is over: its episode's level over the level before the change
    (the "3x" of a step that held 40 minutes and was rolled back, which the whole
    observation's median no longer shows)."""
    if m.episode_level is None or m.level <= 0:
        return None
    after = m.level + (m.episode_level if high else -m.episode_level)
    return after / m.level if after >= 0 else None


def _ratio(m: Measure, decisive: str) -> float | None:
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
