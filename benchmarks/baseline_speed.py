"""Speed of the baseline judge: many metrics at once, against a Kayenta-style judge.

Run:  .venv/bin/python -m benchmarks.baseline_speed [--metrics 1000] [--repeat 3]

Each scenario builds N metrics at 60 s resolution (noisy, some with a step; in one of them
with a daily rhythm, so the day-over-day comparison runs), then times one
``judge_metrics`` call over all of them (median CPU time of ``--repeat`` runs; the judge is
single-threaded, so this is one core) and the
plain Kayenta-style judge (Mann-Whitney + HL interval on all points) over the same metrics.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

import numpy as np

from benchmarks.corpus import kayenta
from webhooks.baseline.judge import judge_metrics
from webhooks.evidence.model import MetricSeries

STEP = 60.0
CHANGE = 1_764_000_000.0
DAY = 86400.0

SCENARIOS = (
    # (label, baseline hours, observe hours, history windows, daily rhythm amplitude)
    ("2h observe + 24h before it", 24.0, 2.0, 0, 0.0),
    ("2h observe + 48h before it", 48.0, 2.0, 0, 0.0),
    ("2h observe + 48h before it, ±30% daily rhythm", 48.0, 2.0, 0, 0.3),
    ("2h observe + 1h before + same 3h 1d earlier", 1.0, 2.0, 1, 0.0),
    ("2h observe + 24h before + same 26h 1d earlier", 24.0, 2.0, 1, 0.0),
)


def make(
    n: int, before_h: float, after_h: float, histories: int, seed: int, *, rhythm: float = 0.0
) -> list[MetricSeries]:
    rng = np.random.default_rng(seed)
    t = CHANGE + STEP * np.arange(-int(before_h * 60), int(after_h * 60))
    daily = 1.0 + rhythm * np.sin(2 * np.pi * t / DAY)
    out: list[MetricSeries] = []
    for i in range(n):
        level = float(rng.uniform(1, 100))
        v = level * daily * np.exp(0.1 * rng.standard_normal(t.size))
        if i % 10 == 0:
            v[t >= CHANGE] *= 2.0
        metric: MetricSeries = {
            "name": f"m{i}",
            "direction": "increase-is-bad",
            "changeAt": dt.datetime.fromtimestamp(CHANGE, dt.UTC).isoformat(),
            "series": np.column_stack([t, v]).tolist(),
            "critical": True,
            "driftBudgetSeconds": 300.0,
        }
        if histories:
            hv = level * np.exp(0.1 * rng.standard_normal(t.size))
            metric["history"] = [
                {"offsetSeconds": off, "series": np.column_stack([t - off, hv]).tolist()}
                for off in (DAY * (k + 1) for k in range(histories))
            ]
        out.append(metric)
    return out


def timed(fn: object, repeat: int) -> float:
    assert callable(fn)
    runs = []
    for _ in range(repeat):
        # CPU time of this process: the machine is shared, and wall time would mostly
        # measure the neighbours.
        started = time.process_time()
        fn()
        runs.append(time.process_time() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description="Baseline judge speed benchmark")
    parser.add_argument("--metrics", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for label, before_h, after_h, histories, rhythm in SCENARIOS:
        metrics = make(args.metrics, before_h, after_h, histories, seed=7, rhythm=rhythm)
        first = metrics[0]
        points = len(first["series"]) + sum(len(h["series"]) for h in first.get("history", []))
        ours = timed(lambda m=metrics: judge_metrics(m), args.repeat)
        plain = timed(lambda m=metrics: [kayenta.degraded(x) for x in m], args.repeat)
        for judge, secs in (("truthgate", ours), ("kayenta-style", plain)):
            rows.append(
                [
                    label,
                    judge,
                    str(len(metrics)),
                    str(points),
                    f"{secs * 1e3:.0f}",
                    f"{secs / len(metrics) * 1e6:.0f}",
                ]
            )
        rows.append([label, "ratio truthgate/kayenta", "", "", f"{ours / plain:.2f}x", ""])
    header = ["scenario", "judge", "metrics", "points/metric", "CPU ms", "µs/metric"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
