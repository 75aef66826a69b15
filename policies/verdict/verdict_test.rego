package truthgate.verdict_test

import data.truthgate.verdict
import rego.v1

present := {"present": true, "app": "shop-web", "syncPhase": "Succeeded"}

quota := {
	"layer": "runtime", "check": "capacity/quota", "severity": "critical",
	"resource": {"kind": "Deployment", "namespace": "shop", "name": "web"},
	"message": "Deployment shop/web: 5 of 8 pods created, FailedCreate x4: exceeded quota",
}

restarts := {
	"layer": "runtime", "check": "stability/restarts", "severity": "critical",
	"resource": {"kind": "Deployment", "namespace": "shop", "name": "web"},
	"message": "Deployment shop/web: 4 container restarts since sync in 2 pods",
}

rolling := {
	"layer": "controller", "check": "convergence/deployment", "severity": "warning",
	"converging": true, "resource": {"kind": "Deployment", "namespace": "shop", "name": "web"},
	"message": "Deployment shop/web: 3 of 5 pods updated (still converging, 40s after sync)",
}

drift_bg := {
	"layer": "declared", "check": "drift/break-glass", "severity": "warning", "resource": null,
	"message": "Deployment shop/web: break-glass change by alice",
}

test_no_evidence_is_unknown if {
	verdict.verdict == "Unknown" with input as {"findings": [], "evidence": {"present": false}}
	verdict.reasons == ["no evidence was collected: nothing to judge"] with input as {}
}

test_no_findings_is_healthy if {
	verdict.verdict == "Healthy" with input as {"findings": [], "evidence": present}
	verdict.reasons == [] with input as {"findings": [], "evidence": present}
}

test_any_critical_is_degraded_with_its_message if {
	inp := {"findings": [rolling, quota, drift_bg], "evidence": present}
	verdict.verdict == "Degraded" with input as inp
	verdict.reasons == [quota.message] with input as inp
}

test_converging_within_grace_is_progressing if {
	inp := {"findings": [rolling, drift_bg], "evidence": present}
	verdict.verdict == "Progressing" with input as inp
	verdict.reasons == [rolling.message] with input as inp
}

test_only_warnings_stay_healthy_and_say_why if {
	inp := {"findings": [drift_bg], "evidence": present}
	verdict.verdict == "Healthy" with input as inp
	verdict.reasons == [drift_bg.message] with input as inp
}

test_running_sync_is_progressing if {
	inp := {"findings": [], "evidence": object.union(present, {"syncPhase": "Running"})}
	verdict.verdict == "Progressing" with input as inp
	verdict.reasons == ["Argo CD sync still Running"] with input as inp
}

test_running_sync_said_by_its_finding_is_not_said_twice if {
	running := {
		"layer": "controller", "check": "staleness/sync-running", "severity": "warning",
		"converging": true, "resource": null,
		"message": "Argo CD sync of shop-web at 8f3c2a1 still Running, in its PreSync phase",
	}
	inp := {"findings": [running], "evidence": object.union(present, {"syncPhase": "Running"})}
	verdict.verdict == "Progressing" with input as inp
	verdict.reasons == [running.message] with input as inp
}

test_sync_running_only_for_its_post_sync_hooks_is_not_progressing if {
	inp := {"findings": [], "evidence": object.union(present, {"syncPhase": "Running", "inPostSync": true})}
	verdict.verdict == "Healthy" with input as inp
}

test_ignore_a_check_for_this_app if {
	inp := {"findings": [quota], "evidence": present, "settings": {"ignoreChecks": ["capacity/quota"]}}
	verdict.verdict == "Healthy" with input as inp
	verdict.findings == [] with input as inp
}

test_ignore_a_whole_family if {
	inp := {"findings": [quota, restarts], "evidence": present, "settings": {"ignoreChecks": ["capacity"]}}
	verdict.verdict == "Degraded" with input as inp
	verdict.reasons == [restarts.message] with input as inp
}

test_restarts_only_a_warning if {
	inp := {"findings": [restarts], "evidence": present, "settings": {"warnOnly": ["stability/restarts"]}}
	verdict.verdict == "Healthy" with input as inp
	verdict.findings[0].severity == "warning" with input as inp
	verdict.reasons == [restarts.message] with input as inp
}

test_warn_only_leaves_other_checks_critical if {
	inp := {"findings": [restarts, quota], "evidence": present, "settings": {"warnOnly": ["stability"]}}
	verdict.verdict == "Degraded" with input as inp
	verdict.reasons == [quota.message] with input as inp
}

test_escalate_makes_break_glass_degrade if {
	inp := {"findings": [drift_bg], "evidence": present, "settings": {"escalate": ["drift"]}}
	verdict.verdict == "Degraded" with input as inp
}

test_escalate_never_turns_converging_into_critical if {
	inp := {"findings": [rolling], "evidence": present, "settings": {"escalate": ["convergence"]}}
	verdict.verdict == "Progressing" with input as inp
}

test_family_prefix_does_not_match_a_longer_family if {
	inp := {"findings": [quota], "evidence": present, "settings": {"ignoreChecks": ["cap"]}}
	verdict.verdict == "Degraded" with input as inp
}

test_a_single_name_instead_of_a_list_still_works if {
	inp := {"findings": [restarts], "evidence": present, "settings": {"warnOnly": "stability"}}
	verdict.verdict == "Healthy" with input as inp
}

test_malformed_settings_are_ignored_not_fatal if {
	verdict.verdict == "Degraded" with input as {"findings": [quota], "evidence": present, "settings": "x"}
	verdict.verdict == "Degraded" with input as {"findings": [quota], "evidence": present, "settings": {"ignoreChecks": {"a": 1}}}
	verdict.verdict == "Degraded" with input as {"findings": [quota], "evidence": present, "settings": {"ignoreChecks": [1, null]}}
}
