"""Accuracy of the baseline judge against a plain Kayenta-style judge, on labelled changes.

Run:  .venv/bin/python -m benchmarks.baseline_accuracy [--nab PATH] [--per-family N]

Cases: the simulated corpus (benchmarks/corpus/simulated.py, fixed seeds), cuts of real
telemetry from the NAB subset (benchmarks/corpus/nab.py) and deploy-like changes drawn on those
cuts (benchmarks/corpus/changes.py: erroneous against healthy changes, half and half, and the
untouched windows for the false-Degraded rate; a second table gives each kind's share said
Degraded; the same kinds again in the layout of a 60-s change log, NAB's values re-spaced a
minute apart), and, last and apart, simulated metrics with a daily rhythm
(benchmarks/corpus/rhythmic.py: not real data, a regression check for the day-over-day
residual, since NAB at five minutes has almost no daily rhythm). Each case is judged once
with all its data ("Degraded" = a critical finding); precision, recall, F1 and false-positive rate
come from those verdicts. Time-to-detect re-judges every detected regression as its data
arrives (``now`` = each observation point in turn) and counts the points after the change
until the first Degraded. Both judges see exactly the same metric documents.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.corpus import Case, changes, kayenta, nab, rhythmic, simulated
from webhooks.baseline.judge import judge_metrics
from webhooks.evidence.model import MetricSeries

Judge = Callable[[MetricSeries, float | None], bool]


def truthgate(metric: MetricSeries, now: float | None) -> bool:
    return any(f["severity"] == "critical" for f in judge_metrics([metric], now=now))


def plain(metric: MetricSeries, now: float | None) -> bool:
    return kayenta.degraded(metric, now)


def always(metric: MetricSeries, now: float | None) -> bool:
    return True


JUDGES: dict[str, Judge] = {
    "truthgate": truthgate,
    "kayenta-style": plain,
    "always Degraded": always,
}


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    ttd: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, truth: bool, said: bool) -> None:
        if truth and said:
            self.tp += 1
        elif truth:
            self.fn += 1
        elif said:
            self.fp += 1
        else:
            self.tn += 1

    def row(self) -> list[str]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        fpr = self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0
        ttd = f"{statistics.median(self.ttd):.0f}" if self.ttd else "-"
        return [
            f"{self.tp + self.fn}/{self.fp + self.tn}",
            f"{precision:.2f}",
            f"{recall:.2f}",
            f"{f1:.2f}",
            f"{fpr:.2f}",
            ttd,
        ]


def time_to_detect(judge: Judge, case: Case) -> int | None:
    """Points after the change until the judge first says Degraded, judging as data arrives."""
    points = case.metric["series"]
    for k in range(case.change_index, len(points)):
        if judge(case.metric, float(points[k][0])):
            return k - case.change_index + 1
    return None


#: The rows of the table, in order. NAB rows: "nab every label" scores every labelled window
#: as a regression (as NAB marks them); "nab lasting" only those still there in the
#: observation (see benchmarks/corpus/nab.py), split into the tune and holdout halves of the
#: files; "nab transient" holds only the spikes and bursts (recall = how often a judge flags
#: one). "nab injected" scores the healthy cuts against the same cuts with a 1.5x step
#: injected (real noise around a known regression). "overall" is simulated + nab lasting.
SUBSETS = (
    "simulated",
    "nab every label",
    "nab lasting",
    "nab lasting: tune half",
    "nab lasting: holdout half",
    "nab transient",
    "nab injected 1.5x: tune half",
    "nab injected 1.5x: holdout half",
    "overall",
    "deploy-shaped nab: tune half",
    "deploy-shaped nab: holdout half",
    "deploy-shaped nab lasting: tune half",
    "deploy-shaped nab lasting: holdout half",
    "deploy-shaped injected 1.1x: tune half",
    "deploy-shaped injected 1.1x: holdout half",
    "changes (erroneous vs healthy): tune half",
    "changes (erroneous vs healthy): holdout half",
    "changes (erroneous vs untouched): tune half",
    "changes (erroneous vs untouched): holdout half",
    *(
        f"changes at 60 s, re-spaced (erroneous vs {other}): {half} half"
        for other in ("healthy", "untouched")
        for half in ("tune", "holdout")
    ),
    *(f"simulated daily rhythm {rhythmic.family(a)}" for a in rhythmic.AMPLITUDES),
)


def subsets(case: Case) -> list[str]:
    if case.source == "rhythmic":
        return [f"simulated daily rhythm {case.family}"]
    if case.source == "change":
        half = nab.half(case.family)
        if case.shape == "untouched":
            return [f"changes (erroneous vs untouched): {half} half", f"untouched: {half} half"]
        if case.regression:
            return [
                f"changes (erroneous vs healthy): {half} half",
                f"changes (erroneous vs untouched): {half} half",
                f"erroneous {case.shape}: {half} half",
            ]
        return [f"changes (erroneous vs healthy): {half} half", f"healthy change: {half} half"]
    if case.source == "change-60s":
        half = nab.half(case.family)
        against = ("healthy", "untouched") if case.regression else (case.shape.split()[0],)
        return [f"changes at 60 s, re-spaced (erroneous vs {o}): {half} half" for o in against]
    if case.source == "deploy":
        half = nab.half(case.family)
        if case.shape == "injected":
            return [f"deploy-shaped injected 1.1x: {half} half"]
        out = [f"deploy-shaped nab: {half} half"]
        if case.shape != "transient":
            out.append(f"deploy-shaped nab lasting: {half} half")
        if not case.regression:
            out.append(f"deploy-shaped injected 1.1x: {half} half")
        return out
    if case.source != "nab":
        return [case.source, "overall"]
    half = nab.half(case.family)
    if case.shape == "transient":
        return ["nab every label", "nab transient"]
    if case.shape == "injected":
        return [f"nab injected 1.5x: {half} half"]
    out = ["nab every label", "nab lasting", f"nab lasting: {half} half", "overall"]
    if not case.regression:
        out.append(f"nab injected 1.5x: {half} half")
    return out


def run(cases: Iterable[Case]) -> tuple[dict[tuple[str, str], Tally], dict[str, list[int]]]:
    tallies: dict[tuple[str, str], Tally] = {}
    families: dict[str, list[int]] = {}
    for case in cases:
        fam = families.setdefault(f"{case.source}:{case.family}", [0, 0, 0, int(case.regression)])
        fam[0] += 1
        for name, judge in JUDGES.items():
            started = time.perf_counter()
            said = judge(case.metric, None)
            elapsed = time.perf_counter() - started
            if said and name != "always Degraded":
                fam[1 if name == "truthgate" else 2] += 1
            for subset in subsets(case):
                tally = tallies.setdefault((subset, name), Tally())
                tally.add(case.regression, said)
                tally.seconds += elapsed
            if case.regression and said and name != "always Degraded":
                ttd = time_to_detect(judge, case)
                if ttd is not None:
                    for subset in subsets(case):
                        tallies[(subset, name)].ttd.append(ttd)
    return tallies, families


def flagged(t: Tally) -> float:
    """The share of a subset's cases said Degraded (recall, or the false-Degraded rate)."""
    total = t.tp + t.fn + t.fp + t.tn
    return (t.tp + t.fp) / total if total else 0.0


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def main() -> None:
    here = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
    default_nab = os.environ.get("TRUTHGATE_NAB", str(here))
    parser = argparse.ArgumentParser(description="Baseline judge accuracy benchmark")
    parser.add_argument("--nab", default=default_nab, help="NAB subset root (data/, labels/)")
    parser.add_argument("--per-family", type=int, default=20, help="simulated cases per family")
    args = parser.parse_args()

    cases: list[Case] = list(simulated.cases(args.per_family)) + list(rhythmic.cases())
    nab_root = Path(args.nab)
    if (nab_root / "labels" / "combined_windows.json").exists():
        real = list(nab.cases(nab_root))
        deploys = list(nab.deploys(nab_root))
        cases += real + list(nab.injected(iter(real))) + deploys
        cases += nab.injected(iter(deploys), nab.DEPLOY_STEP_FACTOR)
        cases += changes.cases(nab_root)
        cases += changes.cases(nab_root, at_60s=True)
    else:
        print(f"(no NAB data at {nab_root}: simulated cases only)")
    started = time.perf_counter()
    tallies, families = run(cases)
    total = time.perf_counter() - started

    rows = []
    for subset in SUBSETS:
        for name in JUDGES:
            if (subset, name) in tallies:
                rows.append([subset, name, *tallies[(subset, name)].row()])
    print(
        table(
            [
                "cases",
                "judge",
                "regressions/healthy",
                "precision",
                "recall",
                "F1",
                "FPR",
                "median TTD (points)",
            ],
            rows,
        )
    )
    print()
    kinds = [f"{k}: {h} half" for k in ("untouched", "healthy change") for h in ("tune", "holdout")]
    kinds += [f"erroneous {k}: {h} half" for k in changes.KINDS for h in ("tune", "holdout")]
    kind_rows = [
        [
            kind,
            str(t.tp + t.fn + t.fp + t.tn),
            *(f"{flagged(tallies[(kind, j)]):.2f}" for j in JUDGES if j != "always Degraded"),
        ]
        for kind in kinds
        if (t := tallies.get((kind, "truthgate")))
    ]
    print(
        table(
            ["changes by kind", "cases", "truthgate Degraded", "kayenta-style Degraded"], kind_rows
        )
    )
    print()
    fam_rows = [
        [key, "regression" if f[3] else "healthy", str(f[0]), str(f[1]), str(f[2])]
        for key, f in families.items()
        if key.startswith("simulated")
    ]
    header = ["family", "truth", "cases", "truthgate Degraded", "kayenta-style Degraded"]
    print(table(header, fam_rows))
    healthy = [
        tallies[(f"{kind}: {half} half", "truthgate")]
        for kind in ("untouched", "deploy-shaped nab")
        for half in ("tune", "holdout")
        if (f"{kind}: {half} half", "truthgate") in tallies
    ]
    if healthy:
        said, total_healthy = sum(t.fp for t in healthy), sum(t.fp + t.tn for t in healthy)
        print(
            f"\nfalse Degraded on the {total_healthy} healthy real two-day windows (untouched"
            f" and deploy-shaped healthy cuts, both halves): {said}"
            f" ({100 * said / total_healthy:.1f}%)"
        )
    print(f"\n{len(cases)} cases judged in {total:.1f}s (including time-to-detect re-judging)")


if __name__ == "__main__":
    main()
