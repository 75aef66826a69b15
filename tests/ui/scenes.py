"""The applications the UI tests show: shop-web after a sync whose error ratio quadrupled
(Degraded, with capacity findings), its healthy twin, and the ledger records a real
verification leaves behind (judged by the real judge, recorded as ``truthgate verify`` does).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from webhooks.common.times import parse_time, unix_seconds
from webhooks.evidence.model import Evidence, MetricSeries, Verdict
from webhooks.ledger.store import IntentStore
from webhooks.postsync.appinfo import sync_ref
from webhooks.postsync.publish import verification_record
from webhooks.verdict.digest import evidence_digest
from webhooks.verdict.freshness import VerifiedBy
from webhooks.verdict.judge import judge

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evidence"
CHANGE = dt.datetime(2026, 11, 27, 10, 1, 12, tzinfo=dt.UTC).timestamp()  # the sync's end


def _series(seed: int, level: float, factor: float, spread: float) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    t = CHANGE + 30.0 * np.arange(-120, 40)
    v = level * np.exp(spread * rng.standard_normal(t.size))
    v[t >= CHANGE] *= factor
    return [[float(a), float(b)] for a, b in zip(t, v, strict=True)]


def metric(name: str, factor: float, *, level: float = 0.002, seed: int = 1) -> MetricSeries:
    return {
        "name": name,
        "direction": "increase-is-bad",
        "changeAt": "2026-11-27T10:01:12Z",
        "series": _series(seed, level, factor, 0.12),
        "query": f'sum(rate({name}{{app="shop-web"}}[1m]))',
        "critical": True,
        "tolerance": {"relative": 0.25},
    }


def evidence(healthy: bool) -> Evidence:
    name = "capacity-healthy.json" if healthy else "capacity-degraded.json"
    doc: Evidence = json.loads((FIXTURES / name).read_text())
    doc["metrics"] = [
        metric("http_error_ratio", 1.0 if healthy else 4.0, seed=3),
        metric("http_p99_latency_seconds", 1.0, level=0.180, seed=4),
    ]
    return doc


def record(
    store: IntentStore,
    doc: Evidence,
    *,
    app_namespace: str = "argocd",
    verdict: Verdict | None = None,
) -> Verdict:
    """Judge ``doc`` (or take ``verdict``, as a judge could give it) and leave the ledger
    record ``truthgate verify`` leaves."""
    verdict = verdict if verdict is not None else judge(doc)
    app = doc.get("application") or {}
    store.append_verification(
        verification_record(
            verdict,
            app=app["metadata"]["name"],
            app_namespace=app_namespace,
            truthcheck=doc.get("truthCheck") or {},
            sync=sync_ref(app),
            now=parse_time(doc["collectedAt"]),
            digest=evidence_digest(doc),
        )
    )
    return verdict


def with_app(doc: Evidence, name: str) -> Evidence:
    other = copy.deepcopy(doc)
    other["application"]["metadata"]["name"] = name
    return other


def intent(uid: str, *, app: str = "shop-web", minute: int = 0, **extra: Any) -> dict[str, Any]:
    """An intent draft as the webhook builds it."""
    return {
        "uid": uid,
        "time": f"2026-11-27T10:{minute:02d}:00Z",
        "app": app,
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "namespace": "shop",
        "name": "web",
        "operation": "UPDATE",
        "actor": {
            "username": "system:serviceaccount:argocd:argocd-application-controller",
            "groups": ["system:serviceaccounts"],
            "class": "argocd",
        },
        "patch": [
            {
                "op": "replace",
                "path": "/spec/template/spec/containers/0/image",
                "value": f"registry.example.com/shop/web:1.{minute}.0",
            }
        ],
        "decision": {"allowed": True, "denials": [], "warnings": []},
        "dryRun": False,
    } | extra


def argocd_app(truthcheck_health: dict[str, str] | None) -> dict[str, Any]:
    """shop-web as Argo CD's UI holds it: synced, its resources with their health (the
    TruthCheck's from the Lua health check), and its sync history."""
    app: dict[str, Any] = copy.deepcopy(evidence(healthy=False)["application"])
    app["status"]["history"] = [
        {
            "id": 11,
            "revision": "1d2c3b4a59687f6e5d4c8f3c2a1e9b7d4c6a5f0e",
            "deployStartedAt": "2026-11-26T16:00:00Z",
            "deployedAt": "2026-11-26T16:00:40Z",
        },
        {
            "id": 12,
            "revision": "8f3c2a1e9b7d4c6a5f0e1d2c3b4a59687f6e5d4c",
            "deployStartedAt": "2026-11-27T10:00:00Z",
            "deployedAt": "2026-11-27T10:01:12Z",
        },
    ]
    if truthcheck_health is not None:
        app["status"]["resources"].append(truthcheck_entry("shop-web", truthcheck_health))
    return app


def truthcheck_entry(name: str, health: dict[str, str]) -> dict[str, Any]:
    """A TruthCheck in the application's ``status.resources``, with the health Argo CD gave it."""
    return {
        "group": "truthgate.dev",
        "version": "v1alpha1",
        "kind": "TruthCheck",
        "namespace": "shop",
        "name": name,
        "status": "Synced",
        "health": health,
    }


def with_truthcheck(doc: Evidence, name: str) -> Evidence:
    """``doc`` as collected for the application's TruthCheck ``name`` (one of several)."""
    other = copy.deepcopy(doc)
    other["truthCheck"]["metadata"]["name"] = name
    return other


def live_truthcheck(
    verdict: Verdict, doc: Evidence, *, by: VerifiedBy = "sync", at: dt.datetime | None = None
) -> dict[str, Any]:
    """The TruthCheck object as Argo CD passes it to a resource tab, status as published by
    ``by`` at ``at`` (default: when the Evidence was collected)."""
    from webhooks.postsync.publish import verified_status

    tc: dict[str, Any] = copy.deepcopy(doc["truthCheck"])
    now = at or parse_time(doc["collectedAt"])
    tc["status"] = verified_status(verdict, tc, sync_ref(doc["application"]), now, by=by)
    return tc


def lua_health(truthcheck: dict[str, Any], now: dt.datetime) -> dict[str, str]:
    """The TruthCheck's health as Argo CD's Lua health check gives it at ``now`` (what the
    application's resource list holds)."""
    from tests.argocd_health.sandbox import run_health
    from tests.argocd_health.test_verdict_age import SCRIPT

    health = run_health(SCRIPT, truthcheck, now=unix_seconds(now))
    return {"status": str(health["status"]), "message": str(health["message"])}
