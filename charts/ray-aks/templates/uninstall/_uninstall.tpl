{{/*
ray-aks.gcsFaultToleranceInUse: "true" when a Ray cluster the release renders keeps its state in Redis
(GCS fault tolerance): the chart's RayCluster, the RayService's cluster, or a RayJob's or RayCronJob's
cluster of its own; empty otherwise. Takes the root context.
*/}}
{{- define "ray-aks.gcsFaultToleranceInUse" -}}
{{- $v := .Values -}}
{{- $inUse := and $v.rayCluster.enabled $v.rayCluster.gcsFaultTolerance.enabled -}}
{{- if and $v.rayService.enabled (dig "gcsFaultTolerance" "enabled" false ($v.rayService.rayCluster | default dict)) -}}
{{- $inUse = true -}}
{{- end -}}
{{- range $kind := list "rayJobs" "rayCronJobs" -}}
{{- range $key, $job := (get $v $kind | default dict) -}}
{{- if and (kindIs "map" $job) $job.enabled (not $job.useChartCluster) (dig "gcsFaultTolerance" "enabled" false ($job.rayCluster | default dict)) -}}
{{- $inUse = true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $inUse }}true{{ end -}}
{{- end -}}
