"""The extension in the states users produce, in the browser, as a user sees them: a
TruthCheck before, during and after verification, huge and hostile findings, metrics with
holes, an application outside Argo CD's namespace, a read API that is slow, stalls or is
refused, several TruthChecks, and a TruthCheck whose application is going away. What the
TruthCheck tab and the status item say is what Argo CD's Lua health check says."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui import scenes
from tests.ui.browser import NEEDS_BROWSER, NOW, VERIFIED, no_errors_and_only_proxy_calls, show
from tests.ui.harness import WSGIApp
from webhooks.evidence.model import Evidence, Finding, ResourceRef, Verdict
from webhooks.ledger.store import IntentStore
from webhooks.postsync.appinfo import sync_ref
from webhooks.postsync.publish import pending_status, verifying_status
from webhooks.verdict.judge import judge

pytestmark = NEEDS_BROWSER

HOSTILE = '<img src="/x.png" onerror="alert(1)"><script>alert(2)</script>'


def scenario_for(truthcheck: dict[str, Any] | None, **app: Any) -> dict[str, Any]:
    """shop-web as Argo CD holds it with ``truthcheck`` live, its health from the Lua."""
    health = scenes.lua_health(truthcheck, NOW) if truthcheck is not None else None
    application = scenes.argocd_app(health)
    application["metadata"] |= app
    return {"application": application, "truthCheck": truthcheck, "tree": {"nodes": []}}


def tab_and_item_say_what_the_lua_says(seen: dict[str, Any], scenario: dict[str, Any]) -> None:
    [entry] = [
        r for r in scenario["application"]["status"]["resources"] if r["kind"] == "TruthCheck"
    ]
    health = entry["health"]
    tab, item = seen["sections"]["resource-tab"], seen["sections"]["status-panel"]
    assert tab.splitlines()[0].startswith(health["status"])
    assert item.splitlines()[1] == health["status"]
    text = health["message"].split(" (verified ")[0]
    assert text in tab
    assert item.splitlines()[2].startswith(text[:20])


def degraded() -> tuple[Evidence, Verdict]:
    doc = scenes.evidence(healthy=False)
    return doc, judge(doc)


@pytest.mark.parametrize("phase", ["none", "Pending", "Verifying"])
def test_before_a_verdict_the_tab_says_it_awaits_or_verifies_as_argo_cd_does(
    built: None, ledger: IntentStore, tmp_path: Path, phase: str
) -> None:
    doc, verdict = degraded()
    tc = scenes.live_truthcheck(verdict, doc)
    sync = sync_ref(doc["application"])
    if phase == "none":
        del tc["status"]
    elif phase == "Pending":
        tc["status"] = pending_status(tc, sync, VERIFIED)
    else:
        tc["status"] = verifying_status(tc, sync, VERIFIED, NOW)
    scenario = scenario_for(tc)
    seen = show(scenario, ledger, tmp_path, f"phase-{phase}")
    no_errors_and_only_proxy_calls(seen)
    tab_and_item_say_what_the_lua_says(seen, scenario)
    tab = seen["sections"]["resource-tab"]
    assert "Unknown" not in tab and "revision ?" not in tab
    expected = {
        "none": ("Healthy", "Awaiting verification by truthgate"),
        "Pending": ("Healthy", "Sync started: awaiting verification of revision 8f3c2a1"),
        "Verifying": ("Progressing", "Verifying revision 8f3c2a1"),
    }[phase]
    assert tab.startswith(expected[0]) and expected[1] in tab
    assert seen["counts"]["findings"] == 0  # the previous verdict's findings are not this sync's


@pytest.mark.parametrize(
    "case",
    [
        ("Progressing", {}, "Progressing", "web is still rolling out"),
        ("Unknown", {}, "Healthy", "Not judged by truthgate (verdict Unknown): web is still"),
        ("Degraded", {"onDivergence": "fail-sync"}, "Healthy", "Divergence reported by failing"),
    ],
    ids=["Progressing", "Unknown", "Degraded-fail-sync"],
)
def test_verdicts_argo_cd_shows_otherwise_read_as_the_health_message_reads(
    built: None, ledger: IntentStore, tmp_path: Path, case: tuple[str, dict[str, Any], str, str]
) -> None:
    verdict_name, spec, health, says = case
    doc, verdict = degraded()
    verdict["verdict"] = verdict_name  # type: ignore[typeddict-item]  # a parameter
    verdict["summary"] = "web is still rolling out"
    if verdict_name != "Degraded":
        verdict["findings"] = []
    tc = scenes.live_truthcheck(verdict, doc)
    tc["spec"] |= spec
    scenario = scenario_for(tc)
    seen = show(scenario, ledger, tmp_path, f"verdict-{verdict_name}")
    no_errors_and_only_proxy_calls(seen)
    tab_and_item_say_what_the_lua_says(seen, scenario)
    assert seen["sections"]["resource-tab"].startswith(health)
    assert says in seen["sections"]["resource-tab"]
    assert says[:20] in seen["sections"]["status-panel"]


def many_findings(n: int) -> list[Finding]:
    token = "sha256:" + "0123456789abcdef" * 40  # one 647-character word
    return [
        {
            "layer": ("declared", "controller", "runtime", "behaviour")[i % 4],
            "check": "runtime/image",
            "severity": ("critical", "warning", "info")[i % 3],
            "resource": {"kind": "Deployment", "namespace": "shop", "name": f"web-{i}"},
            "message": f"finding {i}: image {token} is not the declared one; " + "x " * 400,
        }
        for i in range(n)
    ]


def test_two_hundred_long_findings_wrap_inside_the_panels_and_stay_readable(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    doc, verdict = degraded()
    verdict["findings"] = many_findings(200)
    verdict["summary"] = "200 critical: " + "y" * 900
    scenes.record(ledger, doc, verdict=verdict)
    scenario = scenario_for(scenes.live_truthcheck(verdict, doc))
    seen = show(scenario, ledger, tmp_path, "many-findings")
    no_errors_and_only_proxy_calls(seen)
    # The live status and the ledger's record keep the 50 most severe, and say so.
    for section in ("resource-tab", "flyout"):
        assert "Showing the 50 most severe of 200 findings." in seen["sections"][section]
    assert seen["counts"]["findings"] == seen["counts"]["flyoutFindings"] == 50
    # Nothing is wider than its panel, and a long word is there whole (wrapped, not cut).
    assert seen["overflow"] == dict.fromkeys(seen["overflow"], 0), seen["overflow"]
    assert seen["pageOverflow"] <= 0
    token = "0123456789abcdef" * 40
    assert token in seen["sections"]["flyout"].replace("\n", "")
    assert "200 critical" in seen["sections"]["status-panel"]


def test_findings_that_look_like_html_are_shown_as_text_and_never_run(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    doc, verdict = degraded()
    verdict["findings"][0]["message"] = HOSTILE
    ref: ResourceRef = {"kind": "Deployment", "namespace": "shop", "name": '"><img src=/y.png>'}
    verdict["findings"][0]["resource"] = ref
    verdict["summary"] = f"1 critical: {HOSTILE}"
    scenes.record(ledger, doc, verdict=verdict)
    scenario = scenario_for(scenes.live_truthcheck(verdict, doc))
    seen = show(scenario, ledger, tmp_path, "hostile")
    no_errors_and_only_proxy_calls(seen)  # also: no alert, no request for /x.png or /y.png
    for section in ("resource-tab", "flyout"):
        assert HOSTILE in seen["sections"][section], section
    assert '"><img src=/y.png>' in seen["sections"]["resource-tab"]


def test_metrics_with_a_gap_or_a_single_point_are_drawn_as_they_are(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    doc = scenes.evidence(healthy=False)
    gappy = doc["metrics"][0]
    gappy["series"][5][1] = float("nan")
    del gappy["series"][60:80]
    lone = scenes.metric("queue_depth", 1.0, seed=5)
    lone["series"] = lone["series"][:1]
    doc["metrics"].append(lone)
    scenes.record(ledger, doc)
    scenario = scenario_for(scenes.live_truthcheck(judge(doc), doc))
    seen = show(scenario, ledger, tmp_path, "metric-holes")
    no_errors_and_only_proxy_calls(seen)
    assert seen["counts"]["metrics"] == 3
    # The 10-minute hole breaks the line; it is not bridged by a made-up slope.
    assert seen["seriesRuns"] == [2, 1]
    assert "queue_depth" in seen["sections"]["app-tab"]
    assert "Too few points to draw." in seen["sections"]["app-tab"]


def test_an_application_outside_argo_cds_namespace_is_asked_for_by_namespace_and_name(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    doc, _ = degraded()
    scenes.record(ledger, scenes.evidence(healthy=True), app_namespace="argocd")  # its twin
    verdict = scenes.record(ledger, doc, app_namespace="team-a")
    scenario = scenario_for(scenes.live_truthcheck(verdict, doc), namespace="team-a")
    seen = show(scenario, ledger, tmp_path, "team-a")
    no_errors_and_only_proxy_calls(seen, app="team-a:shop-web")
    assert "Verdict Degraded" in seen["sections"]["app-tab"]
    assert "Healthy" not in seen["sections"]["app-tab"]  # argocd's shop-web stays its own
    assert "Revision 8f3c2a1" in seen["sections"]["flyout"]
    assert all("/applications/team-a/shop-web?" in link for link in seen["links"])


def stalling(after_headers: bool, release: threading.Event) -> WSGIApp:
    """truthgate behind the proxy taking 30 s: before it answers, or after the headers."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not after_headers:
            release.wait(30)
        start_response("200 OK", [("Content-Type", "application/json")])

        def body() -> Iterator[bytes]:
            yield b'{"items": ['
            release.wait(30)
            yield b"]}"

        return body()

    return app


@pytest.mark.parametrize("after_headers", [False, True], ids=["no-answer", "stalled-body"])
def test_a_read_api_that_hangs_shows_loading_then_says_so_within_ten_seconds(
    built: None, ledger: IntentStore, tmp_path: Path, after_headers: bool
) -> None:
    doc, verdict = degraded()
    release = threading.Event()
    started = time.monotonic()
    try:
        seen = show(
            scenario_for(scenes.live_truthcheck(verdict, doc)),
            ledger,
            tmp_path,
            "slow",
            upstream=stalling(after_headers, release),
        )
    finally:
        release.set()
    no_errors_and_only_proxy_calls(seen, allow_http_errors=True)
    assert "Loading truthgate's records" in seen["early"]["app-tab"]
    for section in ("app-tab", "flyout"):
        assert "did not answer (no answer within 10 s)" in seen["sections"][section]
    assert "Degraded" in seen["sections"]["status-panel"]
    assert seen["settledAfterMs"] < 12000 and time.monotonic() - started < 30


def refusing(status: str, body: bytes, mime: str) -> WSGIApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, [("Content-Type", mime)])
        return [body]

    return app


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("rbac", "Argo CD did not pass the request on (401: Unauthorized extension request)"),
        ("token", "truthgate refused the request Argo CD passed on (401: missing or wrong"),
        ("gateway", "truthgate's read API did not answer (502: Bad Gateway)"),
        ("crash", "truthgate's read API did not answer (500: INTERNAL SERVER ERROR)"),
        ("scope", "it answers only for the application Argo CD names in Argocd-Application-Name"),
        ("cut-json", "Something other than truthgate's read API answered"),
        ("other-json", "Something other than truthgate's read API answered"),
    ],
)
def test_a_refused_or_failing_read_api_says_who_refused(
    built: None, ledger: IntentStore, tmp_path: Path, case: str, says: str
) -> None:
    doc, verdict = degraded()
    scenario = scenario_for(scenes.live_truthcheck(verdict, doc))
    upstream = None
    if case == "rbac":
        scenario["rbac"] = "deny"
    elif case == "token":
        upstream = refusing(
            "401 UNAUTHORIZED",
            b'{"error": "missing or wrong Truthgate-Proxy-Token: call through Argo CD\'s proxy"}',
            "application/json",
        )
    elif case == "gateway":  # Argo CD's reverse proxy could not reach truthgate
        upstream = refusing("502 Bad Gateway", b"", "text/plain")
    elif case == "scope":
        upstream = refusing(
            "403 FORBIDDEN",
            b'{"error": "this request is authorised for application shop-web, not web"}',
            "application/json",
        )
    elif case == "cut-json":
        upstream = refusing("200 OK", b'{"items": [{"verdict": ', "application/json")
    elif case == "other-json":  # a route to some other service: JSON, not truthgate's
        upstream = refusing("200 OK", b'{"status": "ok", "items": 5}', "application/json")
    else:
        upstream = refusing("500 INTERNAL SERVER ERROR", b"<html>oops</html>", "text/html")
    seen = show(scenario, ledger, tmp_path, f"refused-{case}", upstream=upstream)
    no_errors_and_only_proxy_calls(seen, allow_http_errors=True)
    for section in ("app-tab", "flyout"):
        assert says in seen["sections"][section], seen["sections"][section]
    assert "oops" not in seen["sections"]["app-tab"]
    # The verdict Argo CD holds and the live TruthCheck need no call.
    assert "Degraded" in seen["sections"]["status-panel"]
    assert seen["counts"]["findings"] == len(verdict["findings"])


def several(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """shop-web with ``checks`` live, in this order in its resources, each with the Lua's health;
    the resource tab shows the last."""
    application = scenes.argocd_app(None)
    application["status"]["resources"] += [
        scenes.truthcheck_entry(tc["metadata"]["name"], scenes.lua_health(tc, NOW)) for tc in checks
    ]
    return {"application": application, "truthCheck": checks[-1], "tree": {"nodes": []}}


def test_of_several_truthchecks_each_shows_its_verdict_age_and_findings_worst_first(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    slo = scenes.with_truthcheck(scenes.evidence(healthy=False), "shop-web-slo")
    runtime = scenes.with_truthcheck(scenes.evidence(healthy=True), "shop-web-runtime")
    bad = scenes.record(ledger, slo)
    good = scenes.record(ledger, runtime)  # the app's latest verification is the healthy one
    checks = [scenes.live_truthcheck(good, runtime), scenes.live_truthcheck(bad, slo)]
    seen = show(several(checks), ledger, tmp_path, "several")
    no_errors_and_only_proxy_calls(seen)
    item = seen["sections"]["status-panel"]
    assert item.splitlines()[1] == "Degraded"
    assert item.splitlines()[2].startswith("1 of 2 TruthChecks Degraded · ")
    assert "2 TruthChecks: 1 Degraded, 1 Healthy" in seen["sections"]["flyout"]
    first, second = seen["flyoutChecks"]
    assert first["text"].startswith("TruthCheck shop/shop-web-slo: Degraded")
    assert bad["summary"][:40] in first["text"] and "verified 10m ago by sync" in first["text"]
    assert first["findings"] == len(bad["findings"]) > 0
    assert second["text"].startswith("TruthCheck shop/shop-web-runtime: Healthy")
    assert "No findings" in second["text"] and "verified 10m ago by sync" in second["text"]
    assert second["findings"] == 0
    asked = {
        r["url"].split("truthCheck=")[-1] for r in seen["requests"] if "truthCheck=" in r["url"]
    }
    assert asked == {"shop%2Fshop-web-slo", "shop%2Fshop-web-runtime"}
    # The timeline tells each TruthCheck's verdict; two of them never read as one flipping.
    app_tab = seen["sections"]["app-tab"]
    assert "Verdict Degraded (TruthCheck shop/shop-web-slo)" in app_tab
    assert "Verdict Healthy (TruthCheck shop/shop-web-runtime)" in app_tab
    assert "Verdict Degraded →" not in app_tab and "Verdict Healthy →" not in app_tab
    # Its charts are the Degraded TruthCheck's, though the healthy one verified last.
    assert "Behaviour around revision 8f3c2a1 (TruthCheck shop/shop-web-slo)" in app_tab
    assert seen["metricVerdicts"] == ["Regression", "Pass"]


def test_five_truthchecks_with_long_messages_fit_a_narrow_window_worst_first(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    checks = []
    for i, name in enumerate(("Healthy", "Progressing", "Degraded", "Healthy", "Degraded")):
        doc = scenes.with_truthcheck(scenes.evidence(healthy=False), f"shop-web-{i}")
        verdict = judge(doc)
        verdict["verdict"] = name  # type: ignore[typeddict-item]  # each kind of verdict
        verdict["summary"] = f"{name} {i}: " + "the error ratio of checkout rose " * 20 + "z" * 300
        verdict["findings"] = [] if name == "Healthy" else many_findings(3)  # every severity
        scenes.record(ledger, doc, verdict=verdict)
        checks.append(scenes.live_truthcheck(verdict, doc))
    seen = show(several(checks), ledger, tmp_path, "five-narrow", width=360)
    no_errors_and_only_proxy_calls(seen)
    assert seen["overflow"] == dict.fromkeys(seen["overflow"], 0), seen["overflow"]
    assert seen["pageOverflow"] <= 0
    item = seen["sections"]["status-panel"].splitlines()
    assert item[1] == "Degraded" and item[2].startswith("2 of 5 TruthChecks Degraded · ")
    order = [c["text"].splitlines()[0] for c in seen["flyoutChecks"]]
    assert order == [
        "TruthCheck shop/shop-web-2: Degraded",
        "TruthCheck shop/shop-web-4: Degraded",
        "TruthCheck shop/shop-web-1: Progressing",
        "TruthCheck shop/shop-web-0: Healthy",
        "TruthCheck shop/shop-web-3: Healthy",
    ]
    assert [c["findings"] for c in seen["flyoutChecks"]] == [3, 3, 3, 0, 0]
    assert all("verified 10m ago by sync" in c["text"] for c in seen["flyoutChecks"])
    # The worst one's behaviour is drawn; the others' on demand, so five TruthChecks do not
    # fetch five sets of charts.
    assert sum("/evidence" in r["url"] for r in seen["requests"]) == 2  # flyout and app tab
    assert (
        "Behaviour around revision 8f3c2a1 (TruthCheck shop/shop-web-"
        in seen["sections"]["app-tab"]
    )


def test_a_truthcheck_whose_application_is_deleted_still_shows_its_last_status(
    built: None, ledger: IntentStore, tmp_path: Path
) -> None:
    doc, verdict = degraded()
    tc = scenes.live_truthcheck(verdict, doc)
    scenario = scenario_for(tc, deletionTimestamp="2026-11-27T10:20:00Z")
    scenario["application"]["status"]["resources"] = []  # Argo CD no longer tracks anything
    scenario["appDeleted"] = True
    seen = show(scenario, ledger, tmp_path, "app-deleted")
    no_errors_and_only_proxy_calls(seen, allow_http_errors=True)
    tab = seen["sections"]["resource-tab"]
    assert tab.startswith("Degraded") and "verified 10m ago by sync" in tab
    assert "The application shop-web is being deleted" in tab
    assert seen["counts"]["findings"] == len(verdict["findings"])
    assert seen["counts"]["findingLinks"] == 0  # nothing left in the tree to link to
    assert "the application to still exist" in seen["sections"]["app-tab"]
