"""The webhook's matchConditions, evaluated with a CEL runtime (cel-cpp) as the API server would.

They decide which requests reach truthgate at all. They must be error-free for every request
(an evaluation error falls under failurePolicy, so under Fail a bad expression would reject
writes): DELETE has no ``object``, CREATE has no ``oldObject``, and objects may have neither
annotations nor labels.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import pytest
from cel_expr_python import cel

from tests.deploy.conftest import one, render

TRACKING = "argocd.argoproj.io/tracking-id"
INSTANCE = "app.kubernetes.io/instance"
BREAK_GLASS = "truthgate.dev/break-glass"


def conditions(values: dict[str, Any] | None = None) -> dict[str, str]:
    return dict(_conditions(json.dumps(values or {}, sort_keys=True)))


@lru_cache
def _conditions(values_json: str) -> tuple[tuple[str, str], ...]:
    vwc = one(render(json.loads(values_json)), "ValidatingWebhookConfiguration")
    return tuple(
        (c["name"], c["expression"]) for c in vwc["webhooks"][0].get("matchConditions", [])
    )


def sent(request: dict[str, Any], values: dict[str, Any] | None = None) -> bool:
    """Would the API server call the webhook? (All conditions true; any error fails the test.)"""
    env = cel.NewEnv(
        variables={"object": cel.Type.DYN, "oldObject": cel.Type.DYN, "request": cel.Type.DYN}
    )
    verdicts = []
    for name, expression in conditions(values).items():
        value = env.compile(expression).eval(data=request).value()
        assert isinstance(value, bool), f"{name} evaluated to {value!r}, not a bool"
        verdicts.append(value)
    return all(verdicts)


def obj(
    annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "namespace": "shop"}
    if annotations is not None:
        meta["annotations"] = annotations
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}


TRACKED = obj({TRACKING: "shop-web:apps/Deployment:shop/web"})
LABELLED = obj(labels={INSTANCE: "shop-web"})
PLAIN = obj()


def create(o: dict[str, Any]) -> dict[str, Any]:
    return {"object": o, "oldObject": None, "request": {"operation": "CREATE"}}


def update(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {"object": new, "oldObject": old, "request": {"operation": "UPDATE"}}


def delete(o: dict[str, Any]) -> dict[str, Any]:
    return {"object": None, "oldObject": o, "request": {"operation": "DELETE"}}


def test_both_conditions_are_rendered_by_default() -> None:
    assert set(conditions()) == {"gitops-managed", "not-break-glass"}


@pytest.mark.parametrize(
    "request_",
    [
        create(TRACKED),
        create(LABELLED),
        update(TRACKED, TRACKED),
        delete(TRACKED),
        delete(LABELLED),
    ],
    ids=["create-annotation", "create-label", "update", "delete-annotation", "delete-label"],
)
def test_gitops_managed_objects_are_sent(request_: dict[str, Any]) -> None:
    assert sent(request_)


@pytest.mark.parametrize(
    "request_",
    [
        create(PLAIN),
        update(PLAIN, PLAIN),
        delete(PLAIN),
        create(obj({"unrelated": "x"}, {"app": "web"})),
    ],
    ids=["create", "update", "delete", "other-annotations"],
)
def test_objects_nobody_manages_through_git_are_never_sent(request_: dict[str, Any]) -> None:
    assert not sent(request_)


def test_removing_the_tracking_marker_is_still_seen() -> None:
    # An edit that strips Argo CD's marker is exactly the out-of-band change to record.
    assert sent(update(TRACKED, PLAIN))
    assert sent(update(PLAIN, TRACKED))


def test_an_object_without_metadata_evaluates_without_error() -> None:
    assert not sent({"object": {"kind": "X"}, "oldObject": None, "request": {}})


def test_break_glass_annotation_skips_the_webhook_for_that_object_only() -> None:
    glass = obj({TRACKING: "shop-web:apps/Deployment:shop/web", BREAK_GLASS: "true"})
    assert not sent(create(glass))
    assert not sent(update(TRACKED, glass))
    assert not sent(delete(glass))
    assert sent(create(TRACKED))


def test_break_glass_needs_the_value_true() -> None:
    assert sent(create(obj({TRACKING: "a", BREAK_GLASS: "false"})))
    assert sent(create(obj({TRACKING: "a", BREAK_GLASS: ""})))


def test_removing_the_break_glass_annotation_goes_through_the_webhook_again() -> None:
    glass = obj({TRACKING: "a", BREAK_GLASS: "true"})
    assert sent(update(glass, obj({TRACKING: "a"})))


def test_every_managed_object_is_sent_when_the_filter_is_off() -> None:
    values = {"webhook": {"onlyGitOpsManaged": False, "breakGlassAnnotation": ""}}
    assert conditions(values) == {}
    vwc = one(render(values), "ValidatingWebhookConfiguration")
    assert "matchConditions" not in vwc["webhooks"][0]


def test_a_custom_break_glass_annotation_is_honoured() -> None:
    values = {"webhook": {"breakGlassAnnotation": "example.com/emergency"}}
    assert not sent(create(obj({TRACKING: "a", "example.com/emergency": "true"})), values)
    assert sent(create(obj({TRACKING: "a", BREAK_GLASS: "true"})), values)


def scale(replicas: int = 0) -> dict[str, Any]:
    """What the API server sends for `kubectl scale`: an autoscaling/v1 Scale, no labels."""
    o = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": replicas},
    }
    return {
        "object": o,
        "oldObject": {**o, "spec": {"replicas": 2}},
        "request": {"operation": "UPDATE", "subResource": "scale"},
    }


def test_scale_requests_reach_truthgate_which_reads_the_workload() -> None:
    assert sent(scale())
    rules = one(render(), "ValidatingWebhookConfiguration")["webhooks"][0]["rules"]
    scaled = {r for rule in rules for r in rule["resources"] if r.endswith("/scale")}
    assert scaled == {"deployments/scale", "statefulsets/scale", "replicasets/scale"}


def test_scale_requests_stay_in_the_api_server_when_turned_off() -> None:
    values = {"webhook": {"scaleSubresources": False}}
    assert not sent(scale(), values)
    rules = one(render(values), "ValidatingWebhookConfiguration")["webhooks"][0]["rules"]
    assert not [r for rule in rules for r in rule["resources"] if "/" in r]
