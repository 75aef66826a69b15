"""The webhook certificate Helm makes: a real chain the API server can verify, and kept across
upgrades so the caBundle never changes under a running cluster.

`helm install` has no cluster here, so `lookup` finds nothing; the decision the chart makes from
an existing Secret is a separate template (``truthgate.tls.fromExisting``), exercised below with
Secrets handed in directly — the same code `helm upgrade` runs on what `lookup` returns.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.deploy.conftest import CHART, Manifest, one, render

DNS = [
    "truthgate",
    "truthgate.truthgate",
    "truthgate.truthgate.svc",
    "truthgate.truthgate.svc.cluster.local",
]


def pem(b64: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(b64))


def signed_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert leaf.signature_hash_algorithm is not None
    try:
        key.verify(
            leaf.signature,
            leaf.tbs_certificate_bytes,
            padding.PKCS1v15(),
            leaf.signature_hash_algorithm,
        )
    except Exception:
        return False
    return leaf.issuer == ca.subject


def secret(docs: list[Manifest]) -> Manifest:
    return one(docs, "Secret", "truthgate-tls")


def test_the_serving_certificate_chains_to_the_ca_bundle() -> None:
    docs = render()
    data = secret(docs)["data"]
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert vwc["webhooks"][0]["clientConfig"]["caBundle"] == data["ca.crt"]
    ca, leaf = pem(data["ca.crt"]), pem(data["tls.crt"])
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert signed_by(leaf, ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == DNS


def test_validity_follows_values_and_is_recorded_for_renewal() -> None:
    docs = render({"tls": {"caValidityDays": 3650, "certValidityDays": 90}})
    s = secret(docs)
    ca, leaf = pem(s["data"]["ca.crt"]), pem(s["data"]["tls.crt"])
    now = datetime.now(UTC)
    assert abs(ca.not_valid_after_utc - (now + timedelta(days=3650))) < timedelta(hours=1)
    assert abs(leaf.not_valid_after_utc - (now + timedelta(days=90))) < timedelta(hours=1)
    recorded = datetime.fromisoformat(s["metadata"]["annotations"]["truthgate.dev/cert-not-after"])
    assert abs(recorded - leaf.not_valid_after_utc) < timedelta(minutes=5)


def test_pods_restart_exactly_when_the_serving_certificate_changes() -> None:
    docs = render()
    annotations = one(docs, "Deployment", "truthgate")["spec"]["template"]["metadata"][
        "annotations"
    ]
    expected = hashlib.sha256(secret(docs)["data"]["tls.crt"].encode()).hexdigest()
    assert annotations["checksum/tls"] == expected


# -- the upgrade decision, from the Secret an upgrade finds -----------------------------------

PROBE = """\
{{- $existing := .Values.existingSecretForTest }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: tls-decision
data:
  result: {{ include "truthgate.tls.fromExisting" (dict "root" . "existing" $existing) | quote }}
"""


@pytest.fixture(scope="module")
def probe_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart plus one template that prints the decision for a given existing Secret."""
    chart = tmp_path_factory.mktemp("chart") / "truthgate"
    shutil.copytree(CHART, chart)
    (chart / "values.schema.json").unlink()  # the probe's own value is not a chart value
    (chart / "templates" / "zz-tls-probe.yaml").write_text(PROBE)
    return chart


def decide(chart: Path, existing: dict[str, Any]) -> dict[str, Any]:
    docs = render({"existingSecretForTest": existing}, chart=chart)
    result: dict[str, Any] = json.loads(one(docs, "ConfigMap", "tls-decision")["data"]["result"])
    return result


def first_install() -> dict[str, Any]:
    s = secret(render())
    return {"data": s["data"], "metadata": {"annotations": s["metadata"]["annotations"]}}


def with_expiry(existing: dict[str, Any], when: datetime) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(existing))
    out["metadata"]["annotations"]["truthgate.dev/cert-not-after"] = when.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return out


def test_an_upgrade_keeps_everything_while_the_certificate_is_fresh(probe_chart: Path) -> None:
    existing = first_install()
    result = decide(probe_chart, existing)
    assert result["issued"] is False
    for key in ("ca.crt", "ca.key", "tls.crt", "tls.key"):
        assert result[key] == existing["data"][key]
    assert result["notAfter"] == existing["metadata"]["annotations"]["truthgate.dev/cert-not-after"]


def test_an_upgrade_near_expiry_reissues_from_the_same_ca(probe_chart: Path) -> None:
    existing = with_expiry(first_install(), datetime.now(UTC) + timedelta(days=20))
    result = decide(probe_chart, existing)  # renewBeforeDays defaults to 60
    assert result["issued"] is True
    assert result["ca.crt"] == existing["data"]["ca.crt"]  # the caBundle does not move
    assert result["ca.key"] == existing["data"]["ca.key"]
    assert result["tls.crt"] != existing["data"]["tls.crt"]
    assert signed_by(pem(result["tls.crt"]), pem(existing["data"]["ca.crt"]))
    renewed_until = datetime.fromisoformat(result["notAfter"])
    assert renewed_until > datetime.now(UTC) + timedelta(days=300)


def test_an_expired_certificate_is_reissued_from_the_same_ca(probe_chart: Path) -> None:
    existing = with_expiry(first_install(), datetime.now(UTC) - timedelta(days=3))
    result = decide(probe_chart, existing)
    assert result["issued"] is True and result["ca.crt"] == existing["data"]["ca.crt"]


def test_a_secret_without_the_expiry_annotation_gets_a_fresh_leaf_same_ca(
    probe_chart: Path,
) -> None:
    existing = first_install()
    existing["metadata"] = {}
    result = decide(probe_chart, existing)
    assert result["issued"] is True and result["ca.crt"] == existing["data"]["ca.crt"]


@pytest.mark.parametrize(
    "existing",
    [{}, {"data": {"tls.crt": "eA==", "tls.key": "eA=="}}],
    ids=["no-secret", "secret-without-ca-key"],
)
def test_without_a_usable_ca_a_new_one_is_made(probe_chart: Path, existing: dict[str, Any]) -> None:
    result = decide(probe_chart, existing)
    assert result["issued"] is True
    assert signed_by(pem(result["tls.crt"]), pem(result["ca.crt"]))
