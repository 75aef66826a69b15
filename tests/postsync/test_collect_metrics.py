"""collect hands spec.baseline to the Prometheus collector with its Secrets resolved.

The Prometheus HTTP API here is a small stand-in on 127.0.0.1 that records what it was asked
(the collector itself is tested against a real Prometheus in tests/baseline): what matters is
that the bearer token arrives from the Secret the TruthCheck names, only as a header, and that
the series land in the Evidence document.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs

import pytest

from tests.cluster.fakeapi import ApiServer
from tests.postsync.world import SYNC_STARTED, application, truthcheck
from webhooks.cluster.reader import KubeClient
from webhooks.cluster.resources import APPLICATION, SECRET, TRUTHCHECK
from webhooks.common.argocd import AppRef
from webhooks.errors import ClusterError
from webhooks.postsync.collect import Collector, Target

TOKEN = "prom-bearer-0123"


class _Prom(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode())
        _Prom.seen.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "form": form}
        )
        start = float(form["start"][0])
        body = {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {}, "values": [[start + 60 * i, "0.01"] for i in range(5)]}],
            },
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    _Prom.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prom)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Clock:
    def now(self) -> Any:
        return SYNC_STARTED + timedelta(minutes=12)

    def sleep(self, seconds: float) -> None:
        raise AssertionError("collect never sleeps")


def _seed(api: ApiServer, prom_url: str, secret: bool = True) -> None:
    api.put(APPLICATION, application())
    tc = truthcheck({})
    tc["spec"]["baseline"] = {
        "prometheus": {"url": prom_url, "bearerTokenSecretRef": {"name": "prom", "key": "token"}},
        "metrics": [
            {
                "name": "error-rate",
                "query": "sum(rate(errors[1m]))",
                "direction": "increase-is-bad",
                "critical": True,
            }
        ],
        "windows": {"observe": "10m", "baseline": "30m"},
    }
    api.put(TRUTHCHECK, tc)
    if secret:
        api.put(
            SECRET,
            {
                "metadata": {"name": "prom", "namespace": "shop"},
                "data": {"token": base64.b64encode(TOKEN.encode()).decode()},
            },
        )


TARGET = Target(AppRef("shop-web", "argocd"), "shop", "shop-web")


def test_metrics_are_fetched_with_the_token_from_the_named_secret(
    api: ApiServer, kube: KubeClient, prometheus: str
) -> None:
    _seed(api, prometheus)
    evidence = Collector(kube, clock=Clock()).collect(TARGET)
    [metric] = evidence["metrics"]
    assert metric["name"] == "error-rate" and metric["direction"] == "increase-is-bad"
    assert metric["changeAt"] == "2026-11-27T10:00:00Z"
    assert len(metric["series"]) == 5 and "error" not in metric
    assert _Prom.seen and all(s["auth"] == f"Bearer {TOKEN}" for s in _Prom.seen)
    assert _Prom.seen[0]["form"]["query"] == ["sum(rate(errors[1m]))"]
    # The token is used, never kept: not in the Evidence, not even the Secret's value.
    assert TOKEN not in json.dumps(evidence)


def test_a_missing_credential_secret_is_a_clear_error(
    api: ApiServer, kube: KubeClient, prometheus: str
) -> None:
    _seed(api, prometheus, secret=False)
    with pytest.raises(ClusterError, match=r"bearerTokenSecretRef: Secret shop/prom has no key"):
        Collector(kube, clock=Clock()).collect(TARGET)
    assert _Prom.seen == []
