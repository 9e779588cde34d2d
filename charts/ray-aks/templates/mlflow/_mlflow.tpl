{{/*
The MLflow tracking server: validation, the container's arguments and the paths it writes.
The Deployment, Service, PVC and HPA under templates/mlflow/ use these; the names
(ray-aks.mlflowName) and the tracking URI (ray-aks.mlflowTrackingURI) are in _helpers.tpl.
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
ray-aks.validateMlflow: checks of mlflow values the schema cannot express; each `fail` names the
key. Takes the root context.
*/}}
{{- define "ray-aks.validateMlflow" -}}
{{- $m := .Values.mlflow -}}
{{- $sqlite := include "ray-aks.mlflowSQLite" . -}}
{{- $hpa := $m.autoscaling -}}
{{- if and $hpa.enabled (not $m.enabled) -}}
{{- fail "mlflow.autoscaling.enabled needs mlflow.enabled: the HPA scales the chart's MLflow Deployment (Ray workers scale with the Ray autoscaler, Serve replicas with Serve autoscaling)" -}}
{{- end -}}
{{- if $m.enabled -}}
{{- if $m.sharedStorage.enabled -}}
{{- if not (include "ray-aks.sharedStorageClaim" .) -}}
{{- fail "mlflow.sharedStorage.enabled needs shared storage: sharedStorage.create.enabled or rayCluster.sharedStorage.existingClaim" -}}
{{- end -}}
{{- if $m.artifactsDestination -}}
{{- fail "mlflow.artifactsDestination must be empty when mlflow.sharedStorage.enabled is true (the artifacts go to /mnt/cluster_storage/<mlflow.sharedStorage.path>)" -}}
{{- end -}}
{{- end -}}
{{- if and $hpa.enabled $sqlite -}}
{{- fail "mlflow.autoscaling.enabled requires mlflow.database.type external: the SQLite file on a ReadWriteOnce volume has one writer, so the MLflow Deployment cannot scale (set mlflow.database.existingSecret to a database URI Secret)" -}}
{{- end -}}
{{- if and $sqlite (ne (int $m.replicas) 1) -}}
{{- fail (printf "mlflow.replicas must be 1 with mlflow.database.type sqlite (got %d): one SQLite file on a ReadWriteOnce volume has one writer; use an external database to run more" (int $m.replicas)) -}}
{{- end -}}
{{- if not $sqlite -}}
{{- if not $m.database.uri.secretName -}}
{{- fail "mlflow.database.uri.secretName is required when mlflow.database.type is external (an existing Secret whose key mlflow.database.uri.secretKey holds the database URI)" -}}
{{- end -}}
{{- if not (or $m.artifactsDestination $m.sharedStorage.enabled) -}}
{{- fail "mlflow.artifactsDestination is required when mlflow.database.type is external (e.g. wasbs://<container>@<account>.blob.core.windows.net/mlflow), unless mlflow.sharedStorage.enabled: the chart's PVC is for SQLite only" -}}
{{- end -}}
{{- end -}}
{{- if $hpa.enabled -}}
{{- if gt (int $hpa.minReplicas) (int $hpa.maxReplicas) -}}
{{- fail (printf "mlflow.autoscaling.minReplicas (%d) must be <= mlflow.autoscaling.maxReplicas (%d)" (int $hpa.minReplicas) (int $hpa.maxReplicas)) -}}
{{- end -}}
{{- if and (kindIs "invalid" $hpa.targetCPUUtilizationPercentage) (kindIs "invalid" $hpa.targetMemoryUtilizationPercentage) -}}
{{- fail "mlflow.autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage (an HPA without a metric never scales)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
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
