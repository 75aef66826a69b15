"""How the collector talks HTTP: auth, retries, deadlines, TLS — against loopback stand-ins.

These are the failure modes a real Prometheus will not produce on demand (503 twice, a hung
socket, a proxy that echoes the request), so small scripted servers play them.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import trustme

from tests.support.net import free_port
from tests.support.prometheus import Reply, SeenRequest, matrix, stand_in
from webhooks.baseline.spec import BaselineConfig, parse_baseline
from webhooks.postsync.prometheus import MAX_ATTEMPTS, collect_metrics

CHANGE = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
NOW = CHANGE + timedelta(hours=1)
TOKEN = "s3cr3t-t0ken-value"
LONG_QUERY = (
    'sum(rate(http_requests_total{job="web",code=~"5.."}[1m])) '
    '/ sum(rate(http_requests_total{job="web"}[1m])) + 0 * ' + " + ".join(["vector(1)"] * 400)
)
OK = Reply(
    200,
    matrix([(CHANGE.timestamp() - 60, "1"), (CHANGE.timestamp() + 60, "2.5")]),
    {"Content-Type": "application/json"},
)


def unavailable(status: int = 503) -> Reply:
    body = {"status": "error", "errorType": "unavailable", "error": "storage is starting"}
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def config(url: str, names: tuple[str, ...] = ("level",), **prometheus: Any) -> BaselineConfig:
    parsed = parse_baseline(
        {
            "baseline": {
                "prometheus": {"url": url, **prometheus},
                "metrics": [{"name": n, "query": LONG_QUERY} for n in names],
            }
        }
    )
    assert parsed is not None
    return parsed


def form(request: SeenRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


def test_queries_are_posted_form_encoded_with_the_token_and_extra_headers() -> None:
    with stand_in(lambda _: OK) as server:
        cfg = config(server.url, headers={"X-Scope-OrgID": "tenant-a"})
        [metric] = collect_metrics(cfg, CHANGE, NOW, bearer_token=TOKEN)
    assert metric["series"] == [[CHANGE.timestamp() - 60, 1.0], [CHANGE.timestamp() + 60, 2.5]]
    [request] = server.seen
    assert (request.method, request.path) == ("POST", "/api/v1/query_range")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Scope-OrgID"] == "tenant-a"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    sent = form(request)
    assert sent["query"] == LONG_QUERY  # ~4 KB of PromQL intact, quotes and braces included
    assert float(sent["end"]) == (CHANGE + timedelta(minutes=10)).timestamp()
    assert sent["step"] == "15"
    assert sent["timeout"].endswith("ms") and 0 < int(sent["timeout"][:-2]) < 10_000


def test_the_token_never_reaches_an_error_even_when_a_proxy_echoes_it() -> None:
    def echo(request: SeenRequest) -> Reply:
        leak = f"refused request with Authorization: {request.headers.get('Authorization')}"
        if "oops" in form(request)["query"]:
            return Reply(502, leak.encode(), {"Content-Type": "text/plain"})
        body = {"status": "error", "errorType": "bad_data", "error": leak}
        return Reply(400, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with stand_in(echo) as server:
        cfg = parse_baseline(
            {
                "baseline": {
                    "prometheus": {"url": server.url},
                    "metrics": [
                        {"name": "a", "query": "up"},
                        {"name": "b", "query": "oops"},
                    ],
                }
            }
        )
        assert cfg is not None
        result = collect_metrics(cfg, CHANGE, NOW, bearer_token=TOKEN, deadline_seconds=10)
    assert TOKEN not in json.dumps(result)
    assert result[0].get("error") == (
        "Prometheus bad_data (HTTP 400): refused request with Authorization: Bearer [redacted]"
    )
    assert "Bearer [redacted]" in result[1].get("error", "")


def test_a_503_is_retried_until_prometheus_answers() -> None:
    answers: Iterator[Reply] = iter([unavailable(), unavailable(), OK])
    with stand_in(lambda _: next(answers)) as server:
        [metric] = collect_metrics(config(server.url), CHANGE, NOW)
    assert len(server.seen) == 3
    assert "error" not in metric
    assert len(metric["series"]) == 2


def test_a_429_waits_as_long_as_the_server_asks() -> None:
    answers = iter([Reply(429, b"slow down", {"Retry-After": "1"}), OK])
    with stand_in(lambda _: next(answers)) as server:
        started = time.monotonic()
        [metric] = collect_metrics(config(server.url), CHANGE, NOW)
        waited = time.monotonic() - started
    assert "error" not in metric
    assert len(server.seen) == 2
    assert waited >= 0.95  # the 1 s Retry-After, not the 0.25 s first backoff


def test_retries_end_after_a_bounded_number_of_attempts() -> None:
    with stand_in(lambda _: unavailable()) as server:
        [metric] = collect_metrics(config(server.url), CHANGE, NOW)
    assert len(server.seen) == MAX_ATTEMPTS
    assert metric["series"] == []
    assert metric.get("error") == (
        f"gave up after {MAX_ATTEMPTS} attempts: "
        "Prometheus unavailable (HTTP 503): storage is starting"
    )


def test_a_bad_query_is_not_retried() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": '1:5: parse error: unexpected "}"'}
    with stand_in(lambda _: Reply(400, json.dumps(body).encode())) as server:
        [metric] = collect_metrics(config(server.url), CHANGE, NOW)
    assert len(server.seen) == 1
    assert metric.get("error") == 'Prometheus bad_data (HTTP 400): 1:5: parse error: unexpected "}"'


def test_an_unreachable_prometheus_fails_every_metric_within_the_deadline() -> None:
    cfg = config(f"http://127.0.0.1:{free_port()}", names=("a", "b", "c"))
    started = time.monotonic()
    result = collect_metrics(cfg, CHANGE, NOW, bearer_token=TOKEN, deadline_seconds=5)
    elapsed = time.monotonic() - started
    assert elapsed < 5 + 1  # a bound (deadline + slack), not a speed benchmark
    assert [m["series"] for m in result] == [[], [], []]
    first = result[0].get("error", "")
    assert first.startswith(f"gave up after {MAX_ATTEMPTS} attempts: cannot reach Prometheus at ")
    assert first.endswith(": Connection refused")
    # Once the server proved unreachable the rest are not hammered one by one.
    assert result[1].get("error", "").startswith("skipped: cannot reach Prometheus at ")
    assert TOKEN not in json.dumps(result)


def test_a_hung_prometheus_cannot_hold_the_hook_past_the_deadline() -> None:
    with stand_in(lambda _: Reply(200, b"{}", delay_seconds=30)) as server:
        cfg = config(server.url, names=("a", "b"))
        started = time.monotonic()
        result = collect_metrics(cfg, CHANGE, NOW, deadline_seconds=1.5)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1.5
    assert "did not answer within 1.5s" in result[0].get("error", "")
    late = result[1].get("error", "")
    assert late.startswith("not fetched: the 1.5s deadline for metrics passed")


def test_a_failing_history_window_loses_only_that_comparison() -> None:
    def only_today(request: SeenRequest) -> Reply:
        if float(form(request)["start"]) < CHANGE.timestamp() - 86400 / 2:
            body = {"status": "error", "errorType": "execution", "error": "too many samples"}
            return Reply(422, json.dumps(body).encode())
        return OK

    with stand_in(only_today) as server:
        parsed = parse_baseline(
            {
                "baseline": {
                    "prometheus": {"url": server.url},
                    "metrics": [{"name": "level", "query": "up"}],
                    "windows": {"history": ["1d"]},
                }
            }
        )
        assert parsed is not None
        [metric] = collect_metrics(parsed, CHANGE, NOW)
    assert "error" not in metric
    assert len(metric["series"]) == 2
    assert metric.get("history") == [{"offsetSeconds": 86400.0, "series": []}]


def test_a_redirect_is_reported_not_followed() -> None:
    moved = Reply(302, b"", {"Location": "https://prometheus.example/api/v1/query_range"})
    with stand_in(lambda _: moved) as server:
        [metric] = collect_metrics(config(server.url), CHANGE, NOW, bearer_token=TOKEN)
    assert len(server.seen) == 1
    assert metric.get("error") == (
        "Prometheus answered a redirect (HTTP 302 to "
        "'https://prometheus.example/api/v1/query_range'); "
        "put the final address in spec.baseline.prometheus.url"
    )


def test_an_injected_session_is_used_and_left_open() -> None:
    with stand_in(lambda _: OK) as server, requests.Session() as session:
        session.headers["User-Agent"] = "truthgate-verify"
        collect_metrics(config(server.url), CHANGE, NOW, session=session)
        collect_metrics(config(server.url), CHANGE, NOW, session=session)
    assert [r.headers["User-Agent"] for r in server.seen] == ["truthgate-verify"] * 2


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[str, bytes]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with stand_in(lambda _: OK, tls=context) as server:
        yield server.url, ca.cert_pem.bytes()


def test_https_with_the_ca_from_a_secret(tls_server: tuple[str, bytes]) -> None:
    url, ca_pem = tls_server
    [metric] = collect_metrics(config(url), CHANGE, NOW, ca_data=ca_pem)
    assert "error" not in metric
    assert len(metric["series"]) == 2


def test_https_with_an_unknown_ca_is_a_readable_tls_error(tls_server: tuple[str, bytes]) -> None:
    url, _ = tls_server
    [metric] = collect_metrics(config(url), CHANGE, NOW, deadline_seconds=5)
    assert metric["series"] == []
    error = metric.get("error", "")
    assert error.startswith("TLS error talking to Prometheus: ")
    assert "CERTIFICATE_VERIFY_FAILED" in error or "certificate verify failed" in error


def test_insecure_skip_verify_connects_without_a_warning_per_request(
    tls_server: tuple[str, bytes],
) -> None:
    # filterwarnings = error: an InsecureRequestWarning escaping here would fail the test.
    url, _ = tls_server
    cfg = config(url, names=("a", "b"), tls={"insecureSkipVerify": True})
    result = collect_metrics(cfg, CHANGE, NOW)
    assert all("error" not in m for m in result)
