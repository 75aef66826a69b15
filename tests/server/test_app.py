"""The HTTP contract of POST /validate, /healthz, /readyz and /metrics (Flask test client).

Real parts: the shipped policies in the regorus engine and a SQLite ledger. The only stand-ins
are subclasses of those real parts with one method made to fail, to show the failure modes.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.server.conftest import make_client
from tests.server.reviews import (
    ALICE,
    POLICIES,
    body,
    deployment_update,
    secret_update,
    unmanaged,
)
from webhooks.admission.config import AdmissionConfig, FailureMode
from webhooks.errors import LedgerError, PolicyError
from webhooks.ledger.sqlite_store import SqliteStore
from webhooks.ledger.store import IntentStore
from webhooks.policy.engine import PolicyEngine, PolicyOutcome
from webhooks.policy.regorus_engine import RegorusEngine
from webhooks.server.app import MAX_BODY_BYTES
from webhooks.server.metrics import Metrics

JSON = "application/json"


def post(client: FlaskClient, review: dict[str, Any]) -> dict[str, Any]:
    reply = client.post("/validate", data=body(review), content_type=JSON)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    response: dict[str, Any] = reply.get_json()["response"]
    return response


def uids(store: IntentStore) -> list[str]:
    return [r["uid"] for r in store.intents()]


def sample(metrics: Metrics, line_start: str) -> float:
    for line in metrics.render().decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {line_start} in /metrics")


class BrokenPolicies(RegorusEngine):
    """The shipped policies, whose evaluation fails (e.g. a runtime error in a rule)."""

    def evaluate(self, kind: str, input_doc: Any) -> list[PolicyOutcome]:
        raise PolicyError("rego evaluation failed: conflicting rules at data.truthgate.x")


class UnwritableLedger(SqliteStore):
    """A real SQLite ledger whose appends fail (disk full, lock timeout, network down)."""

    def append(self, draft: dict[str, Any]) -> Any:
        raise LedgerError("ledger /var/lib/truthgate.db is busy (write lock held longer than 5s)")


class BuggyLedger(SqliteStore):
    """A ledger that raises something nobody anticipated, quoting what it was given."""

    def append(self, draft: dict[str, Any]) -> Any:
        raise RuntimeError(f"unexpected: {json.dumps(draft)}")


# --- the story ------------------------------------------------------------------------------


def test_argocd_update_is_allowed_recorded_before_the_answer_and_uid_echoed(
    client: FlaskClient, store: IntentStore
) -> None:
    review = deployment_update()
    response = post(client, review)
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is True
    [record] = list(store.intents())
    assert record["uid"] == review["request"]["uid"]
    assert record["app"] == "shop-web"
    assert record["actor"]["class"] == "argocd"
    assert {
        "op": "replace",
        "path": "/spec/template/spec/containers/0/image",
        "value": "registry.example.com/shop/web:1.5.0",
    } in record["patch"]


def test_the_same_update_by_a_person_is_denied_with_how_to_break_glass(
    client: FlaskClient, store: IntentStore
) -> None:
    review = deployment_update(username=ALICE)
    response = post(client, review)
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert "truthgate.dev/break-glass" in response["status"]["message"]
    [record] = list(store.intents())
    assert record["decision"]["allowed"] is False
    assert record["actor"] == {
        "username": ALICE,
        "groups": ["system:authenticated"],
        "class": "human",
    }


def test_an_object_no_application_manages_is_allowed_and_not_recorded(
    client: FlaskClient, store: IntentStore
) -> None:
    response = post(client, unmanaged(deployment_update(username=ALICE)))
    assert response["allowed"] is True
    assert uids(store) == []


def test_each_review_logs_one_structured_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    review = deployment_update(username=ALICE)
    with caplog.at_level(logging.INFO, logger="truthgate.admission"):
        post(client, review)
    lines = [r.getMessage() for r in caplog.records if r.name == "truthgate.admission"]
    assert len(lines) == 1
    fields = json.loads(lines[0].removeprefix("review "))
    assert fields["uid"] == review["request"]["uid"]
    assert (fields["kind"], fields["namespace"], fields["name"], fields["op"]) == (
        "apps/v1/Deployment",
        "shop",
        "web",
        "UPDATE",
    )
    assert (fields["user"], fields["app"], fields["decision"]) == (ALICE, "shop-web", "denied")
    assert fields["ms"] >= 0


def test_secret_values_reach_neither_the_log_nor_the_ledger(
    client: FlaskClient, store: IntentStore, caplog: pytest.LogCaptureFixture
) -> None:
    value = "czNjcmV0LXBhc3N3b3JkLTQy"  # base64 of a password
    with caplog.at_level(logging.DEBUG):
        assert post(client, secret_update(value))["allowed"] is True
    assert value not in caplog.text
    [record] = list(store.intents())
    assert value not in json.dumps(record)
    assert "b2xkLXZhbHVl" not in json.dumps(record)


# --- bad input ------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    review = deployment_update()
    review["request"]["object"]["metadata"]["annotations"]["x"] = "["
    return body(review).replace(b'"x": "["', b'"x": ' + b"[" * depth + b"]" * depth)


BAD_INPUTS: dict[str, tuple[bytes, str, int, str]] = {
    "malformed JSON": (b'{"apiVersion": "admission.k8s.io/v1", "kind"', JSON, 400, "not JSON"),
    "v1beta1 review": (
        body({**deployment_update(), "apiVersion": "admission.k8s.io/v1beta1"}),
        JSON,
        400,
        "only admission.k8s.io/v1",
    ),
    "no uid": (
        body(
            {
                **deployment_update(),
                "request": {k: v for k, v in deployment_update()["request"].items() if k != "uid"},
            }
        ),
        JSON,
        400,
        "uid",
    ),
    "not JSON content type": (body(deployment_update()), "text/plain", 415, "application/json"),
    "nested too deep": (_nested(5000), JSON, 400, "nested deeper"),
    "a JSON array": (b"[]", JSON, 400, "JSON object"),
    "empty body": (b"", JSON, 400, "not JSON"),
}


def _as_api_server_sends(edge: str) -> dict[str, Any]:
    """The example review, reshaped into a request the API server really sends."""
    review = deployment_update()
    request = review["request"]
    human = {"username": ALICE, "groups": ["system:authenticated"]}
    if edge == "dry run by a person":
        request.update(dryRun=True, userInfo=human)
    elif edge == "delete by a person":  # DELETE: object null, the object in oldObject
        request.update(operation="DELETE", object=None, userInfo=human)
        request["options"] = {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions"}
    elif edge == "delete by argocd":
        request.update(operation="DELETE", object=None)
    elif edge == "person without groups":  # groups is omitempty in UserInfo
        request["userInfo"] = {"username": ALICE}
    elif edge == "nobody named":  # an empty UserInfo serialises as {}
        request["userInfo"] = {}
    elif edge == "status by a controller":
        request.update(subResource="status", userInfo={"username": "system:kube-scheduler"})
    elif edge == "exec into a pod":  # CONNECT: the object is the options, no old object
        request.update(
            kind={"group": "", "version": "v1", "kind": "PodExecOptions"},
            resource={"group": "", "version": "v1", "resource": "pods"},
            subResource="exec",
            name="web-7c9f8d6b5-abcde",
            operation="CONNECT",
            userInfo=human,
            object={"kind": "PodExecOptions", "apiVersion": "v1", "command": ["sh"]},
            oldObject=None,
        )
    return review


@pytest.mark.parametrize(
    ("edge", "allowed", "recorded"),
    [
        ("dry run by a person", False, None),
        ("delete by a person", False, "human"),
        ("delete by argocd", True, "argocd"),
        ("person without groups", False, "human"),
        ("nobody named", True, "unknown"),
        ("status by a controller", True, "controller"),
        ("exec into a pod", True, None),
    ],
)
def test_requests_the_api_server_really_sends_are_answered_and_recorded_as_documented(
    client: FlaskClient, store: IntentStore, edge: str, allowed: bool, recorded: str | None
) -> None:
    review = _as_api_server_sends(edge)
    response = post(client, review)
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is allowed
    if not allowed:
        assert response["status"]["code"] == 403
        assert "is managed by Argo CD app shop-web" in response["status"]["message"]
    records = list(store.intents())
    if recorded is None:  # dry runs and what no application manages are never recorded
        assert records == []
        return
    [record] = records
    assert record["actor"]["class"] == recorded
    assert record["operation"] == review["request"]["operation"]
    assert record["decision"]["allowed"] is allowed
    if review["request"]["operation"] == "DELETE":  # the patch takes the object away
        assert {op["op"] for op in record["patch"]} == {"remove"}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_a_clear_4xx_json_error_and_writes_nothing(
    client: FlaskClient, store: IntentStore, metrics: Metrics, case: str
) -> None:
    data, content_type, status, says = BAD_INPUTS[case]
    reply = client.post("/validate", data=data, content_type=content_type)
    assert reply.status_code == status
    assert says in reply.get_json()["error"]
    assert uids(store) == []
    assert sample(metrics, 'truthgate_errors_total{kind="bad_request"}') == 1
    assert sample(metrics, 'truthgate_admission_requests_total{decision="error"}') == 1
    # ... and the app goes on answering.
    assert post(client, deployment_update())["allowed"] is True


def test_a_body_over_3_mib_is_refused_with_413(client: FlaskClient, store: IntentStore) -> None:
    reply = client.post("/validate", data=b" " * (MAX_BODY_BYTES + 1), content_type=JSON)
    assert reply.status_code == 413
    assert "larger than 3 MiB" in reply.get_json()["error"]
    assert uids(store) == []


def test_a_chunked_body_over_3_mib_is_cut_off_with_413(client: FlaskClient) -> None:
    # No Content-Length, as with Transfer-Encoding: chunked; gunicorn terminates its input.
    reply = client.post(
        "/validate",
        input_stream=io.BytesIO(b" " * (4 * 1024 * 1024)),
        content_type=JSON,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert reply.status_code == 413
    assert "error" in reply.get_json()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/validate", 405), ("post", "/mutate", 404), ("get", "/", 404)],
)
def test_other_routes_answer_json_not_html(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    reply = getattr(client, method)(path)
    assert reply.status_code == status
    assert reply.is_json and reply.get_json()["error"]


# --- failure modes --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_policies() -> PolicyEngine:
    return BrokenPolicies(POLICIES)


def test_policy_error_fail_open_admits_with_a_warning_and_counts_it(
    config: AdmissionConfig, broken_policies: PolicyEngine, store: IntentStore, metrics: Metrics
) -> None:
    client = make_client(config, broken_policies, store, metrics, "fail-open")
    response = post(client, deployment_update(username=ALICE))
    assert response["allowed"] is True
    assert any("policy evaluation failed" in w for w in response["warnings"])
    assert sample(metrics, 'truthgate_errors_total{kind="policy"}') == 1
    assert sample(metrics, "truthgate_fail_open_total") == 1
    [record] = list(store.intents())
    assert "fail-open" in record["decision"]["error"]


def test_policy_error_fail_closed_denies_and_says_why(
    config: AdmissionConfig, broken_policies: PolicyEngine, store: IntentStore, metrics: Metrics
) -> None:
    client = make_client(config, broken_policies, store, metrics, "fail-closed")
    response = post(client, deployment_update())
    assert response["allowed"] is False
    assert "policy evaluation failed" in response["status"]["message"]
    assert sample(metrics, "truthgate_fail_open_total") == 0


def _unwritable(tmp_path: Path) -> IntentStore:
    return UnwritableLedger(str(tmp_path / "unwritable.db"))


def test_ledger_failure_fail_open_admits_with_intent_not_recorded(
    config: AdmissionConfig, engine: PolicyEngine, metrics: Metrics, tmp_path: Path
) -> None:
    client = make_client(config, engine, _unwritable(tmp_path), metrics, "fail-open")
    response = post(client, deployment_update())
    assert response["allowed"] is True
    assert any("intent not recorded" in w for w in response["warnings"])
    assert sample(metrics, 'truthgate_errors_total{kind="ledger"}') == 1
    assert sample(metrics, "truthgate_fail_open_total") == 1


def test_ledger_failure_fail_closed_denies_with_a_clear_message(
    config: AdmissionConfig, engine: PolicyEngine, metrics: Metrics, tmp_path: Path
) -> None:
    client = make_client(config, engine, _unwritable(tmp_path), metrics, "fail-closed")
    response = post(client, deployment_update())
    assert response["allowed"] is False
    assert "ledger is unavailable" in response["status"]["message"]
    assert "busy" not in response["status"]["message"]  # internals stay in the log
    assert sample(metrics, "truthgate_fail_open_total") == 0


@pytest.mark.parametrize("mode", ["fail-open", "fail-closed"])
def test_a_policy_denial_stays_denied_when_the_ledger_also_fails(
    *,
    config: AdmissionConfig,
    engine: PolicyEngine,
    metrics: Metrics,
    tmp_path: Path,
    mode: FailureMode,
) -> None:
    client = make_client(config, engine, _unwritable(tmp_path), metrics, mode)
    response = post(client, deployment_update(username=ALICE))
    assert response["allowed"] is False
    assert "break-glass" in response["status"]["message"]
    assert any("intent not recorded" in w for w in response["warnings"])


@pytest.mark.parametrize(("mode", "allowed"), [("fail-open", True), ("fail-closed", False)])
def test_an_unexpected_exception_still_answers_a_well_formed_review(
    *,
    config: AdmissionConfig,
    engine: PolicyEngine,
    metrics: Metrics,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    mode: FailureMode,
    allowed: bool,
) -> None:
    client = make_client(config, engine, BuggyLedger(str(tmp_path / "b.db")), metrics, mode)
    value = "dG9wLXNlY3JldC12YWx1ZQ=="
    review = secret_update(value)
    with caplog.at_level(logging.INFO):
        response = post(client, review)
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is allowed
    assert sample(metrics, 'truthgate_errors_total{kind="internal"}') == 1
    assert sample(metrics, 'truthgate_admission_requests_total{decision="error"}') == 1
    assert "Traceback" in caplog.text
    assert "RuntimeError" in caplog.text
    assert value not in caplog.text  # the exception quoted the Secret; the log does not


# --- health, readiness, metrics -------------------------------------------------------------


def test_healthz_answers_while_the_process_lives(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200


def test_readyz_is_200_with_policies_loaded_and_the_ledger_answering(client: FlaskClient) -> None:
    reply = client.get("/readyz")
    assert reply.status_code == 200
    assert reply.get_json() == {"ready": True, "policies": 3}


def test_readyz_is_503_with_a_reason_when_the_ledger_is_gone(
    client: FlaskClient, store: IntentStore
) -> None:
    store.close()
    reply = client.get("/readyz")
    assert reply.status_code == 503
    assert reply.get_json()["ready"] is False
    assert "ledger" in reply.get_json()["reason"]


class NoPolicies(RegorusEngine):
    def policies(self) -> Any:
        raise PolicyError("policy directory could not be compiled")


def test_readyz_is_503_when_policies_are_not_loaded(
    config: AdmissionConfig, store: IntentStore, metrics: Metrics
) -> None:
    client = make_client(config, NoPolicies(POLICIES), store, metrics)
    reply = client.get("/readyz")
    assert reply.status_code == 503
    assert "policies" in reply.get_json()["reason"]


def test_metrics_count_reviews_by_decision_and_time_policy_and_ledger(
    client: FlaskClient, metrics: Metrics
) -> None:
    post(client, deployment_update())
    post(client, deployment_update())
    post(client, deployment_update(username=ALICE))
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/plain")
    assert sample(metrics, 'truthgate_admission_requests_total{decision="allowed"}') == 2
    assert sample(metrics, 'truthgate_admission_requests_total{decision="denied"}') == 1
    assert sample(metrics, 'truthgate_admission_duration_seconds_count{decision="allowed"}') == 2
    assert sample(metrics, "truthgate_policy_eval_seconds_count") == 3
    assert sample(metrics, "truthgate_ledger_write_seconds_count") == 3
    assert sample(metrics, 'truthgate_errors_total{kind="internal"}') == 0


def test_fail_open_counts_a_review_once_when_policy_and_ledger_both_fail(
    config: AdmissionConfig, broken_policies: PolicyEngine, metrics: Metrics, tmp_path: Path
) -> None:
    client = make_client(config, broken_policies, _unwritable(tmp_path), metrics, "fail-open")
    response = post(client, deployment_update())
    assert response["allowed"] is True
    assert len(response["warnings"]) == 2  # the policy error and the missing record
    assert sample(metrics, "truthgate_fail_open_total") == 1
