# METADATA
# title: No host access or privileged containers
# description: >-
#   Denies what the Kubernetes Pod Security Standards "baseline" profile forbids and what
#   Gatekeeper and Kyverno users expect blocked first: privileged containers, hostPath volumes,
#   and sharing the node's network, PID or IPC namespaces. Warns (the "restricted" profile) when
#   a container does not set allowPrivilegeEscalation to false. Applies to every workload,
#   GitOps-managed or not; Pods owned by a controller are skipped (their template was checked
#   on the owner, so a bad Deployment is denied once, not as a stream of failing Pods).
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
package truthgate.admission.pod_security

import data.truthgate.lib.workloads
import rego.v1

checked if {
	input.request.operation in {"CREATE", "UPDATE"}
	not workloads.controlled_pod
}

deny contains msg if {
	checked
	some entry in workloads.containers
	entry.container.securityContext.privileged == true
	msg := sprintf(
		"%s: container %s is privileged; remove securityContext.privileged",
		[workloads.ref, entry.container.name],
	)
}

deny contains msg if {
	checked
	some volume in object.get(workloads.pod_spec, "volumes", [])
	volume.hostPath
	msg := sprintf(
		"%s: volume %s mounts hostPath %s; use a PersistentVolumeClaim, ConfigMap or emptyDir",
		[workloads.ref, volume.name, volume.hostPath.path],
	)
}

deny contains msg if {
	checked
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	workloads.pod_spec[field] == true
	msg := sprintf("%s: %s shares the node's namespace; remove %s: true", [workloads.ref, field, field])
}

warn contains msg if {
	checked
	some entry in workloads.containers
	not entry.container.securityContext.allowPrivilegeEscalation == false
	msg := sprintf(
		"%s: container %s may escalate privileges; set securityContext.allowPrivilegeEscalation: false",
		[workloads.ref, entry.container.name],
	)
}
