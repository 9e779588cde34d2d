{{/* Helpers of the Prometheus and Grafana objects (podmonitor.yaml, prometheusrule.yaml, grafana-dashboard.yaml). */}}

{{/* ray-aks.monitoringAPIVersion: the PodMonitor API of monitoring.flavor (the schema allows only
prometheus-operator and azure-managed, and refuses any other flavor naming the key). Takes the root context. */}}
{{- define "ray-aks.monitoringAPIVersion" -}}
{{- if eq .Values.monitoring.flavor "azure-managed" -}}azmonitoring.coreos.com/v1
{{- else -}}monitoring.coreos.com/v1
{{- end -}}
{{- end -}}

{{/* ray-aks.headPodMonitorName: name of the heads' PodMonitor (its Prometheus job is `<namespace>/<name>`). Takes the root context. */}}
{{- define "ray-aks.headPodMonitorName" -}}
{{- include "ray-aks.suffixedName" (dict "context" . "suffix" "ray-head") -}}
{{- end -}}

{{/*
ray-aks.monitoringEnv: JSON list of the Ray containers' env for the Ray dashboard's Grafana and
Prometheus links (RAY_GRAFANA_HOST, RAY_PROMETHEUS_HOST), empty when neither is configured.
Pass it as `extraEnv` to ray-aks.rayClusterSpec. Takes the root context.
*/}}
{{- define "ray-aks.monitoringEnv" -}}
{{- $env := list -}}
{{- with .Values.monitoring.grafanaHost -}}
{{- $env = append $env (dict "name" "RAY_GRAFANA_HOST" "value" .) -}}
{{- end -}}
{{- with .Values.monitoring.prometheusHost -}}
{{- $env = append $env (dict "name" "RAY_PROMETHEUS_HOST" "value" .) -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}
