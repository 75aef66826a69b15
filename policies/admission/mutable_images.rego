# METADATA
# title: Images of GitOps-managed workloads are pinned
# description: >-
#   Every container, init container and ephemeral container of a GitOps-managed workload names
#   its image by a version tag other than "latest" or by an @sha256 digest. An image with no tag
#   or with ":latest" can change under the same manifest, so Git no longer says what runs.
#   Registry ports are not tags ("registry:5000/app" has no tag).
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
package truthgate.admission.mutable_images

import data.truthgate.lib.workloads
import rego.v1

# "registry.example.com:5000/shop/web:1.4" → "1.4"; no tag → "". A digest is cut off first.
tag(image) := t if {
	parts := split(split(image, "@")[0], "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	t := substring(last, indexof(last, ":") + 1, -1)
} else := ""

has_digest(image) if regex.match(`@sha256:[a-fA-F0-9]{64}$`, image)

problem(image) := "has no tag" if {
	not has_digest(image)
	tag(image) == ""
}

problem(image) := "uses the mutable tag latest" if {
	not has_digest(image)
	tag(image) == "latest"
}

noun := {"containers": "container", "initContainers": "init container", "ephemeralContainers": "ephemeral container"}

deny contains msg if {
	input.truthgate.managed
	input.request.operation in {"CREATE", "UPDATE"}
	some entry in workloads.containers
	image := entry.container.image
	reason := problem(image)
	msg := sprintf(
		"%s: %s %s image %s %s; pin a version tag or an @sha256 digest",
		[workloads.ref, noun[entry.field], entry.container.name, image, reason],
	)
}
