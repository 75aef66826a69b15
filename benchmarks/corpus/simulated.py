"""Simulated change cases from fixed seeds: what real service metrics do around a deploy.

Every case is one metric at 60 s resolution, 60 minutes before the change and 60 after, and
(for families with a daily rhythm) the same two hours one day earlier as history. Values are
``level x rhythm x effect x noise`` with multiplicative noise (iid or AR(1), Gaussian or
heavy-tailed), so error rates, latencies and throughputs all look plausibly like telemetry.

Labels follow one rule: a *regression* is a lasting change in the metric's bad direction of
at least 40% (steps, delayed steps, leaks ending ≥40% up, error bursts in a fifth of the
minutes after the change). Everything else is healthy: noise,
wander, the daily rhythm, blips shorter than the drift budget, changes of a few percent,
improvements, memory refilling after a restart. The generator knows nothing of the judge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from benchmarks.corpus import Case
from webhooks.evidence.model import Direction, MetricSeries

STEP = 60.0
BEFORE = 60
AFTER = 60
DAY = 86400.0
#: Drift budget given to every simulated metric: blips shorter than this are not regressions.
DRIFT_BUDGET = 300.0
#: The change happens at this time (a fixed Tuesday; the rhythm phase is set per case).
CHANGE_AT = 1_764_000_000.0


@dataclass
class Shape:
    """How one family draws a case (filled in by the family functions)."""

    level: float
    direction: Direction
    cv: float
    rho: float = 0.0
    heavy: bool = False
    rhythm: float = 0.0  # daily amplitude as a fraction of the level
    phase: float = 0.0  # radians of the daily cycle at the change
    history: bool = False
    counter: bool = False
    gaps: bool = False
    effect: Callable[[np.ndarray], np.ndarray] | None = None  # minutes after change -> factor


def _noise(rng: np.random.Generator, n: int, s: Shape) -> np.ndarray:
    e = rng.standard_t(2.5, n) / 2.0 if s.heavy else rng.standard_normal(n)
    if s.rho > 0:
        ar = np.empty(n)
        acc = 0.0
        scale = np.sqrt(1 - s.rho**2)
        for i in range(n):
            acc = s.rho * acc + scale * e[i]
            ar[i] = acc
        e = ar
    out: np.ndarray = np.exp(s.cv * e - 0.5 * s.cv**2)
    return out


def _rhythm(t: np.ndarray, s: Shape) -> np.ndarray:
    # The change sits at phase s.phase of the daily cycle.
    return 1.0 + s.rhythm * np.sin(s.phase + 2 * np.pi * (t - CHANGE_AT) / DAY)


def _values(rng: np.random.Generator, t: np.ndarray, s: Shape, today: bool) -> np.ndarray:
    level = s.level * (rng.uniform(0.8, 1.25) if not today else 1.0)
    v = level * _rhythm(t, s) * _noise(rng, t.size, s)
    if today and s.effect is not None:
        minutes = (t - CHANGE_AT) / 60.0
        v = v * np.where(minutes >= 0, s.effect(np.maximum(minutes, 0.0)), 1.0)
    out: np.ndarray = v
    return out


def _counter(rng: np.random.Generator, rate: np.ndarray) -> np.ndarray:
    total = np.cumsum(rate * STEP) + rng.uniform(1e3, 1e5)
    reset = int(rng.integers(20, rate.size - 20))
    total[reset:] -= total[reset - 1]  # the process restarted: counting from (about) zero
    return total


def _points(
    t: np.ndarray, v: np.ndarray, rng: np.random.Generator, gaps: bool
) -> list[list[float]]:
    if gaps:
        keep = rng.random(t.size) > 0.2
        v = np.where(rng.random(t.size) < 0.05, np.nan, v)
        t, v = t[keep], v[keep]
    return [[float(a), float(b)] for a, b in zip(t, v, strict=True)]


def build(rng: np.random.Generator, s: Shape, name: str) -> tuple[MetricSeries, int]:
    t = CHANGE_AT + STEP * np.arange(-BEFORE, AFTER)
    v = _values(rng, t, s, today=True)
    metric: MetricSeries = {
        "name": name,
        "direction": s.direction,
        "changeAt": dt.datetime.fromtimestamp(CHANGE_AT, dt.UTC).isoformat(),
        "series": [],
        "kind": "counter" if s.counter else "gauge",
        "critical": True,
        "driftBudgetSeconds": DRIFT_BUDGET,
    }
    series_v = _counter(rng, v) if s.counter else v
    metric["series"] = _points(t, series_v, rng, s.gaps)
    if s.history:
        ht = t - DAY
        hv = _values(rng, t, s, today=False)
        hv = _counter(rng, hv) if s.counter else hv
        metric["history"] = [{"offsetSeconds": DAY, "series": _points(ht, hv, rng, False)}]
    change_index = sum(1 for p in metric["series"] if p[0] < CHANGE_AT)
    return metric, change_index


# --- families -------------------------------------------------------------------------------


def _base(rng: np.random.Generator) -> tuple[float, Direction, str]:
    kind = int(rng.integers(3))
    if kind == 0:
        return float(rng.uniform(0.002, 0.02)), "increase-is-bad", "error_ratio"
    if kind == 1:
        return float(rng.uniform(0.05, 0.5)), "increase-is-bad", "latency_p99_seconds"
    return float(rng.uniform(50, 1000)), "decrease-is-bad", "requests_per_second"


def _bad(direction: Direction, factor: float) -> float:
    """A factor > 1 made to point in the metric's bad direction."""
    return factor if direction != "decrease-is-bad" else 1.0 / factor


def _step(factor: float, delay: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    return lambda m: np.where(m >= delay, factor, 1.0)


def _ramp(rise: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda m: 1.0 + rise * m / AFTER


def _blip(factor: float, minutes: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda m: np.where(m < minutes, factor, 1.0)


def _refill(m: np.ndarray) -> np.ndarray:
    return np.minimum(1.0, 0.5 + 0.5 * m / 20.0)


def family(name: str, rng: np.random.Generator) -> tuple[Shape, bool, str]:
    """Draw one case of a family: its shape, whether it is a regression, and a metric name."""
    level, direction, metric = _base(rng)
    s = Shape(level=level, direction=direction, cv=float(rng.uniform(0.03, 0.25)))
    big = float(np.exp(rng.uniform(np.log(1.4), np.log(4.0))))
    regression = True
    if name == "step":
        s.effect = _step(_bad(direction, big))
    elif name == "delayed_step":
        s.effect = _step(_bad(direction, big), delay=float(rng.uniform(5, 30)))
    elif name == "leak":
        s.direction, metric = "increase-is-bad", "memory_working_set_bytes"
        s.level = float(rng.uniform(2e8, 2e9))
        s.effect = _ramp(float(rng.uniform(0.4, 1.5)))
    elif name == "seasonal_step":
        s.rhythm, s.history = float(rng.uniform(0.3, 0.6)), True
        s.phase = float(rng.uniform(0, 2 * np.pi))
        s.effect = _step(_bad(direction, big))
    elif name == "heavy_tail_step":
        s.heavy = True
        s.effect = _step(_bad(direction, big))
    elif name == "autocorrelated_step":
        s.rho = float(rng.uniform(0.5, 0.8))
        s.effect = _step(_bad(direction, big))
    elif name == "counter_step":
        s.counter, s.direction, metric = True, "increase-is-bad", "errors_total"
        s.effect = _step(big)
    elif name == "error_bursts":
        # A fifth of the minutes after the change see bursts of errors; the rest look normal.
        s.direction, metric = "increase-is-bad", "error_ratio"
        s.level = float(rng.uniform(0.002, 0.02))
        burst = rng.random(AFTER + 1) < 0.2
        s.effect = lambda m, b=burst, k=big * 2: np.where(b[m.astype(int) % (AFTER + 1)], k, 1.0)
    elif name == "gappy_step":
        s.gaps = True
        s.effect = _step(_bad(direction, big))
    else:
        regression = False
        if name == "noise":
            pass
        elif name == "wander":
            s.rho = float(rng.uniform(0.85, 0.97))
        elif name == "seasonal_ramp":
            # The change lands on the steep part of the daily curve.
            s.rhythm, s.history = float(rng.uniform(0.3, 0.6)), True
            s.phase = float(rng.choice([0.0, np.pi])) + float(rng.uniform(-0.3, 0.3))
        elif name == "seasonal_peak":
            s.rhythm, s.history = float(rng.uniform(0.3, 0.6)), True
            s.phase = float(rng.choice([-0.5, np.pi - 0.5])) + float(rng.uniform(-0.2, 0.2))
        elif name == "heavy_tail_noise":
            s.heavy = True
        elif name == "counter_reset":
            s.counter, s.direction, metric = True, "increase-is-bad", "errors_total"
        elif name == "gappy_noise":
            s.gaps = True
        elif name == "small_change":
            s.effect = _step(_bad(direction, float(rng.uniform(1.02, 1.1))))
        elif name == "blip":
            s.effect = _blip(_bad(direction, big), float(rng.uniform(1, 4)))
        elif name == "improvement":
            s.effect = _step(1.0 / _bad(direction, big))
        elif name == "restart_refill":
            s.direction, metric = "increase-is-bad", "memory_working_set_bytes"
            s.level = float(rng.uniform(2e8, 2e9))
            s.effect = _refill
        else:
            raise ValueError(f"unknown family {name}")
    return s, regression, metric


REGRESSIONS = (
    "step",
    "delayed_step",
    "leak",
    "seasonal_step",
    "heavy_tail_step",
    "autocorrelated_step",
    "counter_step",
    "gappy_step",
    "error_bursts",
)
HEALTHY = (
    "noise",
    "wander",
    "seasonal_ramp",
    "seasonal_peak",
    "heavy_tail_noise",
    "counter_reset",
    "gappy_noise",
    "small_change",
    "blip",
    "improvement",
    "restart_refill",
)


def cases(per_family: int = 20, seed: int = 20261127) -> Iterator[Case]:
    """``per_family`` cases of every family, each from its own child seed."""
    root = np.random.SeedSequence(seed)
    families = REGRESSIONS + HEALTHY
    for fi, (fam, seq) in enumerate(zip(families, root.spawn(len(families)), strict=True)):
        for i, child in enumerate(seq.spawn(per_family)):
            rng = np.random.default_rng(child)
            shape, regression, metric_name = family(fam, rng)
            metric, change_index = build(rng, shape, metric_name)
            case_id = f"sim-{fi:02d}-{fam}-{i:02d}"
            yield Case(case_id, "simulated", fam, metric, regression, change_index)
