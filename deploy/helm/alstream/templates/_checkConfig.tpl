{{/*
Refuse, at render time, configurations that would start but be unsafe or broken: placeholder
or short secrets, SASL without credentials, a model volume without a volume. Included from
every rendered manifest's first template (configmap.yaml), so `helm template` fails too.
*/}}
{{- define "alstream.checkConfig" -}}
{{- $s := .Values.secrets -}}
{{- if not $s.existingSecret -}}
{{- if $s.signingKey -}}
{{- if include "alstream.isPlaceholder" $s.signingKey -}}
{{- fail "secrets.signingKey is a placeholder: set a random key of at least 32 characters (openssl rand -hex 32), leave it empty to have one generated, or use secrets.existingSecret" -}}
{{- end -}}
{{- if lt (len $s.signingKey) 32 -}}
{{- fail "secrets.signingKey is shorter than 32 characters: use openssl rand -hex 32" -}}
{{- end -}}
{{- end -}}
{{- if $s.adminApiKey -}}
{{- if include "alstream.isPlaceholder" $s.adminApiKey -}}
{{- fail "secrets.adminApiKey is a placeholder: set a random key of at least 32 characters (openssl rand -hex 32), leave it empty to have one generated, or use secrets.existingSecret" -}}
{{- end -}}
{{- if lt (len $s.adminApiKey) 32 -}}
{{- fail "secrets.adminApiKey is shorter than 32 characters: use openssl rand -hex 32" -}}
{{- end -}}
{{- end -}}
{{- if hasPrefix "SASL" .Values.kafka.securityProtocol -}}
{{- if not .Values.kafka.sasl.password -}}
{{- fail "kafka.securityProtocol is SASL_*: set kafka.sasl.password or put it in secrets.existingSecret" -}}
{{- end -}}
{{- if include "alstream.isPlaceholder" .Values.kafka.sasl.password -}}
{{- fail "kafka.sasl.password is a placeholder: set the real SASL password or use secrets.existingSecret" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (hasPrefix "SASL" .Values.kafka.securityProtocol) (not .Values.kafka.sasl.mechanism) -}}
{{- fail "kafka.securityProtocol is SASL_*: set kafka.sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)" -}}
{{- end -}}
{{- if and (eq .Values.model.source "volume") (not .Values.model.volume) -}}
{{- fail "model.source=volume needs model.volume (e.g. {persistentVolumeClaim: {claimName: models}})" -}}
{{- end -}}
{{- $hpa := .Values.scorer.autoscaling -}}
{{- if and $hpa.enabled (gt (int $hpa.minReplicas) (int $hpa.maxReplicas)) -}}
{{- fail "scorer.autoscaling.minReplicas is larger than maxReplicas" -}}
{{- end -}}
{{- end -}}
