"""Observability that lags behind reality: is each metric's newest point recent?

A metric whose scrape target went down, whose remote-write queue is backed up, or whose
recording rule stopped evaluating still returns a series — one that ends minutes or hours
before the Evidence was collected. Judged as it is, it would read "no regression" about a
period it says nothing of. Each such metric gets a ``data-lag`` finding saying how far behind
it is, so a quiet behaviour verdict is never silently built on stale data.

The bound is ``spec.baseline.maxDataLag`` when set, else three sampling intervals of the
series, and never less than Prometheus's own staleness window (5 minutes).
"""

from __future__ import annotations

import itertools
import math
from statistics import median

from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.durations import format_duration
from webhooks.evidence.model import Evidence

CHECK = "data-lag"
#: Prometheus marks a series stale after 5 minutes without a sample.
PROMETHEUS_STALENESS_SECONDS = 300.0


def _times(series: object) -> list[float]:
    out: list[float] = []
    for point in series if isinstance(series, list) else []:
        if isinstance(point, list | tuple) and point:
            t = point[0]
            if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t):
                out.append(float(t))
    return sorted(out)


def bound_seconds(times: list[float], configured: float | None) -> float:
    if configured is not None:
        return configured
    steps = [b - a for a, b in itertools.pairwise(times) if b > a]
    step = median(steps) if steps else 0.0
    return max(PROMETHEUS_STALENESS_SECONDS, 3 * step)


def check(evidence: Evidence, ctx: CheckContext) -> list[CheckFinding]:
    if ctx.now is None:
        return []
    now = ctx.now.timestamp()
    out: list[CheckFinding] = []
    for metric in evidence.get("metrics") or []:
        if not isinstance(metric, dict) or metric.get("error"):
            continue  # the baseline judge already says it has no data, and why
        times = _times(metric.get("series"))
        if not times:
            continue
        lag = now - times[-1]
        bound = bound_seconds(times, ctx.settings.max_data_lag_seconds)
        if lag <= bound:
            continue
        name = str(metric.get("name") or "?")
        out.append(
            finding(
                "behaviour",
                CHECK,
                {"kind": "Metric", "namespace": None, "name": name},
                f"metric {name}: newest point is {format_duration(lag, largest=2)} old at collection "
                f"(bound {format_duration(bound, largest=2)}): its target may be down or its data delayed; "
                "no verdict about the last "
                f"{format_duration(lag, largest=2)} rests on it",
                "warning",
            )
        )
    return out
