{{/* Names */}}
{{- define "shiplog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "shiplog.fullname" -}}
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

{{- define "shiplog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "shiplog.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels */}}
{{- define "shiplog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shiplog.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "shiplog.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "shiplog.selectorLabels" . }}
app.kubernetes.io/version: {{ include "shiplog.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shiplog
{{- end -}}

{{/* Image */}}
{{- define "shiplog.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "shiplog.image" -}}
{{- $ref := printf "%s:%s" .Values.image.repository (include "shiplog.imageTag" .) -}}
{{- if .Values.image.digest -}}
{{- if not (hasPrefix "sha256:" .Values.image.digest) -}}
{{- fail (printf "image.digest %q must start with sha256:" .Values.image.digest) -}}
{{- end -}}
{{- $ref = printf "%s@%s" $ref .Values.image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* Store: "true" when a PostgreSQL DSN is configured. */}}
{{- define "shiplog.postgres" -}}
{{- if or .Values.postgres.existingSecret .Values.postgres.dsn -}}true{{- end -}}
{{- end -}}

{{- define "shiplog.postgresSecretName" -}}
{{- default (printf "%s-secrets" (include "shiplog.fullname" .)) .Values.postgres.existingSecret -}}
{{- end -}}

{{/* The Secret the chart creates, holding the values given inline. */}}
{{- define "shiplog.secretName" -}}
{{- printf "%s-secrets" (include "shiplog.fullname" .) -}}
{{- end -}}

{{/* Ingest secrets: a list of {name, key, file, configKey} for those configured. */}}
{{- define "shiplog.ingestSecrets" -}}
{{- $out := list -}}
{{- range $id, $s := dict "token" .Values.ingest.token "github" .Values.ingest.github "gitlab" .Values.ingest.gitlab -}}
{{- if or $s.existingSecret $s.value -}}
{{- $file := get (dict "token" "ingest-token" "github" "github-webhook-secret" "gitlab" "gitlab-webhook-secret") $id -}}
{{- $out = append $out (dict "id" $id "secret" (default (include "shiplog.secretName" $) $s.existingSecret) "key" $s.key "file" $file) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "shiplog.secretsDir" -}}/var/run/secrets/shiplog{{- end -}}
{{- define "shiplog.configDir" -}}/etc/shiplog{{- end -}}

{{/* Validation: fail early with a message that says what to change. */}}
{{- define "shiplog.validate" -}}
{{- if not (has .Values.mode (list "knative" "deployment")) -}}
{{- fail (printf "mode must be knative or deployment, not %q" .Values.mode) -}}
{{- end -}}
{{- if not (include "shiplog.postgres" .) -}}
{{- if and (eq .Values.mode "deployment") (gt (int .Values.replicas) 1) -}}
{{- fail (printf "replicas: %d replicas need PostgreSQL: SQLite is one file that only one shiplog may write; set postgres.existingSecret (or postgres.dsn), or replicas: 1" (int .Values.replicas)) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.kube.enabled (not .Values.rbac.create) (not .Values.serviceAccount.name) -}}
{{- fail "kube.enabled watches the cluster as the pod's ServiceAccount: keep rbac.create, or name a ServiceAccount that has read access in serviceAccount.name" -}}
{{- end -}}
{{- end -}}

{{/* shiplog.yaml */}}
{{- define "shiplog.config" -}}
{{- $c := dict -}}
{{- if not (include "shiplog.postgres" .) -}}
{{- $_ := set $c "db" (printf "%s/shiplog.db" (trimSuffix "/" .Values.persistence.mountPath)) -}}
{{- end -}}
{{- $_ := set $c "web" (dict "listen_address" (printf ":%d" (int .Values.containerPort)) "shutdown_timeout" .Values.shutdownTimeout) -}}
{{- $_ := set $c "log" (dict "level" .Values.log.level "format" .Values.log.format) -}}
{{- $ingest := dict "argocd" (dict "cluster" .Values.ingest.argocdCluster) -}}
{{- if .Values.ingest.maxBodyBytes -}}
{{- $_ := set $ingest "max_body_bytes" (int64 .Values.ingest.maxBodyBytes) -}}
{{- end -}}
{{- range (include "shiplog.ingestSecrets" . | fromJsonArray) -}}
{{- $path := printf "%s/%s" (include "shiplog.secretsDir" $) .file -}}
{{- if eq .id "token" -}}
{{- $_ := set $ingest "token_file" $path -}}
{{- else -}}
{{- $_ := set $ingest .id (dict "secret_file" $path) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $c "ingest" $ingest -}}
{{- if .Values.kube.enabled -}}
{{- $cluster := dict "name" .Values.kube.clusterName "in_cluster" true -}}
{{- with .Values.kube.namespaces -}}{{- $_ := set $cluster "namespaces" . -}}{{- end -}}
{{- with .Values.kube.labelSelector -}}{{- $_ := set $cluster "label_selector" . -}}{{- end -}}
{{- with .Values.kube.scaleSampleInterval -}}{{- $_ := set $cluster "scale_sample_interval" . -}}{{- end -}}
{{- with .Values.kube.targetPercent -}}{{- $_ := set $cluster "target_percent" (int .) -}}{{- end -}}
{{- $_ := set $c "kube" (dict "clusters" (list $cluster)) -}}
{{- end -}}
{{- $c = mergeOverwrite $c (deepCopy .Values.extraConfig) -}}
{{- toYaml $c -}}
{{- end -}}

{{/* The shiplog container's arguments after the subcommand. */}}
{{- define "shiplog.args" -}}
- --config.file={{ include "shiplog.configDir" . }}/shiplog.yaml
{{- end -}}

{{/* Environment of the shiplog containers. */}}
{{- define "shiplog.env" -}}
# Temporary files (Go's and SQLite's) go to a writable emptyDir: the root
# filesystem is read-only, and Knative reserves /tmp.
- name: TMPDIR
  value: /var/tmp
{{- if include "shiplog.postgres" . }}
- name: SHIPLOG_DB
  valueFrom:
    secretKeyRef:
      name: {{ include "shiplog.postgresSecretName" . }}
      key: {{ .Values.postgres.secretKey }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volume mounts of the shiplog containers. */}}
{{- define "shiplog.volumeMounts" -}}
- name: config
  mountPath: {{ include "shiplog.configDir" . }}
  readOnly: true
- name: tmp
  mountPath: /var/tmp
{{- if include "shiplog.ingestSecrets" . | fromJsonArray }}
- name: secrets
  mountPath: {{ include "shiplog.secretsDir" . }}
  readOnly: true
{{- end }}
{{- if not (include "shiplog.postgres" .) }}
- name: data
  mountPath: {{ .Values.persistence.mountPath }}
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes of the pod. */}}
{{- define "shiplog.volumes" -}}
- name: config
  configMap:
    name: {{ include "shiplog.fullname" . }}
- name: tmp
  emptyDir: {}
{{- $secrets := include "shiplog.ingestSecrets" . | fromJsonArray }}
{{- if $secrets }}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
    {{- range $secrets }}
    - secret:
        name: {{ .secret }}
        items:
        - key: {{ .key }}
          path: {{ .file }}
    {{- end }}
{{- end }}
{{- if not (include "shiplog.postgres" .) }}
- name: data
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-data" (include "shiplog.fullname" .)) .Values.persistence.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The migrate init container. */}}
{{- define "shiplog.migrateContainer" -}}
- name: migrate
  image: {{ include "shiplog.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
  - migrate
  {{- include "shiplog.args" . | nindent 2 }}
  {{- with (include "shiplog.env" . | trim) }}
  env:
  {{- . | nindent 2 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
  {{- include "shiplog.volumeMounts" . | nindent 2 }}
{{- end -}}
