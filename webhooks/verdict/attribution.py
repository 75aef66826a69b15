"""Declared or not: tie each behaviour regression to the change that caused it, or say none did.

A metric that regressed is the end of a chain. Its first link is a declared change — an intent
in the ledger (who changed what, when, at which Git revision) — or nothing at all: a dependency,
a node pool, a certificate, traffic. This module estimates when each regression began and looks
for the intent of the application just before that moment:

* an intent shortly before the onset (``spec.audit.attributionWindow``, 15 minutes by default):
  the regression is attributed to it, and the finding names its ``uid``, actor and revision;
* otherwise, when the Evidence says the ledger was read (``intents`` present, even empty): an
  ``undeclared-change`` finding — the move began at a time no declared change explains, and the
  message names the last declared change it did *not* follow.

Without ``intents`` (no ledger) nothing is said: absence of a record is not absence of a change.

The onset is the split that best explains the observation as "baseline level, then a new level"
(least squares on deviations from the baseline median, clipped against single spikes), searched
only after the window under judgement begins (the metric's ``changeAt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from webhooks.baseline.assessment import Assessment
from webhooks.baseline.series import prepare
from webhooks.checks import kube
from webhooks.checks.context import CheckContext, CheckFinding, finding
from webhooks.common.argocd import revision_text, short_revision, sync_revision
from webhooks.common.durations import format_duration, parse_duration
from webhooks.common.times import try_parse_time
from webhooks.evidence.model import Evidence, IntentRecord, MetricSeries

UNDECLARED = "undeclared-change"
ATTRIBUTED = "change-attribution"
DEFAULT_WINDOW_SECONDS = 900.0
#: Clip deviations at this many robust standard deviations: one spike must not pick the onset.
_CLIP = 6.0


@dataclass(frozen=True)
class _Intent:
    uid: str
    at: datetime
    actor: str
    what: str
    revision: str | None


def onset(metric: MetricSeries) -> float | None:
    """Unix time at which the observed level most likely moved, or None without enough data."""
    t, v = prepare(metric.get("series", []), metric.get("kind") == "counter")
    change_at = try_parse_time(metric.get("changeAt"))
    if change_at is None or t.size < 4:
        return None
    mid = int(np.searchsorted(t, change_at.timestamp(), side="left"))
    before, after = v[:mid], v[mid:]
    if before.size < 3 or after.size < 2:
        return None
    level = float(np.median(before))
    scale = 1.4826 * float(np.median(np.abs(before - level)))
    dev = after - level
    if scale > 0:
        dev = np.clip(dev, -_CLIP * scale, _CLIP * scale)
    # Best single split k: the points from k on share one new level, the ones before stay at
    # the baseline. Maximising S_k^2 / n_k (S_k the suffix sum of deviations) is least squares.
    suffix = np.cumsum(dev[::-1])[::-1]
    counts = np.arange(dev.size, 0, -1, dtype=np.float64)
    score = suffix**2 / counts
    k = int(np.argmax(score[: max(1, dev.size - 1)]))
    return float(t[mid + k])


def _revision_at(evidence: Evidence, at: datetime) -> str | None:
    """The Git revision Argo CD was deploying at ``at`` (from the Application's history)."""
    application = evidence.get("application") or {}
    op = kube.get_dict(application, "status", "operationState")
    spans: list[tuple[datetime | None, datetime | None, str | None]] = [
        (
            try_parse_time(kube.get_str(h, "deployStartedAt")),
            try_parse_time(kube.get_str(h, "deployedAt")),
            revision_text(h.get("revision")) or revision_text(h.get("revisions")),
        )
        for h in kube.dicts(application, "status", "history")
    ]
    spans.append(
        (
            try_parse_time(kube.get_str(op, "startedAt")),
            try_parse_time(kube.get_str(op, "finishedAt")),
            sync_revision(application),
        )
    )
    for start, end, revision in spans:
        if (
            start is not None
            and start.timestamp() - 60 <= at.timestamp()
            and (end is None or at.timestamp() <= end.timestamp() + 60)
        ):
            return revision
    return None


def _intents(evidence: Evidence, ctx: CheckContext) -> list[_Intent]:
    out: list[_Intent] = []
    for raw in evidence.get("intents") or []:
        if not isinstance(raw, dict) or raw.get("dryRun") is True:
            continue
        if (
            ctx.app is not None
            and raw.get("app") is not None
            and not ctx.index.names_app(raw.get("app"))
        ):
            continue
        if kube.get_bool(raw, "decision", "allowed") is False:
            continue  # a denied change changed nothing
        at = try_parse_time(raw.get("time"))
        if at is None:
            continue
        record: IntentRecord = raw
        kind = kube.get_str(record, "kind", "kind") or "object"
        ns, name = record.get("namespace"), record.get("name") or ""
        where = f"{ns}/{name}" if ns else name
        out.append(
            _Intent(
                uid=str(record.get("uid") or "?"),
                at=at,
                actor=kube.get_str(record, "actor", "username") or "unknown actor",
                what=f"{record.get('operation', 'change')} {kind} {where}",
                revision=_revision_at(evidence, at),
            )
        )
    return sorted(out, key=lambda i: i.at)


def _window_seconds(ctx: CheckContext, evidence: Evidence) -> float:
    raw = kube.get(evidence.get("truthCheck"), "spec", "audit", "attributionWindow")
    try:
        return (
            parse_duration(raw).total_seconds() if isinstance(raw, str) else DEFAULT_WINDOW_SECONDS
        )
    except ValueError:
        return DEFAULT_WINDOW_SECONDS


def _describe(intent: _Intent) -> str:
    rev = f", revision {short_revision(intent.revision)}" if intent.revision else ""
    return (
        f"intent {intent.uid} ({intent.what} by {intent.actor} at {kube.fmt_time(intent.at)}{rev})"
    )


def findings(
    evidence: Evidence,
    ctx: CheckContext,
    metrics: Sequence[MetricSeries],
    assessments: Sequence[Assessment],
) -> list[CheckFinding]:
    """One finding per regressed metric: attributed to an intent, or undeclared."""
    if "intents" not in evidence:
        return []
    intents = _intents(evidence, ctx)
    window = _window_seconds(ctx, evidence)
    out: list[CheckFinding] = []
    for metric, a in zip(metrics, assessments, strict=True):
        if not a.regression or a.severity is None:
            continue
        began = onset(metric)
        if began is None:
            continue
        began_at = datetime.fromtimestamp(began, tz=UTC)
        ref = {"kind": "Metric", "namespace": None, "name": a.name}
        step = (
            a.windows.observation_seconds / max(1, a.windows.observation_points)
            if a.windows
            else 60.0
        )
        prior = [i for i in intents if i.at.timestamp() <= began + step]
        last = prior[-1] if prior else None
        if last is not None and began - last.at.timestamp() <= window:
            lag = max(0.0, began - last.at.timestamp())
            out.append(
                finding(
                    "declared",
                    ATTRIBUTED,
                    ref,
                    f"metric {a.name}: the regression began {format_duration(lag, largest=2)} after "
                    f"{_describe(last)}",
                    a.severity,
                )
            )
            continue
        change_at = try_parse_time(metric.get("changeAt"))
        baseline_start = (
            change_at.timestamp() - a.windows.baseline_seconds if a.windows and change_at else None
        )
        since = (
            f" since the baseline began ({kube.fmt_time(datetime.fromtimestamp(baseline_start, tz=UTC))})"
            if baseline_start is not None and (last is None or last.at.timestamp() < baseline_start)
            else ""
        )
        not_followed = (
            f"; the last declared change, {_describe(last)}, came "
            f"{format_duration(began - last.at.timestamp(), largest=2)} before it"
            if last is not None
            else "; the ledger holds no declared change for the application"
        )
        out.append(
            finding(
                "behaviour",
                UNDECLARED,
                ref,
                f"metric {a.name} moved from {kube.fmt_time(began_at)} with no declared change"
                f"{since}{not_followed}: a dependency or the environment changed underneath",
                a.severity,
            )
        )
    return out
