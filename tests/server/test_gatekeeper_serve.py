"""``truthgate serve --policies DIR`` with Gatekeeper templates and constraints, over TLS.

Denies, warns and dry-runs as Gatekeeper would (``[constraint] message``), and records the
violations in the ledger like truthgate's own decisions.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.cluster.fakeapi import serve_api
from tests.policy.gatekeeper.conftest import HERE, POLICIES, deployment, request
from tests.server.served import Served, serving, truthgate
from webhooks.cluster.resources import ResourceType

REFERENTIAL = HERE / "referential"


@pytest.fixture(scope="module")
def gatekeeper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    cwd = tmp_path_factory.mktemp("gatekeeper")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(cwd / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(cwd / "tls.crt"))
    cert.private_key_pem.write_to_path(str(cwd / "tls.key"))
    shutil.copytree(POLICIES, cwd / "gk")
    with serving(
        cwd,
        "--policies",
        "gk",
        "--ledger",
        "ledger.db",
        "--workers",
        "1",
        "--threads",
        "2",
        "--tls-cert",
        "tls.crt",
        "--tls-key",
        "tls.key",
        ca=cwd / "ca.pem",
    ) as served:
        yield served


def review(obj: dict[str, Any], uid: str) -> dict[str, Any]:
    req = request(obj)
    req["uid"] = uid
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


MANAGED = {"app.kubernetes.io/instance": "shop-web"}


def test_a_compliant_deployment_is_admitted_silently(gatekeeper_server: Served) -> None:
    answer = gatekeeper_server.review(review(deployment(), "00000000-0000-4000-8000-0000000000a1"))
    assert answer == {"uid": "00000000-0000-4000-8000-0000000000a1", "allowed": True}


def test_deny_warn_and_dryrun_constraints_answer_as_gatekeeper(gatekeeper_server: Served) -> None:
    uid = "00000000-0000-4000-8000-0000000000a2"
    bad = deployment(labels=dict(MANAGED), image="docker.io/web:1", memory=None)
    answer = gatekeeper_server.review(review(bad, uid))
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    assert answer["status"]["message"] == '[must-have-owner] you must provide labels: ["owner"]'
    assert len(answer["warnings"]) == 1
    assert answer["warnings"][0].startswith(
        "[repos-from-registry] container <web> has an invalid image repo <docker.io/web:1>"
    )
    assert "memory-limits" not in json.dumps(answer)  # dry-run: never shown

    out = truthgate("intents", "--ledger", "ledger.db", cwd=gatekeeper_server.cwd)
    assert out.returncode == 0, out.stderr
    recorded = {r["uid"]: r for r in map(json.loads, out.stdout.splitlines())}[uid]
    assert recorded["decision"]["denials"] == [answer["status"]["message"]]
    assert recorded["decision"]["warnings"] == answer["warnings"]
    assert recorded["decision"]["dryrun"] == ["[memory-limits] container <web> has no memory limit"]


def test_a_warn_only_violation_is_admitted_with_the_warning(gatekeeper_server: Served) -> None:
    uid = "00000000-0000-4000-8000-0000000000a3"
    answer = gatekeeper_server.review(review(deployment(image="quay.io/web:1"), uid))
    assert answer["allowed"] is True
    assert len(answer["warnings"]) == 1
    assert answer["warnings"][0].startswith("[repos-from-registry] container <web>")


def test_excluded_namespaces_are_not_judged(gatekeeper_server: Served) -> None:
    uid = "00000000-0000-4000-8000-0000000000a4"
    answer = gatekeeper_server.review(review(deployment(namespace="kube-system", labels={}), uid))
    assert answer == {"uid": uid, "allowed": True}


def test_referential_constraints_read_the_synced_inventory(tmp_path: Path) -> None:
    ingress = ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress")
    taken: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"rules": [{"host": "shop.example.com"}]},
    }
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "tls.pem")
    )
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    shutil.copytree(REFERENTIAL, tmp_path / "gk")
    with serve_api() as api:
        api.put(ingress, taken)
        (tmp_path / "kubeconfig").write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
                    "users": [{"name": "webhook", "user": {}}],
                    "contexts": [
                        {"name": "fake", "context": {"cluster": "fake", "user": "webhook"}}
                    ],
                    "current-context": "fake",
                }
            )
        )
        with serving(
            tmp_path,
            "--policies",
            "gk",
            "--ledger",
            "ledger.db",
            "--workers",
            "1",
            "--threads",
            "1",
            "--tls-cert",
            "tls.pem",
            "--tls-key",
            "tls.pem",
            ca=tmp_path / "ca.pem",
            env={"KUBECONFIG": str(tmp_path / "kubeconfig")},
        ) as served:
            other = {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "blog", "namespace": "blog"},
                "spec": {"rules": [{"host": "shop.example.com"}]},
            }
            deadline = time.monotonic() + 15  # the worker lists the inventory as it starts
            answer = served.review(review(other, "00000000-0000-4000-8000-0000000000b1"))
            while answer["allowed"] and time.monotonic() < deadline:
                time.sleep(0.2)
                answer = served.review(review(other, "00000000-0000-4000-8000-0000000000b1"))
    assert answer["allowed"] is False, served.stderr[-2000:]
    assert answer["status"]["message"] == (
        "[unique-ingress-host] ingress host conflicts with ingress shop/web: shop.example.com"
    )
