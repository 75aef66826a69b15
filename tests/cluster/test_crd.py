"""The TruthCheck CRD: a valid, structural CustomResourceDefinition that accepts what users
write, refuses what truthgate could not use, and describes the status truthgate writes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from webhooks.postsync.appinfo import SyncRef
from webhooks.postsync.publish import pending_status, verified_status, verifying_status

CRD_PATH = (
    Path(__file__).resolve().parents[2] / "charts/truthgate/crds/truthchecks.truthgate.dev.yaml"
)
CRD: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text(encoding="utf-8"))
VERSION = CRD["spec"]["versions"][0]
SCHEMA: dict[str, Any] = VERSION["schema"]["openAPIV3Schema"]

EXAMPLE = yaml.safe_load("""
apiVersion: truthgate.dev/v1alpha1
kind: TruthCheck
metadata: {name: shop-web, namespace: shop}
spec:
  application: shop-web
  applicationNamespace: argocd
  workloads: [{kind: Deployment, name: web}]
  observationWindow: 2m
  onDivergence: degrade
  probes: [{name: web-health, url: "http://web.shop.svc/healthz", expectStatus: 200,
            timeoutSeconds: 2}]
  verdict: {ignoreChecks: [], warnOnly: []}
  baseline:
    prometheus: {url: "http://prometheus.monitoring:9090",
                 bearerTokenSecretRef: {name: prom-token, key: token},
                 tls: {caSecretRef: {name: prom-ca, key: ca.crt}, insecureSkipVerify: false}}
    metrics:
      - {name: error-rate,
         query: "sum(rate(http_requests_total{job=\\"web\\",code=~\\"5..\\"}[1m]))",
         direction: increase-is-bad, kind: gauge, tolerance: {relative: 0.2, absolute: 0.001},
         critical: true}
    windows: {observe: 10m, baseline: 30m, history: [24h, 168h]}
    driftBudget: 30m
""")


def _jsonschema(node: Any) -> Any:
    """OpenAPI v3.0 (as CRDs speak it) to JSON Schema draft 4: ``nullable`` becomes a type."""
    if isinstance(node, dict):
        out = {k: _jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes")}
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_jsonschema(v) for v in node]
    return node


VALIDATOR = jsonschema.Draft4Validator(_jsonschema(SCHEMA))


def _untyped(node: Any, path: str = "") -> list[str]:
    """Paths of schema nodes without a type: a structural schema must have none."""
    if not isinstance(node, dict):
        return []
    bad = [path] if "type" not in node else []
    for name, child in (node.get("properties") or {}).items():
        bad += _untyped(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            bad += _untyped(node[key], f"{path}[]")
    return bad


def test_the_crd_is_a_valid_custom_resource_definition() -> None:
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(CRD, version, strict=True)
    assert CRD["metadata"]["name"] == "truthchecks.truthgate.dev"
    assert CRD["spec"]["scope"] == "Namespaced" and CRD["spec"]["names"]["shortNames"] == ["tc"]
    assert VERSION["name"] == "v1alpha1" and VERSION["subresources"] == {"status": {}}


def test_the_schema_is_structural() -> None:
    assert _untyped(SCHEMA) == []


def test_kubectl_get_shows_verdict_revision_and_age() -> None:
    columns = {c["name"]: c for c in VERSION["additionalPrinterColumns"] if not c.get("priority")}
    assert columns["Verdict"]["jsonPath"] == ".status.verdict"
    assert columns["Revision"]["jsonPath"] == ".status.revision"
    assert columns["Age"]["jsonPath"] == ".metadata.creationTimestamp"


def test_the_documented_example_is_accepted() -> None:
    VALIDATOR.validate(EXAMPLE)
    VALIDATOR.validate(
        {
            "apiVersion": "truthgate.dev/v1alpha1",
            "kind": "TruthCheck",
            "metadata": {"name": "minimal"},
            "spec": {},
        }
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("onDivergence",), "explode"),
        (("observationWindow",), "2 minutes"),
        (("observationWindow",), "m2"),
        (("probes", 0, "url"), "ftp://web/healthz"),
        (("probes", 0, "expectStatus"), 42),
        (("probes", 0, "timeoutSeconds"), 0),
        (("workloads", 0, "kind"), "Pod"),
        (("baseline", "driftBudget"), "half an hour"),
        (("baseline", "metrics", 0, "direction"), "up"),
        (("baseline", "prometheus", "url"), "http://user:pw@prometheus:9090"),
    ],
)
def test_values_truthgate_cannot_use_are_refused(path: tuple[Any, ...], value: Any) -> None:
    bad = copy.deepcopy(EXAMPLE)
    node = bad["spec"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert list(VALIDATOR.iter_errors(bad)), f"{path} = {value!r} was accepted"


def test_every_status_truthgate_writes_fits_the_schema() -> None:
    now = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)
    sync = SyncRef("abc123", "2026-11-27T10:00:00Z", None, "Running")
    tc = {"metadata": {"generation": 3}}
    verdict = {
        "apiVersion": "truthgate.dev/v1alpha1",
        "kind": "Verdict",
        "verdict": "Degraded",
        "revision": "abc123",
        "summary": "1 critical",
        "findings": [
            {
                "layer": "runtime",
                "check": "probes/failed",
                "resource": None,
                "message": "probe failed",
                "severity": "critical",
            },
            {
                "layer": "controller",
                "check": "convergence/deployment",
                "resource": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                "message": "2/5 ready",
                "severity": "warning",
            },
        ],
    }
    for status in (
        pending_status(tc, sync, now),
        verifying_status(tc, sync, now, now),
        verified_status(verdict, tc, sync, now),  # type: ignore[arg-type]
    ):
        VALIDATOR.validate({**EXAMPLE, "status": status})
