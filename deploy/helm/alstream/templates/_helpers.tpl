{{/* Names, labels and the pieces every Deployment shares. */}}

{{- define "alstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alstream.fullname" -}}
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

{{- define "alstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "alstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "scorer") */}}
{{- define "alstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "alstream.componentLabels" -}}
{{ include "alstream.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "alstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- include "alstream.fullname" . -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "alstream.secretName" -}}
{{- default (printf "%s-secrets" (include "alstream.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Image reference: (dict "root" $ "gpu" true|false). A digest pins the exact build. */}}
{{- define "alstream.image" -}}
{{- $img := .root.Values.image -}}
{{- $tag := default .root.Chart.AppVersion $img.tag -}}
{{- $ref := printf "%s/%s" $img.registry $img.repository -}}
{{- if .gpu -}}
{{- if $img.gpuDigest -}}{{ printf "%s@%s" $ref $img.gpuDigest }}{{- else -}}{{ printf "%s:%s%s" $ref $tag $img.gpuTagSuffix }}{{- end -}}
{{- else -}}
{{- if $img.digest -}}{{ printf "%s@%s" $ref $img.digest }}{{- else -}}{{ printf "%s:%s" $ref $tag }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* The services the chart deploys: key in values, component name, python module. */}}
{{- define "alstream.components" -}}
ingest: {module: services.ingest, values: ingest}
scorer: {module: services.scorer, values: scorer}
review-api: {module: services.review_api, values: reviewApi}
trainer: {module: services.trainer, values: trainer}
{{- end -}}

{{/* A value that must never be used as a secret: empty, short, or a known placeholder. */}}
{{- define "alstream.isPlaceholder" -}}
{{- $v := lower (toString .) -}}
{{- if or (regexMatch "change[-_ ]?me|replace[-_ ]?me|placeholder|example|dev-signing-key|^(secret|password|admin|test|x+)$" $v) -}}true{{- end -}}
{{- end -}}
