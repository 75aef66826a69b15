"""The OPA server adapter speaks OPA's REST contract and decides exactly like regorus."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.admission.reviews import ALICE, ARGOCD, configmap, deployment, review, secret
from tests.policy.conftest import ADMISSION
from tests.policy.opa_standin import StandInOpa
from webhooks.admission.config import load_config
from webhooks.admission.context import build_input
from webhooks.admission.decide import decide
from webhooks.admission.review import parse_review
from webhooks.errors import PolicyError
from webhooks.policy.factory import open_engine
from webhooks.policy.opa_engine import OpaEngine
from webhooks.policy.regorus_engine import RegorusEngine

CONFIG = load_config(ADMISSION / "enforcement.yaml")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

REVIEWS = {
    "argocd image bump": review(
        "UPDATE", deployment("r.example.com/web:2"), deployment(), username=ARGOCD
    ),
    "human image bump": review(
        "UPDATE", deployment("r.example.com/web:2"), deployment(), username=ALICE
    ),
    "break glass": review(
        "UPDATE",
        deployment("r.example.com/web:2", annotations={"truthgate.dev/break-glass": "INC-9"}),
        deployment(),
        username=ALICE,
    ),
    "latest from git": review("CREATE", deployment("nginx:latest"), username=ARGOCD),
    "human deletes": review("DELETE", None, deployment(), username=ALICE),
    "configmap edit": review("UPDATE", configmap({"a": "2"}), configmap(), username=ALICE),
    "secret rotation": review(
        "UPDATE", secret({"k": "bmV3"}), secret({"k": "b2xk"}), username=ARGOCD
    ),
    "unmanaged privileged": review(
        "CREATE",
        {
            **deployment(app=None),
            "spec": {
                "template": {
                    "spec": {
                        "hostNetwork": True,
                        "containers": [
                            {"name": "x", "image": "x:1", "securityContext": {"privileged": True}}
                        ],
                    }
                }
            },
        },
        username=ALICE,
    ),
}


def test_policies_are_uploaded_with_put_and_evaluated_through_the_data_api(
    opa: tuple[StandInOpa, str],
) -> None:
    state, url = opa
    engine = OpaEngine(ADMISSION, url)
    puts = [r for r in state.requests if r.method == "PUT"]
    assert sorted(r.path for r in puts) == [
        "/v1/policies/truthgate/lib/workloads.rego",
        "/v1/policies/truthgate/mutable_images.rego",
        "/v1/policies/truthgate/out_of_band_edits.rego",
        "/v1/policies/truthgate/pod_security.rego",
        "/v1/policies/truthgate/truthgate-internal-route.rego",  # gathers a kind's policies
    ]  # the *_test.rego files stay home
    for r in puts:
        assert r.content_type == "text/plain"
        relpath = r.path.removeprefix("/v1/policies/truthgate/")
        if relpath != "truthgate-internal-route.rego":
            assert r.body.decode() == (ADMISSION / relpath).read_text()

    state.requests.clear()
    doc = REVIEWS["human image bump"]
    policy_input = build_input(parse_review(doc), CONFIG)
    outcomes = engine.evaluate("Deployment", dict(policy_input))
    posts = [r for r in state.requests if r.method == "POST"]
    # One round trip per review, however many policies target the kind.
    assert [r.path.rsplit("/", 1)[0] for r in posts] == ["/v1/data/truthgate_internal_route"]
    for r in posts:
        assert r.content_type == "application/json"
        assert json.loads(r.body) == {"input": json.loads(json.dumps(policy_input))}
    denied = {o.package: o.denials for o in outcomes}
    assert denied["truthgate.admission.out_of_band_edits"]


def test_a_configmap_is_only_sent_to_policies_for_every_kind(opa: tuple[StandInOpa, str]) -> None:
    state, url = opa
    engine = OpaEngine(ADMISSION, url)
    state.requests.clear()
    outcomes = engine.evaluate("ConfigMap", {"request": {"kind": {"kind": "ConfigMap"}}})
    assert [o.package for o in outcomes] == ["truthgate.admission.out_of_band_edits"]
    assert len(state.requests) == 1


@pytest.mark.parametrize("name", sorted(REVIEWS))
def test_both_engines_give_the_same_decision(opa: tuple[StandInOpa, str], name: str) -> None:
    _, url = opa
    request = parse_review(REVIEWS[name])
    via_opa = decide(request, OpaEngine(ADMISSION, url), CONFIG, NOW)
    embedded = decide(request, RegorusEngine(ADMISSION), CONFIG, NOW)
    assert via_opa == embedded


def test_the_shipped_inputs_cover_allow_deny_and_warn() -> None:
    # Guards the agreement test above against comparing only trivial answers.
    engine = RegorusEngine(ADMISSION)
    decisions = [decide(parse_review(d), engine, CONFIG, NOW) for d in REVIEWS.values()]
    assert any(d.allowed for d in decisions) and any(not d.allowed for d in decisions)
    assert any(d.warnings for d in decisions)


def test_reload_uploads_changes_deletes_removed_files_and_keeps_old_set_on_error(
    opa: tuple[StandInOpa, str], tmp_path: Path
) -> None:
    state, url = opa
    (tmp_path / "a.rego").write_text('package truthgate.admission.a\ndeny contains "a" if true\n')
    (tmp_path / "b.rego").write_text('package truthgate.admission.b\nwarn contains "b" if true\n')
    engine = OpaEngine(tmp_path, url)
    (tmp_path / "b.rego").unlink()
    engine.reload()
    assert ("DELETE", "/v1/policies/truthgate/b.rego") in [
        (r.method, r.path) for r in state.requests
    ]
    assert set(state.modules) == {"truthgate/a.rego", "truthgate/truthgate-internal-route.rego"}
    assert [m.package for m in engine.policies()] == ["truthgate.admission.a"]

    (tmp_path / "c.rego").write_text("package truthgate.admission.c\ndeny contains if {\n")
    state.requests.clear()
    with pytest.raises(PolicyError, match=r"c\.rego:2"):
        engine.reload()
    assert state.requests == []  # rejected locally: OPA never saw the broken file
    assert [o.denials for o in engine.evaluate("Pod", {})] == [("a",)]


def test_opa_errors_become_policy_errors(opa: tuple[StandInOpa, str]) -> None:
    state, url = opa
    engine = OpaEngine(ADMISSION, url)
    state.fail_data_status = 500
    outcomes = engine.evaluate("Deployment", {})
    assert outcomes and all(
        re.match(r"OPA evaluation of truthgate\.admission\.\w+ failed", o.error or "")
        for o in outcomes
    )
    d = decide(parse_review(REVIEWS["argocd image bump"]), engine, CONFIG, NOW)
    assert d.policy_error is not None and "OPA evaluation of truthgate.admission" in d.policy_error


def test_one_failing_policy_leaves_the_others_answers_standing(
    opa: tuple[StandInOpa, str], tmp_path: Path
) -> None:
    _, url = opa
    (tmp_path / "a.rego").write_text('package truthgate.admission.a\ndeny contains "a" if true\n')
    (tmp_path / "b.rego").write_text(
        "package truthgate.admission.b\ndeny contains msg if {\n"
        '  x := input.request.name + 1\n  msg := sprintf("%v", [x])\n}\n'
    )
    engine = OpaEngine(tmp_path, url)
    a, b = engine.evaluate("Pod", {"request": {"name": "p"}})
    assert (a.package, a.denials, a.error) == ("truthgate.admission.a", ("a",), None)
    assert b.package == "truthgate.admission.b" and "OPA evaluation" in (b.error or "")


def test_a_restarted_opa_without_policies_is_a_policy_error(opa: tuple[StandInOpa, str]) -> None:
    state, url = opa
    engine = OpaEngine(ADMISSION, url)
    state.modules.clear()
    with pytest.raises(PolicyError, match=r"does not know package .* reload the policies"):
        engine.evaluate("ConfigMap", {})
    engine.reload()
    assert engine.evaluate("ConfigMap", {"request": {}})[0].denials == ()


def test_slow_opa_times_out_within_the_bound(opa: tuple[StandInOpa, str]) -> None:
    state, url = opa
    engine = OpaEngine(ADMISSION, url, timeout=0.3)
    state.delay_data_seconds = 2.0
    start = time.monotonic()
    with pytest.raises(PolicyError):
        engine.evaluate("ConfigMap", {})
    assert time.monotonic() - start < 1.5


def test_unreachable_opa_fails_at_start_with_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="OPA refused"):
        OpaEngine(ADMISSION, "http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(PolicyError, match="OPA URL must be"):
        OpaEngine(ADMISSION, "127.0.0.1:8181")


def test_factory_opens_an_opa_engine(opa: tuple[StandInOpa, str]) -> None:
    _, url = opa
    engine = open_engine("opa+" + url, ADMISSION)
    assert isinstance(engine, OpaEngine)
    assert {m.package for m in engine.policies()} == {
        m.package for m in RegorusEngine(ADMISSION).policies()
    }
