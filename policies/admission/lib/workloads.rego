# METADATA
# title: Workload helpers
# description: Pod specs and containers of the object under admission, and how to name it.
package truthgate.lib.workloads

import rego.v1

# Kinds whose pod template lives at spec.template.spec.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

workload_kinds := template_kinds | {"Pod", "CronJob"}

# The object the request is about (oldObject on DELETE).
obj := input.request.object if input.request.operation != "DELETE"

obj := input.request.oldObject if input.request.operation == "DELETE"

kind := input.request.kind.kind

# The pod spec of the object, wherever its kind keeps it.
pod_spec := obj.spec if kind == "Pod"

pod_spec := obj.spec.template.spec if kind in template_kinds

pod_spec := obj.spec.jobTemplate.spec.template.spec if kind == "CronJob"

# Every container with the field it sits in: {"field": "containers", "container": {...}}.
containers contains {"field": field, "container": c} if {
	some field in ["containers", "initContainers", "ephemeralContainers"]
	some c in object.get(pod_spec, field, [])
}

# "Deployment shop/web", "ClusterRole admin", "Pod shop/web-*" (generateName).
ref := sprintf("%s %s", [kind, qualified])

qualified := sprintf("%s/%s", [input.request.namespace, name]) if input.request.namespace != ""

qualified := name if object.get(input.request, "namespace", "") == ""

name := input.request.name if object.get(input.request, "name", "") != ""

name := concat("", [obj.metadata.generateName, "*"]) if {
	object.get(input.request, "name", "") == ""
	obj.metadata.generateName
}

name := "(unnamed)" if {
	object.get(input.request, "name", "") == ""
	not obj.metadata.generateName
}

# A Pod made by a controller (ReplicaSet, Job, StatefulSet…): its template was checked there.
controlled_pod if {
	kind == "Pod"
	some owner in object.get(obj.metadata, "ownerReferences", [])
	owner.controller == true
}
