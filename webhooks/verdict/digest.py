"""The part of an Evidence a person looks at: bounded, secret-free, ready to draw.

The whole Evidence (every live object of the namespace, full Prometheus series) is too large to
keep per verification and may hold things nobody should read back from the ledger (object
specs, annotations, probe URLs with credentials). The digest keeps only what the charts and the
timeline need, and it is what the ledger stores beside each verification record:

* per behaviour metric: the series as judged (a counter's rate, not its raw value), thinned to
  at most ``MAX_POINTS`` points; the baseline and observation windows; the change; the band
  the baseline tolerates (its level ± the tolerance) and what the judge concluded;
* probes: name, outcome, status and latency (no URL);
* the intents the verification judged: who, what, when (the patches stay in the intent ledger).

Every list is capped and every text cut, so a digest stays well under ``MAX_DIGEST_BYTES``.
Pure: no I/O. The same digest feeds the Argo CD extension and ``truthgate replay --html``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from webhooks.baseline.assessment import Assessment
from webhooks.baseline.series import prepare
from webhooks.common.times import try_parse_time
from webhooks.errors import short
from webhooks.evidence.model import Evidence, MetricSeries

DIGEST_VERSION = 1
MAX_METRICS = 16
MAX_POINTS = 200
MAX_PROBES = 20
MAX_INTENTS = 50
MAX_TEXT = 512
#: What a digest can reach at most (16 metrics x 200 points is about 100 KB of JSON).
MAX_DIGEST_BYTES = 256 * 1024


def evidence_digest(evidence: Evidence) -> dict[str, Any]:
    """The digest of ``evidence`` (see the module docstring); never raises on odd metrics."""
    metrics = [m for m in evidence.get("metrics") or [] if isinstance(m, dict)][:MAX_METRICS]
    now = _seconds(evidence.get("collectedAt"))
    assessments = _assess(metrics, now)
    return {
        "version": DIGEST_VERSION,
        "collectedAt": evidence.get("collectedAt"),
        "metrics": [_metric(m, a) for m, a in zip(metrics, assessments, strict=True)],
        "probes": [_probe(p) for p in list(evidence.get("probes") or [])[:MAX_PROBES]],
        "intents": [_intent(i) for i in list(evidence.get("intents") or [])[-MAX_INTENTS:]],
    }


def _assess(metrics: Sequence[MetricSeries], now: float | None) -> list[Assessment | None]:
    if not metrics:
        return []
    from webhooks.baseline.judge import assess_all  # scipy: only when there are metrics

    try:
        return list(assess_all(metrics, now=now))
    except Exception:  # a metric the judge refuses still gets drawn, without a verdict band
        return [None] * len(metrics)


def _metric(metric: MetricSeries, a: Assessment | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": short(metric.get("name", "?"), 200),
        "direction": metric.get("direction", "either"),
        "kind": metric.get("kind", "gauge"),
        "changeAt": _seconds(metric.get("changeAt")),
        "series": [],
    }
    if metric.get("error"):
        out["error"] = short(metric.get("error"), MAX_TEXT)
    try:
        t, v = prepare(metric.get("series") or [], metric.get("kind") == "counter")
        out["series"] = _thin([[float(x), float(y)] for x, y in zip(t, v, strict=True)])
    except Exception:  # unusable points: drawn as no data, like the judge reads them
        out["series"] = []
    if a is None:
        return out
    out.update(
        {
            "classification": a.classification,
            "regression": a.regression,
            "severity": a.severity,
            "message": short(a.message, MAX_TEXT),
        }
    )
    change = out["changeAt"]
    if a.windows is not None and change is not None:
        out["baseline"] = [change - a.windows.baseline_seconds, change]
        out["observation"] = [change, change + a.windows.observation_seconds]
    level, tolerance = a.baseline_level, a.tolerance
    if level is not None and _finite(level):
        out["baselineLevel"] = level
        if tolerance is not None and _finite(tolerance):
            out["band"] = [level - tolerance, level + tolerance]
    if _finite(a.observed_level):
        out["observedLevel"] = a.observed_level
    return out


def _thin(points: list[list[float]]) -> list[list[float]]:
    """At most MAX_POINTS points, evenly spaced, always keeping the first and last."""
    if len(points) <= MAX_POINTS:
        return points
    step = (len(points) - 1) / (MAX_POINTS - 1)
    return [points[round(i * step)] for i in range(MAX_POINTS)]


def _probe(probe: Any) -> dict[str, Any]:
    p = probe if isinstance(probe, dict) else {}
    return {
        "name": short(p.get("name", "?"), 200),
        "ok": bool(p.get("ok")),
        "status": p.get("status") if isinstance(p.get("status"), int) else None,
        "latencyMs": p.get("latencyMs") if _finite(p.get("latencyMs")) else None,
        "at": p.get("at"),
        "error": short(p["error"], MAX_TEXT) if p.get("error") else None,
    }


def _intent(intent: Any) -> dict[str, Any]:
    i = intent if isinstance(intent, dict) else {}
    actor: dict[str, Any] = i["actor"] if isinstance(i.get("actor"), dict) else {}
    kind: dict[str, Any] = i["kind"] if isinstance(i.get("kind"), dict) else {}
    return {
        "uid": i.get("uid"),
        "time": i.get("time"),
        "operation": i.get("operation"),
        "kind": kind.get("kind"),
        "namespace": i.get("namespace"),
        "name": i.get("name"),
        "actor": short(actor.get("username", "?"), 200),
        "actorClass": actor.get("class"),
        "breakGlass": i.get("breakGlass"),
        "allowed": (i.get("decision") or {}).get("allowed"),
    }


def _seconds(value: object) -> float | None:
    moment = try_parse_time(value)
    return moment.timestamp() if moment else None


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
