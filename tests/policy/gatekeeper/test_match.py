"""spec.match as Gatekeeper reads it, and the cached namespace labels it may need."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from webhooks.errors import ClusterError, PolicyError
from webhooks.policy.gatekeeper.match import Target, matches, parse_match
from webhooks.policy.gatekeeper.namespaces import NamespaceLabels


def target(**kw: object) -> Target:
    base: dict[str, object] = {
        "group": "apps",
        "kind": "Deployment",
        "name": "web",
        "namespace": "shop",
        "labels": {},
    }
    base.update(kw)
    return Target(**base)  # type: ignore[arg-type]


def test_no_match_selects_everything() -> None:
    assert matches(parse_match(None), target())
    assert matches(parse_match({}), target(kind="Namespace", group="", namespace=""))


@pytest.mark.parametrize(
    ("kinds", "selected"),
    [
        ([{"apiGroups": ["apps"], "kinds": ["Deployment"]}], True),
        ([{"apiGroups": [""], "kinds": ["Deployment"]}], False),  # the core group is ""
        ([{"apiGroups": ["*"], "kinds": ["*"]}], True),
        ([{"kinds": ["Pod"]}, {"apiGroups": ["apps"]}], True),  # any entry may select
        ([{"apiGroups": ["batch"], "kinds": ["Job"]}], False),
    ],
)
def test_kinds_need_group_and_kind_in_one_entry(kinds: list[object], selected: bool) -> None:
    assert matches(parse_match({"kinds": kinds}), target()) is selected


def test_scope_separates_namespaced_and_cluster_objects() -> None:
    cluster, namespaced = parse_match({"scope": "Cluster"}), parse_match({"scope": "Namespaced"})
    node = target(group="", kind="Node", namespace="")
    ns = target(group="", kind="Namespace", name="shop", namespace="")
    assert matches(cluster, node) and matches(cluster, ns) and not matches(cluster, target())
    assert matches(namespaced, target()) and not matches(namespaced, ns)


def test_a_namespace_object_is_its_own_namespace() -> None:
    m = parse_match({"excludedNamespaces": ["kube-*"]})
    assert not matches(m, target(group="", kind="Namespace", name="kube-system", namespace=""))
    assert matches(parse_match({"namespaces": ["shop"]}), target(namespace=""))  # cluster-scoped


def test_label_selector_expressions() -> None:
    m = parse_match(
        {
            "labelSelector": {
                "matchLabels": {"team": "shop"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "api"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            }
        }
    )
    assert matches(m, target(labels={"team": "shop", "tier": "web"}))
    assert not matches(m, target(labels={"team": "shop", "tier": "db"}))
    assert not matches(m, target(labels={"team": "shop", "tier": "web", "legacy": "1"}))
    assert not matches(m, target(labels={"tier": "web"}))


def test_name_globs_and_generate_name() -> None:
    m = parse_match({"name": "web-*"})
    assert matches(m, target(name="web-1"))
    assert not matches(m, target(name="api"))
    assert matches(m, target(name="", generate_name="web-"))


def test_namespace_selector_reads_the_namespaces_labels() -> None:
    m = parse_match({"namespaceSelector": {"matchLabels": {"env": "prod"}}})
    assert matches(m, target(namespace_labels={"env": "prod"}))
    assert not matches(m, target(namespace_labels={"env": "dev"}))
    assert matches(
        m, target(group="", kind="Namespace", name="p", namespace="", labels={"env": "prod"})
    )
    assert matches(m, target(group="", kind="Node", namespace=""))  # cluster-scoped: n/a
    with pytest.raises(PolicyError, match="labels of namespace shop"):
        matches(m, target())


@pytest.mark.parametrize(
    "bad",
    [
        {"scope": "Everywhere"},
        {"namespaces": "shop"},
        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
        {"kinds": ["Deployment"]},
    ],
)
def test_malformed_match_is_an_error(bad: dict[str, object]) -> None:
    with pytest.raises(PolicyError, match=r"spec\.match"):
        parse_match(bad)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_namespace_labels_are_cached_learned_and_refetched_after_the_ttl() -> None:
    calls: list[str] = []
    labels: dict[str, Mapping[str, str] | None] = {"shop": {"env": "prod"}, "gone": None}

    def fetch(name: str) -> Mapping[str, str] | None:
        calls.append(name)
        return labels[name]

    clock = Clock()
    cache = NamespaceLabels(fetch, ttl=30, clock=clock)
    assert cache.get("shop") == {"env": "prod"} and cache.get("shop") == {"env": "prod"}
    assert calls == ["shop"]
    cache.remember("shop", {"env": "dev"})  # a Namespace UPDATE the webhook saw
    assert cache.get("shop") == {"env": "dev"} and calls == ["shop"]
    clock.now = 31
    assert cache.get("shop") == {"env": "prod"} and calls == ["shop", "shop"]
    with pytest.raises(PolicyError, match="namespace gone does not exist"):
        cache.get("gone")


def test_a_failing_namespace_lookup_is_a_policy_error() -> None:
    def fetch(name: str) -> Mapping[str, str] | None:
        raise ClusterError("connection refused")

    with pytest.raises(PolicyError, match="labels of namespace shop: connection refused"):
        NamespaceLabels(fetch).get("shop")
    with pytest.raises(PolicyError, match="no cluster access configured"):
        NamespaceLabels(None).get("shop")
