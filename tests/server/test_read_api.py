"""The read API as Argo CD's proxy extension calls it: only with the proxy's credential, only
for the application the proxy vouched for, newest first in pages, bad input refused clearly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.ui import scenes
from webhooks.admission.config import AdmissionConfig
from webhooks.errors import LedgerError
from webhooks.ledger import open_store, query
from webhooks.ledger.query import MAX_PATCH_BYTES
from webhooks.ledger.store import IntentStore
from webhooks.policy.engine import PolicyEngine
from webhooks.server.app import create_app
from webhooks.server.metrics import Metrics
from webhooks.server.store import PerProcessStore

TOKEN = "s3cret-proxy-token-0123456789"
PROXY = {"Truthgate-Proxy-Token": TOKEN, "Argocd-Application-Name": "argocd:shop-web"}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[IntentStore]:
    s = open_store(str(tmp_path / "ledger.db"))
    yield s
    s.close()


@pytest.fixture
def api(
    config: AdmissionConfig, engine: PolicyEngine, ledger: IntentStore, metrics: Metrics
) -> FlaskClient:
    return create_app(config, engine, ledger, metrics, read_token=TOKEN).test_client()


def get(api: FlaskClient, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    response = api.get(path, headers=PROXY if headers is None else headers)
    assert response.is_json, response.data[:200]
    return response.status_code, response.get_json()


def test_without_the_proxy_token_every_route_is_401(api: FlaskClient, ledger: IntentStore) -> None:
    scenes.record(ledger, scenes.evidence(healthy=False))
    app_only = {"Argocd-Application-Name": "argocd:shop-web"}
    for path in (
        "/api/v1/apps/shop-web/intents",
        "/api/v1/apps/shop-web/verifications",
        "/api/v1/apps/shop-web/verifications/1/evidence",
        "/api/v1/apps/other/verifications",
    ):
        for headers in (app_only, {**app_only, "Truthgate-Proxy-Token": TOKEN[:-1] + "x"}):
            status, body = get(api, path, headers)
            assert status == 401, path
            assert "Truthgate-Proxy-Token" in body["error"]
            assert "shop-web" not in str(body)


def test_without_a_token_configured_there_is_no_read_api(
    config: AdmissionConfig, engine: PolicyEngine, ledger: IntentStore, metrics: Metrics
) -> None:
    client = create_app(config, engine, ledger, metrics).test_client()
    assert client.get("/api/v1/apps/shop-web/intents", headers=PROXY).status_code == 404


def test_a_short_token_is_refused_at_start(
    config: AdmissionConfig, engine: PolicyEngine, ledger: IntentStore, metrics: Metrics
) -> None:
    with pytest.raises(Exception, match="at least 16 characters"):
        create_app(config, engine, ledger, metrics, read_token="short")


def test_another_apps_records_are_403_even_by_verification_id(
    api: FlaskClient, ledger: IntentStore
) -> None:
    scenes.record(ledger, scenes.with_app(scenes.evidence(healthy=False), "billing"))
    ledger.append(scenes.intent("b-1", app="billing"))
    for path in ("/api/v1/apps/billing/intents", "/api/v1/apps/billing/verifications"):
        status, body = get(api, path)
        assert status == 403
        assert "shop-web" in body["error"]
    # The id is billing's; asked for under shop-web's name it is still not shop-web's to read.
    status, body = get(api, "/api/v1/apps/shop-web/verifications/1/evidence")
    assert status == 403
    assert "another application" in body["error"]
    # shop-web itself has nothing yet: an empty page, not another app's records.
    assert get(api, "/api/v1/apps/shop-web/intents") == (200, {"items": [], "next": None})


def test_an_app_of_the_same_name_in_another_namespace_is_not_shown(
    api: FlaskClient, ledger: IntentStore
) -> None:
    scenes.record(ledger, scenes.evidence(healthy=False), app_namespace="team-b")
    status, body = get(api, "/api/v1/apps/shop-web/verifications")
    assert (status, body["items"]) == (200, [])
    assert get(api, "/api/v1/apps/shop-web/verifications/1/evidence")[0] == 403


def _intent_pages(api: FlaskClient, header: str, limit: int) -> list[list[str]]:
    """Every page of shop-web's intents (their uids) as the proxy asks for them."""
    pages: list[list[str]] = []
    path = f"/api/v1/apps/shop-web/intents?limit={limit}"
    while path:
        status, page = get(api, path, {**PROXY, "Argocd-Application-Name": header})
        assert status == 200, page
        assert len(page["items"]) <= limit
        pages.append([item["uid"] for item in page["items"]])
        path = f"{path.split('&', maxsplit=1)[0]}&before={page['next']}" if page["next"] else ""
    return pages


def _intent_uids(api: FlaskClient, header: str) -> list[str]:
    return [uid for page in _intent_pages(api, header, limit=2) for uid in page]


def test_intents_of_an_app_outside_argo_cds_namespace_are_its_own(
    api: FlaskClient, ledger: IntentStore
) -> None:
    # Argo CD tracks team-a's shop-web as "team-a_shop-web"; a bare "shop-web" is the app of
    # the same name in Argo CD's own namespace, which team-a's users may not be allowed to see.
    for minute in range(3):
        ledger.append(scenes.intent(f"argocd-{minute}", minute=minute))
        ledger.append(scenes.intent(f"team-a-{minute}", app="team-a_shop-web", minute=minute))
    assert _intent_uids(api, "team-a:shop-web") == ["team-a-2", "team-a-1", "team-a-0"]
    assert _intent_uids(api, "argocd:shop-web") == ["argocd-2", "argocd-1", "argocd-0"]
    assert _intent_uids(api, "team-b:shop-web") == []


def test_argo_cds_namespace_is_where_its_syncs_service_account_lives(
    config: AdmissionConfig, engine: PolicyEngine, ledger: IntentStore, metrics: Metrics
) -> None:
    gitops = replace(
        config,
        argocd_usernames=frozenset({"system:serviceaccount:gitops:argocd-application-controller"}),
    )
    api = create_app(gitops, engine, ledger, metrics, read_token=TOKEN).test_client()
    ledger.append(scenes.intent("bare"))
    ledger.append(scenes.intent("prefixed", app="argocd_shop-web"))
    assert _intent_uids(api, "gitops:shop-web") == ["bare"]
    assert _intent_uids(api, "argocd:shop-web") == ["prefixed"]


def test_intents_come_newest_first_in_pages_that_join_up(
    api: FlaskClient, ledger: IntentStore
) -> None:
    for minute in range(7):
        ledger.append(scenes.intent(f"i-{minute}", minute=minute))
        ledger.append(scenes.intent(f"other-{minute}", app="billing", minute=minute))
    pages = _intent_pages(api, PROXY["Argocd-Application-Name"], limit=3)
    assert [uid for page in pages for uid in page] == [f"i-{m}" for m in reversed(range(7))]
    assert len(pages) == 3
    status, page = get(api, "/api/v1/apps/shop-web/intents?limit=1")
    assert status == 200
    [newest] = page["items"]
    assert newest["patch"][0]["value"] == "registry.example.com/shop/web:1.6.0"
    assert newest["actor"]["class"] == "argocd"
    assert newest["hash"]  # the chained record as stored


def test_a_huge_patch_is_left_out_of_the_page_and_said_so(
    api: FlaskClient, ledger: IntentStore
) -> None:
    big = [{"op": "add", "path": f"/data/k{i}", "value": "x" * 200} for i in range(200)]
    ledger.append(scenes.intent("big", patch=big))
    _, page = get(api, "/api/v1/apps/shop-web/intents")
    [item] = page["items"]
    assert item["patch"] is None
    assert item["patchOmitted"]["operations"] == 200
    assert item["patchOmitted"]["bytes"] > MAX_PATCH_BYTES


def test_verifications_list_without_evidence_and_the_evidence_draws_the_regression(
    api: FlaskClient, ledger: IntentStore
) -> None:
    scenes.record(ledger, scenes.evidence(healthy=True))
    scenes.record(ledger, scenes.evidence(healthy=False))
    status, page = get(api, "/api/v1/apps/shop-web/verifications")
    assert status == 200
    assert [v["verdict"] for v in page["items"]] == ["Degraded", "Healthy"]
    newest = page["items"][0]
    assert newest["hasEvidence"] is True
    assert "evidence" not in newest
    assert newest["findingsTotal"] >= 1
    assert any(f["layer"] == "behaviour" for f in newest["findings"])

    status, body = get(api, f"/api/v1/apps/shop-web/verifications/{newest['id']}/evidence")
    assert status == 200
    assert body["verdict"] == "Degraded"
    metrics = {m["name"]: m for m in body["evidence"]["metrics"]}
    errors = metrics["http_error_ratio"]
    assert errors["regression"] is True
    low, high = errors["band"]
    assert low < errors["baselineLevel"] < high < errors["observedLevel"]
    assert errors["baseline"][1] == errors["changeAt"] == errors["observation"][0]
    assert metrics["http_p99_latency_seconds"]["classification"] == "Pass"


def _verified(ledger: IntentStore, truthcheck: str, verdict: str, n: int = 1) -> None:
    for _ in range(n):
        ledger.append_verification(
            {
                "app": "shop-web",
                "appNamespace": "argocd",
                "truthCheck": {"namespace": "shop", "name": truthcheck},
                "verdict": verdict,
            }
        )


def test_one_truthchecks_newest_verification_is_not_crowded_out_by_anothers(
    api: FlaskClient, ledger: IntentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _verified(ledger, "shop-web-slo", "Degraded")
    _verified(ledger, "shop-web-runtime", "Healthy", n=130)  # more than one batch of 100
    path = "/api/v1/apps/shop-web/verifications"
    base = f"{path}?limit=1"
    assert [v["verdict"] for v in get(api, base)[1]["items"]] == ["Healthy"]
    status, page = get(api, f"{base}&truthCheck=shop/shop-web-slo")
    assert status == 200
    assert [(v["truthCheck"]["name"], v["verdict"]) for v in page["items"]] == [
        ("shop-web-slo", "Degraded")
    ]
    assert page["next"] is None  # nothing older of that TruthCheck
    status, page = get(api, f"{path}?limit=2&truthCheck=shop/shop-web-runtime")
    assert [v["id"] for v in page["items"]] == [131, 130] and page["next"] == 130
    assert get(api, f"{base}&truthCheck=other/shop-web-slo")[1] == {"items": [], "next": None}
    # A page reads a bounded number of records; it says where to go on when it found none yet.
    monkeypatch.setattr(query, "MAX_SCAN", 100)
    status, page = get(api, f"{base}&truthCheck=shop/shop-web-slo")
    assert (status, page["items"]) == (200, []) and page["next"] == 32
    status, page = get(api, f"{base}&truthCheck=shop/shop-web-slo&before={page['next']}")
    assert [v["id"] for v in page["items"]] == [1] and page["next"] is None


@pytest.mark.parametrize(
    ("path", "headers", "status", "says"),
    [
        ("/api/v1/apps/shop-web/intents?limit=0", PROXY, 400, "limit must be between 1 and 100"),
        ("/api/v1/apps/shop-web/intents?limit=101", PROXY, 400, "limit must be between"),
        ("/api/v1/apps/shop-web/intents?limit=ten", PROXY, 400, "limit must be a whole number"),
        ("/api/v1/apps/shop-web/intents?before=-4", PROXY, 400, "before must be a whole number"),
        ("/api/v1/apps/shop-web/intents?before=0", PROXY, 400, "before must be a positive key"),
        (
            "/api/v1/apps/shop-web/intents?before=99999999999999999999",
            PROXY,
            400,
            "whole number",
        ),
        (
            "/api/v1/apps/shop-web/intents",
            {"Truthgate-Proxy-Token": TOKEN},
            400,
            "Argocd-Application-Name header is missing",
        ),
        (
            "/api/v1/apps/shop-web/intents",
            {"Truthgate-Proxy-Token": TOKEN, "Argocd-Application-Name": "shop-web"},
            400,
            "must be <namespace>:<name>",
        ),
        ("/api/v1/apps/shop-web/verifications/42/evidence", PROXY, 404, "no verification 42"),
        (
            "/api/v1/apps/shop-web/verifications?truthCheck=shop-web-slo",
            PROXY,
            400,
            "truthCheck must be <namespace>/<name>",
        ),
    ],
)
def test_bad_input_gets_a_clear_json_error(
    api: FlaskClient, path: str, headers: dict[str, str], status: int, says: str
) -> None:
    got, body = get(api, path, headers)
    assert got == status
    assert says in body["error"]


def test_a_verification_recorded_without_evidence_is_404_not_a_crash(
    api: FlaskClient, ledger: IntentStore
) -> None:
    ledger.append_verification({"app": "shop-web", "appNamespace": "argocd", "verdict": "Healthy"})
    status, body = get(api, "/api/v1/apps/shop-web/verifications/1/evidence")
    assert status == 404
    assert "without evidence" in body["error"]


def test_a_ledger_that_does_not_answer_is_503_without_its_address(
    config: AdmissionConfig, engine: PolicyEngine, metrics: Metrics
) -> None:
    def down() -> IntentStore:
        raise LedgerError("cannot reach postgresql://tg@db.internal:5432/ledger: timeout")

    api = create_app(config, engine, PerProcessStore(down), metrics, read_token=TOKEN)
    status, body = get(api.test_client(), "/api/v1/apps/shop-web/verifications")
    assert status == 503
    assert body == {"error": "the ledger is not answering; see truthgate's log"}
