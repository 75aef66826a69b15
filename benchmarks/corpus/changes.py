"""Deploy-like change cases on real telemetry: erroneous and healthy changes drawn on NAB cuts.

A real change log (one KPI per change, two days before and two hours after it, every point
before the change the baseline, no history) is what the behaviour judge is for, and no such
log can be shipped here. This module builds the closest stand-in it can from data the project
may ship: the NAB subset's real noise, daily rhythm and regime wander, with changes of known
kind and size drawn into it. What is known about real logs of that kind sets the sizes:
erroneous changes move the median level by about 11% of the baseline, healthy ones by about
4.5% (healthy deploys move a metric a little too), and many erroneous ones show as a change in
variability or in the mean (bursts) rather than in the median.

Every cut keeps NAB's own sampling (five minutes for the CloudWatch files): ``BASELINE``
points before the change (two days) and ``OBSERVE`` after it (two hours); files sampled more
coarsely than that (hourly, half-hourly) are left out rather than stretched. The change points
are random (fixed seed) with the observation a whole window-length away from every labelled
anomaly. For each change point the corpus holds three cases:

- **untouched** — the real window as it is (healthy): how often real noise reads as Degraded;
- **healthy change** — the observation moved by a small step (``HEALTHY_MOVE``, either way):
  a deploy that changed the level a little, on purpose or harmlessly;
- **erroneous change** — one of the kinds below, drawn at random (regression):

  ``step`` the level moves (``ERROR_MOVE``) from the change on; ``delayed`` it moves 10 to 40
  minutes after the change; ``rolled back`` it moves at the change and returns after 40 to 90
  minutes (the rollback, or the recovery, happened inside the observation); ``variability``
  the metric turns jumpy around its level (noise of 1.5 to 4 times its usual point-to-point
  jump added); ``bursts`` a fifth to a third of the points carry an error burst of a quarter
  to the whole of the level.

Healthy changes against erroneous ones is a balanced set (as the real log is, half and half);
the untouched windows give the false-Degraded rate on real healthy windows. Metrics sit at
zero (no level to move by a share of) are skipped. Files are split into tune and holdout
halves as in ``nab``.

``cases(root, at_60s=True)`` builds the same kinds of case in the layout of a change log
sampled every 60 s: ``BASELINE_60S`` points before the change and ``OBSERVE_60S`` after it,
the tests then cutting the observation into blocks of several points as they do on such a
log (at five minutes every point is its own block). NAB has nothing sampled that often, so
its five-minute values are *re-spaced* one minute apart: the noise from point to point, the
spikes and the regime changes are real, the time of day is not (a day's rhythm spans 4.8 h
of the re-spaced clock). Changes keep their share of the observation (a delayed step begins
a twelfth to three eighths of the way in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.corpus import Case, nab
from webhooks.evidence.model import MetricSeries

#: Two days before the change and two hours after it, at NAB's five minutes.
BASELINE = 576
OBSERVE = 24
#: The 60-s layout: two days before the change and two hours after it, one point a minute.
BASELINE_60S = 2880
OBSERVE_60S = 120
STEP_60S = 60.0
#: Files sampled more coarsely than this (seconds) cannot hold a two-hour observation.
MAX_STEP = 300.0
#: Change points per file.
PER_FILE = 12
#: Median relative move of a healthy change and of an erroneous level change (log-normal
#: spread ``SPREAD`` around it). Measured with the natural move of the window, the median
#: move is 4.6% for healthy changes and 9.6% for erroneous ones (jumpiness and bursts hardly
#: move the median; the steps alone 15%), against 1.6% for the untouched windows.
HEALTHY_MOVE = 0.03
ERROR_MOVE = 0.15
SPREAD = 0.6
KINDS = ("step", "delayed", "rolled back", "variability", "bursts")
#: How often each kind is drawn (steps and bursts are the commonest in real change logs).
WEIGHTS = (0.3, 0.15, 0.15, 0.2, 0.2)


def _move(rng: np.random.Generator, median: float) -> float:
    return float(rng.choice((-1.0, 1.0)) * median * np.exp(SPREAD * rng.standard_normal()))


def _erroneous(
    rng: np.random.Generator, kind: str, before: np.ndarray, after: np.ndarray
) -> np.ndarray:
    level = float(np.median(before))
    x = after.copy()
    n = x.size
    share = n / OBSERVE  # the 60-s layout: the same share of a longer observation
    if kind in ("step", "delayed", "rolled back"):
        move = _move(rng, ERROR_MOVE) * level
        start = round(int(rng.integers(2, 9)) * share) if kind == "delayed" else 0
        stop = round(int(rng.integers(8, 19)) * share) if kind == "rolled back" else n
        x[start:stop] += move
    elif kind == "variability":
        recent = before[-4 * n :]
        jump = float(np.median(np.abs(np.diff(recent)))) or 0.01 * abs(level)
        x += rng.uniform(1.5, 4.0) * jump * rng.standard_normal(n)
    else:  # bursts
        hit = rng.random(n) < rng.uniform(0.2, 0.34)
        hit[int(rng.integers(0, n))] = True
        sign = rng.choice((-1.0, 1.0))
        x[hit] += sign * rng.uniform(0.25, 1.0) * abs(level) * rng.uniform(0.5, 1.5, hit.sum())
    return x


def _case(
    name: str,
    key: str,
    series: np.ndarray,
    regression: bool,
    shape: str,
    *,
    source: str,
    change: int,
) -> Case:
    metric: MetricSeries = {
        "name": key.rsplit("/", maxsplit=1)[-1].removesuffix(".csv"),
        "direction": "either",
        "changeAt": dt.datetime.fromtimestamp(float(series[change, 0]), dt.UTC).isoformat(),
        "series": series.tolist(),
        "critical": True,
    }
    return Case(f"{source}-{name}", source, key, metric, regression, change, shape)


def cases(root: Path, seed: int = 20261201, *, at_60s: bool = False) -> Iterator[Case]:
    """Untouched, healthy-change and erroneous-change cases (see the module docstring); with
    ``at_60s``, in the 60-s layout (re-spaced, source ``change-60s``)."""
    nab.FILES[:] = sorted(f"{p.parent.name}/{p.name}" for p in (root / "data").glob("*/*.csv"))
    rng = np.random.default_rng(seed)
    baseline, observe = (BASELINE_60S, OBSERVE_60S) if at_60s else (BASELINE, OBSERVE)
    source = "change-60s" if at_60s else "change"
    for key, t, v, windows in nab.load(root):
        step = float(np.median(np.diff(t)))
        if step > MAX_STEP:
            continue
        ok = [
            c
            for c in nab.clear_of_labels(t, windows, baseline, observe)
            if float(np.median(v[c - baseline : c])) > 0
        ]
        if not ok:
            continue
        picks = rng.choice(len(ok), size=min(PER_FILE, len(ok)), replace=False)
        for ci in sorted(int(x) for x in picks):
            change = ok[ci]
            lo, hi = change - baseline, change + observe
            before, after = v[lo:change], v[change:hi]
            level = float(np.median(before))

            name = f"{key}-{ci}"
            times = t[lo] + STEP_60S * np.arange(hi - lo) if at_60s else t[lo:hi]
            healthy = after + _move(rng, HEALTHY_MOVE) * level
            kind = str(rng.choice(KINDS, p=WEIGHTS))
            erroneous = _erroneous(rng, kind, before, after)
            for suffix, values, regression, shape in (
                ("u", after, False, "untouched"),
                ("h", healthy, False, "healthy change"),
                ("e", erroneous, True, kind),
            ):
                series = np.column_stack([times, np.concatenate([before, values])])
                yield _case(
                    f"{name}-{suffix}",
                    key,
                    series,
                    regression,
                    shape,
                    source=source,
                    change=baseline,
                )
