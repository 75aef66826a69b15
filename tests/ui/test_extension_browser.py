"""The built extension in a real browser: headless Debian Chromium loads the bundle into a page
that provides React 19 and ``extensionsAPI`` as Argo CD 3.5 does, with Argo CD's proxy in front
of the real read API, and we check what a user sees (and that nothing else is fetched and
nothing is logged as an error). Screenshots land in docs/ui/ when TRUTHGATE_UI_SHOTS is set."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.ui import scenes
from tests.ui.browser import (
    NEEDS_BROWSER,
    NOW,
    STALE,
    VERIFIED,
    no_errors_and_only_proxy_calls,
    show,
)
from webhooks.errors import LedgerError
from webhooks.ledger.store import IntentStore
from webhooks.server.store import PerProcessStore

pytestmark = NEEDS_BROWSER


def test_a_degraded_app_shows_its_verdict_findings_timeline_and_regression(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    healthy, degraded = scenes.evidence(healthy=True), scenes.evidence(healthy=False)
    scenes.record(ledger, healthy)
    verdict = scenes.record(ledger, degraded)
    ledger.append(scenes.intent("sync-1", minute=0))
    ledger.append(
        scenes.intent(
            "hotfix-1",
            minute=5,
            actor={"username": "alice@example.com", "groups": [], "class": "human"},
            breakGlass="INC-4711",
        )
    )
    truthcheck = scenes.live_truthcheck(verdict, degraded)
    health = scenes.lua_health(truthcheck, NOW)
    assert health == {
        "status": "Degraded",
        "message": f"{verdict['summary']} (verified 10m ago by sync)",
    }
    scenario = {
        "application": scenes.argocd_app(health),
        "truthCheck": truthcheck,
        "tree": {"nodes": []},
    }
    seen = show(scenario, ledger, tmp_path, "degraded")
    no_errors_and_only_proxy_calls(seen)

    assert seen["registrations"] == {
        "statusPanel": [{"title": "TRUTH", "id": "truthgate", "flyout": True}],
        "resource": [
            {"group": "truthgate.dev", "kind": "TruthCheck", "tabTitle": "Truth"},
            {"group": "argoproj.io", "kind": "Application", "tabTitle": "Truth timeline"},
        ],
    }
    count = len(verdict["findings"])
    critical = sum(f["severity"] == "critical" for f in verdict["findings"])
    assert "Degraded" in seen["sections"]["status-panel"]
    assert f"{critical} critical" in seen["sections"]["status-panel"]
    # The resource tab: every finding, grouped by layer, linked to its object in the tree.
    tab = seen["sections"]["resource-tab"]
    assert "Degraded" in tab and "revision 8f3c2a1 · verified 10m ago by sync" in tab
    assert STALE not in tab
    assert seen["counts"]["findings"] == count
    assert "Runtime" in tab and "Behaviour" in tab
    assert "exceeded quota" in tab
    assert any("node=apps%2FDeployment%2Fshop%2Fweb%2F0" in link for link in seen["links"])
    # The flyout (opened by clicking the status panel item) reads the latest verification.
    assert seen["counts"]["flyoutFindings"] == count
    assert "Revision 8f3c2a1" in seen["sections"]["flyout"]
    # The app tab: syncs, intents, the break-glass edit, the verdict change; the charts.
    app_tab = seen["sections"]["app-tab"]
    assert "Verdict Healthy → Degraded" in app_tab
    assert "Break-glass: UPDATE Deployment shop/web" in app_tab and "INC-4711" in app_tab
    assert "alice@example.com (human)" in app_tab
    assert "Sync to 8f3c2a1" in app_tab and "Sync to 1d2c3b4" in app_tab
    assert seen["counts"]["breakGlass"] == 1
    assert seen["counts"]["patches"] == 1  # opened on demand
    assert "registry.example.com/shop/web:1.5.0" in app_tab
    assert seen["counts"]["metrics"] == 2
    assert seen["counts"]["series"] == seen["counts"]["bands"] == 2
    assert seen["counts"]["baselineWindows"] == seen["counts"]["changeMarkers"] == 2
    assert seen["metricVerdicts"] == ["Regression", "Pass"]
    assert "http_error_ratio" in app_tab


def test_a_healthy_app_says_so_without_findings(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    healthy = scenes.evidence(healthy=True)
    verdict = scenes.record(ledger, healthy)
    scenario = {
        "application": scenes.argocd_app({"status": "Healthy", "message": verdict["summary"]}),
        "truthCheck": scenes.live_truthcheck(verdict, healthy),
        "tree": {"nodes": []},
    }
    seen = show(scenario, ledger, tmp_path, "healthy")
    no_errors_and_only_proxy_calls(seen)
    assert "Healthy" in seen["sections"]["status-panel"]
    # The item says what the health message says (clipped to its line, whole on hover).
    assert verdict["summary"].startswith("Healthy: no divergence found")
    assert "no divergence found" in seen["sections"]["status-panel"]
    assert "No findings" in seen["sections"]["resource-tab"]
    assert seen["counts"]["findings"] == 0
    assert seen["metricVerdicts"] == ["Pass", "Pass"]
    assert "Verdict Healthy" in seen["sections"]["app-tab"]


def test_a_verdict_the_auditor_stopped_refreshing_says_so_as_the_health_message_does(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    healthy = scenes.evidence(healthy=True)
    verdict = scenes.record(ledger, healthy)
    truthcheck = scenes.live_truthcheck(verdict, healthy, by="audit")
    assert truthcheck["status"]["staleAfterSeconds"] == 3600  # two heartbeats at the 5m default
    fresh, stale = VERIFIED + timedelta(minutes=59), VERIFIED + timedelta(hours=3, minutes=5)
    for now in (fresh, stale):
        health = scenes.lua_health(truthcheck, now)
        scenario = {
            "application": scenes.argocd_app(health),
            "truthCheck": truthcheck,
            "tree": {"nodes": []},
        }
        seen = show(scenario, ledger, tmp_path, "stale" if now == stale else "aged", now)
        no_errors_and_only_proxy_calls(seen)
        tab = seen["sections"]["resource-tab"]
        assert "Healthy" in seen["sections"]["status-panel"]  # stale is said, not a new health
        if now == fresh:
            assert health["message"].endswith("(verified 45m ago by audit)")
            assert "verified 45m ago by audit" in tab and STALE not in tab
        else:
            assert health["message"].endswith(f"(verdict is 3h old: {STALE})")
            assert f"verdict is 3h old: {STALE}" in tab and "ago by" not in tab
            assert f"verdict is 3h old: {STALE}" in seen["sections"]["flyout"]


def test_an_app_without_a_truthcheck_has_no_status_item_and_says_why(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    ledger.append(scenes.intent("sync-1", minute=0))
    scenario: dict[str, Any] = {
        "application": scenes.argocd_app(None),
        "truthCheck": None,
        "tree": {"nodes": []},
    }
    seen = show(scenario, ledger, tmp_path, "no-truthcheck")
    no_errors_and_only_proxy_calls(seen)
    assert seen["sections"]["status-panel"].strip() == "TRUTH"  # the slot, with nothing in it
    assert "flyout" not in seen["sections"] and "resource-tab" not in seen["sections"]
    assert "has no TruthCheck" in seen["sections"]["app-tab"]
    assert "UPDATE Deployment shop/web" in seen["sections"]["app-tab"]


def test_when_the_read_api_fails_the_verdict_still_shows_and_the_failure_is_said(
    built: None, tmp_path: Path
) -> None:
    def down() -> IntentStore:
        raise LedgerError("ledger postgresql://ledger.truthgate.svc/truthgate is not answering")

    store = PerProcessStore(down)
    health = {"status": "Degraded", "message": "2 critical: error ratio up 4x"}
    scenario: dict[str, Any] = {
        "application": scenes.argocd_app(health),
        "truthCheck": None,
        "tree": {"nodes": []},
    }
    seen = show(scenario, store, tmp_path, "read-api-down")
    no_errors_and_only_proxy_calls(seen, allow_http_errors=True)
    assert "Degraded" in seen["sections"]["status-panel"]
    assert "2 critical" in seen["sections"]["status-panel"]
    for section in ("flyout", "app-tab"):
        assert "read API did not answer (503: " in seen["sections"][section]
        assert "ledger is not answering" in seen["sections"][section]
        assert "postgresql://" not in seen["sections"][section]  # internals stay in the log
    assert seen["counts"]["readErrors"] == 2
