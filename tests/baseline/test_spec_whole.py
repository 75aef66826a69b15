"""The whole TruthCheck spec is checked against the CRD, every field named by its path.

A TruthCheck read from a cluster whose CRD is older, or from a file, may not have been
validated by an API server; ``check_spec`` (run by every verification before it reads the
cluster) refuses what the CRD refuses, and a typo in a field name instead of dropping it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from webhooks.baseline.spec import check_spec
from webhooks.errors import BadRequestError

ROOT = Path(__file__).resolve().parents[2]
PROBE = {"name": "home", "url": "http://web.shop/"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"probe": [PROBE]}, "spec.probe: unknown field; expected one of application, "),
        (
            {"workloads": [{"kind": "Pod", "name": "web"}]},
            "spec.workloads[0].kind: must be one of Deployment, StatefulSet",
        ),
        ({"workloads": [{"kind": "Deployment"}]}, "spec.workloads[0].name: required"),
        ({"onDivergence": "explode"}, "spec.onDivergence: must be one of degrade, fail-sync, both"),
        ({"observationWindow": "soon"}, "spec.observationWindow: 'soon' is not a duration"),
        ({"audit": {"interval": "often"}}, "spec.audit.interval: 'often' is not a duration"),
        ({"audit": {"enabled": "yes"}}, "spec.audit.enabled: must be true or false"),
        ({"verdict": {"restartThreshold": 0}}, "spec.verdict.restartThreshold: must be 1 or more"),
        ({"verdict": {"ignoreChecks": "stability"}}, "spec.verdict.ignoreChecks: must be a list"),
        ({"probes": [{**PROBE, "url": "ftp://h/"}]}, "spec.probes[0].url: must be an http://"),
        ({"probes": [{**PROBE, "timeoutSeconds": 0}]}, "timeoutSeconds: must be more than zero"),
        ({"probes": [{**PROBE, "expectStatus": 42}]}, "expectStatus: must be 100 or more"),
        ({"baseline": {"metrics": []}}, "spec.baseline.prometheus: required"),
        ("everything", "spec: must be an object"),
    ],
)
def test_a_spec_the_crd_refuses_is_refused_naming_the_field(spec: Any, message: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        check_spec(spec)
    assert message in str(caught.value)


def test_null_fields_read_as_absent_like_the_api_server_prunes_them() -> None:
    spec = check_spec({"application": "shop-web", "probes": None, "audit": {"interval": None}})
    assert spec == {"application": "shop-web", "audit": {}}


def test_the_shipped_example_truthcheck_passes() -> None:
    path = ROOT / "argocd" / "examples" / "shop-web" / "base" / "truthcheck.yaml"
    [truthcheck] = [d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "TruthCheck"]
    assert check_spec(truthcheck["spec"]) == truthcheck["spec"]
