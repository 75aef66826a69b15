"""`truthgate policy eval`: what the webhook would answer for a manifest, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.policy.conftest import POLICIES
from webhooks.cli.policy import policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
TRUTHGATE = str(Path(sys.executable).with_name("truthgate"))
REVIEW = EXAMPLES / "admission-review-deployment-update.json"


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRUTHGATE, "policy", "eval", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def evaluate(*args: str, stdin: str | None = None) -> tuple[int, Any]:
    """In process, JSON output: (exit code, document)."""
    result = CliRunner().invoke(
        policy, ["eval", "--policies", str(POLICIES), "-o", "json", *args], input=stdin
    )
    doc = json.loads(result.output) if result.exit_code in (0, 1) else result.output
    return result.exit_code, doc


def test_a_latest_image_is_denied_naming_mutable_images_and_exits_1(tmp_path: Path) -> None:
    out = run(str(EXAMPLES / "deployment-latest.yaml"), cwd=ROOT)
    assert out.returncode == 1, out.stderr
    assert "DENIED (403)" in out.stdout
    assert "denial   truthgate.admission.mutable_images (deny rule, action deny)" in out.stdout
    assert "uses the mutable tag latest; pin a version tag or an @sha256 digest" in out.stdout
    assert "intent that would be recorded (nothing was written)" in out.stdout
    assert out.stderr == ""


def test_as_a_person_a_managed_object_names_out_of_band_and_break_glass(tmp_path: Path) -> None:
    out = run(
        "--as-human",
        "--old",
        str(EXAMPLES / "deployment-live.yaml"),
        str(EXAMPLES / "deployment.yaml"),
        cwd=tmp_path,  # no ./policies here: the policies shipped with the installation
    )
    assert out.returncode == 1, out.stderr
    assert "UPDATE Deployment shop/web by someone@example.com (human); Argo CD app shop-web" in (
        out.stdout
    )
    assert "denial   truthgate.admission.out_of_band_edits (deny rule, action deny)" in out.stdout
    assert "change it in Git, or set annotation truthgate.dev/break-glass=<ticket>" in out.stdout
    # Only the image changed: the would-be intent's patch says exactly that.
    assert '{"op": "replace", "path": "/spec/template/spec/containers/0/image"' in out.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written: no ledger, no certificate


def test_a_clean_manifest_exits_0(tmp_path: Path) -> None:
    out = run(str(EXAMPLES / "deployment.yaml"), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "  ALLOWED\n" in out.stdout
    assert "by system:serviceaccount:argocd:argocd-application-controller (argocd)" in out.stdout


def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    out = run("-", cwd=tmp_path, stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith("truthgate: error: stdin:")
    assert "not valid YAML or JSON" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["missing.yaml"], "cannot read missing.yaml"),
        (["--operation", "UPDATE", str(EXAMPLES / "deployment.yaml")], "needs --old FILE"),
        (["--user", "bob", str(REVIEW)], "--user apply to manifests only"),
        (["--as-human", "--user", "bob", str(EXAMPLES / "deployment.yaml")], "either it or"),
        (["-", "-"], "read only once"),
    ],
)
def test_misuse_is_exit_2_saying_what_to_do(args: list[str], said: str) -> None:
    code, output = evaluate(*args, stdin=(EXAMPLES / "deployment.yaml").read_text())
    assert code == 2
    assert said in output


def test_json_for_scripts_carries_the_answer_attribution_and_intent() -> None:
    code, doc = evaluate(str(EXAMPLES / "deployment-latest.yaml"))
    assert code == 1 and doc["allowed"] is False
    (review,) = doc["reviews"]
    assert review["object"] == "Deployment shop/web" and review["operation"] == "CREATE"
    assert review["response"]["status"]["code"] == 403
    assert review["messages"] == [
        {
            "package": "truthgate.admission.mutable_images",
            "rule": "deny",
            "action": "deny",
            "effect": "denial",
            "message": review["response"]["status"]["message"],
        }
    ]
    assert review["evaluated"] == [
        "truthgate.admission.mutable_images",
        "truthgate.admission.out_of_band_edits",
        "truthgate.admission.pod_security",
    ]
    assert review["intent"]["decision"]["denials"] == [review["response"]["status"]["message"]]
    assert review["notRecorded"] is None


def test_an_admission_review_is_answered_as_sent() -> None:
    code, doc = evaluate(str(REVIEW))
    assert code == 0
    (review,) = doc["reviews"]
    sent = json.loads(REVIEW.read_text())["request"]
    assert review["response"] == {"uid": sent["uid"], "allowed": True}
    assert review["intent"]["uid"] == sent["uid"]


def test_the_enforcement_file_decides_what_a_denial_does(tmp_path: Path) -> None:
    enforcement = tmp_path / "enforcement.yaml"
    enforcement.write_text("policies:\n  truthgate.admission.mutable_images: warn\n")
    code, doc = evaluate(
        "--enforcement", str(enforcement), str(EXAMPLES / "deployment-latest.yaml")
    )
    assert code == 0
    (message,) = doc["reviews"][0]["messages"]
    assert (message["package"], message["action"], message["effect"]) == (
        "truthgate.admission.mutable_images",
        "warn",
        "warning",
    )
    # The requester sees the warning bounded as Kubernetes asks; eval also shows it whole.
    (warning,) = doc["reviews"][0]["response"]["warnings"]
    assert len(warning) == 120 and warning.endswith("...")
    assert message["message"].startswith(warning[:-3])
    assert message["message"].endswith("pin a version tag or an @sha256 digest")


def test_secret_values_stay_out_of_the_would_be_intent() -> None:
    secret = (
        "apiVersion: v1\nkind: Secret\n"
        "metadata: {name: db, namespace: shop, labels: {app.kubernetes.io/instance: shop-web}}\n"
        "stringData: {password: hunter2}\n"
    )
    for output in ("json", "text"):
        result = CliRunner().invoke(
            policy, ["eval", "--policies", str(POLICIES), "-o", output, "--as-human", "-"], secret
        )
        assert result.exit_code == 1
        assert "hunter2" not in result.output
        assert "<redacted>" in result.output


def test_several_documents_dry_run_and_unmanaged_objects_are_said() -> None:
    stream = (
        EXAMPLES / "deployment.yaml"
    ).read_text() + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n"
    code, doc = evaluate("--dry-run", "-n", "shop", "-", stdin=stream)
    assert code == 0
    deployment, configmap = doc["reviews"]
    assert (deployment["input"], configmap["input"]) == ("stdin#1", "stdin#2")
    assert deployment["dryRun"] and deployment["intent"] is None
    assert deployment["notRecorded"].startswith("a dry-run request")
    assert configmap["object"] == "ConfigMap shop/cfg" and configmap["app"] is None
    assert configmap["evaluated"] == ["truthgate.admission.out_of_band_edits"]


NAMESPACED_CONSTRAINT = """apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: owner-in-prod
spec:
  match:
    kinds: [{apiGroups: ["apps"], kinds: ["Deployment"]}]
    namespaceSelector: {matchLabels: {env: prod}}
  parameters:
    labels: [{key: owner}]
"""


def test_gatekeeper_constraints_are_named_and_namespaces_come_from_earlier_inputs(
    tmp_path: Path,
) -> None:
    template = ROOT / "tests/policy/gatekeeper/policies/requiredlabels-template.yaml"
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "template.yaml").write_text(template.read_text())
    (policies / "constraint.yaml").write_text(NAMESPACED_CONSTRAINT)
    namespace = tmp_path / "namespace.yaml"
    namespace.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {env: prod}}\n"
    )
    deployment = str(EXAMPLES / "deployment.yaml")

    def messages(*inputs: str) -> list[tuple[str | None, str, str]]:
        result = CliRunner().invoke(
            policy, ["eval", "--policies", str(policies), "-o", "json", *inputs]
        )
        doc = json.loads(result.output)
        return [(m["package"], m["effect"], m["message"]) for m in doc["reviews"][-1]["messages"]]

    # Offline, the namespace's labels are unknown: the failure mode decides, as in the server
    # without cluster access.
    ((package, effect, text),) = messages(deployment)
    assert (package, effect) == (None, "warning")
    assert "needs the labels of namespace shop" in text
    # Given the Namespace first, its labels are known and the constraint applies.
    assert messages(str(namespace), deployment) == [
        (
            "K8sRequiredLabels/owner-in-prod",
            "denial",
            '[owner-in-prod] you must provide labels: ["owner"]',
        )
    ]
