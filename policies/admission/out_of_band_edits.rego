# METADATA
# title: Changes to GitOps-managed objects go through Git
# description: >-
#   A person (actor class "human") who changes the spec of, or deletes, an object an Argo CD
#   application manages is denied: the change belongs in Git, and Argo CD would revert it anyway.
#   Metadata-only edits (labels, annotations) pass. In an emergency, setting the annotation
#   truthgate.dev/break-glass=<ticket> on the object admits the change with a warning, and the
#   ticket is recorded in the intent ledger.
# custom:
#   kinds: ["*"]
package truthgate.admission.out_of_band_edits

import data.truthgate.lib.workloads
import rego.v1

tg := input.truthgate

# The ticket, when the object carries truthgate.dev/break-glass (null otherwise).
break_glass := tg.breakGlass if is_string(tg.breakGlass)

# A change to the desired state: spec/data/rules changed, or the object removed.
desired_state_changes if tg.specChanged

desired_state_changes if input.request.operation == "DELETE"

out_of_band if {
	tg.managed
	tg.actor["class"] == "human"
	desired_state_changes
}

deny contains msg if {
	out_of_band
	not break_glass
	msg := sprintf(
		"%s is managed by Argo CD app %s; change it in Git, or set annotation truthgate.dev/break-glass=<ticket>",
		[workloads.ref, tg.app],
	)
}

warn contains msg if {
	out_of_band
	break_glass
	msg := sprintf(
		"break-glass %s: %s changed outside Git (app %s); Argo CD reverts it unless Git follows",
		[break_glass, workloads.ref, tg.app],
	)
}
