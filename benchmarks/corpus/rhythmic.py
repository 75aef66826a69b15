"""Simulated metrics with a daily rhythm: a regression check for the day-over-day residual.

Not real data. NAB at five minutes has one file with a daily rhythm, so its tables cannot
show what the judge does with the metrics most production KPIs are (request rates, latency:
busy by day, quiet by night); these cases can, on a rhythm we drew ourselves.

Each case is laid out as the deploy-shaped NAB cuts are (``nab.deploys``): two days before
the change at five minutes (576 points), two hours after (24), no history, direction
``either``, every metric critical, drift budget 0, no tolerance. Values are ``level x (1 +
amplitude x sin(time of day)) x noise`` with AR(1) log-normal noise, the change at a random
time of day; a regression multiplies the observation by 1.1 or 0.9 (a 10% step, about the
median move of an erroneous deploy in a real change log), a healthy case leaves it alone.
``PER_AMPLITUDE`` of each per amplitude, from a fixed seed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np

from benchmarks.corpus import Case
from webhooks.evidence.model import MetricSeries

STEP = 300.0
BEFORE = 576
OBSERVE = 24
DAY = 86_400.0
CHANGE_AT = 1_764_000_000.0
#: Daily swing as a share of the level: a mild and a strong rhythm.
AMPLITUDES = (0.1, 0.3)
PER_AMPLITUDE = 60
MOVE = 0.1
#: Noise: log-normal with this spread, AR(1) with this lag-one correlation.
CV = 0.03
RHO = 0.7


def _ar1(rng: np.random.Generator, n: int) -> np.ndarray:
    e = rng.standard_normal(n) * np.sqrt(1 - RHO**2)
    out = np.empty(n)
    acc = rng.standard_normal()
    for i in range(n):
        acc = RHO * acc + e[i]
        out[i] = acc
    return out


def family(amplitude: float) -> str:
    return f"±{round(100 * amplitude)}%"


def cases(seed: int = 20261201) -> Iterator[Case]:
    """``PER_AMPLITUDE`` 10% steps and as many healthy windows per amplitude."""
    rng = np.random.default_rng(seed)
    t = CHANGE_AT + STEP * np.arange(-BEFORE, OBSERVE)
    stamp = dt.datetime.fromtimestamp(CHANGE_AT, dt.UTC).isoformat()
    for amplitude in AMPLITUDES:
        for i in range(PER_AMPLITUDE):
            for regression in (True, False):
                level = float(rng.uniform(10.0, 1000.0))
                phase = float(rng.uniform(0.0, 2 * np.pi))
                wave = 1.0 + amplitude * np.sin(phase + 2 * np.pi * (t - CHANGE_AT) / DAY)
                v = level * wave * np.exp(CV * _ar1(rng, t.size))
                if regression:
                    v[BEFORE:] *= 1.0 + float(rng.choice((-MOVE, MOVE)))
                metric: MetricSeries = {
                    "name": "requests_per_second",
                    "direction": "either",
                    "changeAt": stamp,
                    "series": np.column_stack([t, v]).tolist(),
                    "critical": True,
                }
                shape = "step" if regression else "healthy"
                name = f"rhythmic-{family(amplitude)}-{i}-{shape}"
                yield Case(name, "rhythmic", family(amplitude), metric, regression, BEFORE, shape)
