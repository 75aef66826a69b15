"""The chart's webhook container, run for real: `truthgate serve` with exactly the arguments and
environment the rendered Deployment gives it (paths mapped into a temporary directory), over TLS
with the certificate the chart generated, checked the way the API server checks it: against the
caBundle, for the Service's DNS name."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.deploy.conftest import ROOT, one, render
from tests.support.net import free_port

pytestmark = pytest.mark.gunicorn
SERVICE_DNS = "truthgate.truthgate.svc"  # what the API server connects to (clientConfig.service)


@dataclass
class Webhook:
    port: int
    context: ssl.SSLContext

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        conn = http.client.HTTPSConnection(SERVICE_DNS, self.port, timeout=10)
        conn.sock = self.context.wrap_socket(raw, server_hostname=SERVICE_DNS)
        try:
            conn.request(
                method,
                path,
                body=body,
                headers={"Content-Type": "application/json"} if body else {},
            )
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    tmp = tmp_path_factory.mktemp("pod")
    docs = render()
    secret = one(docs, "Secret", "truthgate-tls")["data"]
    ca_bundle = one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]["clientConfig"][
        "caBundle"
    ]
    (tmp / "tls").mkdir()
    for key in ("tls.crt", "tls.key"):
        (tmp / "tls" / key).write_bytes(base64.b64decode(secret[key]))
    (tmp / "metrics").mkdir()
    (tmp / "data").mkdir()
    (tmp / "ledger-key").mkdir()
    key = one(docs, "Secret", "truthgate-ledger-key")["data"]["key"]
    (tmp / "ledger-key" / "key").write_bytes(base64.b64decode(key))
    # The container's filesystem, mapped: volume mounts to temp dirs, the image's policies to
    # the source tree (the image links them to where truthgate looks).
    paths = {
        "/etc/truthgate/tls": str(tmp / "tls"),
        "/etc/truthgate/ledger-key": str(tmp / "ledger-key"),
        "/var/run/truthgate/metrics": str(tmp / "metrics"),
        "/var/lib/truthgate": str(tmp / "data"),
        "/opt/truthgate/policies": str(ROOT / "policies"),
        "/tmp": str(tmp),
    }

    def mapped(value: str) -> str:
        for container_path, local in paths.items():  # one mapping per value
            if container_path in value:
                return value.replace(container_path, local)
        return value

    container = one(docs, "Deployment", "truthgate")["spec"]["template"]["spec"]["containers"][0]
    port = free_port()
    args = [mapped(a) for a in container["args"]]
    args = [f"--bind=127.0.0.1:{port}" if a.startswith("--bind=") else a for a in args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUTHGATE_")}
    env.update({e["name"]: mapped(e["value"]) for e in container["env"] if "value" in e})
    proc = subprocess.Popen(
        [sys.executable, "-m", "webhooks", *args],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    context = ssl.create_default_context(cadata=base64.b64decode(ca_bundle).decode())
    hook = Webhook(port, context)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"truthgate serve exited {proc.returncode}:\n{output[-3000:]}")
            try:
                if hook.request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("truthgate serve did not become ready within 60 s")
            time.sleep(0.2)
        yield hook
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_the_api_server_can_verify_the_webhook_certificate(webhook: Webhook) -> None:
    # The handshake above used the caBundle and the Service DNS name: it succeeded.
    status, body = webhook.request("GET", "/healthz")
    assert status == 200, body


def test_a_wrong_name_fails_verification(webhook: Webhook) -> None:
    raw = socket.create_connection(("127.0.0.1", webhook.port), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        webhook.context.wrap_socket(raw, server_hostname="truthgate.other.svc").close()
    raw.close()


def test_it_answers_an_admission_review_at_the_configured_path(webhook: Webhook) -> None:
    review = json.loads(
        (ROOT / "docs" / "examples" / "admission-review-deployment-update.json").read_text()
    )
    status, body = webhook.request("POST", "/validate", json.dumps(review).encode())
    assert status == 200, body
    answer = json.loads(body)
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"]["uid"] == review["request"]["uid"]
    assert isinstance(answer["response"]["allowed"], bool)


def test_metrics_are_served_merged_across_workers(webhook: Webhook) -> None:
    status, body = webhook.request("GET", "/metrics")
    assert status == 200
    text = body.decode()
    assert "truthgate_admission_requests_total" in text
    assert "truthgate_admission_duration_seconds_bucket" in text
