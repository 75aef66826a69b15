"""Reading a TruthCheck's spec.baseline: every field, the defaults, and each refusal."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml

from webhooks.baseline.spec import (
    BaselineConfig,
    MetricSpec,
    SecretKeyRef,
    ToleranceSpec,
    parse_baseline,
)
from webhooks.errors import BadRequestError

FULL = yaml.safe_load(
    """
baseline:
  prometheus:
    url: "http://mimir.monitoring:8080/prometheus/"
    bearerTokenSecretRef: {name: prom-token, key: token}
    tls: {caSecretRef: {name: prom-ca, key: ca.crt}, insecureSkipVerify: false}
    headers: {X-Scope-OrgID: tenant-a}
  metrics:
    - name: error-rate
      query: 'sum(rate(http_requests_total{job="web",code=~"5.."}[1m]))
              / sum(rate(http_requests_total{job="web"}[1m]))'
      direction: increase-is-bad
      kind: gauge
      tolerance: {relative: 0.2, absolute: 0.001}
      critical: true
    - name: requests
      query: sum(http_requests_total{job="web"})
      direction: decrease-is-bad
      kind: counter
      critical: false
  windows: {observe: 15m, baseline: 1h30m, history: [24h, 1w]}
  driftBudget: 45m
"""
)


def parse(doc: dict[str, Any]) -> BaselineConfig:
    config = parse_baseline(doc)
    assert config is not None
    return config


def with_change(path: str, value: Any) -> dict[str, Any]:
    """FULL with one field replaced (``value`` ``...`` removes it); path like metrics.0.kind."""
    doc: dict[str, Any] = copy.deepcopy(FULL)
    node: Any = doc["baseline"]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return doc


def test_every_field_is_read() -> None:
    config = parse(FULL)
    prom = config.prometheus
    assert prom.url == "http://mimir.monitoring:8080/prometheus"  # prefix kept, slash dropped
    assert prom.bearer_token_secret_ref == SecretKeyRef(name="prom-token", key="token")
    assert prom.tls.ca_secret_ref == SecretKeyRef(name="prom-ca", key="ca.crt")
    assert prom.tls.insecure_skip_verify is False
    assert prom.headers == (("X-Scope-OrgID", "tenant-a"),)
    error_rate, requests = config.metrics
    assert error_rate.name == "error-rate"
    assert error_rate.query.startswith('sum(rate(http_requests_total{job="web",code=~"5.."}')
    assert error_rate.direction == "increase-is-bad"
    assert error_rate.kind == "gauge"
    assert error_rate.tolerance == ToleranceSpec(relative=0.2, absolute=0.001)
    assert error_rate.critical is True
    assert (requests.direction, requests.kind, requests.critical) == (
        "decrease-is-bad",
        "counter",
        False,
    )
    assert config.windows.observe == timedelta(minutes=15)
    assert config.windows.baseline == timedelta(hours=1, minutes=30)
    assert config.windows.history == (timedelta(days=1), timedelta(weeks=1))
    assert config.drift_budget == timedelta(minutes=45)


def test_a_spec_without_baseline_section_has_nothing_to_collect() -> None:
    assert parse_baseline({"application": "shop-web"}) is None


def test_defaults_for_everything_optional() -> None:
    config = parse(
        {
            "baseline": {
                "prometheus": {"url": "http://prometheus:9090"},
                "metrics": [{"name": "latency", "query": "sum(up)"}],
            }
        }
    )
    assert config.prometheus.bearer_token_secret_ref is None
    assert config.prometheus.tls.ca_secret_ref is None
    assert config.prometheus.tls.insecure_skip_verify is False
    assert config.prometheus.headers == ()
    assert config.metrics == (MetricSpec(name="latency", query="sum(up)"),)
    assert config.metrics[0].direction == "either"
    assert config.metrics[0].kind == "gauge"
    assert config.metrics[0].critical is True  # every listed metric counts unless advisory
    assert config.metrics[0].tolerance.as_evidence() == {}  # the judge's defaults apply
    assert config.windows.observe == timedelta(minutes=10)
    assert config.windows.baseline == timedelta(minutes=30)
    assert config.windows.history == ()
    assert config.drift_budget == timedelta(minutes=10)  # = observe


def test_drift_budget_defaults_to_the_observe_window() -> None:
    config = parse(with_change("driftBudget", ...))
    assert config.drift_budget == timedelta(minutes=15)


def test_zero_drift_budget_means_any_divergence_counts() -> None:
    assert parse(with_change("driftBudget", "0s")).drift_budget == timedelta(0)


def test_tolerance_keeps_only_the_bounds_set() -> None:
    config = parse(with_change("metrics.0.tolerance", {"relative": 1}))
    assert config.metrics[0].tolerance.as_evidence() == {"relative": 1.0}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("prometheus", ..., "spec.baseline.prometheus: required"),
        ("prometheus.url", ..., "spec.baseline.prometheus.url: required"),
        ("prometheus.url", "prometheus:9090", "spec.baseline.prometheus.url: must start with http"),
        ("prometheus.url", "ftp://x", "spec.baseline.prometheus.url: must start with http"),
        ("prometheus.url", "http://", "spec.baseline.prometheus.url: must name a host"),
        ("prometheus.url", "http://p:port", "spec.baseline.prometheus.url: not a valid URL"),
        ("prometheus.url", "http://p:9090/?x=1", "must not have a query string"),
        ("prometheus.url", "", "spec.baseline.prometheus.url: must be a non-empty string"),
        (
            "prometheus.bearerTokenSecretRef",
            {"name": "t"},
            "spec.baseline.prometheus.bearerTokenSecretRef.key: required",
        ),
        (
            "prometheus.bearerTokenSecretRef",
            {"name": "Bad_Name", "key": "t"},
            "spec.baseline.prometheus.bearerTokenSecretRef.name: must be a Secret name",
        ),
        (
            "prometheus.bearerTokenSecretRef",
            {"name": "t", "key": "a/b"},
            "spec.baseline.prometheus.bearerTokenSecretRef.key: must be a Secret key",
        ),
        (
            "prometheus.tls.insecureSkipVerify",
            "yes",
            "spec.baseline.prometheus.tls.insecureSkipVerify: must be true or false",
        ),
        (
            "prometheus.tls.caSecretRef",
            "prom-ca",
            "spec.baseline.prometheus.tls.caSecretRef: must be an object",
        ),
        ("prometheus.headers", ["X-Scope-OrgID"], "spec.baseline.prometheus.headers: must be an"),
        ("prometheus.headers", {"X Bad": "v"}, "'X Bad' is not a valid HTTP header name"),
        (
            "prometheus.headers",
            {"X-Scope-OrgID": 7},
            "spec.baseline.prometheus.headers.X-Scope-OrgID: must be a string",
        ),
        ("prometheus.headers", {"X-A": "a\r\nX-B: b"}, "must not contain line breaks"),
        (
            "prometheus.headers",
            {"X-A": "a" * 1025},
            "spec.baseline.prometheus.headers.X-A: longer than 1024 characters",
        ),
        (
            "prometheus.headers",
            {f"X-{i}": "v" for i in range(17)},
            "spec.baseline.prometheus.headers: at most 16 headers",
        ),
        (
            "prometheus.headers",
            {"Authorization": "Bearer abc"},
            "spec.baseline.prometheus.headers.Authorization: not allowed: put the token in a Secret",
        ),
        ("metrics", [], "spec.baseline.metrics: must list at least one metric"),
        ("metrics", {"name": "x"}, "spec.baseline.metrics: must be a list"),
        ("metrics.1.name", ..., "spec.baseline.metrics[1].name: required"),
        ("metrics.1.name", "error rate", "spec.baseline.metrics[1].name: must be 1-63"),
        (
            "metrics.1.name",
            "error-rate",
            "spec.baseline.metrics[1].name: 'error-rate' is used twice",
        ),
        ("metrics.1.query", ..., "spec.baseline.metrics[1].query: required"),
        ("metrics.1.query", "  ", "spec.baseline.metrics[1].query: must be a non-empty string"),
        ("metrics.1.query", "x" * 20000, "spec.baseline.metrics[1].query: longer than"),
        (
            "metrics.1.direction",
            "up",
            "spec.baseline.metrics[1].direction: must be one of increase-is-bad, decrease-is-bad, "
            "either",
        ),
        (
            "metrics.1.kind",
            "histogram",
            "spec.baseline.metrics[1].kind: must be one of gauge, counter",
        ),
        ("metrics.1.critical", "true", "spec.baseline.metrics[1].critical: must be true or false"),
        (
            "metrics.0.tolerance",
            {"relative": "20%"},
            "spec.baseline.metrics[0].tolerance.relative: must be a number",
        ),
        (
            "metrics.0.tolerance",
            {"absolute": -1},
            "spec.baseline.metrics[0].tolerance.absolute: must be zero or more",
        ),
        (
            "metrics.0.tolerance",
            {"relative": True},
            "spec.baseline.metrics[0].tolerance.relative: must be a number",
        ),
        (
            "metrics.0.tolerence",
            {"relative": 0.1},
            "spec.baseline.metrics[0].tolerence: unknown field; expected one of critical, direction",
        ),
        ("windows.observe", "10 minutes", "spec.baseline.windows.observe: '10 minutes' is not a"),
        ("windows.observe", 600, "spec.baseline.windows.observe: must be a duration string"),
        ("windows.observe", "0s", "spec.baseline.windows.observe: must be longer than zero"),
        ("windows.baseline", "30m1h", "spec.baseline.windows.baseline: '30m1h' is not a duration"),
        ("windows.history", "24h", "spec.baseline.windows.history: must be a list of durations"),
        (
            "windows.history",
            ["24h", "1d"],
            "spec.baseline.windows.history[1]: '1d' is listed twice",
        ),
        (
            "windows.history",
            ["30m"],
            "spec.baseline.windows.history[0]: must be at least baseline + observe (1h45m)",
        ),
        ("windows.history", ["1d"] * 9, "spec.baseline.windows.history: at most 8 offsets"),
        ("driftBudget", "soon", "spec.baseline.driftBudget: 'soon' is not a duration"),
        ("extra", True, "spec.baseline.extra: unknown field"),
    ],
)
def test_a_bad_field_is_refused_with_its_path(path: str, value: Any, message: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_baseline(with_change(path, value))
    assert message in str(caught.value)


def test_too_many_metrics_are_refused() -> None:
    metrics = [{"name": f"m{i}", "query": "up"} for i in range(51)]
    with pytest.raises(BadRequestError, match=r"spec.baseline.metrics: at most 50 metrics, got 51"):
        parse_baseline(with_change("metrics", metrics))


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_baseline(with_change("prometheus.url", "https://admin:s3cret@prom:9090"))
    assert "use bearerTokenSecretRef" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_refused_header_value_is_never_echoed() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_baseline(with_change("prometheus.headers", {"Cookie": "session=s3cret"}))
    assert "s3cret" not in str(caught.value)


def test_the_spec_itself_must_be_an_object() -> None:
    with pytest.raises(BadRequestError, match="spec: must be an object"):
        parse_baseline(["baseline"])  # type: ignore[arg-type]
    with pytest.raises(BadRequestError, match=r"spec\.baseline: must be an object"):
        parse_baseline({"baseline": "yes"})


def test_a_two_day_baseline_with_weekly_history_is_accepted() -> None:
    """The calibrated tests need a long lookback; a daily history offset would then overlap
    the baseline itself, a weekly one does not."""
    config = parse(with_change("windows", {"observe": "2h", "baseline": "2d", "history": ["1w"]}))
    assert config.windows.baseline == timedelta(days=2)
    assert config.windows.history == (timedelta(weeks=1),)
    with pytest.raises(BadRequestError, match=r"history\[0\]: must be at least"):
        parse(with_change("windows", {"observe": "2h", "baseline": "2d", "history": ["24h"]}))
