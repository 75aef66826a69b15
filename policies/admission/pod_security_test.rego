package truthgate.admission.pod_security_test

import data.truthgate.admission.pod_security as policy
import rego.v1

safe_container := {"name": "web", "image": "nginx:1.27", "securityContext": {"allowPrivilegeEscalation": false}}

deployment(pod_spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"template": {"spec": pod_spec}},
}

review(kind, obj, operation) := {"request": {
	"uid": "1",
	"kind": {"group": "apps", "version": "v1", "kind": kind},
	"name": "web",
	"namespace": "shop",
	"operation": operation,
	"userInfo": {"username": "alice@example.com"},
	"object": obj,
}}

test_a_plain_deployment_passes_without_warnings if {
	inp := review("Deployment", deployment({"containers": [safe_container]}), "CREATE")
	count(policy.deny) == 0 with input as inp
	count(policy.warn) == 0 with input as inp
}

test_privileged_container_is_denied if {
	c := object.union(safe_container, {"securityContext": {"privileged": true}})
	denials := policy.deny with input as review("Deployment", deployment({"containers": [c]}), "CREATE")
	denials == {"Deployment shop/web: container web is privileged; remove securityContext.privileged"}
}

test_host_path_volume_is_denied if {
	spec := {"containers": [safe_container], "volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]}
	some msg in policy.deny with input as review("Deployment", deployment(spec), "UPDATE")
	contains(msg, "volume docker mounts hostPath /var/run/docker.sock")
}

test_host_namespaces_are_denied if {
	spec := {"containers": [safe_container], "hostNetwork": true, "hostPID": true, "hostIPC": false}
	denials := policy.deny with input as review("Deployment", deployment(spec), "CREATE")
	count(denials) == 2
}

test_missing_allow_privilege_escalation_false_is_a_warning_only if {
	spec := {"containers": [{"name": "web", "image": "nginx:1.27"}]}
	inp := review("Deployment", deployment(spec), "CREATE")
	count(policy.deny) == 0 with input as inp
	some msg in policy.warn with input as inp
	contains(msg, "set securityContext.allowPrivilegeEscalation: false")
}

test_bare_pods_are_checked if {
	c := object.union(safe_container, {"securityContext": {"privileged": true}})
	pod := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"containers": [c]}}
	count(policy.deny) == 1 with input as review("Pod", pod, "CREATE")
}

test_pods_owned_by_a_controller_are_skipped if {
	c := object.union(safe_container, {"securityContext": {"privileged": true}})
	pod := {
		"apiVersion": "v1",
		"kind": "Pod",
		"metadata": {"name": "web", "namespace": "shop", "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d8", "controller": true}]},
		"spec": {"containers": [c]},
	}
	count(policy.deny) == 0 with input as review("Pod", pod, "CREATE")
}

test_deletes_are_not_checked if {
	c := object.union(safe_container, {"securityContext": {"privileged": true}})
	inp := {"request": object.union(
		object.remove(review("Deployment", {}, "DELETE").request, ["object"]),
		{"oldObject": deployment({"containers": [c]})},
	)}
	count(policy.deny) == 0 with input as inp
}
