package truthgate.lib.workloads_test

import data.truthgate.lib.workloads
import rego.v1

req(overrides) := {"request": object.union(
	{
		"kind": {"group": "", "version": "v1", "kind": "Pod"},
		"operation": "CREATE",
		"namespace": "shop",
		"name": "web",
		"object": {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "a"}]}},
	},
	overrides,
)}

test_ref_names_kind_namespace_and_name if {
	workloads.ref == "Pod shop/web" with input as req({})
}

test_ref_of_generate_name_create if {
	inp := req({"name": "", "object": {"metadata": {"generateName": "web-"}}})
	workloads.ref == "Pod shop/web-*" with input as inp
}

test_ref_of_cluster_scoped_object if {
	inp := {"request": object.remove(req({"kind": {"kind": "Namespace"}}).request, ["namespace"])}
	workloads.ref == "Namespace web" with input as inp
}

test_delete_reads_the_old_object if {
	inp := {"request": {
		"kind": {"group": "", "version": "v1", "kind": "Pod"},
		"operation": "DELETE",
		"namespace": "shop",
		"name": "web",
		"oldObject": {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "old"}]}},
	}}
	containers := workloads.containers with input as inp
	containers == {{"field": "containers", "container": {"name": "old"}}}
}

test_objects_without_pod_spec_have_no_containers if {
	inp := req({"kind": {"kind": "ConfigMap"}, "object": {"data": {"a": "b"}}})
	count(workloads.containers) == 0 with input as inp
}

test_ref_without_any_name if {
	inp := req({"name": "", "object": {"metadata": {}}})
	workloads.ref == "Pod shop/(unnamed)" with input as inp
}
