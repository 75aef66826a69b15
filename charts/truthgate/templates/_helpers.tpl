{{/* Names, labels and the checks that refuse unsafe values before anything is rendered. */}}

{{- define "truthgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "truthgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "truthgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "truthgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "truthgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "truthgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: truthgate
{{- end -}}

{{- define "truthgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "truthgate.serviceName" -}}
{{- include "truthgate.fullname" . -}}
{{- end -}}

{{- define "truthgate.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "truthgate.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}

{{/* DNS names the API server may use to reach the Service. */}}
{{- define "truthgate.dnsNames" -}}
{{- $svc := include "truthgate.serviceName" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson -}}
{{- end -}}

{{/* Namespaces the webhook is never called for. */}}
{{- define "truthgate.excludedNamespaces" -}}
{{- $base := list "kube-system" "kube-node-lease" .Release.Namespace -}}
{{- concat $base .Values.webhook.excludeNamespaces | uniq | toJson -}}
{{- end -}}

{{/*
Refuse values that would render an unsafe or broken installation. values.schema.json says the
same for installs that validate values; these also hold for `--skip-schema-validation`.
*/}}
{{- define "truthgate.validate" -}}
{{- if and (eq .Values.ledger.type "sqlite") (gt (int .Values.replicas) 1) -}}
{{- fail (printf "replicas=%d with ledger.type=sqlite: one SQLite file cannot be shared by several webhook pods. Use replicas=1, or ledger.type=postgresql with ledger.postgresql.existingSecret for HA (see ci/ha-postgres-values.yaml)." (int .Values.replicas)) -}}
{{- end -}}
{{- if and (eq .Values.ledger.type "postgresql") (not .Values.ledger.postgresql.existingSecret) -}}
{{- fail "ledger.type=postgresql needs ledger.postgresql.existingSecret: the name of a Secret holding the DSN (key ledger.postgresql.secretKey)." -}}
{{- end -}}
{{- if or (lt (int .Values.webhook.timeoutSeconds) 1) (gt (int .Values.webhook.timeoutSeconds) 10) -}}
{{- fail (printf "webhook.timeoutSeconds=%v: must be 1..10 (Kubernetes allows 30, but a webhook that slow stalls controllers; 3 is the default)." .Values.webhook.timeoutSeconds) -}}
{{- end -}}
{{- if not (has .Values.webhook.failurePolicy (list "Ignore" "Fail")) -}}
{{- fail (printf "webhook.failurePolicy=%q: must be Ignore or Fail." .Values.webhook.failurePolicy) -}}
{{- end -}}
{{- range .Values.webhook.rules -}}
{{- range .resources -}}
{{- $base := (split "/" .)._0 -}}
{{- if has $base (list "*" "events" "leases") -}}
{{- fail (printf "webhook.rules: %q is refused: events and leases are written constantly by the cluster itself and must never wait on truthgate." .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.tls.existingSecret (not .Values.tls.caBundle) (not .Values.certManager.enabled) -}}
{{- fail "tls.existingSecret needs tls.caBundle (base64 PEM of the CA that signed it)." -}}
{{- end -}}
{{- if and .Values.hook.enabled (or (not .Values.hook.app) (not .Values.hook.truthcheck)) -}}
{{- fail "hook.enabled needs hook.app (the Argo CD Application) and hook.truthcheck (the TruthCheck to publish to)." -}}
{{- end -}}
{{- end -}}

{{/* The ledger as the webhook's environment: a path for SQLite, a secret DSN for PostgreSQL. */}}
{{- define "truthgate.ledgerEnv" -}}
{{- if eq .Values.ledger.type "postgresql" }}
- name: TRUTHGATE_LEDGER
  valueFrom:
    secretKeyRef:
      name: {{ .Values.ledger.postgresql.existingSecret }}
      key: {{ .Values.ledger.postgresql.secretKey }}
{{- else }}
- name: TRUTHGATE_LEDGER
  value: /var/lib/truthgate/ledger.db
{{- end }}
{{- end -}}

{{/* Security context shared by every truthgate container. */}}
{{- define "truthgate.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "truthgate.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
What `truthgate verify` reads in an application namespace, and the one thing it writes
(TruthCheck status): exactly the verbs the code uses. Shared by the ClusterRole the
application namespaces bind and by the self-verification hooks' own Role.
*/}}
{{- define "truthgate.verifierRules" -}}
- apiGroups: [apps]
  resources: [deployments, statefulsets, daemonsets, replicasets]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods, services, events, configmaps, persistentvolumeclaims, resourcequotas]
  verbs: [get, list]
{{- if .Values.verifier.rbac.readSecrets }}
# RBAC cannot say "metadata only". truthgate lists Secrets as PartialObjectMetadata (no
# values) and reads a value only for a credential a TruthCheck names for truthgate's own use
# (e.g. a Prometheus token), never into evidence, logs or the ledger.
# verifier.rbac.readSecrets=false drops this grant.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list]
{{- end }}
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [get, list]
- apiGroups: [truthgate.dev]
  resources: [truthchecks]
  verbs: [get, list]
{{- include "truthgate.customResourceRules" (list "verifier.rbac.customResources" .Values.verifier.rbac.customResources) }}
# The only write: a merge patch of the status (the TruthCheck itself is read with get).
- apiGroups: [truthgate.dev]
  resources: [truthchecks/status]
  verbs: [patch]
{{- end -}}

{{/*
Get-only rules for the custom resource types a value names (list: the value's name, its list):
the application's custom resources of these types (Application status.resources), read one by
one. Their resource names come from API discovery, which every authenticated user may read
(the built-in ClusterRole system:discovery). Custom groups only: the core group "" and "*" are
refused, as the schema refuses them.
*/}}
{{- define "truthgate.customResourceRules" -}}
{{- $what := index . 0 }}
{{- range index . 1 }}
{{- if or (has "" .apiGroups) (has "*" .apiGroups) (has "*" .resources) }}
{{- fail (printf "%s: name custom resource API groups and resources (no core group \"\", no \"*\"): Secrets and built-in kinds have their own grants" $what) }}
{{- end }}
- apiGroups: {{ .apiGroups | toJson }}
  resources: {{ .resources | toJson }}
  verbs: [get]
{{- end }}
{{- end -}}

{{/* The auditor's name: its Deployment, ServiceAccount and grants. */}}
{{- define "truthgate.auditorName" -}}
{{- printf "%s-auditor" (include "truthgate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the Secret holding the ledger key, or empty when the ledger is not sealed. */}}
{{- define "truthgate.ledgerKeySecret" -}}
{{- if .Values.ledger.key.existingSecret -}}
{{- .Values.ledger.key.existingSecret -}}
{{- else if .Values.ledger.key.generate -}}
{{- printf "%s-ledger-key" (include "truthgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* "true" when the webhook reads the Kubernetes API (scale parents, Gatekeeper's namespace
labels or data.inventory): its pods then mount their token and may reach the API server. */}}
{{- define "truthgate.webhookReadsApi" -}}
{{- $gk := .Values.webhook.gatekeeper | default dict -}}
{{- if or .Values.webhook.scaleSubresources $gk.namespaceSelector $gk.inventory -}}true{{- end -}}
{{- end }}
