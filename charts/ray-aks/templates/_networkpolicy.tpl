{{/*
Helpers of templates/networkpolicy.yaml. Pods are told apart by the chart's labels:
app.kubernetes.io/name and app.kubernetes.io/instance (every pod of the release),
app.kubernetes.io/component (ray-head, ray-worker, mlflow, ray-job-submitter, test) and
ray-aks/cluster (the logical Ray cluster of a Ray pod, see _pod.tpl).
*/}}

{{/*
ray-aks.rayClusterIds: JSON list of the `ray-aks/cluster` label values of the Ray clusters this
release renders: "cluster" (the RayCluster), "job-<key>" (a RayJob with a cluster of its own),
"cronjob-<key>" (the runs of a RayCronJob with a cluster of its own) and "service" (the RayService).
Takes the root context.
*/}}
{{- define "ray-aks.rayClusterIds" -}}
{{- $ids := list -}}
{{- if .Values.rayCluster.enabled -}}
{{- $ids = append $ids "cluster" -}}
{{- end -}}
{{- $jobs := .Values.rayJobs | default dict -}}
{{- range $key := keys $jobs | sortAlpha -}}
{{- $job := get $jobs $key -}}
{{- if and (kindIs "map" $job) $job.enabled (not $job.useChartCluster) -}}
{{- $ids = append $ids (printf "job-%s" $key) -}}
{{- end -}}
{{- end -}}
{{- $cronJobs := .Values.rayCronJobs | default dict -}}
{{- range $key := keys $cronJobs | sortAlpha -}}
{{- $cron := get $cronJobs $key -}}
{{- if and (kindIs "map" $cron) $cron.enabled (not $cron.useChartCluster) -}}
{{- $ids = append $ids (printf "cronjob-%s" $key) -}}
{{- end -}}
{{- end -}}
{{- if (.Values.rayService | default dict).enabled -}}
{{- $ids = append $ids "service" -}}
{{- end -}}
{{- toJson $ids -}}
{{- end -}}


{{/* ray-aks.rayPodSelector: a LabelSelector of every Ray pod of the release. Takes the root context. */}}
{{- define "ray-aks.rayPodSelector" -}}
matchLabels:
  {{- include "ray-aks.selectorLabels" (dict "context" .) | nindent 2 }}
matchExpressions:
  - key: ray-aks/cluster
    operator: Exists
{{- end -}}

{{/* ray-aks.namespacesSelector: a namespaceSelector of the named namespaces. Takes a list of names. */}}
{{- define "ray-aks.namespacesSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: In
    values:
      {{- toYaml . | nindent 6 }}
{{- end -}}
