"""The chart as `helm install` renders it: every object valid for Kubernetes 1.30 and 1.37, and
the properties that keep truthgate from ever being the reason a cluster stops."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import (
    CHART,
    ROOT,
    Manifest,
    kinds,
    one,
    recognised_as_truthgates_own,
    render,
    render_error,
    validate_builtin,
)
from webhooks.common.api import is_builtin_group

CI_VALUES = {p.name: yaml.safe_load(p.read_text()) for p in sorted((CHART / "ci").glob("*.yaml"))}
# Kinds of other projects' CRDs: checked field by field below, not against an OpenAPI schema.
FOREIGN = {"Certificate", "Issuer", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
HA = CI_VALUES["ha-postgres-values.yaml"]
CERT_MANAGER = CI_VALUES["cert-manager-values.yaml"]


def webhook(docs: list[Manifest]) -> dict[str, Any]:
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert len(vwc["webhooks"]) == 1
    hook: dict[str, Any] = vwc["webhooks"][0]
    return hook


def pod_spec(docs: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment", "truthgate")["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("name", ["defaults", *CI_VALUES])
def test_every_rendered_object_is_valid_kubernetes(name: str) -> None:
    docs = render(CI_VALUES.get(name))
    assert docs
    for doc in docs:
        if doc["kind"] not in FOREIGN:
            validate_builtin(doc)


def test_helm_lint_is_clean_in_strict_mode() -> None:
    import helm_python as helm

    for values in [None, *CI_VALUES.values()]:
        report = helm.lint(
            str(CHART), values, strict=True, namespace="truthgate", kube_version="1.30.0"
        )
        problems = [m for m in report["messages"] if m["severity"] > 1]
        assert report["errors"] == [] and problems == [], report


def test_default_install_is_the_single_replica_sqlite_quick_start() -> None:
    docs = render()
    assert kinds(docs) == sorted(
        [
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",  # the webhook's: get on the workloads a scale request changes
            "ClusterRoleBinding",
            "Deployment",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "PodDisruptionBudget",
            "Secret",
            "Secret",
            "Service",
            "ServiceAccount",
            "ValidatingWebhookConfiguration",
        ]
    )
    deploy = one(docs, "Deployment", "truthgate")
    assert deploy["spec"]["replicas"] == 1
    # One RWO volume, one SQLite writer: the old pod must stop before the new one starts.
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    env = {e["name"]: e for e in pod_spec(docs)["containers"][0]["env"]}
    assert env["TRUTHGATE_LEDGER"]["value"] == "/var/lib/truthgate/ledger.db"
    mounts = {m["name"]: m["mountPath"] for m in pod_spec(docs)["containers"][0]["volumeMounts"]}
    assert mounts["ledger"] == "/var/lib/truthgate"
    claim = one(docs, "PersistentVolumeClaim")
    assert {v["name"]: v for v in pod_spec(docs)["volumes"]}["ledger"]["persistentVolumeClaim"][
        "claimName"
    ] == claim["metadata"]["name"]
    # The ledger is the audit record: uninstalling truthgate does not delete it.
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_the_ledger_is_sealed_retained_and_bounded_by_default() -> None:
    docs = render()
    container = pod_spec(docs)["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TRUTHGATE_RETENTION_DAYS"] == "90"
    assert env["TRUTHGATE_WEBHOOK_TIMEOUT"] == "3"  # ledger writes get 2 s of the API's 3 s
    assert env["TRUTHGATE_LEDGER_KEY_FILE"] == "/etc/truthgate/ledger-key/key"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["ledger-key"]["mountPath"] == "/etc/truthgate/ledger-key"
    assert mounts["ledger-key"]["readOnly"] is True
    secret_name = {v["name"]: v for v in pod_spec(docs)["volumes"]}["ledger-key"]["secret"][
        "secretName"
    ]
    key_secret = next(d for d in docs if d["metadata"]["name"] == secret_name)
    assert key_secret["kind"] == "Secret"
    assert len(base64.b64decode(key_secret["data"]["key"])) >= 32
    # A new key would leave every earlier seal unverifiable: it outlives an uninstall.
    assert key_secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_a_ledger_key_secret_you_bring_replaces_the_generated_one() -> None:
    docs = render({"ledger": {"key": {"existingSecret": "my-ledger-key"}}})
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["ledger-key"]["secret"]["secretName"] == "my-ledger-key"
    assert kinds(docs).count("Secret") == 1  # only the TLS Secret is made
    unsealed = render({"ledger": {"key": {"generate": False}, "retentionDays": 0}})
    env = {e["name"]: e.get("value") for e in pod_spec(unsealed)["containers"][0]["env"]}
    assert "TRUTHGATE_LEDGER_KEY_FILE" not in env
    assert env["TRUTHGATE_RETENTION_DAYS"] == "0"


# -- the webhook configuration ---------------------------------------------------------------


def test_webhook_configuration_is_safe_by_default() -> None:
    hook = webhook(render(namespace="tg-system"))
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["sideEffects"] == "NoneOnDryRun"
    assert hook["failurePolicy"] == "Ignore"
    assert hook["timeoutSeconds"] == 3
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["clientConfig"]["service"] == {
        "name": "truthgate",
        "namespace": "tg-system",
        "path": "/validate",
        "port": 443,
    }
    assert hook["namespaceSelector"] == {
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": ["kube-system", "kube-node-lease", "tg-system"],
            }
        ]
    }
    assert {c["name"] for c in hook["matchConditions"]} == {"gitops-managed", "not-break-glass"}


def test_failure_policy_and_timeout_come_from_values() -> None:
    hook = webhook(render({"webhook": {"failurePolicy": "Fail", "timeoutSeconds": 5}}))
    assert hook["failurePolicy"] == "Fail"
    assert hook["timeoutSeconds"] == 5


def test_extra_excluded_namespaces_add_to_the_fixed_ones() -> None:
    hook = webhook(render({"webhook": {"excludeNamespaces": ["argocd", "kube-system"]}}))
    assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "kube-system",
        "kube-node-lease",
        "truthgate",
        "argocd",
    ]


def test_rules_never_cover_events_leases_or_everything() -> None:
    for values in [None, *CI_VALUES.values()]:
        for rule in webhook(render(values))["rules"]:
            assert rule["scope"] == "Namespaced"
            scale = all(r.endswith("/scale") for r in rule["resources"])
            # A Scale is only ever updated; every other rule covers the whole lifecycle.
            assert set(rule["operations"]) == (
                {"UPDATE"} if scale else {"CREATE", "UPDATE", "DELETE"}
            )
            for resource in rule["resources"]:
                assert resource.split("/")[0] not in {"*", "events", "leases"}


@pytest.mark.parametrize("resource", ["events", "leases", "*", "events/status"])
def test_a_rule_for_events_or_leases_is_refused_with_the_reason(resource: str) -> None:
    from tests.deploy.conftest import render_error

    error = render_error(
        {
            "webhook": {
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps", resource],
                    }
                ]
            }
        }
    )
    assert f'"{resource}" is refused' in error
    assert "must never wait on truthgate" in error


def test_the_webhook_port_the_api_server_calls_is_the_port_the_pods_serve() -> None:
    docs = render()
    service = one(docs, "Service")
    port = service["spec"]["ports"][0]
    assert port["port"] == webhook(docs)["clientConfig"]["service"]["port"]
    container = pod_spec(docs)["containers"][0]
    assert {p["name"] for p in container["ports"]} == {port["targetPort"]}
    pod_labels = one(docs, "Deployment", "truthgate")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


# -- the webhook pods ------------------------------------------------------------------------


def test_webhook_pods_run_locked_down() -> None:
    spec = pod_spec(render())
    # The token is mounted only to read the workload of a scale request (see below).
    assert spec["automountServiceAccountToken"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] != 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_the_only_writable_paths_are_emptydirs_and_the_ledger() -> None:
    spec = pod_spec(render())
    volumes = {v["name"]: v for v in spec["volumes"]}
    container = spec["containers"][0]
    writable = {
        m["mountPath"]: volumes[m["name"]]
        for m in container["volumeMounts"]
        if not m.get("readOnly")
    }
    assert set(writable) == {"/tmp", "/var/run/truthgate/metrics", "/var/lib/truthgate"}
    assert "emptyDir" in writable["/tmp"] and "emptyDir" in writable["/var/run/truthgate/metrics"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # prometheus-client's multi-process files go to a writable emptyDir.
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/var/run/truthgate/metrics"


def test_probes_use_https_on_the_health_endpoints() -> None:
    container = pod_spec(render())["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "https",
        "scheme": "HTTPS",
    }
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": "https",
        "scheme": "HTTPS",
    }


def test_serve_arguments_follow_values() -> None:
    args = pod_spec(
        render({"webhook": {"workers": 3, "threads": 8, "failureMode": "fail-closed"}})
    )["containers"][0]["args"]
    assert args[0] == "serve"
    assert {
        "--workers=3",
        "--threads=8",
        "--failure-mode=fail-closed",
        "--tls-cert=/etc/truthgate/tls/tls.crt",
        "--tls-key=/etc/truthgate/tls/tls.key",
        "--policies=/opt/truthgate/policies/admission",
        "--bind=0.0.0.0:8443",
    } <= set(args)


def test_a_policy_configmap_replaces_the_shipped_policies() -> None:
    spec = pod_spec(render({"policies": {"configMap": "my-policies"}}))
    assert "--policies=/etc/truthgate/policies" in spec["containers"][0]["args"]
    assert {"name": "policies", "configMap": {"name": "my-policies"}} in spec["volumes"]


def test_anti_affinity_is_preferred_by_default_and_required_on_request() -> None:
    preferred = pod_spec(render())["affinity"]["podAntiAffinity"]
    assert list(preferred) == ["preferredDuringSchedulingIgnoredDuringExecution"]
    term = preferred["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    required = pod_spec(render(HA))["affinity"]["podAntiAffinity"]
    assert list(required) == ["requiredDuringSchedulingIgnoredDuringExecution"]


def test_ha_install_uses_postgres_from_a_secret_and_rolls_without_a_gap() -> None:
    docs = render(HA)
    deploy = one(docs, "Deployment", "truthgate")
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    spec = deploy["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "system-cluster-critical"
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    # The DSN (with its password) never appears in the manifest, only a reference.
    assert env["TRUTHGATE_LEDGER"] == {
        "name": "TRUTHGATE_LEDGER",
        "valueFrom": {"secretKeyRef": {"name": "truthgate-ledger", "key": "dsn"}},
    }
    assert "PersistentVolumeClaim" not in kinds(docs)
    assert "ledger" not in {v["name"] for v in spec["volumes"]}


def test_disruption_budget_never_blocks_a_drain() -> None:
    for values in [None, HA]:
        docs = render(values)
        pdb = one(docs, "PodDisruptionBudget", "truthgate")
        assert pdb["spec"]["maxUnavailable"] == 1
        assert "minAvailable" not in pdb["spec"]
        pod_labels = one(docs, "Deployment", "truthgate")["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


# -- RBAC ------------------------------------------------------------------------------------


def test_the_webhook_reads_only_the_workloads_a_scale_request_changes() -> None:
    docs = render(HA)
    sa = one(docs, "ServiceAccount", "truthgate")
    assert sa["automountServiceAccountToken"] is False
    pod = one(docs, "Deployment", "truthgate")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    role = one(docs, "ClusterRole", "truthgate-scale-parents")
    assert role["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "statefulsets", "replicasets"],
            "verbs": ["get"],
        }
    ]
    [binding] = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == "truthgate-scale-parents"
    for rb in [d for d in docs if d["kind"] == "RoleBinding"]:
        assert {
            "kind": "ServiceAccount",
            "name": "truthgate",
            "namespace": "truthgate",
        } not in rb["subjects"]


def test_without_scale_subresources_the_webhook_has_no_api_access_at_all() -> None:
    docs = render({**HA, "webhook": {**HA.get("webhook", {}), "scaleSubresources": False}})
    pod = one(docs, "Deployment", "truthgate")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert "ClusterRoleBinding" not in kinds(docs)


def test_gatekeeper_reads_are_granted_only_when_asked_for() -> None:
    assert not [d for d in render() if d["metadata"]["name"].endswith("gatekeeper-reads")]
    off = {"scaleSubresources": False}
    gatekeeper = {
        "namespaceSelector": True,
        "inventory": [{"apiGroups": [""], "resources": ["namespaces", "services"]}],
    }
    docs = render({"webhook": {**off, "gatekeeper": gatekeeper}})
    role = one(docs, "ClusterRole", "truthgate-gatekeeper-reads")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["namespaces", "services"], "verbs": ["list"]},
    ]
    binding = one(docs, "ClusterRoleBinding", "truthgate-gatekeeper-reads")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "truthgate", "namespace": "truthgate"}
    ]
    # The token is mounted and the API server reachable, though scale reads are off.
    assert pod_spec(docs)["automountServiceAccountToken"] is True
    egress = one(docs, "NetworkPolicy")["spec"]["egress"]
    assert [p["port"] for rule in egress for p in rule["ports"]] == [443, 6443]
    for doc in docs:
        if doc["kind"] not in FOREIGN:
            validate_builtin(doc)


def test_an_inventory_entry_without_resources_is_refused() -> None:
    bad = {"webhook": {"gatekeeper": {"inventory": [{"apiGroups": [""]}]}}}
    with pytest.raises(Exception, match="resources"):
        render(bad)


def test_the_verifier_role_only_reads_except_truthcheck_status() -> None:
    role = one(render(), "ClusterRole", "truthgate-verifier")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        if rule["resources"] == ["truthchecks/status"]:
            assert rule["verbs"] == ["patch"]  # the one write the code makes
        elif is_builtin_group(rule["apiGroups"][0]) or rule["apiGroups"] == ["truthgate.dev"]:
            assert set(rule["verbs"]) == {"get", "list"}, rule
        else:  # custom resources are read one by one, by name
            assert rule["verbs"] == ["get"], rule
    granted = {
        (g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    needed = {
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
        ("", "pods"),
        ("", "services"),
        ("", "events"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "persistentvolumeclaims"),
        ("", "resourcequotas"),
        ("discovery.k8s.io", "endpointslices"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("batch", "jobs"),
        ("events.k8s.io", "events"),
        ("truthgate.dev", "truthchecks"),
        ("truthgate.dev", "truthchecks/status"),
        ("external-secrets.io", "externalsecrets"),
        ("external-secrets.io", "secretstores"),
        ("cert-manager.io", "certificates"),
        ("cert-manager.io", "certificaterequests"),
        ("cert-manager.io", "issuers"),
    }
    assert granted == needed


def test_custom_resource_grants_follow_the_value_and_refuse_the_core_group() -> None:
    custom = [{"apiGroups": ["kafka.strimzi.io"], "resources": ["kafkatopics"]}]
    docs = render({"verifier": {"rbac": {"customResources": custom}}})
    rules = one(docs, "ClusterRole", "truthgate-verifier")["rules"]  # the auditor's too
    assert [
        r
        for r in rules
        if not is_builtin_group(r["apiGroups"][0]) and r["apiGroups"] != ["truthgate.dev"]
    ] == [{"apiGroups": ["kafka.strimzi.io"], "resources": ["kafkatopics"], "verbs": ["get"]}]
    none = one(
        render({"verifier": {"rbac": {"customResources": []}}}), "ClusterRole", "truthgate-verifier"
    )
    assert {g for r in none["rules"] for g in r["apiGroups"]} <= {
        "",
        "apps",
        "batch",
        "autoscaling",
        "discovery.k8s.io",
        "events.k8s.io",
        "truthgate.dev",
    }
    for refused in (
        {"apiGroups": [""], "resources": ["secrets"]},
        {"apiGroups": ["*"], "resources": ["*"]},
    ):
        message = render_error({"verifier": {"rbac": {"customResources": [refused]}}})
        assert "/verifier/rbac/customResources/0/apiGroups/0" in message


def test_cluster_scoped_custom_resources_are_read_cluster_wide_by_the_verifiers_only() -> None:
    docs = render({"verifier": {"namespaces": ["shop", "billing"]}})
    role = one(docs, "ClusterRole", "truthgate-verifier-cluster-resources")
    # By default cert-manager's ClusterIssuer and External Secrets' ClusterSecretStore, what
    # Certificates and ExternalSecrets wait on: get only, by name.
    assert role["rules"] == [
        {"apiGroups": ["cert-manager.io"], "resources": ["clusterissuers"], "verbs": ["get"]},
        {
            "apiGroups": ["external-secrets.io"],
            "resources": ["clustersecretstores"],
            "verbs": ["get"],
        },
    ]
    binding = one(docs, "ClusterRoleBinding", "truthgate-verifier-cluster-resources")
    assert binding["roleRef"]["name"] == "truthgate-verifier-cluster-resources"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "truthgate-verifier", "namespace": "shop"},
        {"kind": "ServiceAccount", "name": "truthgate-verifier", "namespace": "billing"},
        {"kind": "ServiceAccount", "name": "truthgate-auditor", "namespace": "truthgate"},
    ]
    # Another type replaces the default; without the auditor only the hooks are bound.
    crossplane = [{"apiGroups": ["s3.aws.upbound.io"], "resources": ["buckets"]}]
    docs = render(
        {
            "verifier": {"namespaces": ["shop"], "rbac": {"clusterCustomResources": crossplane}},
            "auditor": {"enabled": False},
        }
    )
    assert one(docs, "ClusterRole", "truthgate-verifier-cluster-resources")["rules"] == [
        {"apiGroups": ["s3.aws.upbound.io"], "resources": ["buckets"], "verbs": ["get"]}
    ]
    assert [
        s["namespace"]
        for s in one(docs, "ClusterRoleBinding", "truthgate-verifier-cluster-resources")["subjects"]
    ] == ["shop"]
    # Nothing to read, or nobody to read it: no cluster-wide grant at all.
    for values in (
        {"verifier": {"namespaces": ["shop"], "rbac": {"clusterCustomResources": []}}},
        {},
        {"verifier": {"namespaces": ["shop"], "rbac": {"create": False}}},
    ):
        assert not [d for d in render(values) if "cluster-resources" in d["metadata"]["name"]]


@pytest.mark.parametrize(
    "refused",
    [
        {"apiGroups": [""], "resources": ["nodes"]},
        {"apiGroups": ["*"], "resources": ["*"]},
    ],
    ids=["core", "everything"],
)
def test_a_cluster_wide_grant_of_the_core_group_or_everything_is_refused(
    refused: dict[str, list[str]],
) -> None:
    values = {"verifier": {"namespaces": ["shop"], "rbac": {"clusterCustomResources": [refused]}}}
    assert "/verifier/rbac/clusterCustomResources/0/apiGroups/0" in render_error(values)


def test_secrets_access_can_be_dropped() -> None:
    role = one(
        render({"verifier": {"rbac": {"readSecrets": False}}}), "ClusterRole", "truthgate-verifier"
    )
    assert all("secrets" not in rule["resources"] for rule in role["rules"])


def test_applications_are_readable_only_in_the_argocd_namespace_by_listed_hooks() -> None:
    docs = render({"verifier": {"namespaces": ["shop", "billing"], "argocdNamespace": "gitops"}})
    argocd_role = one(docs, "ClusterRole", "truthgate-verifier-argocd")
    assert argocd_role["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get"]}
    ]
    binding = one(docs, "RoleBinding", "truthgate-verifier-applications")
    assert binding["metadata"]["namespace"] == "gitops"
    assert binding["roleRef"]["name"] == "truthgate-verifier-argocd"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "truthgate-verifier", "namespace": "shop"},
        {"kind": "ServiceAccount", "name": "truthgate-verifier", "namespace": "billing"},
    ]


# -- network, monitoring, certificates, hook -------------------------------------------------


def test_network_policy_admits_only_the_webhook_port_and_sqlite_needs_no_egress() -> None:
    policy = one(render({"webhook": {"scaleSubresources": False}}), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "https", "protocol": "TCP"}]}]
    assert policy["spec"]["egress"] == []


def test_a_webhook_that_reads_the_api_may_reach_the_api_server_and_nothing_else() -> None:
    # The default reads the workload behind `kubectl scale`: without this rule every such
    # review would wait out its 1 s lookup and fall to the failure mode.
    egress = one(render(), "NetworkPolicy")["spec"]["egress"]
    assert egress == [
        {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}
    ]
    control_plane = [{"ipBlock": {"cidr": "10.0.0.0/28"}}]
    values = {"networkPolicy": {"apiServer": {"ports": [6443], "to": control_plane}}}
    egress = one(render(values), "NetworkPolicy")["spec"]["egress"]
    assert egress == [{"ports": [{"port": 6443, "protocol": "TCP"}], "to": control_plane}]


def test_network_policy_lets_postgres_and_dns_out() -> None:
    egress = one(render(HA), "NetworkPolicy")["spec"]["egress"]
    ports = [p["port"] for rule in egress for p in rule["ports"]]
    assert sorted(ports) == [53, 53, 443, 5432, 6443]
    db = next(rule for rule in egress if rule["ports"][0]["port"] == 5432)
    assert db["to"] == HA["networkPolicy"]["postgres"]["to"]


def test_prometheus_rules_are_the_documented_alerts() -> None:
    rule = one(render(HA), "PrometheusRule")
    shipped = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    documented = yaml.safe_load((ROOT / "docs" / "examples" / "prometheusrule.yaml").read_text())
    assert rule["spec"] == shipped == documented["spec"]


def test_service_monitor_scrapes_the_tls_port_trusting_the_webhook_ca() -> None:
    docs = render(HA)
    monitor = one(docs, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == one(docs, "Service")["spec"]["ports"][0]["name"]
    assert endpoint["scheme"] == "https" and endpoint["path"] == "/metrics"
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": "truthgate-tls", "key": "ca.crt"}
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= one(docs, "Service")["metadata"]["labels"].items()
    )


def _secrets(docs: list[Manifest]) -> list[str]:
    return sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Secret")


def test_cert_manager_mode_lets_cainjector_fill_the_ca_bundle() -> None:
    docs = render(CERT_MANAGER)
    assert _secrets(docs) == ["truthgate-ledger-key"]  # no TLS Secret: cert-manager makes it
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert "caBundle" not in vwc["webhooks"][0]["clientConfig"]
    injected_from = vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    serving = one(docs, "Certificate", injected_from.split("/")[1])
    assert injected_from.split("/")[0] == serving["metadata"]["namespace"] == "truthgate"
    assert "truthgate.truthgate.svc" in serving["spec"]["dnsNames"]
    tls_volume = {v["name"]: v for v in pod_spec(docs)["volumes"]}["tls"]
    assert tls_volume["secret"]["secretName"] == serving["spec"]["secretName"]
    # Serving certificate from a long-lived private CA: renewal does not change the caBundle.
    ca_issuer = one(docs, "Issuer", serving["spec"]["issuerRef"]["name"])
    ca_cert = one(docs, "Certificate", "truthgate-ca")
    assert ca_issuer["spec"]["ca"]["secretName"] == ca_cert["spec"]["secretName"]
    assert ca_cert["spec"]["isCA"] is True


def test_a_tls_secret_you_bring_is_used_with_its_ca_bundle() -> None:
    docs = render({"tls": {"existingSecret": "my-tls", "caBundle": "Q0E="}})
    assert _secrets(docs) == ["truthgate-ledger-key"]  # no TLS Secret: yours is used
    assert webhook(docs)["clientConfig"]["caBundle"] == "Q0E="
    tls_volume = {v["name"]: v for v in pod_spec(docs)["volumes"]}["tls"]
    assert tls_volume["secret"]["secretName"] == "my-tls"


def test_the_self_verification_hooks_are_locked_down_jobs() -> None:
    docs = render(CI_VALUES["self-verify-values.yaml"])
    post = one(docs, "Job", "truthgate-verify")
    assert post["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "PostSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    }
    assert post["spec"]["backoffLimit"] == 1
    assert post["spec"]["activeDeadlineSeconds"] == 600
    (container,) = post["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [
        "verify",
        "--in-cluster",
        "--app=truthgate",
        "--app-namespace=argocd",
        "--namespace=truthgate",
        "--truthcheck=truthgate",
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    pre = one(docs, "Job", "truthgate-mark-pending")
    assert pre["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert pre["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--phase=pre-sync"
    # A Degraded verdict (exit 1) is final; infrastructure failures are retried.
    for job in (pre, post):
        assert recognised_as_truthgates_own(job)
        rules = job["spec"]["podFailurePolicy"]["rules"]
        assert rules[0] == {
            "action": "FailJob",
            "onExitCodes": {"containerName": "verify", "operator": "In", "values": [1]},
        }
        assert job["spec"]["backoffLimit"] >= 1
    # Everything the PreSync Job runs as exists before it, in an earlier PreSync wave, and
    # points at nothing Argo CD creates later (the chart's ClusterRoles are Sync-phase objects).
    hooks = {
        (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d
        for d in docs
        if (d["metadata"].get("annotations") or {}).get("argocd.argoproj.io/hook")
    }
    for obj in hooks.values():
        if obj["kind"] != "Job":
            annotations = obj["metadata"]["annotations"]
            assert annotations["argocd.argoproj.io/hook"] == "PreSync"
            assert int(annotations["argocd.argoproj.io/sync-wave"]) < 0
    bindings = [o for o in hooks.values() if o["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == {"truthgate", "argocd"}
    for binding in bindings:
        ref = binding["roleRef"]
        assert ref["kind"] == "Role"
        assert ("Role", binding["metadata"]["namespace"], ref["name"]) in hooks
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "truthgate-verifier", "namespace": "truthgate"}
        ]
    assert ("ServiceAccount", "truthgate", "truthgate-verifier") in hooks
    # In Argo CD's namespace: get, on this one Application only.
    [apps_role] = [
        o for o in hooks.values() if o["kind"] == "Role" and o["metadata"]["namespace"] == "argocd"
    ]
    assert apps_role["rules"] == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["applications"],
            "resourceNames": ["truthgate"],
            "verbs": ["get"],
        }
    ]
    # In its own namespace: the same rules as the ClusterRole application namespaces bind.
    [own_role] = [
        o
        for o in hooks.values()
        if o["kind"] == "Role" and o["metadata"]["namespace"] == "truthgate"
    ]
    assert own_role["rules"] == one(docs, "ClusterRole", "truthgate-verifier")["rules"]


def test_notes_say_how_to_break_glass() -> None:
    from tests.deploy.conftest import notes

    text = notes()
    assert "kubectl delete validatingwebhookconfiguration truthgate" in text
    assert 'truthgate.dev/break-glass="true"' in text
    assert "failurePolicy Fail" in notes({"webhook": {"failurePolicy": "Fail"}})


# -- the template refuses what the schema refuses, even when the schema is skipped -----------


@pytest.fixture(scope="module")
def chart_without_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`helm install --skip-schema-validation` in effect: the same chart minus its schema."""
    copy = tmp_path_factory.mktemp("chart") / "truthgate"
    shutil.copytree(CHART, copy)
    (copy / "values.schema.json").unlink()
    return copy


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 2}, "one SQLite file cannot be shared by several webhook pods"),
        ({"webhook": {"timeoutSeconds": 30}}, "must be 1..10"),
        ({"webhook": {"failurePolicy": "Sometimes"}}, "must be Ignore or Fail"),
        ({"ledger": {"type": "postgresql"}}, "needs ledger.postgresql.existingSecret"),
        (
            {
                "verifier": {
                    "namespaces": ["shop"],
                    "rbac": {"clusterCustomResources": [{"apiGroups": ["*"], "resources": ["*"]}]},
                }
            },
            'verifier.rbac.clusterCustomResources: name custom resource API groups and resources (no core group "", no "*")',
        ),
    ],
    ids=["sqlite-replicas", "timeout", "failure-policy", "postgres-secret", "cluster-wide-all"],
)
def test_templates_refuse_unsafe_values_without_the_schema(
    chart_without_schema: Path, values: dict[str, Any], message: str
) -> None:
    import helm_python as helm

    with (
        helm.Chart.load(str(chart_without_schema)) as loaded,
        pytest.raises(helm.HelmError) as caught,
    ):
        loaded.render(values, name="truthgate", namespace="truthgate", is_install=True)
    assert message in str(caught.value)


def test_values_the_chart_reads_are_all_in_the_schema() -> None:
    # A value read by a template but missing from the schema would be refused as unknown.
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(values: dict[str, Any], props: dict[str, Any], path: str) -> None:
        for key, value in values.items():
            assert key in props, f"{path}{key} is in values.yaml but not in the schema"
            sub = props[key]
            if isinstance(value, dict) and sub.get("additionalProperties") is False:
                walk(value, sub["properties"], f"{path}{key}.")

    walk(defaults, schema["properties"], "")
