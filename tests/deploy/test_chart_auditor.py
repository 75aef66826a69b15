"""The chart installs the auditor: several replicas, one active through a Lease, least privilege."""

from __future__ import annotations

from tests.deploy.conftest import one, render

SHOP = {"verifier": {"namespaces": ["shop", "billing"]}}


def _auditor(docs: list[dict]) -> dict:  # type: ignore[type-arg]
    return one(docs, "Deployment", "truthgate-auditor")


def test_two_replicas_elect_one_through_a_lease_and_audit_the_verifier_namespaces() -> None:
    docs = render(SHOP)
    dep = _auditor(docs)
    assert dep["spec"]["replicas"] == 2
    container = dep["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[0] == "audit" and "--lease=truthgate/truthgate-auditor" in args
    assert [a for a in args if a.startswith("--namespace=")] == [
        "--namespace=shop",
        "--namespace=billing",
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    pdb = one(docs, "PodDisruptionBudget", "truthgate-auditor")
    assert pdb["spec"]["maxUnavailable"] == 1
    labels = dep["spec"]["template"]["metadata"]["labels"]
    webhook = one(docs, "Service")["spec"]["selector"]
    assert not all(labels.get(k) == v for k, v in webhook.items())  # never behind the webhook


def test_the_lease_grant_names_one_lease_and_the_read_grants_are_per_namespace() -> None:
    docs = render(SHOP)
    role = one(docs, "Role", "truthgate-auditor-lease")
    assert role["metadata"]["namespace"] == "truthgate"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["truthgate-auditor"],
            "verbs": ["get", "patch"],
        },
    ]
    reads = [
        d
        for d in docs
        if d["kind"] == "RoleBinding"
        and d["metadata"]["name"] == "truthgate-auditor"
        and d["roleRef"]["name"] == "truthgate-verifier"
    ]
    assert sorted(d["metadata"]["namespace"] for d in reads) == ["billing", "shop"]
    apps = one(docs, "RoleBinding", "truthgate-auditor-applications")
    assert apps["metadata"]["namespace"] == "argocd"
    assert one(docs, "ClusterRole", "truthgate-auditor-nodes")["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}
    ]
    no_nodes = render(SHOP | {"auditor": {"rbac": {"readNodes": False}}})
    assert not [d for d in no_nodes if d["metadata"]["name"] == "truthgate-auditor-nodes"]


def test_nothing_to_audit_renders_no_auditor_and_it_can_be_turned_off() -> None:
    assert not [d for d in render() if "auditor" in d["metadata"]["name"]]
    off = render(SHOP | {"auditor": {"enabled": False}})
    assert not [d for d in off if "auditor" in d["metadata"]["name"]]


def test_the_ledger_reaches_the_auditor_only_when_it_is_shared() -> None:
    def env(values: dict) -> list[str]:  # type: ignore[type-arg]
        container = _auditor(render(values))["spec"]["template"]["spec"]["containers"][0]
        return [e["name"] for e in container.get("env", [])]

    assert "TRUTHGATE_LEDGER" not in env(SHOP)
    ha = SHOP | {
        "replicas": 2,
        "ledger": {"type": "postgresql", "postgresql": {"existingSecret": "truthgate-db"}},
    }
    assert "TRUTHGATE_LEDGER" in env(ha)


def test_every_auditor_replica_is_scraped_on_the_port_it_serves_metrics() -> None:
    assert not [d for d in render(SHOP) if d["kind"] == "PodMonitor"]
    docs = render(SHOP | {"metrics": {"serviceMonitor": {"enabled": True}}})
    monitor = one(docs, "PodMonitor", "truthgate-auditor")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    dep = _auditor(docs)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    (port,) = container["ports"]
    assert endpoint["port"] == port["name"] and endpoint["path"] == "/metrics"
    assert f"--metrics-port={port['containerPort']}" in container["args"]
    # Selects the auditor's pods (all replicas: the alert takes the max over them), and only
    # those: the webhook's pods are scraped through their own ServiceMonitor.
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    webhook_pods = one(docs, "Deployment", "truthgate")["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= webhook_pods.items()
    # The webhook's ServiceMonitor still finds only the webhook's Service.
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Service"] == ["truthgate"]


def test_the_informers_may_watch_exactly_what_a_verification_lists_in_each_namespace() -> None:
    from webhooks.cluster.resources import APP_OBJECT_TYPES

    docs = render(SHOP)
    rules = one(docs, "ClusterRole", "truthgate-auditor-watch")["rules"]
    assert {r["verbs"][0] for r in rules} == {"watch"}
    watched = {
        f"{res}.{g}" if g else res for r in rules for g in r["apiGroups"] for res in r["resources"]
    }
    assert watched == {t.qualified for t in APP_OBJECT_TYPES}
    binds = [
        d
        for d in docs
        if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "truthgate-auditor-watch"
    ]
    assert sorted(d["metadata"]["namespace"] for d in binds) == ["billing", "shop"]
    assert "--no-watch" not in _auditor(docs)["spec"]["template"]["spec"]["containers"][0]["args"]

    no_secrets = render(
        SHOP | {"verifier": {"namespaces": ["shop"], "rbac": {"readSecrets": False}}}
    )
    rules = one(no_secrets, "ClusterRole", "truthgate-auditor-watch")["rules"]
    assert "secrets" not in {res for r in rules for res in r["resources"]}

    off = render(SHOP | {"auditor": {"watch": False}})
    assert not [d for d in off if d["metadata"]["name"] == "truthgate-auditor-watch"]
    assert "--no-watch" in _auditor(off)["spec"]["template"]["spec"]["containers"][0]["args"]
