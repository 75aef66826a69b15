# METADATA
# title: Post-sync verdict
# description: >-
#   Turns the findings of truthgate's cross-layer checks into one verdict for the application
#   (Healthy | Progressing | Degraded | Unknown) with the reasons behind it. Teams tune it from
#   their TruthCheck (spec.verdict) without touching this file, or replace it with their own
#   package of the same name (truthgate replay/verify --verdict-policy DIR).
# custom:
#   input:
#     findings: "[{layer, check, resource, message, severity, converging?}] from the checks"
#     evidence: "{present, app, revision, syncPhase, inPostSync, health, sync, counts: {objects, intents, probes, metrics}}"
#     settings: "TruthCheck spec.verdict: {ignoreChecks, warnOnly, escalate}"
#   output:
#     verdict: Healthy | Progressing | Degraded | Unknown
#     reasons: "the messages that decided it, most important first"
#     findings: "the findings after the settings (ignored dropped, severities adjusted)"
package truthgate.verdict

import rego.v1

settings := s if {
	s := object.get(input, "settings", {})
	is_object(s)
} else := {}

# A list of names; a single string is read as a list of one, anything else as none.
names(key) := v if {
	v := object.get(settings, key, [])
	is_array(v)
} else := [v] if {
	v := object.get(settings, key, [])
	is_string(v)
} else := []

ignore_checks := names("ignoreChecks")

warn_only := names("warnOnly")

escalate := names("escalate")

# A setting names a check id ("stability/restarts") or a whole family ("stability").
names_check(names, check) if {
	some name in names
	name == check
}

names_check(names, check) if {
	some name in names
	name == split(check, "/")[0]
}

severity(f) := "warning" if {
	f.severity == "critical"
	names_check(warn_only, f.check)
} else := "critical" if {
	f.severity == "warning"
	names_check(escalate, f.check)
	not object.get(f, "converging", false)
} else := f.severity

findings := [object.union(f, {"severity": severity(f)}) |
	some f in object.get(input, "findings", [])
	not names_check(ignore_checks, f.check)
]

critical := [f | some f in findings; f.severity == "critical"]

converging := [f | some f in findings; f.severity != "critical"; object.get(f, "converging", false)]

warnings := [f | some f in findings; f.severity == "warning"; not object.get(f, "converging", false)]

evidence := object.get(input, "evidence", {})

no_evidence if not object.get(evidence, "present", false)

# PostSync hooks (truthgate verify itself) run while the operation is still Running, after every
# Sync-phase resource was applied and healthy: from then on the sync is not "still running".
sync_running if {
	object.get(evidence, "syncPhase", "") in {"Running", "Terminating"}
	not object.get(evidence, "inPostSync", false)
}

# The check's own finding says it already, with the phase and the hooks it waits on.
sync_running_said if {
	some f in converging
	f.check == "staleness/sync-running"
}

default verdict := "Healthy"

verdict := "Unknown" if {
	no_evidence
} else := "Degraded" if {
	count(critical) > 0
} else := "Progressing" if {
	count(converging) > 0
} else := "Progressing" if {
	sync_running
}

reasons := ["no evidence was collected: nothing to judge"] if {
	verdict == "Unknown"
} else := [f.message | some f in critical] if {
	verdict == "Degraded"
} else := array.concat(
	[f.message | some f in converging],
	[sprintf("Argo CD sync still %s", [evidence.syncPhase]) | sync_running; not sync_running_said],
) if {
	verdict == "Progressing"
} else := [f.message | some f in warnings]
