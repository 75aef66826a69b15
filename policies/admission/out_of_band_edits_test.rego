package truthgate.admission.out_of_band_edits_test

import data.truthgate.admission.out_of_band_edits as policy
import rego.v1

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"replicas": 2},
}

actors := {
	"human": {"username": "alice@example.com", "groups": ["dev"], "class": "human"},
	"argocd": {
		"username": "system:serviceaccount:argocd:argocd-application-controller",
		"groups": ["system:serviceaccounts"], "class": "argocd",
	},
	"controller": {"username": "system:serviceaccount:kube-system:hpa", "groups": [], "class": "controller"},
}

review(operation, actor, spec_changed, managed, break_glass) := {
	"request": {
		"uid": "7b0c",
		"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
		"name": "web",
		"namespace": "shop",
		"operation": operation,
		"userInfo": {"username": actors[actor].username, "groups": actors[actor].groups},
		"object": deployment,
		"oldObject": deployment,
	},
	"truthgate": {
		"app": "shop-web",
		"managed": managed,
		"actor": actors[actor],
		"patch": [{"op": "replace", "path": "/spec/replicas", "value": 3}],
		"specChanged": spec_changed,
		"breakGlass": break_glass,
	},
}

test_human_spec_change_on_managed_object_is_denied_with_the_way_out if {
	denials := policy.deny with input as review("UPDATE", "human", true, true, null)
	count(denials) == 1
	some msg in denials
	contains(msg, "Deployment shop/web is managed by Argo CD app shop-web")
	contains(msg, "change it in Git")
	contains(msg, "truthgate.dev/break-glass=<ticket>")
}

test_human_delete_of_managed_object_is_denied if {
	count(policy.deny) == 1 with input as review("DELETE", "human", false, true, null)
}

test_argocd_sync_is_allowed if {
	count(policy.deny) == 0 with input as review("UPDATE", "argocd", true, true, null)
	count(policy.warn) == 0 with input as review("UPDATE", "argocd", true, true, null)
}

test_controllers_may_change_managed_objects if {
	count(policy.deny) == 0 with input as review("UPDATE", "controller", true, true, null)
}

test_metadata_only_edits_by_humans_pass if {
	count(policy.deny) == 0 with input as review("UPDATE", "human", false, true, null)
}

test_unmanaged_objects_are_not_this_policys_business if {
	count(policy.deny) == 0 with input as review("UPDATE", "human", true, false, null)
	count(policy.deny) == 0 with input as review("DELETE", "human", false, false, null)
}

test_break_glass_admits_with_a_warning_naming_the_ticket if {
	inp := review("UPDATE", "human", true, true, "INC-4711")
	count(policy.deny) == 0 with input as inp
	warnings := policy.warn with input as inp
	count(warnings) == 1
	some msg in warnings
	contains(msg, "break-glass INC-4711")
	contains(msg, "Deployment shop/web")
}

test_empty_break_glass_is_no_break_glass if {
	# The context reports an empty annotation as null; a non-string never counts either.
	count(policy.deny) == 1 with input as review("UPDATE", "human", true, true, false)
}

test_cluster_scoped_objects_are_named_without_namespace if {
	inp := object.union(review("UPDATE", "human", true, true, null), {"request": {
		"kind": {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "ClusterRole"},
		"name": "viewer",
		"namespace": "",
	}})
	some msg in policy.deny with input as inp
	startswith(msg, "ClusterRole viewer is managed by Argo CD app shop-web")
}
