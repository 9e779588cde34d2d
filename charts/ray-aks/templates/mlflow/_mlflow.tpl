{{/*
The MLflow tracking server: the container's arguments and the paths it writes. The Deployment,
Service, PVC and HPA under templates/mlflow/ use these; the names (ray-aks.mlflowName) and the
tracking URI (ray-aks.mlflowTrackingURI) are in _helpers.tpl, the checks (ray-aks.validateMlflow)
in _validate.tpl.
*/}}

{{/* ray-aks.mlflowSQLite: "true" when MLflow keeps its runs in a SQLite file on the chart's PVC. Takes the root context. */}}
{{- define "ray-aks.mlflowSQLite" -}}
{{- if eq .Values.mlflow.database.type "sqlite" -}}true{{- end -}}
{{- end -}}

{{/* ray-aks.mlflowClaimName: the PVC of the SQLite file and the artifacts. Takes the root context. */}}
{{- define "ray-aks.mlflowClaimName" -}}
{{- .Values.mlflow.persistence.existingClaim | default (include "ray-aks.mlflowName" .) -}}
{{- end -}}

{{/*
ray-aks.mlflowArtifactsDestination: `--artifacts-destination`: mlflow.artifactsDestination, the
directory on the shared storage (mlflow.sharedStorage), or one on the chart's PVC. Takes the root context.
*/}}
{{- define "ray-aks.mlflowArtifactsDestination" -}}
{{- $m := .Values.mlflow -}}
{{- if $m.sharedStorage.enabled -}}
{{- printf "/mnt/cluster_storage/%s" (trimAll "/" $m.sharedStorage.path) -}}
{{- else -}}
{{- $m.artifactsDestination | default "/mlflow/data/artifacts" -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.mlflowAllowedHosts: the Host headers `mlflow server` accepts (MLFLOW_SERVER_ALLOWED_HOSTS,
its DNS-rebinding protection, which otherwise allows only localhost and private IPs): the Service's
in-cluster names with any port, localhost (port-forward) and mlflow.allowedHosts. Takes the root context.
*/}}
{{- define "ray-aks.mlflowAllowedHosts" -}}
{{- $name := include "ray-aks.mlflowName" . -}}
{{- $ns := .Release.Namespace -}}
{{- $hosts := list -}}
{{- range (list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.cluster.local" $name $ns) "localhost" "127.0.0.1") -}}
{{- $hosts = append $hosts . -}}
{{- $hosts = append $hosts (printf "%s:*" .) -}}
{{- end -}}
{{- concat $hosts .Values.mlflow.allowedHosts | uniq | join "," -}}
{{- end -}}
