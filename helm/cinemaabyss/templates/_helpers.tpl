{{/*
Expand the name of the chart.
*/}}
{{- define "cinemaabyss.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "cinemaabyss.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "cinemaabyss.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "cinemaabyss.labels" -}}
helm.sh/chart: {{ include "cinemaabyss.chart" . }}
{{ include "cinemaabyss.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cinemaabyss
{{- end }}

{{/*
Selector labels
*/}}
{{- define "cinemaabyss.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cinemaabyss.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "cinemaabyss.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cinemaabyss.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The parts of one component, called with (dict "root" $ "component" "movies-service"):
its object name <fullname>-<component>, its labels and its selector labels.
*/}}
{{- define "cinemaabyss.componentName" -}}
{{- printf "%s-%s" (include "cinemaabyss.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cinemaabyss.componentLabels" -}}
{{ include "cinemaabyss.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "cinemaabyss.componentSelectorLabels" -}}
{{ include "cinemaabyss.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Image of a CinemaAbyss service, called with (dict "root" $ "component" "monolith" "values" .Values.monolith):
the component's own repository and tag, or <registry>/<owner>/<repository>/<component>:<image.tag>.
*/}}
{{- define "cinemaabyss.serviceImage" -}}
{{- $image := .root.Values.image }}
{{- $repository := .values.image.repository | default (printf "%s/%s/%s/%s" $image.registry $image.owner $image.repository .component) }}
{{- printf "%s:%s" $repository (.values.image.tag | default $image.tag | default .root.Chart.AppVersion) }}
{{- end }}

{{/*
Name of the image pull Secret the pods use; empty for none.
*/}}
{{- define "cinemaabyss.imagePullSecretName" -}}
{{- if .Values.imagePullSecret.create }}
{{- printf "%s-registry" (include "cinemaabyss.fullname" .) }}
{{- else }}
{{- .Values.imagePullSecret.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret with POSTGRES_USER and POSTGRES_PASSWORD.
*/}}
{{- define "cinemaabyss.databaseSecretName" -}}
{{- .Values.postgresql.auth.existingSecret | default (include "cinemaabyss.componentName" (dict "root" . "component" "postgres")) }}
{{- end }}

{{/*
URL of a service for the gateway: the in-release Service, or externalUrl when the component is disabled.
Called with (dict "root" $ "component" "monolith" "values" .Values.monolith).
*/}}
{{- define "cinemaabyss.serviceUrl" -}}
{{- if .values.enabled }}
{{- printf "http://%s:%v" (include "cinemaabyss.componentName" .) .values.port }}
{{- else }}
{{- required (printf "%s is disabled: set its externalUrl" .component) .values.externalUrl }}
{{- end }}
{{- end }}

{{/*
The settings the services read as environment variables at start. They form the ConfigMap's
data apart from routing.env, and their checksum restarts the pods when they change.
*/}}
{{- define "cinemaabyss.startupConfig" -}}
MONOLITH_URL: {{ include "cinemaabyss.serviceUrl" (dict "root" . "component" "monolith" "values" .Values.monolith) | quote }}
MOVIES_SERVICE_URL: {{ include "cinemaabyss.serviceUrl" (dict "root" . "component" "movies-service" "values" .Values.moviesService) | quote }}
EVENTS_SERVICE_URL: {{ include "cinemaabyss.serviceUrl" (dict "root" . "component" "events-service" "values" .Values.eventsService) | quote }}
{{- if .Values.kafka.enabled }}
KAFKA_BROKERS: {{ printf "%s:9092" (include "cinemaabyss.componentName" (dict "root" . "component" "kafka")) | quote }}
{{- else }}
KAFKA_BROKERS: {{ required "kafka is disabled: set kafka.externalBrokers" .Values.kafka.externalBrokers | quote }}
{{- end }}
{{- if .Values.postgresql.enabled }}
DB_CONNECTION_STRING: {{ printf "postgresql://%s:5432/%s" (include "cinemaabyss.componentName" (dict "root" . "component" "postgres")) .Values.postgresql.auth.database | quote }}
{{- else }}
DB_CONNECTION_STRING: {{ required "postgresql is disabled: set postgresql.externalUrl" .Values.postgresql.externalUrl | quote }}
{{- end }}
{{- end }}

{{/*
The gateway's routing file: KEY=VALUE lines with the names of its environment variables.
*/}}
{{- define "cinemaabyss.routingFile" -}}
GRADUAL_MIGRATION={{ .Values.migration.gradual }}
MOVIES_MIGRATION_PERCENT={{ .Values.migration.moviesPercent }}
{{- end }}
