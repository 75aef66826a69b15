"""What the baseline judge concluded about one metric, and why (shared by judge and messages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from webhooks.baseline.calibrated import Calibrated
from webhooks.baseline.stats import Estimate
from webhooks.evidence.model import Direction, Severity

Classification = Literal["Pass", "High", "Low", "NoData"]

#: Two-sided confidence of every interval (Kayenta's default); one-sided tests run at half
#: of ``1 - CONFIDENCE`` so "flagged" means "the interval lies beyond the tolerance".
CONFIDENCE = 0.98


@dataclass(frozen=True)
class Windows:
    """What was compared with what, in seconds (for messages and docs)."""

    baseline_seconds: float
    observation_seconds: float
    baseline_points: int
    observation_points: int
    history_offsets: tuple[float, ...] = ()
    #: Calibrated tests: the span just before the change the observation is compared with
    #: (the whole baseline is the history the comparison is calibrated on).
    reference_seconds: float | None = None
    #: Calibrated tests on the residual: each point was compared with the same time this
    #: many seconds earlier (a day, for a daily rhythm; see ``rhythm``). None: on the values.
    period_seconds: float | None = None


@dataclass(frozen=True)
class Assessment:
    """The judge's full reasoning about one metric (findings are a summary of this)."""

    name: str
    direction: Direction
    classification: Classification
    regression: bool  # the classification is in the metric's bad direction and significant
    severity: Severity | None  # None: nothing to report
    message: str
    reasons: tuple[str, ...] = ()
    windows: Windows | None = None
    baseline_level: float | None = None
    observed_level: float | None = None
    #: Level after / level before, as the deciding test sees it; for a regression that is over,
    #: the level its longest episode held (a step rolled back inside the observation).
    ratio: float | None = None
    effect: Estimate | None = None  # the deciding test's estimate (shift, recent or trend)
    #: Which test decided: shift | recent | mean | trend (interval tests) or step | burst |
    #: leak | variability (tests calibrated on the metric's history).
    decisive: str = "shift"
    calibrated: Calibrated | None = None  # the deciding calibrated test, if calibrated
    #: The calibrated test whose p-value made the metric significant, with its side (True:
    #: high), when it is not ``calibrated`` (a rolled-back step found by the fall after it).
    stood_out: tuple[Calibrated, bool] | None = None
    shift: Estimate | None = None  # seasonally adjusted HL shift, in the metric's units
    seasonal_shift: float | None = None  # the part of the raw shift that history explains
    rise: Estimate | None = None  # trend rise over the observation beyond the history's
    tolerance: float | None = None
    p_value: float | None = None  # bad-direction p (before cross-metric control)
    confidence: float = CONFIDENCE
    divergent_seconds: float | None = None
    drift_budget_seconds: float = 0.0
