{{/*
The MLflow tracking server: the container's arguments and the paths it writes. The Deployment,
Service, PVC and HPA under templates/mlflow/ and every RayJob (the tracking URI) use these; the
checks (ray-aks.validateMlflow) are in _validate.tpl.
*/}}

{{/* ray-aks.mlflowName: name of the MLflow tracking server's Deployment and Service. Takes the root context. */}}
{{- define "ray-aks.mlflowName" -}}
{{- include "ray-aks.suffixedName" (dict "context" . "suffix" "mlflow") -}}
{{- end -}}

{{/*
ray-aks.mlflowTrackingURI: the in-cluster URI of the chart's MLflow server, or "" when
mlflow.enabled is false. Every RayJob gets it as MLFLOW_TRACKING_URI. Takes the root context.
*/}}
{{- define "ray-aks.mlflowTrackingURI" -}}
{{- if .Values.mlflow.enabled -}}
{{- printf "http://%s.%s.svc:%d" (include "ray-aks.mlflowName" .) .Release.Namespace (int .Values.mlflow.service.port) -}}
{{- end -}}
{{- end -}}

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
