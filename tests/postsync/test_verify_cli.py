"""`truthgate verify` end to end: the real command against a Kubernetes API over HTTP.

The command reads the Application and the app's objects through the official client, probes a
service on 127.0.0.1, judges, writes the TruthCheck's status and exits per spec.onDivergence.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kmock
import pytest

from tests.cluster.fakeapi import ApiServer
from tests.postsync.world import (
    CERTIFICATE,
    CLUSTERISSUER,
    ES_ENTRY,
    EXTERNALSECRET,
    ISSUER_ENTRY,
    REVISION,
    SECRET_VALUE,
    letsencrypt,
    own,
    seed,
    serve_custom,
    stripe_api,
)
from webhooks.cluster.resources import APPLICATION, TRUTHCHECK

Web = tuple[str, dict[str, int]]
Verify = Callable[..., subprocess.CompletedProcess[str]]
#: The application of tests/postsync/world.py and the namespace of its TruthCheck.
SHOP = ("--app", "shop-web", "-n", "shop")


def truthgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBERNETES_SERVICE_HOST", "POD_NAME", "POD_NAMESPACE", "TRUTHGATE_APP")
    }
    return subprocess.run(
        [sys.executable, "-m", "webhooks", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env=base | (env or {}),
    )


@pytest.fixture
def verify(api: ApiServer) -> Verify:
    """``truthgate verify`` against the test API, judging at once (no observation window)."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return truthgate("verify", "--server", api.url, "--no-wait", *args, env=env)

    return run


def status(api: ApiServer) -> dict[str, Any]:
    tc = api.get(TRUTHCHECK, "shop", "shop-web")
    assert tc is not None
    result: dict[str, Any] = tc.get("status") or {}
    return result


def test_degrade_action_turns_the_truthcheck_degraded_and_exits_zero(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz", "web-broken": f"{url}/broken"})
    out = verify(*SHOP)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Degraded:")
    st = status(api)
    assert st["verdict"] == "Degraded" and st["phase"] == "Verified"
    assert st["revision"] == REVISION and st["observedGeneration"] == 1
    failed = [f for f in st["findings"] if f["check"] == "probes/failed"]
    assert len(failed) == 1 and "web-broken" in failed[0]["message"]
    assert "HTTP 500" in failed[0]["message"]
    assert st["conditions"][0]["type"] == "Verified" and st["conditions"][0]["status"] == "False"


def test_fail_sync_action_exits_non_zero_on_degraded(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"}, on_divergence="fail-sync")
    out = verify(*SHOP)
    assert out.returncode == 1
    assert "failing the hook" in out.stderr
    assert status(api)["verdict"] == "Degraded"


def test_a_teams_own_verdict_policy_decides(
    api: ApiServer, verify: Verify, web: Web, tmp_path: Path
) -> None:
    # This team treats a failing probe as a warning only: their policy, not Python, says so.
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    (tmp_path / "verdict.rego").write_text(
        "package truthgate.verdict\n\nimport rego.v1\n\n"
        'default verdict := "Healthy"\n\n'
        'verdict := "Degraded" if { some f in input.findings; f.severity == "critical"; '
        'not startswith(f.check, "probes/") }\n\n'
        "reasons := [f.message | some f in input.findings]\n"
    )
    out = verify(
        *SHOP,
        "--verdict-policy",
        str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    assert status(api)["verdict"] == "Healthy"
    broken = verify(
        *SHOP,
        "--verdict-policy",
        str(tmp_path / "absent"),
    )
    # A broken policy is truthgate's problem, not the deploy's: the hook steps aside...
    assert broken.returncode == 0
    assert broken.stdout.startswith("truthgate: not verified (post-sync), the sync goes on:")
    assert "does not exist" in broken.stdout
    # ...and --strict, for people and CI, makes it an error.
    strict = verify(
        "--app",
        "shop-web",
        "--strict",
        "--verdict-policy",
        str(tmp_path / "absent"),
    )
    assert strict.returncode == 2
    assert "does not exist" in strict.stderr


def test_hook_finds_its_app_from_its_own_job_and_keeps_secrets_out(
    api: ApiServer, verify: Verify, web: Web, tmp_path: Path
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"}, on_divergence="both", phase="Succeeded")
    saved = tmp_path / "evidence.json"
    out = verify(
        "--save-evidence",
        str(saved),
        env={"POD_NAME": "shop-web-verify-x7k", "POD_NAMESPACE": "shop"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Healthy:")
    assert status(api)["verdict"] == "Healthy"

    text = saved.read_text()
    evidence = json.loads(text)
    assert evidence["application"]["metadata"]["name"] == "shop-web"
    kinds = {(o["kind"], o["metadata"]["name"]) for o in evidence["objects"]}
    assert ("Deployment", "web") in kinds and ("Pod", "web-7d9f-1") in kinds
    # The hook judging itself would never be complete: it is left out, Pod included.
    assert not {n for _, n in kinds if n.startswith("shop-web-verify")}
    assert ("Secret", "db") in kinds and ("Secret", "unrelated") not in kinds
    assert SECRET_VALUE not in text and "c3RoZXI=" not in text
    assert [p["name"] for p in evidence["probes"]] == ["web-health"]
    assert evidence["probes"][0]["ok"] is True and evidence["probes"][0]["status"] == 200


def test_saved_evidence_replays_to_the_published_verdict(
    api: ApiServer, verify: Verify, web: Web, tmp_path: Path
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    saved = tmp_path / "evidence.json"
    out = verify(
        *SHOP,
        "--save-evidence",
        str(saved),
    )
    assert out.returncode == 0, out.stderr
    replayed = truthgate("replay", str(saved))
    assert replayed.returncode == 0, replayed.stderr
    verdict = json.loads(replayed.stdout)
    st = status(api)
    assert verdict["verdict"] == st["verdict"] == "Degraded"
    assert verdict["summary"] == st["summary"]
    assert verdict["findings"] == st["findings"]


def test_missing_truthcheck_is_a_clear_message_and_no_failure(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    out = verify("--app", "shop-web", "-n", "other")
    assert out.returncode == 0
    assert "no TruthCheck in namespace other for application shop-web" in out.stdout


def test_unknown_application_is_a_clear_message_and_no_failure(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    api.delete(APPLICATION, "argocd", "shop-web")
    out = verify(*SHOP, "--truthcheck", "shop-web")
    assert out.returncode == 0
    assert "Application argocd/shop-web not found" in out.stdout
    # Said on the TruthCheck too, in a way that hides none of the application's health.
    assert status(api)["verdict"] == "Unknown"
    assert "Application argocd/shop-web not found" in status(api)["summary"]


def test_app_named_as_the_argocd_cli_names_it(api: ApiServer, verify: Verify, web: Web) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    out = verify("--app", "argocd/shop-web", "-n", "shop")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Healthy"), out.stdout
    assert status(api)["verdict"] == "Healthy"


def test_app_namespace_that_contradicts_the_app_steps_aside_unless_strict(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    args = ("--app", "argocd/shop-web", "--app-namespace", "team-a", "-n", "shop")
    out = verify(*args)
    assert out.returncode == 0
    assert "not verified" in out.stdout and "not team-a as --app-namespace says" in out.stdout
    assert "verdict" not in status(api)  # nothing judged, nothing written
    strict = verify(*args, "--strict")
    assert strict.returncode == 2 and "--app" in strict.stderr


def test_missing_rbac_names_the_verb_and_resource(api: ApiServer, verify: Verify, web: Web) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    (
        api.emulator[kmock.resource("truthgate.dev", "v1alpha1", "truthchecks")]
        << 403
        << {
            "kind": "Status",
            "code": 403,
            "reason": "Forbidden",
            "message": 'truthchecks.truthgate.dev is forbidden: User "system:serviceaccount:shop:'
            'verifier" cannot list resource "truthchecks"',
        }
    )
    out = verify(*SHOP)
    assert out.returncode == 0
    assert "cannot list truthchecks.truthgate.dev in namespace 'shop'" in out.stdout
    assert "grant the ServiceAccount verb 'list'" in out.stdout


def test_ledger_supplies_this_syncs_intents_and_records_the_verification(
    api: ApiServer, verify: Verify, web: Web, tmp_path: Path
) -> None:
    from tests.ledger.ledger_support import draft
    from webhooks.ledger import open_store

    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    ledger = str(tmp_path / "ledger.db")
    store = open_store(ledger)
    store.append(draft("before", at="2026-11-27T09:50:00Z"))  # an earlier sync
    store.append(draft("during", at="2026-11-27T10:00:05Z", image="web:1.5.0"))
    store.append(draft("elsewhere", app="billing", at="2026-11-27T10:00:06Z"))
    store.close()
    saved = tmp_path / "evidence.json"
    out = verify(
        *SHOP,
        "--ledger",
        ledger,
        "--save-evidence",
        str(saved),
    )
    assert out.returncode == 0, out.stderr
    assert [i["uid"] for i in json.loads(saved.read_text())["intents"]] == ["during"]
    store = open_store(ledger, create=False)
    try:
        [record] = list(store.verifications(app="shop-web"))
    finally:
        store.close()
    assert record["verdict"] == "Degraded" and record["revision"] == REVISION
    assert record["syncStartedAt"] == "2026-11-27T10:00:00Z"
    assert record["truthCheck"] == {"namespace": "shop", "name": "shop-web"}


def test_a_custom_resource_of_the_app_not_ready_degrades_it(
    api: ApiServer, verify: Verify, web: Web, tmp_path: Path
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    serve_custom(api, EXTERNALSECRET)
    stripe_api(api, datetime.now(UTC) - timedelta(minutes=30))
    own(api, ES_ENTRY, {**ES_ENTRY, "name": "gone"})  # one Argo CD lists but no longer exists
    saved = tmp_path / "evidence.json"
    out = verify(*SHOP, "--save-evidence", str(saved))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Degraded:"), out.stdout
    st = status(api)
    assert st["verdict"] == "Degraded"
    [found] = [f for f in st["findings"] if f["check"] == "readiness/custom-resource"]
    assert found["severity"] == "critical"
    assert "ExternalSecret shop/stripe-api: Ready=False for 30m" in found["message"]
    assert "not looked at" not in st["summary"]
    kinds = [(o["kind"], o["metadata"]["name"]) for o in json.loads(saved.read_text())["objects"]]
    assert kinds.count(("ExternalSecret", "stripe-api")) == 1
    # Once it syncs again, the app is Healthy: the finding came from the live object.
    stripe_api(api, datetime.now(UTC), ready="True")
    assert verify(*SHOP).stdout.startswith("Healthy:")


def test_a_custom_type_the_verifier_may_not_read_is_a_gap_not_a_failure(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-broken": f"{url}/broken"})
    serve_custom(api, EXTERNALSECRET, CERTIFICATE)
    stripe_api(api, datetime.now(UTC), ready="True")
    api.put(CERTIFICATE, {"metadata": {"name": "web-tls", "namespace": "shop"}})
    cert = {"group": "cert-manager.io", "version": "v1", "kind": "Certificate", "name": "web-tls"}
    own(api, ES_ENTRY, cert, {**cert, "name": "api-tls"})
    (
        api.emulator[kmock.resource("cert-manager.io", "v1", "certificates")]
        << 403
        << {
            "kind": "Status",
            "code": 403,
            "reason": "Forbidden",
            "message": 'certificates.cert-manager.io "web-tls" is forbidden',
        }
    )
    out = verify(*SHOP)
    assert out.returncode == 0, out.stderr
    st = status(api)
    # Judged from the rest (the failing probe), the unread type said once.
    assert st["verdict"] == "Degraded"
    assert [f["check"] for f in st["findings"] if f["severity"] == "critical"] == ["probes/failed"]
    assert st["summary"].endswith(
        "(not looked at: certificates.cert-manager.io in shop (forbidden))"
    )


def test_failing_discovery_or_an_unknown_group_changes_nothing_else(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    serve_custom(api, EXTERNALSECRET)
    stripe_api(
        api, datetime.now(UTC) - timedelta(minutes=30)
    )  # not ready, but its type cannot be discovered: not judged
    unknown = {"group": "gone.example.com", "version": "v1", "kind": "Widget", "name": "w"}
    own(api, ES_ENTRY, unknown)
    api.emulator[re.compile(r"^/apis/external-secrets\.io/v1beta1/?$")] << 503
    out = verify(*SHOP)
    assert out.returncode == 0, out.stderr
    st = status(api)
    assert st["verdict"] == "Healthy", st
    assert not [f for f in st["findings"] if f["check"] == "readiness/custom-resource"]
    assert st["summary"].endswith(
        "(not looked at: custom resources of external-secrets.io/v1beta1 (API discovery failed))"
    )


def test_a_cluster_scoped_custom_resource_of_the_app_is_read_and_judged(
    api: ApiServer, verify: Verify, web: Web, tmp_path: Path
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    serve_custom(api, CLUSTERISSUER, namespaced=False)
    letsencrypt(api, datetime.now(UTC) - timedelta(minutes=30))
    own(api, ISSUER_ENTRY, {**ISSUER_ENTRY, "name": "retired"})  # listed, no longer exists
    saved = tmp_path / "evidence.json"
    out = verify(*SHOP, "--save-evidence", str(saved))
    assert out.returncode == 0, out.stderr
    st = status(api)
    assert st["verdict"] == "Degraded", st
    [found] = [f for f in st["findings"] if f["check"] == "readiness/custom-resource"]
    assert found["severity"] == "critical"
    assert found["resource"] == {"kind": "ClusterIssuer", "namespace": None, "name": "letsencrypt"}
    assert found["message"].startswith("ClusterIssuer letsencrypt: Ready=False for 30m")
    assert "ErrRegisterACMEAccount: Failed to register ACME account" in found["message"]
    assert "not looked at" not in st["summary"]
    objects = json.loads(saved.read_text())["objects"]
    [issuer] = [o for o in objects if o["kind"] == "ClusterIssuer"]
    assert "namespace" not in issuer["metadata"]
    letsencrypt(api, datetime.now(UTC), ready="True")
    assert verify(*SHOP).stdout.startswith("Healthy:")


def test_a_cluster_scoped_type_the_verifier_may_not_read_is_a_gap_not_a_failure(
    api: ApiServer, verify: Verify, web: Web
) -> None:
    url, _ = web
    seed(api, {"web-health": f"{url}/healthz"})
    serve_custom(api, CLUSTERISSUER, namespaced=False)
    letsencrypt(api, datetime.now(UTC) - timedelta(minutes=30))
    own(api, ISSUER_ENTRY, {**ISSUER_ENTRY, "name": "letsencrypt-staging"})
    (
        api.emulator[kmock.resource("cert-manager.io", "v1", "clusterissuers")]
        << 403
        << {
            "kind": "Status",
            "code": 403,
            "reason": "Forbidden",
            "message": 'clusterissuers.cert-manager.io "letsencrypt" is forbidden: cannot get '
            "resource at the cluster scope",
        }
    )
    out = verify(*SHOP)
    assert out.returncode == 0, out.stderr
    st = status(api)
    assert st["verdict"] == "Healthy", st
    # Said once for the type, without a namespace (it has none).
    assert st["summary"].endswith("(not looked at: clusterissuers.cert-manager.io (forbidden))")
