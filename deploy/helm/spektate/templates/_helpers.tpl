{{/* The chart's name. */}}
{{- define "spektate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: the release's, with the chart's name unless it has it already. */}}
{{- define "spektate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "spektate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spektate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "spektate.labels" -}}
{{ include "spektate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* The Secret holding the store URL. */}}
{{- define "spektate.storeSecret" -}}
{{- .Values.store.existingSecret | default (printf "%s-store" (include "spektate.fullname" .)) }}
{{- end }}

{{/* The Secret holding the token file. */}}
{{- define "spektate.tokensSecret" -}}
{{- .Values.tokens.existingSecret | default (printf "%s-tokens" (include "spektate.fullname" .)) }}
{{- end }}
