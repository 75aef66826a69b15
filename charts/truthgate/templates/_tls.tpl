{{/*
The webhook's serving certificate when Helm makes it (neither cert-manager nor an existing
Secret). Generated ONCE: an upgrade looks up the Secret it made before and keeps its CA, so the
caBundle the API server trusts never changes silently. The serving certificate is re-issued from
that same CA when an upgrade finds it within tls.renewBeforeDays of the expiry recorded in the
Secret's annotation; the CA itself is only replaced by deleting the Secret (docs/operations.md).
*/}}

{{/*
Pure part, testable without a cluster: given the Secret found in the cluster (or an empty dict)
return {ca.crt, ca.key, tls.crt, tls.key (base64 PEM), notAfter (RFC 3339), issued (bool)}.
*/}}
{{- define "truthgate.tls.fromExisting" -}}
{{- $root := .root -}}
{{- $data := .existing.data | default dict -}}
{{- $dns := include "truthgate.dnsNames" $root | fromJsonArray -}}
{{- $cn := index $dns 2 -}}
{{- $leafDays := int $root.Values.tls.certValidityDays -}}
{{- $complete := and (index $data "ca.crt") (index $data "ca.key") (index $data "tls.crt") (index $data "tls.key") -}}
{{- $ca := dict -}}
{{- $out := dict -}}
{{- if $complete -}}
{{- $notAfter := dig "metadata" "annotations" "truthgate.dev/cert-not-after" "" .existing -}}
{{- $due := true -}}
{{- if $notAfter -}}
{{- $renewFrom := sub (toDate "2006-01-02T15:04:05Z07:00" $notAfter).Unix (mul (int $root.Values.tls.renewBeforeDays) 86400) -}}
{{- $due = le $renewFrom (now).Unix -}}
{{- end -}}
{{- if not $due -}}
{{- $out = dict "ca.crt" (index $data "ca.crt") "ca.key" (index $data "ca.key") "tls.crt" (index $data "tls.crt") "tls.key" (index $data "tls.key") "notAfter" $notAfter "issued" false -}}
{{- else -}}
{{- $ca = buildCustomCert (index $data "ca.crt") (index $data "ca.key") -}}
{{- end -}}
{{- else -}}
{{- $ca = genCA "truthgate-webhook-ca" (int $root.Values.tls.caValidityDays) -}}
{{- end -}}
{{- if not $out -}}
{{- $leaf := genSignedCert $cn nil $dns $leafDays $ca -}}
{{- $notAfter := dateInZone "2006-01-02T15:04:05Z07:00" (now | dateModify (printf "+%dh" (mul $leafDays 24))) "UTC" -}}
{{- $out = dict "ca.crt" ($ca.Cert | b64enc) "ca.key" ($ca.Key | b64enc) "tls.crt" ($leaf.Cert | b64enc) "tls.key" ($leaf.Key | b64enc) "notAfter" $notAfter "issued" true -}}
{{- end -}}
{{- $out | toJson -}}
{{- end -}}

{{/*
The certificate for this render, computed once and shared by the Secret, the webhook
configuration's caBundle and the Deployment's restart checksum (memoised in .Values: Helm
renders all templates of one release from the same values map).
*/}}
{{- define "truthgate.tls" -}}
{{- if not (hasKey .Values "__truthgateTLS") -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "truthgate.tlsSecretName" .) | default dict -}}
{{- $_ := set .Values "__truthgateTLS" (include "truthgate.tls.fromExisting" (dict "root" . "existing" $existing) | fromJson) -}}
{{- end -}}
{{- .Values.__truthgateTLS | toJson -}}
{{- end -}}

{{- define "truthgate.tls.helmManaged" -}}
{{- if and (not .Values.certManager.enabled) (not .Values.tls.existingSecret) -}}true{{- end -}}
{{- end -}}
