{{/*
The shared storage the chart creates (sharedStorage.create): a ReadWriteMany PVC on Azure Blob
(BlobFuse2) or Azure Files, and optionally its StorageClass. rayCluster.sharedStorage mounts it
(ray-aks.rayPodTemplate in _pod.tpl) when its existingClaim is empty; MLflow keeps artifacts on it
with mlflow.sharedStorage.
*/}}

{{/* ray-aks.sharedClaimName: the PVC `sharedStorage.create` renders. Takes the root context. */}}
{{- define "ray-aks.sharedClaimName" -}}
{{- include "ray-aks.suffixedName" (dict "context" . "suffix" "shared") -}}
{{- end -}}

{{/*
ray-aks.sharedStorageClaim: the claim the shared storage of the release is: the existing claim of
rayCluster.sharedStorage, else the chart's (sharedStorage.create), else "". Takes the root context.
*/}}
{{- define "ray-aks.sharedStorageClaim" -}}
{{- if .Values.rayCluster.sharedStorage.existingClaim -}}
{{- .Values.rayCluster.sharedStorage.existingClaim -}}
{{- else if .Values.sharedStorage.create.enabled -}}
{{- include "ray-aks.sharedClaimName" . -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.sharedStorageClassName: the storage class of the chart's PVC: sharedStorage.create.storageClassName,
else `<namespace>-<fullname>-shared` for the chart's StorageClass (cluster-scoped, so the namespace is
part of it), else the AKS built-in class of the type. Takes the root context.
*/}}
{{- define "ray-aks.sharedStorageClassName" -}}
{{- $create := .Values.sharedStorage.create -}}
{{- if $create.storageClassName -}}
{{- $create.storageClassName -}}
{{- else if $create.storageClass.enabled -}}
{{- printf "%s-%s-shared" .Release.Namespace (include "ray-aks.fullname" .) | trunc 253 | trimSuffix "-" -}}
{{- else -}}
{{- ternary "azureblob-fuse-premium" "azurefile-csi-premium" (eq $create.type "blob") -}}
{{- end -}}
{{- end -}}
