"""The evidence digest kept with each verification: what the charts need, bounded, no secrets."""

from __future__ import annotations

import json

from tests.ui import scenes
from webhooks.verdict.digest import MAX_DIGEST_BYTES, MAX_METRICS, MAX_POINTS, evidence_digest


def test_the_digest_draws_the_regression_the_verdict_names() -> None:
    digest = evidence_digest(scenes.evidence(healthy=False))
    errors = digest["metrics"][0]
    assert errors["name"] == "http_error_ratio"
    assert errors["classification"] == "High"
    assert errors["severity"] == "critical"
    assert "http_error_ratio" in errors["message"]
    _, high = errors["band"]
    after = [v for t, v in errors["series"] if t >= errors["changeAt"]]
    assert min(after) > high  # every point after the change is above what the baseline tolerates
    assert errors["baseline"][0] < errors["changeAt"] == errors["baseline"][1]
    assert digest["intents"][0]["actor"].endswith("argocd-application-controller")


def test_the_digest_has_no_objects_probe_urls_or_secret_values() -> None:
    doc = scenes.evidence(healthy=False)
    doc["probes"][0]["url"] = "https://user:hunter2@web.shop.svc/healthz"
    secret = next(o for o in doc["objects"] if o["kind"] == "Secret")
    secret["data"] = {"password": "aHVudGVyMg=="}
    text = json.dumps(evidence_digest(doc))
    assert "hunter2" not in text
    assert "aHVudGVyMg==" not in text
    assert "web.shop.svc" not in text
    assert "objects" not in json.loads(text)


def test_the_digest_stays_bounded_however_large_the_evidence() -> None:
    doc = scenes.evidence(healthy=False)
    big = scenes.metric("m", 1.0)
    big["series"] = [[1_795_770_000.0 + 15 * i, 1.0 + (i % 7)] for i in range(20_000)]
    big["name"] = "n" * 5000
    doc["metrics"] = [dict(big, name=f"{i}-{big['name']}") for i in range(3 * MAX_METRICS)]  # type: ignore[misc]
    doc["probes"] = doc["probes"] * 500
    doc["intents"] = doc["intents"] * 500
    digest = evidence_digest(doc)
    assert len(digest["metrics"]) == MAX_METRICS
    assert all(len(m["series"]) == MAX_POINTS for m in digest["metrics"])
    first = digest["metrics"][0]["series"]
    assert first[0][0] == big["series"][0][0] and first[-1][0] == big["series"][-1][0]
    assert len(json.dumps(digest)) < MAX_DIGEST_BYTES


def test_a_metric_the_collector_could_not_fetch_is_kept_with_its_reason() -> None:
    doc = scenes.evidence(healthy=True)
    doc["metrics"] = [{**scenes.metric("up", 1.0), "series": [], "error": "Prometheus timed out"}]
    [m] = evidence_digest(doc)["metrics"]
    assert m["series"] == []
    assert m["error"] == "Prometheus timed out"
    assert m["classification"] == "NoData"
