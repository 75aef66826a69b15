package truthgate.admission.mutable_images_test

import data.truthgate.admission.mutable_images as policy
import rego.v1

digest := "sha256:2f4a3c8d1b0e9f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"

pod_spec(images) := {
	"initContainers": [{"name": "migrate", "image": images.init}],
	"containers": [{"name": "web", "image": images.main}],
}

workload(kind, spec) := {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web", "namespace": "shop"}, "spec": spec}

objects(images) := {
	"Pod": workload("Pod", pod_spec(images)),
	"Deployment": workload("Deployment", {"template": {"spec": pod_spec(images)}}),
	"StatefulSet": workload("StatefulSet", {"template": {"spec": pod_spec(images)}}),
	"DaemonSet": workload("DaemonSet", {"template": {"spec": pod_spec(images)}}),
	"ReplicaSet": workload("ReplicaSet", {"template": {"spec": pod_spec(images)}}),
	"Job": workload("Job", {"template": {"spec": pod_spec(images)}}),
	"CronJob": workload("CronJob", {"jobTemplate": {"spec": {"template": {"spec": pod_spec(images)}}}}),
}

review(kind, images, managed, operation) := {
	"request": {
		"uid": "1",
		"kind": {"group": "apps", "version": "v1", "kind": kind},
		"name": "web",
		"namespace": "shop",
		"operation": operation,
		"userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller"},
		"object": objects(images)[kind],
	},
	"truthgate": {"managed": managed, "app": "shop", "specChanged": true, "breakGlass": null},
}

pinned := {"init": "registry.example.com/shop/migrate:1.4.0", "main": "registry.example.com/shop/web:1.4.0"}

test_pinned_tags_pass_in_every_workload_kind if {
	every kind, _ in objects(pinned) {
		count(policy.deny) == 0 with input as review(kind, pinned, true, "CREATE")
	}
}

test_latest_and_untagged_images_are_denied_in_every_workload_kind if {
	images := {"init": "busybox", "main": "nginx:latest"}
	every kind, _ in objects(images) {
		denials := policy.deny with input as review(kind, images, true, "UPDATE")
		count(denials) == 2
	}
}

test_message_names_object_container_image_and_fix if {
	images := {"init": "busybox:1.36", "main": "nginx:latest"}
	denials := policy.deny with input as review("Deployment", images, true, "CREATE")
	denials == {"Deployment shop/web: container web image nginx:latest uses the mutable tag latest; pin a version tag or an @sha256 digest"}
}

test_init_containers_are_checked if {
	images := {"init": "busybox", "main": "nginx:1.27"}
	some msg in policy.deny with input as review("StatefulSet", images, true, "CREATE")
	contains(msg, "init container migrate image busybox has no tag")
}

test_registry_port_is_not_a_tag if {
	images := {"init": "registry.local:5000/migrate", "main": "registry.local:5000/shop/web:2.0"}
	denials := policy.deny with input as review("Deployment", images, true, "CREATE")
	count(denials) == 1
	some msg in denials
	contains(msg, "registry.local:5000/migrate has no tag")
}

test_digest_pins_even_latest if {
	images := {"init": concat("@", ["busybox", digest]), "main": concat("@", ["nginx:latest", digest])}
	count(policy.deny) == 0 with input as review("Deployment", images, true, "CREATE")
}

test_a_malformed_digest_does_not_pin if {
	images := {"init": "busybox@sha256:abc", "main": "nginx:1.27"}
	count(policy.deny) == 1 with input as review("Deployment", images, true, "CREATE")
}

test_ephemeral_containers_are_checked if {
	inp := review("Pod", pinned, true, "UPDATE")
	debug := object.union(inp, {"request": {"object": {"spec": {"ephemeralContainers": [{"name": "debug", "image": "busybox"}]}}}})
	some msg in policy.deny with input as debug
	contains(msg, "ephemeral container debug image busybox has no tag")
}

test_unmanaged_workloads_and_deletes_are_left_alone if {
	images := {"init": "busybox", "main": "nginx:latest"}
	count(policy.deny) == 0 with input as review("Deployment", images, false, "CREATE")
	count(policy.deny) == 0 with input as review("Deployment", images, true, "DELETE")
}

test_tag_parsing if {
	policy.tag("nginx") == ""
	policy.tag("nginx:1.27") == "1.27"
	policy.tag("host:5000/team/app") == ""
	policy.tag("host:5000/team/app:v2") == "v2"
	policy.tag(concat("@", ["app:v3", digest])) == "v3"
}
