"""Change cases cut out of real telemetry: the NAB subset with labelled anomaly windows.

NAB centres each labelled window on the anomaly it marks (the window's start is typically
half a day of normal behaviour before it). A *regression* case therefore puts the change just
before the labelled anomaly, at the window's centre: the observation runs from there, the
baseline ends there, and, where the file
reaches back far enough, the same span one day earlier is the history. (Cutting at the
window's start instead would ask the judge to blame a change for an event many hours later.)
Windows are those of a deploy verification: two hours observed after the change, four hours
of baseline before it (at NAB's usual 5-minute resolution).

*Healthy* cases cut the same shapes at evenly spaced points whose baseline and observation
stay at least one window-length away from any labelled window: real noise, real daily rhythm,
real regime wander, and nothing anybody labelled as an anomaly.

Not every labelled anomaly is what a deploy verification is for. Many NAB labels mark a single
spike or a burst of a few points, after which the metric is back where it was: the judge is
built to ignore exactly that (a restart blip is a healthy simulated case). A labelled case is
marked *transient* (``Case.shape``) unless the anomaly is still there in the observation: the
median of the whole observation, or of its later half, lies outside the baseline's central 90%
(its 5th to 95th percentile). That rule looks only at the data, not at either judge, and uses
no tolerance. The benchmark scores the lasting cases as the NAB regressions and reports the
transient ones apart (how often each judge flags them), plus every labelled window as before.

The files are split in two halves by name (every other file in sorted order): ``tune`` and
``holdout``. Anything about the judge that was chosen while looking at NAB was looked at on the
tune half only; the holdout half is reported separately to show how that generalises.

*Injected* cases take each healthy cut and multiply its observation by ``STEP_FACTOR``
(1.5: a step of half the level, well beyond the default 20% tolerance) — real noise, real
autocorrelation and real rhythm around a regression whose size and onset are known. Cuts whose
baseline sits at zero are skipped (multiplying zeros is no step).

Direction is "either" (NAB does not say which way is bad) and every metric is critical with
a drift budget of two sample intervals; tolerance is left at the judge's default.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.corpus import Case
from webhooks.evidence.model import HistoryWindow, MetricSeries

DAY = 86400.0
#: Observation after the change, in points: two hours at NAB's usual 5-minute resolution,
#: the order of what a deploy verification watches. The baseline is twice as long.
OBSERVE = 24
BASELINE = 48
#: The step injected into healthy cuts for the semi-synthetic regressions.
STEP_FACTOR = 1.5
#: Healthy cuts per file at most.
HEALTHY_PER_FILE = 4


def _parse(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC).timestamp()


def load(root: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray, list[tuple[float, float]]]]:
    """(key, times, values, windows) for every CSV under ``root/data``."""
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    for path in sorted((root / "data").glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        with path.open() as f:
            rows = list(csv.reader(f))[1:]
        t = np.array([_parse(r[0]) for r in rows])
        v = np.array([float(r[1]) for r in rows])
        windows = [(_parse(a), _parse(b)) for a, b in labels.get(key, [])]
        yield key, t, v, windows


def _metric(
    key: str,
    t: np.ndarray,
    v: np.ndarray,
    cut_at: tuple[int, int, int],
    step: float,
    *,
    with_history: bool = True,
) -> MetricSeries:
    lo, change, hi = cut_at
    metric: MetricSeries = {
        "name": key.rsplit("/", maxsplit=1)[-1].removesuffix(".csv"),
        "direction": "either",
        "changeAt": dt.datetime.fromtimestamp(float(t[change]), dt.UTC).isoformat(),
        "series": [[float(a), float(b)] for a, b in zip(t[lo:hi], v[lo:hi], strict=True)],
        "critical": True,
        "driftBudgetSeconds": 2 * step,
    }
    # The same span one day earlier, if the file has it.
    h_lo = np.searchsorted(t, t[lo] - DAY)
    h_hi = np.searchsorted(t, t[hi - 1] - DAY, side="right")
    if with_history and t[lo] - DAY >= t[0] and h_hi - h_lo >= (hi - lo) // 2:
        history: HistoryWindow = {
            "offsetSeconds": DAY,
            "series": [
                [float(a), float(b)] for a, b in zip(t[h_lo:h_hi], v[h_lo:h_hi], strict=True)
            ],
        }
        metric["history"] = [history]
    return metric


def lasting(baseline: np.ndarray, observation: np.ndarray) -> bool:
    """Is an anomaly still there in the observation (see the module docstring)?"""
    lo, hi = np.quantile(baseline, [0.05, 0.95])
    centres = (np.median(observation), np.median(observation[observation.size // 2 :]))
    return any(c < lo or c > hi for c in centres)


def half(family: str) -> str:
    """``tune`` or ``holdout``: every other file in sorted order."""
    return "tune" if FILES.index(family) % 2 == 0 else "holdout"


#: The files of the subset in sorted order (for ``half``), filled by ``cases``.
FILES: list[str] = []


def cases(root: Path) -> Iterator[Case]:
    FILES[:] = sorted(f"{p.parent.name}/{p.name}" for p in (root / "data").glob("*/*.csv"))
    for key, t, v, windows in load(root):
        step = float(np.median(np.diff(t)))
        starts = [int(np.searchsorted(t, (a + b) / 2.0)) for a, b in windows]
        # Regressions: the change just before each labelled anomaly, with a clean baseline.
        for wi, start in enumerate(starts):
            lo, hi = start - BASELINE, start + OBSERVE
            if lo < 0 or hi > t.size:
                continue
            if any(t[lo] < b and a < t[start] and (a, b) != windows[wi] for a, b in windows):
                continue  # the baseline would include an earlier anomaly
            metric = _metric(key, t, v, (lo, start, hi), step)
            shape = "" if lasting(v[lo:start], v[start:hi]) else "transient"
            yield Case(f"nab-{key}-w{wi}", "nab", key, metric, True, start - lo, shape)
        # Healthy: evenly spaced cuts, a whole window-length away from every labelled window.
        margin = max((b - a for a, b in windows), default=0.0)
        candidates = []
        for change in range(BASELINE, t.size - OBSERVE, OBSERVE):
            lo, hi = change - BASELINE, change + OBSERVE
            if all(t[hi - 1] + margin < a or b + margin < t[lo] for a, b in windows):
                candidates.append((lo, change, hi))
        if candidates:
            pick = np.linspace(0, len(candidates) - 1, min(HEALTHY_PER_FILE, len(candidates)))
            for ci in sorted({round(float(x)) for x in pick}):
                lo, change, hi = candidates[ci]
                metric = _metric(key, t, v, (lo, change, hi), step)
                yield Case(f"nab-{key}-h{ci}", "nab", key, metric, False, change - lo)


def injected(healthy: Iterator[Case], factor: float = STEP_FACTOR) -> Iterator[Case]:
    """Each healthy cut with its observation multiplied by ``factor`` (a regression)."""
    for case in healthy:
        if case.regression:
            continue
        points = case.metric["series"]
        if float(np.median([p[1] for p in points[: case.change_index]])) <= 0:
            continue
        metric = copy.copy(case.metric)
        metric["series"] = [
            [p[0], p[1] * factor] if i >= case.change_index else list(p)
            for i, p in enumerate(points)
        ]
        yield Case(
            case.id.replace("-h", "-x"),
            case.source,
            case.family,
            metric,
            True,
            case.change_index,
            "injected",
        )


#: Deploy-shaped cuts: the layout of a real change log (two days before each change at one
#: minute, two hours after), in points, so every file keeps the same before/after ratio.
DEPLOY_BASELINE = 576
DEPLOY_OBSERVE = 24
#: The step injected into healthy deploy-shaped cuts: about the median move of an erroneous
#: deploy in a real change log (11% of the level; healthy deploys move it by 4.5%).
DEPLOY_STEP_FACTOR = 1.1
#: Healthy deploy-shaped cuts per file (random points, fixed seed).
DEPLOY_HEALTHY_PER_FILE = 10


def clear_of_labels(
    t: np.ndarray, windows: list[tuple[float, float]], baseline: int, observe: int
) -> list[int]:
    """Change points with ``baseline`` points before and ``observe`` after whose observation
    lies a whole window-length away from every labelled window: healthy cuts."""
    margin = max((b - a for a, b in windows), default=0.0)
    return [
        c
        for c in range(baseline, t.size - observe)
        if all(t[c + observe - 1] + margin < a or b + margin < t[c] for a, b in windows)
    ]


def deploys(root: Path, seed: int = 20261130) -> Iterator[Case]:
    """Change cases shaped like a deploy log: every point before the change is the baseline
    (``DEPLOY_BASELINE`` points, two days at NAB's usual 5 minutes), ``DEPLOY_OBSERVE``
    observed after it, no history. A *regression* puts the change at a labelled anomaly (the
    centre of its window, where NAB places it); earlier anomalies stay in the baseline, as
    they would in a real metric's past. A *healthy* case puts it at a random point whose
    observation lies a whole window-length away from every labelled window."""
    FILES[:] = sorted(f"{p.parent.name}/{p.name}" for p in (root / "data").glob("*/*.csv"))
    rng = np.random.default_rng(seed)
    for key, t, v, windows in load(root):
        step = float(np.median(np.diff(t)))
        for wi, (a, b) in enumerate(windows):
            change = int(np.searchsorted(t, (a + b) / 2.0))
            lo, hi = change - DEPLOY_BASELINE, change + DEPLOY_OBSERVE
            if lo < 0 or hi > t.size:
                continue
            metric = _metric(key, t, v, (lo, change, hi), step, with_history=False)
            metric["driftBudgetSeconds"] = 0.0
            shape = "" if lasting(v[lo:change], v[change:hi]) else "transient"
            yield Case(f"deploy-{key}-w{wi}", "deploy", key, metric, True, change - lo, shape)
        ok = clear_of_labels(t, windows, DEPLOY_BASELINE, DEPLOY_OBSERVE)
        if not ok:
            continue
        picks = rng.choice(len(ok), size=min(DEPLOY_HEALTHY_PER_FILE, len(ok)), replace=False)
        for ci in sorted(int(x) for x in picks):
            change = ok[ci]
            lo, hi = change - DEPLOY_BASELINE, change + DEPLOY_OBSERVE
            metric = _metric(key, t, v, (lo, change, hi), step, with_history=False)
            metric["driftBudgetSeconds"] = 0.0
            yield Case(f"deploy-{key}-h{ci}", "deploy", key, metric, False, change - lo)
