{{/* Names: <release> when it already contains "herder", else <release>-herder; 63 characters at most. */}}
{{- define "herder.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "herder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "herder.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "herder.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "herder.labels" -}}
{{ include "herder.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: herder
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "herder.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The herder.dev plurals by scope, and the namespaced ones only platform administrators write (quotas);
tests/install checks them against herder.api.registry.KINDS. */}}
{{- define "herder.clusterPlurals" -}}
- vcenters
- scvmms
- availabilityzones
- resourcepools
- clusterimages
{{- end -}}

{{- define "herder.namespacedPlurals" -}}
- images
- elasticcloudservers
- elasticcloudserversets
- serversnapshots
- serversnapshotrestores
- serversnapshotschedules
{{- end -}}

{{- define "herder.administeredPlurals" -}}
- serverquotas
{{- end -}}
