{{/*
ray-aks.gcsFaultToleranceInUse: "true" when a Ray cluster the release renders keeps its state in Redis
(GCS fault tolerance): the chart's RayCluster, the RayService's cluster, or a RayJob's or RayCronJob's
cluster of its own; empty otherwise. Takes the root context.
*/}}
{{- define "ray-aks.gcsFaultToleranceInUse" -}}
{{- $v := .Values -}}
{{- $inUse := and $v.rayCluster.enabled $v.rayCluster.gcsFaultTolerance.enabled -}}
{{- /* Each workload's merged values: a job may take useChartCluster or its rayCluster from rayJobDefaults. */ -}}
{{- range $w := include "ray-aks.workloads" . | fromJsonArray -}}
{{- if and $w.ownCluster (dig "gcsFaultTolerance" "enabled" false ($w.values.rayCluster | default dict)) -}}
{{- $inUse = true -}}
{{- end -}}
{{- end -}}
{{- if $inUse }}true{{ end -}}
{{- end -}}
