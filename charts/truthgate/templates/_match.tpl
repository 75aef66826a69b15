{{/*
CEL for the webhook's matchConditions. The API server evaluates them before calling truthgate,
so objects that are not GitOps-managed never leave it. Written to be error-free on every
request: `object` is null on DELETE and `oldObject` is null on CREATE, and an object need not
have annotations or labels (an evaluation error would fall under failurePolicy).
*/}}

{{/* True when the object in variable `.` is non-null and carries a GitOps marker. */}}
{{- define "truthgate.cel.managed" -}}
({{ . }} != null && has({{ . }}.metadata) && ((has({{ . }}.metadata.annotations) && 'argocd.argoproj.io/tracking-id' in {{ . }}.metadata.annotations) || (has({{ . }}.metadata.labels) && 'app.kubernetes.io/instance' in {{ . }}.metadata.labels)))
{{- end -}}

{{/* True when the object in variable `.obj` carries annotation `.key` = "true". */}}
{{- define "truthgate.cel.annotated" -}}
({{ .obj }} != null && has({{ .obj }}.metadata) && has({{ .obj }}.metadata.annotations) && '{{ .key }}' in {{ .obj }}.metadata.annotations && {{ .obj }}.metadata.annotations['{{ .key }}'] == 'true')
{{- end -}}

{{- define "truthgate.matchConditions" -}}
{{- if .Values.webhook.onlyGitOpsManaged }}
# A Scale (the scale subresource) has no labels or annotations: truthgate decides from the
# workload it scales.
- name: gitops-managed
  expression: >-
    {{ include "truthgate.cel.managed" "object" }} || {{ include "truthgate.cel.managed" "oldObject" }}{{ if .Values.webhook.scaleSubresources }} || (has(request.subResource) && request.subResource == 'scale'){{ end }}
{{- end }}
{{- with .Values.webhook.breakGlassAnnotation }}
# On DELETE there is no new object: the annotation on the object being deleted counts.
- name: not-break-glass
  expression: >-
    !({{ include "truthgate.cel.annotated" (dict "obj" "object" "key" .) }} || (object == null && {{ include "truthgate.cel.annotated" (dict "obj" "oldObject" "key" .) }}))
{{- end }}
{{- end -}}
