"""Labelled change cases for the baseline judge's accuracy benchmark.

``simulated`` builds cases from fixed seeds (steps, leaks, rhythm, noise, counters, gaps);
``nab`` cuts cases out of real telemetry with labelled anomaly windows (the NAB subset under
``shared/data/nab``). Both yield ``Case`` objects: one metric around one change, a label, and
where the observation starts so a benchmark can re-judge it as data arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhooks.evidence.model import MetricSeries


@dataclass(frozen=True)
class Case:
    """One labelled change: ``regression`` is the truth the judge should reach."""

    id: str
    source: str  # "simulated" or "nab"
    family: str  # e.g. "step_up", "seasonal_ramp", "realKnownCause/nyc_taxi.csv"
    metric: MetricSeries
    regression: bool
    change_index: int  # index in metric["series"] of the first observation point
    #: "transient" for a labelled anomaly that does not last into the observation (a spike,
    #: a short burst): not a deploy regression, so scored apart from the rest.
    shape: str = ""
