"""Everything under argocd/ an Argo CD admin applies, built by kustomize as `kubectl apply -k`
would: the argocd-cm addition carries the one health.lua byte for byte, built-in kinds are valid
Kubernetes, TruthChecks are valid against the CRD, and the hooks fit the chart's RBAC."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import (
    ARGOCD,
    CHART,
    CRD,
    HEALTH_LUA,
    ROOT,
    Manifest,
    kustomize,
    one,
    recognised_as_truthgates_own,
    validate_builtin,
)

EXAMPLE = ARGOCD / "examples" / "shop-web"
BUILDS = [
    EXAMPLE / "base",
    EXAMPLE / "overlays" / "kind",
    EXAMPLE / "overlays" / "kind-config-changed",
]
HEALTH_KEY = "resource.customizations.health.truthgate.dev_TruthCheck"
CHART_VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


def crd_schema(strict: bool) -> dict[str, Any]:
    """The TruthCheck CRD's openAPIV3Schema as JSON Schema draft-07. strict: unknown fields are
    errors (what `kubectl apply` reports under server-side field validation) instead of being
    pruned silently."""
    crd = yaml.safe_load(CRD.read_text())
    (version,) = crd["spec"]["versions"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        if out.get("exclusiveMinimum") is True:  # OpenAPI 3.0's boolean form
            out["exclusiveMinimum"] = out.pop("minimum")
        if out.get("exclusiveMaximum") is True:
            out["exclusiveMaximum"] = out.pop("maximum")
        out.pop("format", None) if out.get("format") == "int64" else None
        if (
            strict
            and out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and out is not None
        ):
            out["additionalProperties"] = False
        return out

    converted: dict[str, Any] = convert(schema)
    if strict:  # metadata is the API server's, not the CRD's
        converted["properties"]["metadata"] = {"type": "object"}
    return converted


def validate_truthcheck(doc: Manifest) -> None:
    assert doc["apiVersion"] == "truthgate.dev/v1alpha1"
    jsonschema.Draft7Validator(crd_schema(strict=True)).validate(doc)


def validate(doc: Manifest) -> None:
    if doc["kind"] == "TruthCheck":
        validate_truthcheck(doc)
    else:
        validate_builtin(doc)


# -- argocd-cm ---------------------------------------------------------------------------------


def test_argocd_cm_embeds_the_health_check_file_byte_for_byte() -> None:
    (cm,) = kustomize(ARGOCD)
    assert (cm["kind"], cm["metadata"]["name"], cm["metadata"]["namespace"]) == (
        "ConfigMap",
        "argocd-cm",
        "argocd",
    )
    assert list(cm["data"]) == [HEALTH_KEY]
    assert cm["data"][HEALTH_KEY].encode("utf-8") == HEALTH_LUA.read_bytes()
    # The labels Argo CD's install gives argocd-cm survive a client-side apply of this one.
    assert cm["metadata"]["labels"] == {
        "app.kubernetes.io/name": "argocd-cm",
        "app.kubernetes.io/part-of": "argocd",
    }
    validate_builtin(cm)


def test_the_health_check_is_referenced_never_copied() -> None:
    copies = [
        p
        for p in ARGOCD.rglob("*")
        if p.is_file()
        and p != HEALTH_LUA
        and p.suffix in {".lua", ".yaml"}
        and "health" not in p.relative_to(ARGOCD).parts
        and "hs.status" in p.read_text()
    ]
    assert copies == []


# -- the CRD -----------------------------------------------------------------------------------


def test_the_crd_is_a_valid_kubernetes_object() -> None:
    validate_builtin(yaml.safe_load(CRD.read_text()))


def test_the_crd_schema_converts_to_a_valid_json_schema() -> None:
    jsonschema.Draft7Validator.check_schema(crd_schema(strict=True))


def test_a_truthcheck_with_a_typo_is_rejected() -> None:
    tc = one(kustomize(EXAMPLE / "base"), "TruthCheck")
    tc["spec"]["observationWindw"] = "2m"
    with pytest.raises(jsonschema.ValidationError, match="observationWindw"):
        validate_truthcheck(tc)
    tc = one(kustomize(EXAMPLE / "base"), "TruthCheck")
    tc["spec"]["onDivergence"] = "panic"
    with pytest.raises(jsonschema.ValidationError, match="panic"):
        validate_truthcheck(tc)


# -- the example application -------------------------------------------------------------------


@pytest.mark.parametrize("path", BUILDS, ids=lambda p: str(p.relative_to(EXAMPLE)))
def test_every_example_build_is_valid(path: Path) -> None:
    docs = kustomize(path)
    assert {d["kind"] for d in docs} >= {
        "ConfigMap",
        "Deployment",
        "Service",
        "TruthCheck",
        "Job",
        "ServiceAccount",
        "RoleBinding",
    }
    for doc in docs:
        validate(doc)


def test_the_example_truthcheck_has_probes_and_a_baseline() -> None:
    tc = one(kustomize(EXAMPLE / "base"), "TruthCheck")
    assert tc["spec"]["probes"]
    assert tc["spec"]["baseline"]["metrics"]
    assert tc["spec"]["baseline"]["prometheus"]["url"].startswith("http")


def test_the_application_points_at_the_example_and_its_truthcheck_names_it() -> None:
    app = yaml.safe_load((EXAMPLE / "application.yaml").read_text())
    # Argo CD's Application CRD is not vendored here: its required fields, by hand.
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    spec = app["spec"]
    assert spec["project"] and spec["source"]["repoURL"] and spec["source"]["targetRevision"]
    assert (ROOT / spec["source"]["path"]).is_dir()
    base = yaml.safe_load((ROOT / spec["source"]["path"] / "kustomization.yaml").read_text())
    assert spec["destination"]["namespace"] == base["namespace"]
    tc = one(kustomize(ROOT / spec["source"]["path"]), "TruthCheck")
    assert tc["spec"]["application"] == app["metadata"]["name"]
    assert app["metadata"]["namespace"] == CHART_VALUES["verifier"]["argocdNamespace"]


def test_the_kind_overlays_differ_only_where_the_e2e_needs_them() -> None:
    healthy = {(d["kind"], d["metadata"]["name"]): d for d in kustomize(BUILDS[1])}
    broken = {(d["kind"], d["metadata"]["name"]): d for d in kustomize(BUILDS[2])}
    assert healthy.keys() == broken.keys()
    changed = sorted(k for k in healthy if healthy[k] != broken[k])
    # The config changes and the pod template does not: the propagation failure under test.
    assert changed == [("ConfigMap", "web-config")]
    assert "baseline" not in healthy[("TruthCheck", "shop-web")]["spec"]
    deploy = healthy[("Deployment", "web")]["spec"]["template"]["spec"]["containers"][0]
    assert deploy["envFrom"] == [{"configMapRef": {"name": "web-config"}}]


# -- the hooks ---------------------------------------------------------------------------------


def hooks() -> list[Manifest]:
    return [
        d
        for d in kustomize(EXAMPLE / "base")
        if d["kind"] in {"Job", "ServiceAccount", "RoleBinding"}
    ]


def test_hooks_are_presync_mark_and_postsync_verify() -> None:
    docs = hooks()
    pre, post = one(docs, "Job", "truthgate-mark-pending"), one(docs, "Job", "truthgate-verify")
    for job, phase in ((pre, "PreSync"), (post, "PostSync")):
        assert recognised_as_truthgates_own(job)
        assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == phase
        assert (
            job["metadata"]["annotations"]["argocd.argoproj.io/hook-delete-policy"]
            == "BeforeHookCreation"
        )
        assert 1 <= job["spec"]["backoffLimit"] <= 3
        # Exit 1 (a Degraded verdict the user asked to fail on) is final, never re-run.
        assert job["spec"]["podFailurePolicy"]["rules"][0] == {
            "action": "FailJob",
            "onExitCodes": {"containerName": "verify", "operator": "In", "values": [1]},
        }
        assert 0 < job["spec"]["activeDeadlineSeconds"] <= 900
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:2] == ["verify", "--in-cluster"]
    assert pre["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--phase=pre-sync"


def test_hook_pods_run_locked_down() -> None:
    for job in [d for d in hooks() if d["kind"] == "Job"]:
        spec = job["spec"]["template"]["spec"]
        assert spec["restartPolicy"] == "Never"
        assert spec["securityContext"]["runAsNonRoot"] is True
        sc = spec["containers"][0]["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        env = {e["name"]: e for e in spec["containers"][0]["env"]}
        assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        ledger = env.get("TRUTHGATE_LEDGER")
        if ledger is not None:  # a DSN only ever by reference, and optional
            assert ledger["valueFrom"]["secretKeyRef"]["optional"] is True


def test_hook_identity_matches_the_charts_rbac_and_exists_before_the_presync_job() -> None:
    docs = hooks()
    sa = one(docs, "ServiceAccount")
    binding = one(docs, "RoleBinding")
    verifier = CHART_VALUES["verifier"]
    assert sa["metadata"]["name"] == verifier["serviceAccountName"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": verifier["clusterRoleName"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "shop"}
    ]
    for job in [d for d in docs if d["kind"] == "Job"]:
        assert job["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    for obj in (sa, binding):
        annotations = obj["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/hook"] == "PreSync"
        assert int(annotations["argocd.argoproj.io/sync-wave"]) < 0
        # Shared by every app in the namespace that uses the component: created once, never
        # deleted by one app's sync while another app's hook runs under it.
        assert "argocd.argoproj.io/hook-delete-policy" not in annotations


def test_the_kind_overlay_runs_the_image_the_e2e_script_loads() -> None:
    e2e = (ROOT / "tools" / "e2e-kind").read_text()
    for job in [d for d in kustomize(BUILDS[1]) if d["kind"] == "Job"]:
        image = job["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == "truthgate:e2e"
        assert image in e2e


# -- the health check's fixtures are TruthChecks too ------------------------------------------


def without_nulls(node: Any) -> Any:
    """What the API server stores: null values of non-nullable fields are dropped."""
    if isinstance(node, dict):
        return {k: without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [without_nulls(v) for v in node]
    return node


FIXTURES = sorted((HEALTH_LUA.parent / "testdata").glob("*.yaml"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_health_check_fixtures_are_truthchecks_the_api_server_would_store(path: Path) -> None:
    doc = without_nulls(yaml.safe_load(path.read_text()))
    errors = list(jsonschema.Draft7Validator(crd_schema(strict=True)).iter_errors(doc))
    # The one allowed exception: a verdict outside the enum, a robustness case for values a
    # newer verifier might write (the health check must not break on them).
    assert all(list(e.absolute_path) == ["status", "verdict"] for e in errors), [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    ]
