"""The read API served by the real ``truthgate serve`` (gunicorn over TLS), token from a file
as the chart mounts it from a Secret, ledger records written by a verification."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from tests.server.served import serving
from tests.ui import scenes
from webhooks.ledger import open_store

pytestmark = pytest.mark.gunicorn

TOKEN = "tls-read-api-token-9f8e7d6c5b4a"


def test_over_tls_the_proxy_token_and_the_app_header_decide_what_is_read(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    (tmp_path / "token").write_text(TOKEN + "\n")  # a Secret file's trailing newline is dropped
    ledger = open_store(str(tmp_path / "ledger.db"))
    try:
        scenes.record(ledger, scenes.evidence(healthy=False))
        ledger.append(scenes.intent("i-1"))
    finally:
        ledger.close()

    with serving(
        tmp_path,
        "--ledger",
        "ledger.db",
        "--tls-cert",
        str(tmp_path / "tls.crt"),
        "--tls-key",
        str(tmp_path / "tls.key"),
        "--read-api-token-file",
        str(tmp_path / "token"),
        "--workers",
        "1",
        ca=tmp_path / "ca.pem",
    ) as served:
        proxy = {"Truthgate-Proxy-Token": TOKEN, "Argocd-Application-Name": "argocd:shop-web"}
        reply = served.request("GET", "/api/v1/apps/shop-web/verifications", headers=proxy)
        assert reply.status == 200, reply.body[:300]
        [verification] = reply.json()["items"]
        assert verification["verdict"] == "Degraded"

        reply = served.request(
            "GET", f"/api/v1/apps/shop-web/verifications/{verification['id']}/evidence", None, proxy
        )
        assert reply.status == 200
        assert reply.json()["evidence"]["metrics"][0]["regression"] is True

        reply = served.request("GET", "/api/v1/apps/shop-web/intents", headers=proxy)
        assert [i["uid"] for i in reply.json()["items"]] == ["i-1"]

        no_token = {"Argocd-Application-Name": "argocd:shop-web"}
        assert served.request("GET", "/api/v1/apps/shop-web/intents", None, no_token).status == 401
        reply = served.request("GET", "/api/v1/apps/billing/intents", headers=proxy)
        assert reply.status == 403
        assert "read API on /api/v1" in served.stdout
        assert TOKEN not in served.stdout + served.stderr
