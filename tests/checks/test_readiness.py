"""Readiness: custom resources whose Ready condition says the dependency they provide is broken."""

from __future__ import annotations

from typing import Any

import pytest

from tests.checks.helpers import BEFORE, EARLY, LATE, SYNC, application, evidence, obj, run
from webhooks.checks import readiness
from webhooks.checks.context import CheckFinding
from webhooks.common.api import is_builtin_group
from webhooks.verdict.judge import judge

TRACKED = {"labels": {"app.kubernetes.io/instance": "shop-web"}}


def _cr(
    *conditions: dict[str, Any],
    kind: str = "ExternalSecret",
    api: str = "external-secrets.io/v1beta1",
    generation: int | None = 1,
    observed: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {**TRACKED, **(metadata or {})}
    if generation is not None:
        meta["generation"] = generation
    status: dict[str, Any] = {"conditions": list(conditions)}
    if observed is not None:
        status["observedGeneration"] = observed
    return obj(kind, "db-creds", api=api, metadata=meta, status=status)


def _ready(status: str, at: str = SYNC, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": "SecretSyncedError",
        "message": "could not get secret data from provider",
        "lastTransitionTime": at,
        **extra,
    }


def _judge(*objects: dict[str, Any], now: str = LATE) -> list[CheckFinding]:
    return run(readiness.check, evidence(list(objects), now=now))


def test_ready_false_long_after_the_sync_is_critical_and_says_why_and_for_how_long() -> None:
    [f] = _judge(_cr(_ready("False")))
    assert f["check"] == "readiness/custom-resource" and f["layer"] == "controller"
    assert f["severity"] == "critical"
    assert f["resource"] == {"kind": "ExternalSecret", "namespace": "shop", "name": "db-creds"}
    assert f["message"] == (
        "ExternalSecret shop/db-creds: Ready=False for 30m: SecretSyncedError: could not get "
        "secret data from provider (30m after sync)"
    )


def test_ready_false_within_grace_of_the_sync_is_converging() -> None:
    [f] = _judge(_cr(_ready("False", at=BEFORE)), now=EARLY)
    assert f["severity"] == "warning" and f.get("converging") is True
    assert "Ready=False for 1h1m" in f["message"]
    assert "(still converging, 1m after sync)" in f["message"]


def test_ready_false_that_began_a_minute_ago_is_converging_however_old_the_sync() -> None:
    [f] = _judge(_cr(_ready("False", at="2026-11-27T10:29:00Z")))
    assert f.get("converging") is True
    assert "(still converging, started 1m ago)" in f["message"]


@pytest.mark.parametrize("where", ["condition", "status"])
def test_ready_false_for_an_older_generation_is_only_a_warning(where: str) -> None:
    if where == "condition":
        cr = _cr(_ready("False", observedGeneration=3), generation=4)
    else:
        cr = _cr(_ready("False"), generation=4, observed=3)
    [f] = _judge(cr)
    assert f["severity"] == "warning" and not f.get("converging")
    assert "(reported for generation 3; generation 4 not observed yet)" in f["message"]


def test_the_condition_generation_decides_over_the_status_one() -> None:
    cr = _cr(_ready("False", observedGeneration=4), generation=4, observed=3)
    [f] = _judge(cr)
    assert f["severity"] == "critical" and "not observed yet" not in f["message"]


def test_an_object_the_app_does_not_own_is_only_a_warning() -> None:
    app_object = obj("ConfigMap", "web-config", metadata=TRACKED)
    foreign = _cr(_ready("False"), metadata={"labels": {"app.kubernetes.io/instance": "other"}})
    [f] = _judge(app_object, foreign)
    assert f["severity"] == "warning" and not f.get("converging")


@pytest.mark.parametrize(
    ("conditions", "now"),
    [
        ([_ready("True")], LATE),
        ([_ready("Unknown", at="2026-11-27T10:00:30Z")], EARLY),
        ([], LATE),
        ([{"type": "Synced", "status": "False", "lastTransitionTime": SYNC}], LATE),
    ],
    ids=["ready", "unknown-in-grace", "no-conditions", "no-ready-condition"],
)
def test_nothing_is_said_of_a_resource_that_is_ready_or_does_not_say(
    conditions: list[dict[str, Any]], now: str
) -> None:
    assert _judge(_cr(*conditions), now=now) == []


def test_ready_unknown_long_after_the_sync_is_a_warning() -> None:
    [f] = _judge(_cr(_ready("Unknown", reason="Pending", message="waiting for issuer")))
    assert f["severity"] == "warning" and not f.get("converging")
    assert f["message"].startswith("ExternalSecret shop/db-creds: Ready=Unknown for 30m: Pending")


@pytest.mark.parametrize("kstatus", ["Stalled", "Reconciling"])
def test_kstatus_conditions_are_left_to_convergence(kstatus: str) -> None:
    cr = _cr(_ready("False"), {"type": kstatus, "status": "True"})
    assert _judge(cr) == []


def test_built_in_kinds_with_a_ready_condition_are_judged_by_their_own_rules() -> None:
    pod = obj("Pod", "web-1", metadata=TRACKED, status={"conditions": [_ready("False")]})
    node = obj("Node", "n1", ns=None, status={"conditions": [_ready("False")]})
    gateway = _cr(_ready("False"), kind="Gateway", api="gateway.networking.k8s.io/v1")
    assert _judge(pod, node, gateway) == []


def test_a_resource_being_deleted_is_left_alone() -> None:
    cr = _cr(_ready("False"), metadata={"deletionTimestamp": "2026-11-27T10:20:00Z"})
    assert _judge(cr) == []


def test_without_a_transition_time_the_message_says_only_the_state() -> None:
    cond = _ready("False")
    del cond["lastTransitionTime"]
    [f] = _judge(_cr(cond))
    assert f["severity"] == "critical"
    assert f["message"].startswith("ExternalSecret shop/db-creds: Ready=False: SecretSyncedError")


def test_a_long_condition_message_is_clipped_to_one_line() -> None:
    [f] = _judge(_cr(_ready("False", message="line one\nline two " + "x" * 500)))
    assert "\n" not in f["message"] and len(f["message"]) < 400 and "…" in f["message"]


@pytest.mark.parametrize("setting", ["readiness", "readiness/custom-resource"])
def test_the_truthcheck_can_ignore_it(setting: str) -> None:
    doc = evidence([_cr(_ready("False"))])
    assert judge(doc)["verdict"] == "Degraded"
    doc["truthCheck"] = {"spec": {"verdict": {"ignoreChecks": [setting]}}}
    assert judge(doc)["verdict"] == "Healthy"


@pytest.mark.parametrize(
    ("group", "builtin"),
    [
        ("", True),
        ("apps", True),
        ("networking.k8s.io", True),
        ("cert-manager.io", False),
        ("cluster.x-k8s.io", False),
        ("kafka.strimzi.io", False),
    ],
)
def test_which_api_groups_are_kubernetes_own(group: str, builtin: bool) -> None:
    assert is_builtin_group(group) is builtin


# --- cluster-scoped resources, and what a resource waits on ---------------------------------

ISSUER_API = "cert-manager.io/v1"


def _issuer(name: str = "letsencrypt", *, ready: str = "False", **meta: Any) -> dict[str, Any]:
    cond = _ready(
        ready,
        reason="ErrRegisterACMEAccount",
        message="Failed to register ACME account: 400 urn:ietf:params:acme:error:invalidContact",
    )
    return obj(
        "ClusterIssuer",
        name,
        api=ISSUER_API,
        ns=None,
        metadata={"generation": 1, **meta},
        status={"conditions": [cond]},
    )


def _certificate(issuer_ref: dict[str, str]) -> dict[str, Any]:
    cond = _ready(
        "False", reason="DoesNotExist", message="Issuing certificate as Secret does not exist"
    )
    return obj(
        "Certificate",
        "web-tls",
        api=ISSUER_API,
        metadata={**TRACKED, "generation": 1},
        spec={"secretName": "web-tls", "issuerRef": issuer_ref},
        status={"conditions": [cond]},
    )


def _tracking(name: str, app: str = "shop-web") -> dict[str, Any]:
    # Argo CD writes a cluster-scoped object's tracking id with an empty namespace.
    value = f"{app}:cert-manager.io/ClusterIssuer:/{name}"
    return {"annotations": {"argocd.argoproj.io/tracking-id": value}}


def test_a_cluster_scoped_resource_of_the_app_is_judged_and_named_without_a_namespace() -> None:
    ours = _issuer(**_tracking("letsencrypt"))
    theirs = _issuer("letsencrypt-staging", **_tracking("letsencrypt-staging", app="platform"))
    findings = _judge(ours, theirs)
    by_name = {f["message"].split(":")[0].removeprefix("ClusterIssuer "): f for f in findings}
    assert by_name["letsencrypt"]["resource"] == {
        "kind": "ClusterIssuer",
        "namespace": None,
        "name": "letsencrypt",
    }
    assert by_name["letsencrypt"]["severity"] == "critical"
    assert by_name["letsencrypt"]["message"] == (
        "ClusterIssuer letsencrypt: Ready=False for 30m: ErrRegisterACMEAccount: Failed to "
        "register ACME account: 400 urn:ietf:params:acme:error:invalidContact (30m after sync)"
    )
    # Tracked by another application: a dependency, not the app's own.
    assert by_name["letsencrypt-staging"]["severity"] == "warning"
    assert "None/" not in " ".join(f["message"] for f in findings)


@pytest.mark.parametrize("namespace", [None, ""], ids=["omitted", "empty"])
def test_listed_without_a_namespace_in_status_resources_makes_it_the_apps(
    namespace: str | None,
) -> None:
    entry = {"group": "cert-manager.io", "version": "v1", "kind": "ClusterIssuer", "name": "le"}
    app = application()
    app["status"]["resources"] = [entry if namespace is None else {**entry, "namespace": ""}]
    tracked = obj("ConfigMap", "web-config", metadata=TRACKED)  # the app tracks something
    doc = evidence([tracked, _issuer("le")], app=app)
    [f] = run(readiness.check, doc)
    assert f["severity"] == "critical" and f["message"].startswith("ClusterIssuer le: ")


def test_a_certificate_waiting_on_a_broken_cluster_issuer_names_it_and_follows_it() -> None:
    cert = _certificate({"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "le"})
    issuer = _issuer("le", **_tracking("le"))
    first, second = _judge(cert, issuer)  # the Certificate comes first in the Evidence
    assert first["message"].startswith("ClusterIssuer le: ")  # the cause leads
    assert second["message"] == (
        "Certificate shop/web-tls: Ready=False for 30m: DoesNotExist: Issuing certificate as "
        "Secret does not exist; waits on ClusterIssuer le, Ready=False: ErrRegisterACMEAccount "
        "(30m after sync)"
    )


@pytest.mark.parametrize(
    ("issuer_ref", "issuer"),
    [
        ({"kind": "ClusterIssuer", "name": "le"}, _issuer("le", ready="True")),
        ({"kind": "ClusterIssuer", "name": "other"}, _issuer("le")),
        ({"name": "le"}, _issuer("le")),  # kind defaults to Issuer, in the Certificate's namespace
        ({"group": "awspca.cert-manager.io", "kind": "ClusterIssuer", "name": "le"}, _issuer("le")),
    ],
    ids=["issuer-ready", "another-issuer", "namespaced-issuer", "another-group"],
)
def test_a_certificate_names_its_issuer_only_when_that_one_is_not_ready(
    issuer_ref: dict[str, str], issuer: dict[str, Any]
) -> None:
    findings = _judge(_certificate(issuer_ref), issuer)
    [cert] = [f for f in findings if f["message"].startswith("Certificate ")]
    assert "waits on" not in cert["message"]


def test_a_not_ready_namespaced_issuer_is_found_beside_its_certificate() -> None:
    issuer = obj(
        "Issuer",
        "ca",
        api=ISSUER_API,
        metadata=TRACKED,
        status={"conditions": [_ready("Unknown", reason="Pending")]},
    )
    first, cert = _judge(_certificate({"name": "ca"}), issuer)
    assert first["resource"] == {"kind": "Issuer", "namespace": "shop", "name": "ca"}
    assert "; waits on Issuer shop/ca, Ready=Unknown: Pending" in cert["message"]


def _rollout(**metadata: Any) -> dict[str, Any]:
    aborted = "Rollout aborted update to revision 14: Metric success-rate assessed Failed"
    return obj(
        "Rollout",
        "checkout",
        api="argoproj.io/v1alpha1",
        metadata={**TRACKED, **metadata},
        status={
            "phase": "Degraded",
            "conditions": [
                {"type": "Available", "status": "True", "lastTransitionTime": BEFORE},
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "RolloutAborted",
                    "message": aborted,
                    "lastTransitionTime": EARLY,
                },
            ],
        },
    )


def _tree_health(status: str, message: str = "") -> dict[str, Any]:
    app = application()
    app["status"]["resources"] = [
        {
            "group": "argoproj.io",
            "kind": "Rollout",
            "namespace": "shop",
            "name": "checkout",
            "health": {"status": status, "message": message},
        }
    ]
    return app


def test_a_custom_resource_without_ready_is_judged_by_argo_cds_health_of_it() -> None:
    app = _tree_health("Degraded", "RolloutAborted: Rollout aborted update to revision 14")
    [f] = run(readiness.check, evidence([_rollout()], app=app))
    assert f["severity"] == "critical"
    assert f["message"] == (
        "Rollout shop/checkout: Argo CD reports health Degraded: RolloutAborted: Rollout aborted "
        f"update to revision 14 (its conditions last changed at {EARLY})"
    )


@pytest.mark.parametrize("health", ["Healthy", "Progressing", "Suspended"])
def test_argo_cds_other_health_words_for_a_custom_resource_say_nothing(health: str) -> None:
    assert run(readiness.check, evidence([_rollout()], app=_tree_health(health))) == []
