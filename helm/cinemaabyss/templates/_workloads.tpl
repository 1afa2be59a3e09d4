{{/*
Deployment of one CinemaAbyss service, called with a dict:
  root, component, values      as for cinemaabyss.serviceImage
  livenessPath, readinessPath  the service's own health routes
  probeTimeout                 seconds a probe may take
  env                          YAML list of the service's own variables (PORT and values.env are added)
  mounts, volumes              optional YAML lists added to /tmp's
  tmpSizeLimit                 optional size of /tmp, 64Mi when absent
  terminationGracePeriodSeconds  optional, when the default 30 s is not enough
  usesDatabase                 true adds a checksum of the database credentials
  adminPort                    optional second port (the gateway's ADMIN_PORT): probes and Prometheus use it
The checksum annotations cover what the pods read only at start; the routing file is left
out on purpose, because the gateway re-reads it and needs no restart.
*/}}
{{- define "cinemaabyss.serviceDeployment" -}}
{{- $root := .root }}
{{- $values := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "cinemaabyss.componentName" . }}
  labels:
    {{- include "cinemaabyss.componentLabels" . | nindent 4 }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "cinemaabyss.componentSelectorLabels" . | nindent 6 }}
  strategy:
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      annotations:
        checksum/config: {{ include "cinemaabyss.startupConfig" $root | sha256sum }}
        {{- with .adminPort }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ . | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- if .usesDatabase }}
        {{- /* Not the Secret itself: its generated password is only known to the cluster. */}}
        checksum/secret: {{ toJson $root.Values.postgresql.auth | sha256sum }}
        {{- end }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "cinemaabyss.componentLabels" . | nindent 8 }}
    spec:
      serviceAccountName: {{ include "cinemaabyss.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automount }}
      enableServiceLinks: false
      {{- with .terminationGracePeriodSeconds }}
      terminationGracePeriodSeconds: {{ . }}
      {{- end }}
      {{- with include "cinemaabyss.imagePullSecretName" $root }}
      imagePullSecrets:
        - name: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "cinemaabyss.serviceImage" . | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ $values.port }}
            {{- with .adminPort }}
            - name: admin
              containerPort: {{ . }}
            {{- end }}
          env:
            - name: PORT
              value: {{ $values.port | quote }}
            {{- with .adminPort }}
            - name: ADMIN_PORT
              value: {{ . | quote }}
            {{- end }}
            {{- with .env }}
            {{- . | trim | nindent 12 }}
            {{- end }}
            {{- range $name, $value := $values.env }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
          readinessProbe:
            httpGet:
              path: {{ .readinessPath }}
              port: {{ if .adminPort }}admin{{ else }}http{{ end }}
            periodSeconds: 5
            timeoutSeconds: {{ .probeTimeout }}
            failureThreshold: 3
          livenessProbe:
            httpGet:
              path: {{ .livenessPath }}
              port: {{ if .adminPort }}admin{{ else }}http{{ end }}
            initialDelaySeconds: 5
            periodSeconds: 15
            timeoutSeconds: {{ .probeTimeout }}
            failureThreshold: 4
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            # gunicorn keeps its worker heartbeat files in /tmp.
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- . | trim | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ .tmpSizeLimit | default "64Mi" }}
        {{- with .volumes }}
        {{- . | trim | nindent 8 }}
        {{- end }}
      {{- with include "cinemaabyss.scheduling" $root }}
      {{- . | nindent 6 }}
      {{- end }}
{{- end }}

{{/*
ClusterIP Service of one CinemaAbyss service; same dict as cinemaabyss.serviceDeployment.
*/}}
{{- define "cinemaabyss.serviceService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "cinemaabyss.componentName" . }}
  labels:
    {{- include "cinemaabyss.componentLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "cinemaabyss.componentSelectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .values.port }}
      targetPort: http
    {{- with .adminPort }}
    - name: admin
      port: {{ . }}
      targetPort: admin
    {{- end }}
{{- end }}

{{/*
Database settings of the services on PostgreSQL. libpq reads PGUSER and PGPASSWORD, so the
password never sits in a URL.
*/}}
{{- define "cinemaabyss.databaseEnv" -}}
- name: DB_CONNECTION_STRING
  valueFrom:
    configMapKeyRef:
      name: {{ include "cinemaabyss.fullname" . }}-config
      key: DB_CONNECTION_STRING
- name: PGUSER
  valueFrom:
    secretKeyRef:
      name: {{ include "cinemaabyss.databaseSecretName" . }}
      key: POSTGRES_USER
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "cinemaabyss.databaseSecretName" . }}
      key: POSTGRES_PASSWORD
{{- end }}

{{/*
Scheduling constraints shared by every pod.
*/}}
{{- define "cinemaabyss.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Broker settings of the events service.
*/}}
{{- define "cinemaabyss.eventsEnv" -}}
- name: KAFKA_BROKERS
  valueFrom:
    configMapKeyRef:
      name: {{ include "cinemaabyss.fullname" . }}-config
      key: KAFKA_BROKERS
{{- end }}

{{/*
The gateway's upstreams, and where its routing file is mounted.
*/}}
{{- define "cinemaabyss.gatewayEnv" -}}
{{- $config := printf "%s-config" (include "cinemaabyss.fullname" .) }}
{{- range list "MONOLITH_URL" "MOVIES_SERVICE_URL" "EVENTS_SERVICE_URL" }}
- name: {{ . }}
  valueFrom:
    configMapKeyRef:
      name: {{ $config }}
      key: {{ . }}
{{- end }}
- name: ROUTING_CONFIG_FILE
  value: /etc/cinemaabyss/routing/routing.env
{{- end }}

{{- define "cinemaabyss.routingMount" -}}
- name: routing
  mountPath: /etc/cinemaabyss/routing
  readOnly: true
{{- end }}

{{- define "cinemaabyss.routingVolume" -}}
- name: routing
  configMap:
    name: {{ include "cinemaabyss.fullname" . }}-config
    items:
      - key: routing.env
        path: routing.env
{{- end }}
