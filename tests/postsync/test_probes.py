"""truthgate's own HTTP probes: status, timeouts, budget, and what is never followed or kept."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.errors import BadRequestError
from webhooks.postsync.probes import ProbeSpec, masked, parse_probes, run_probes


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        threading.Event().wait(3)  # longer than any probe timeout below
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_status_decides_ok_and_latency_is_recorded(web: tuple[str, dict[str, int]]) -> None:
    url, _ = web
    ok, bad = run_probes([ProbeSpec("ok", f"{url}/healthz"), ProbeSpec("bad", f"{url}/broken")])
    assert ok["ok"] is True and ok["status"] == 200 and ok["error"] is None
    assert ok["latencyMs"] is not None and ok["latencyMs"] >= 0
    assert bad["ok"] is False and bad["status"] == 500
    assert bad["error"] == "expected HTTP 200, got 500"
    custom = run_probes([ProbeSpec("teapot", f"{url}/broken", expect_status=500)])[0]
    assert custom["ok"] is True


def test_a_hanging_service_costs_its_timeout_and_the_budget_bounds_the_rest(slow: str) -> None:
    specs = [ProbeSpec(f"p{i}", f"{slow}/hang", timeout_seconds=0.3) for i in range(5)]
    results = run_probes(specs, budget_seconds=0.7)
    assert [r["ok"] for r in results] == [False] * 5
    assert "Timeout" in str(results[0]["error"])
    assert results[-1]["error"] == "not run: the total probe budget was spent"


def test_redirects_to_other_schemes_are_not_followed(slow: str) -> None:
    result = run_probes([ProbeSpec("r", f"{slow}/redirect-file")])[0]
    assert result["ok"] is False and "InvalidSchema" in str(result["error"])


def test_an_unreachable_service_is_a_failed_probe_not_an_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        result = run_probes([ProbeSpec("down", f"http://127.0.0.1:{port}/")])[0]
    assert result["ok"] is False and result["status"] is None
    assert "ConnectionError" in str(result["error"])


def test_credentials_in_a_probe_url_are_masked_in_the_record() -> None:
    assert (
        masked("http://bot:hunter2@web.shop.svc:8080/healthz")
        == "http://bot:***@web.shop.svc:8080/healthz"
    )
    result = run_probes([ProbeSpec("c", "http://bot:hunter2@127.0.0.1:9/x", timeout_seconds=0.5)])[
        0
    ]
    assert "hunter2" not in str(result)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"probes": [{"name": "x", "url": "ftp://h/"}]}, r"spec.probes\[0\].url"),
        ({"probes": [{"url": "http://h/"}]}, r"spec.probes\[0\].name"),
        ({"probes": [{"name": "x", "url": "http://h/", "expectStatus": 42}]}, "expectStatus"),
        ({"probes": [{"name": "x", "url": "http://h/", "timeoutSeconds": 0}]}, "timeoutSeconds"),
        ({"probes": "http://h/"}, "spec.probes: must be a list"),
    ],
)
def test_bad_probe_specs_name_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(BadRequestError, match=field):
        parse_probes(spec)


def test_probe_timeouts_are_bounded_by_the_crd() -> None:
    with pytest.raises(
        BadRequestError, match=r"spec.probes\[0\].timeoutSeconds: must be 30 or less"
    ):
        parse_probes({"probes": [{"name": "x", "url": "http://h/", "timeoutSeconds": 600}]})
    (spec,) = parse_probes({"probes": [{"name": "x", "url": "http://h/", "timeoutSeconds": 30}]})
    assert spec.timeout_seconds == 30.0 and spec.expect_status == 200
    (spec,) = parse_probes({"probes": [{"name": "x", "url": "http://h/"}]})
    assert spec.timeout_seconds == 2.0
