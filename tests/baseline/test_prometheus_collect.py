"""The collector against a real Prometheus holding known, back-filled series."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.prometheus import PrometheusServer, Reply, SeenRequest, forward, stand_in
from webhooks.baseline.judge import judge_metrics
from webhooks.baseline.spec import BaselineConfig, parse_baseline
from webhooks.baseline.windows import MAX_POINTS
from webhooks.evidence.model import MetricSeries
from webhooks.postsync.prometheus import collect_metrics

pytestmark = pytest.mark.prometheus


def config(url: str, metrics: list[dict[str, Any]], **extra: Any) -> BaselineConfig:
    section: dict[str, Any] = {"prometheus": {"url": url}, "metrics": metrics}
    for key, value in extra.items():
        if key == "headers":
            section["prometheus"]["headers"] = value
        else:
            section[key] = value
    parsed = parse_baseline({"baseline": section})
    assert parsed is not None
    return parsed


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def by_name(result: list[MetricSeries]) -> dict[str, MetricSeries]:
    return {m["name"]: m for m in result}


def test_a_step_comes_back_with_the_baseline_before_and_the_new_level_after(
    prometheus_server: PrometheusServer,
) -> None:
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [
            {
                "name": "level",
                "query": 'tg_step_gauge{job="web"}',
                "direction": "increase-is-bad",
                "tolerance": {"relative": 0.2},
                "critical": True,
            }
        ],
    )
    change = at(layout.step_at)
    [metric] = collect_metrics(cfg, change, at(layout.anchor))
    assert "error" not in metric
    assert metric["changeAt"] == change.isoformat().replace("+00:00", "Z")
    assert metric["direction"] == "increase-is-bad"
    assert metric["query"] == 'tg_step_gauge{job="web"}'
    assert (metric["kind"], metric["critical"]) == ("gauge", True)
    assert metric["tolerance"] == {"relative": 0.2}
    assert metric["driftBudgetSeconds"] == 600.0
    points = metric["series"]
    times = [t for t, _ in points]
    assert times[0] == layout.step_at - 1800 and times[-1] == layout.step_at + 600
    assert all(b - a == 15 for a, b in itertools.pairwise(times))  # 15 s steps
    assert {v for t, v in points if t < layout.step_at} == {layout.step_before}
    assert {v for t, v in points if t >= layout.step_at} == {layout.step_after}


def test_a_week_long_baseline_is_fetched_in_a_bounded_number_of_points(
    prometheus_server: PrometheusServer,
) -> None:
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [{"name": "seasonal", "query": 'tg_seasonal{job="web"}'}],
        windows={"baseline": "7d", "observe": "1h"},
    )
    [metric] = collect_metrics(cfg, at(layout.anchor - 3600), at(layout.anchor))
    points = metric["series"]
    assert 1000 < len(points) <= MAX_POINTS  # 600 s steps, not 40,000 at 15 s
    assert points[1][0] - points[0][0] == 600
    # Each point is the sample Prometheus holds at that time: the data survived the trip.
    assert all(v == pytest.approx(layout.seasonal(t)) for t, v in points)


def test_history_windows_return_the_same_span_one_day_and_one_week_earlier(
    prometheus_server: PrometheusServer,
) -> None:
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [{"name": "seasonal", "query": 'tg_seasonal{job="web"}'}],
        windows={"history": ["24h", "168h"]},
    )
    [metric] = collect_metrics(cfg, at(layout.anchor - 3600), at(layout.anchor))
    current = metric["series"]
    assert current
    history = metric.get("history")
    assert history is not None
    assert [h["offsetSeconds"] for h in history] == [86400.0, 604800.0]
    for window, days in zip(history, (1, 7), strict=True):
        offset = window["offsetSeconds"]
        # Timestamps as recorded (the earlier span), point for point with the current window.
        assert [t for t, _ in window["series"]] == [t - offset for t, _ in current]
        # The test series grows by exactly 1 a day on top of its daily cycle.
        for (_, now_value), (_, then_value) in zip(current, window["series"], strict=True):
            assert now_value - then_value == pytest.approx(days)


def test_a_raw_counter_comes_through_with_its_reset_for_the_judge_to_rate(
    prometheus_server: PrometheusServer,
) -> None:
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [{"name": "requests", "query": 'tg_requests_total{job="web"}', "kind": "counter"}],
    )
    [metric] = collect_metrics(cfg, at(layout.counter_reset_at), at(layout.anchor))
    assert metric["kind"] == "counter"
    points = metric["series"]
    drops = [(a, b) for a, b in itertools.pairwise(points) if b[1] < a[1]]
    assert len(drops) == 1
    assert drops[0][1][0] == layout.counter_reset_at
    assert drops[0][1][1] == 0.0
    assert all(v == pytest.approx(layout.counter(t // 60 * 60)) for t, v in points)


def test_a_gap_in_the_data_is_a_gap_in_the_series(prometheus_server: PrometheusServer) -> None:
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [{"name": "gappy", "query": 'tg_gappy{job="web"}'}],
        windows={"baseline": "30m", "observe": "1h"},
    )
    [metric] = collect_metrics(cfg, at(layout.gap_start), at(layout.anchor))
    times = [t for t, _ in metric["series"]]
    stale_after = layout.gap_start + prometheus_server.lookback_seconds
    assert any(t < layout.gap_start for t in times)
    assert any(t >= layout.gap_end for t in times)
    assert not [t for t in times if stale_after <= t < layout.gap_end]
    assert {v for _, v in metric["series"]} == {layout.gappy_value}


def test_a_bad_query_fails_alone_and_readably(prometheus_server: PrometheusServer) -> None:
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [
            {"name": "broken", "query": "sum(rate(tg_requests_total[1m]"},
            {"name": "by-code", "query": "tg_by_code"},
            {"name": "missing", "query": "tg_does_not_exist"},
            {"name": "level", "query": 'tg_step_gauge{job="web"}'},
        ],
    )
    result = by_name(collect_metrics(cfg, at(layout.step_at), at(layout.anchor)))
    broken = result["broken"]
    assert broken["series"] == []
    assert broken.get("error", "").startswith("Prometheus bad_data (HTTP 400): ")
    assert "parse error" in broken.get("error", "")
    by_code = result["by-code"]
    assert by_code["series"] == []
    assert "query returned 2 series" in by_code.get("error", "")
    assert 'tg_by_code{code="500"}' in by_code.get("error", "")
    assert "aggregate it to one" in by_code.get("error", "")
    missing = result["missing"]
    assert "error" not in missing and missing["series"] == []
    (said,) = judge_metrics([missing])
    assert said["severity"] == "info"
    assert "no data before the change or after it" in said["message"]
    assert "not a regression" in said["message"]
    assert "error" not in result["level"]
    assert len(result["level"]["series"]) > 100


def test_nan_and_infinity_arrive_as_floats(prometheus_server: PrometheusServer) -> None:
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [
            {"name": "inf", "query": 'sum(tg_step_gauge{job="web"}) / 0'},
            {"name": "nan", "query": 'sum(tg_step_gauge{job="web"} - tg_step_gauge) / 0'},
        ],
    )
    result = by_name(collect_metrics(cfg, at(layout.step_at), at(layout.anchor)))
    assert result["inf"]["series"] and all(v == math.inf for _, v in result["inf"]["series"])
    assert result["nan"]["series"] and all(math.isnan(v) for _, v in result["nan"]["series"])


def test_a_path_prefix_and_tenant_header_reach_prometheus_behind_a_proxy(
    prometheus_server: PrometheusServer,
) -> None:
    """A Mimir-like front: everything under /prometheus, X-Scope-OrgID required."""

    def mimir(request: SeenRequest) -> Reply:
        if request.headers.get("X-Scope-OrgID") != "tenant-a":
            return Reply(401, b"no org id\n", {"Content-Type": "text/plain"})
        if not request.path.startswith("/prometheus/"):
            return Reply(404, b"404 page not found\n", {"Content-Type": "text/plain"})
        return forward(prometheus_server.url, request, request.path.removeprefix("/prometheus"))

    layout = prometheus_server.layout
    metrics = [{"name": "level", "query": 'tg_step_gauge{job="web"}'}]
    with stand_in(mimir) as proxy:
        tenant = config(f"{proxy.url}/prometheus/", metrics, headers={"X-Scope-OrgID": "tenant-a"})
        [ok] = collect_metrics(tenant, at(layout.step_at), at(layout.anchor))
        no_tenant = config(f"{proxy.url}/prometheus", metrics)
        [refused] = collect_metrics(no_tenant, at(layout.step_at), at(layout.anchor))
    assert "error" not in ok
    assert {v for t, v in ok["series"] if t >= layout.step_at} == {layout.step_after}
    assert proxy.seen[0].path == "/prometheus/api/v1/query_range"
    assert refused["series"] == []
    assert refused.get("error") == "HTTP 401 from Prometheus, not JSON: 'no org id'"


def test_the_real_server_accepts_the_window_plan_for_every_span(
    prometheus_server: PrometheusServer,
) -> None:
    """Prometheus refuses > 11,000 points; the plan must never get there, even for a year."""
    layout = prometheus_server.layout
    cfg = config(
        prometheus_server.url,
        [{"name": "level", "query": 'tg_step_gauge{job="web"}'}],
        windows={"baseline": "365d", "observe": "1d"},
    )
    [metric] = collect_metrics(cfg, at(layout.anchor - 86400), at(layout.anchor))
    assert "error" not in metric
    assert 0 < len(metric["series"]) <= MAX_POINTS


def test_a_change_in_the_future_of_now_yields_only_the_baseline(
    prometheus_server: PrometheusServer,
) -> None:
    layout = prometheus_server.layout
    cfg = config(prometheus_server.url, [{"name": "level", "query": 'tg_step_gauge{job="web"}'}])
    now = at(layout.step_at) - timedelta(minutes=1)
    [metric] = collect_metrics(cfg, at(layout.step_at), now)
    assert metric["series"]
    assert max(t for t, _ in metric["series"]) <= now.timestamp()
