{{/*
Names and labels, the usual Helm way: <release>-<chart> unless the release
name already contains the chart name, cut to 63 characters (a DNS label).
*/}}
{{- define "podtap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "podtap.fullname" -}}
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

{{- define "podtap.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the DaemonSet's pods: never change them in an
upgrade (a DaemonSet's selector is immutable). */}}
{{- define "podtap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podtap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "podtap.labels" -}}
helm.sh/chart: {{ include "podtap.chart" . }}
{{ include "podtap.selectorLabels" . }}
app.kubernetes.io/version: {{ include "podtap.imageTag" . | quote }}
app.kubernetes.io/component: node-agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "podtap.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "podtap.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "podtap.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The Service exists when asked for, and whenever a ServiceMonitor
(which selects Services, not pods) needs one. */}}
{{- define "podtap.serviceEnabled" -}}
{{- if or .Values.service.enabled .Values.serviceMonitor.enabled }}true{{ end }}
{{- end }}

{{/*
The capabilities of the default (non-privileged) container: each one is
shown to be needed in README.md ("Capabilities"), and tests/run.sh runs the
core and Python-hook end-to-end tests with exactly this list, read from the
rendered chart.
*/}}
{{- define "podtap.capabilities" -}}
{{- $caps := list "BPF" "PERFMON" "SYS_PTRACE" "DAC_READ_SEARCH" }}
{{- /* The kernel creates uprobes only for CAP_SYS_ADMIN (README.md). */}}
{{- if .Values.pythonHooks.enabled }}
{{- $caps = append $caps "SYS_ADMIN" }}
{{- end }}
{{- /* sock_ops and sk_msg programs, attached to the cgroup root. */}}
{{- if .Values.injectTraceContext.enabled }}
{{- $caps = append $caps "NET_ADMIN" }}
{{- end }}
{{- range .Values.securityContext.extraCapabilities }}
{{- $caps = append $caps (. | upper | trimPrefix "CAP_") }}
{{- end }}
{{- toYaml ($caps | uniq) }}
{{- end }}

{{/*
Metric relabeling for the compatibility families (docs/compat.md): on
flask_* series only, the app's pod as namespace, pod and container, and
podtap's own workload labels gone, so that each series has the labels the
exporter's own would have. Argument: a dict with "namespace" (false for
GMP, which refuses rules that write its target label namespace: the
app's namespace then stays in k8s_namespace_name).
*/}}
{{- define "podtap.compatRelabeling" -}}
{{- $targets := list (list "k8s_pod_name" "pod") (list "k8s_container_name" "container") }}
{{- if .namespace }}
{{- $targets = prepend $targets (list "k8s_namespace_name" "namespace") }}
{{- end }}
{{- range $targets }}
- sourceLabels: [__name__, {{ index . 0 }}]
  regex: "flask_.+;(.+)"
  targetLabel: {{ index . 1 }}
  replacement: "$1"
  action: replace
{{- end }}
{{- $drop := list "k8s_pod_name" "k8s_container_name" "k8s_deployment_name" "k8s_statefulset_name" "k8s_daemonset_name" "k8s_node_name" "service_name" }}
{{- if .namespace }}
{{- $drop = prepend $drop "k8s_namespace_name" }}
{{- end }}
{{- range $drop }}
- sourceLabels: [__name__]
  regex: "flask_.+"
  targetLabel: {{ . }}
  replacement: ""
  action: replace
{{- end }}
{{- end }}
