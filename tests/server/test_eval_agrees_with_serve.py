"""`truthgate policy eval` says what `truthgate serve` does: the same reviews through both.

Every shipped example (docs/examples) and a case for each thing a shipped policy denies or warns
about, as Argo CD and as a person, created, updated and deleted, go to a real server (gunicorn
over TLS, SQLite ledger) and to one `policy eval --output json` run. The answers must be
identical, and the intent eval says would be recorded must be the one the server recorded.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from tests.server.reviews import EXAMPLE, POLICIES
from tests.server.served import TRUTHGATE, Served, serving, truthgate
from webhooks.admission.config import ARGOCD_CONTROLLER
from webhooks.admission.manifest import review_for

pytestmark = pytest.mark.gunicorn

EXAMPLES = EXAMPLE.parent
HUMAN = "alice@example.com"
# A second configuration, so that every enforcement action and the failure mode are compared.
GENTLE = """apiVersion: truthgate.dev/v1alpha1
kind: AdmissionConfig
defaultAction: deny
failureMode: fail-closed
policies:
  truthgate.admission.mutable_images: warn
  truthgate.admission.pod_security: dryrun
"""


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return doc


def container(obj: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return found


def variants() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name → (manifest, the object as it is now), one per thing a shipped policy says."""
    live = load("deployment-live.yaml")
    privileged = load("deployment.yaml")
    container(privileged)["securityContext"]["privileged"] = True
    privileged["spec"]["template"]["spec"]["hostNetwork"] = True
    escalating = load("deployment.yaml")
    del container(escalating)["securityContext"]["allowPrivilegeEscalation"]
    break_glass = load("deployment.yaml")
    break_glass["metadata"]["annotations"]["truthgate.dev/break-glass"] = "INC-4711"
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/instance": "shop-web"},
        },
        "data": {"password": "aHVudGVyMg=="},
    }
    old_secret = copy.deepcopy(secret)
    old_secret["data"]["password"] = "b2xk"
    configmap: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"},
        "data": {"LOG_LEVEL": "debug"},
    }
    old_configmap = copy.deepcopy(configmap)
    old_configmap["data"]["LOG_LEVEL"] = "info"
    return {
        "clean": (load("deployment.yaml"), live),
        "latest": (load("deployment-latest.yaml"), live),
        "privileged": (privileged, live),
        "escalating": (escalating, live),
        "break-glass": (break_glass, live),
        "secret": (secret, old_secret),
        "unmanaged": (configmap, old_configmap),
    }


def reviews() -> list[dict[str, Any]]:
    out = []
    example = json.loads(EXAMPLE.read_text())
    out.append(example)
    by_person = copy.deepcopy(example)
    by_person["request"]["uid"] = str(uuid.uuid4())
    by_person["request"]["userInfo"] = {"username": HUMAN, "groups": ["system:authenticated"]}
    out.append(by_person)
    for name, (obj, old) in variants().items():
        for username in (ARGOCD_CONTROLLER, HUMAN):
            for operation in ("CREATE", "UPDATE", "DELETE"):
                out.append(
                    review_for(
                        obj,
                        where=name,
                        uid=str(uuid.uuid4()),
                        operation=operation,
                        old=old if operation == "UPDATE" else None,
                        username=username,
                    )
                )
    dry = review_for(
        load("deployment-latest.yaml"), where="dry", uid=str(uuid.uuid4()), username=HUMAN
    )
    dry["request"]["dryRun"] = True
    out.append(dry)
    return out


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    d = tmp_path_factory.mktemp("tls")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "tls.crt"))
    cert.private_key_pem.write_to_path(str(d / "tls.key"))
    return d / "ca.pem", d / "tls.crt", d / "tls.key"


@pytest.fixture(params=["shipped", "gentle"])
def enforcement(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "shipped":
        return []  # enforcement.yaml of the policy directory, for both
    path = tmp_path / "gentle.yaml"
    path.write_text(GENTLE)
    return ["--enforcement", str(path)]


@pytest.fixture
def server(
    tmp_path: Path, tls_files: tuple[Path, Path, Path], enforcement: list[str]
) -> Iterator[Served]:
    ca, cert, key = tls_files
    args = ["--ledger", "ledger.db", "--policies", str(POLICIES), *enforcement]
    args += ["--workers", "1", "--threads", "2", "--tls-cert", str(cert), "--tls-key", str(key)]
    with serving(tmp_path, *args, ca=ca) as served:
        yield served


def test_eval_answers_and_records_what_serve_answers_and_records(
    server: Served, enforcement: list[str], tmp_path: Path
) -> None:
    sent = reviews()
    files = []
    for i, review in enumerate(sent):
        path = tmp_path / f"review-{i:02d}.json"
        path.write_text(json.dumps(review))
        files.append(str(path))
    command = [TRUTHGATE, "policy", "eval", "--policies", str(POLICIES), *enforcement]
    evaluated = subprocess.run(
        [*command, "--output", "json", *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert evaluated.returncode == 1, evaluated.stderr  # some of them are denied
    said = json.loads(evaluated.stdout)["reviews"]
    assert len(said) == len(sent)

    answered = [server.review(review) for review in sent]
    recorded = {
        r["uid"]: r
        for r in map(
            json.loads,
            truthgate("intents", "--ledger", "ledger.db", cwd=tmp_path).stdout.splitlines(),
        )
    }

    outcomes: set[tuple[str | None, str]] = set()
    for review, response, verdict in zip(sent, answered, said, strict=True):
        uid = review["request"]["uid"]
        assert verdict["response"] == response, (verdict["input"], verdict["messages"])
        record = recorded.pop(uid, None)
        if verdict["intent"] is None:
            assert record is None, verdict["input"]
            continue
        assert record is not None, (verdict["input"], verdict["notRecorded"])
        stored = {k: v for k, v in record.items() if k not in ("prevHash", "hash", "time")}
        assert {k: v for k, v in verdict["intent"].items() if k != "time"} == stored
        outcomes.update((m["package"], m["effect"]) for m in verdict["messages"])
    assert recorded == {}  # the server recorded nothing eval did not announce

    # The cases reach every shipped policy and every effect its configuration gives them.
    if not enforcement:
        assert {
            ("truthgate.admission.mutable_images", "denial"),
            ("truthgate.admission.out_of_band_edits", "denial"),
            ("truthgate.admission.out_of_band_edits", "warning"),
            ("truthgate.admission.pod_security", "denial"),
            ("truthgate.admission.pod_security", "warning"),
        } <= outcomes
    else:
        assert {
            ("truthgate.admission.mutable_images", "warning"),
            ("truthgate.admission.pod_security", "dryrun"),
        } <= outcomes
