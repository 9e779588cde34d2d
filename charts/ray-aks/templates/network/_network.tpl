{{/*
Helpers of network/networkpolicy.yaml. Pods are told apart by the chart's labels:
app.kubernetes.io/name and app.kubernetes.io/instance (every pod of the release),
app.kubernetes.io/component (ray-head, ray-worker, mlflow, ray-job-submitter, test) and
ray-aks/cluster (the logical Ray cluster of a Ray pod, see _pod.tpl).
*/}}

{{/*
ray-aks.rayClusterIds: JSON list of the `ray-aks/cluster` label values of the Ray clusters this
release renders: "cluster" (the RayCluster), then each workload of ray-aks.workloads with a cluster
of its own: "job-<key>" (a RayJob), "cronjob-<key>" (the runs of a RayCronJob) and "service" (the
RayService). Takes the root context.
*/}}
{{- define "ray-aks.rayClusterIds" -}}
{{- $ids := list -}}
{{- if .Values.rayCluster.enabled -}}
{{- $ids = append $ids "cluster" -}}
{{- end -}}
{{- range $w := include "ray-aks.workloads" . | fromJsonArray -}}
{{- if $w.ownCluster -}}
{{- $ids = append $ids $w.clusterId -}}
{{- end -}}
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
