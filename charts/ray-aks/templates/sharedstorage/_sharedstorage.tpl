{{/*
The shared storage the chart creates (sharedStorage.create): a ReadWriteMany PVC on Azure Blob
(BlobFuse2) or Azure Files, and optionally its StorageClass. rayCluster.sharedStorage mounts it
(ray-aks.rayPodTemplate in _pod.tpl) when its existingClaim is empty; MLflow keeps artifacts on it
with mlflow.sharedStorage.
*/}}

{{/* ray-aks.sharedClaimName: the PVC `sharedStorage.create` renders. Takes the root context. */}}
{{- define "ray-aks.sharedClaimName" -}}
{{- printf "%s-shared" (include "ray-aks.fullname" .) | trunc 63 | trimSuffix "-" -}}
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

{{/*
ray-aks.validateSharedStorage: checks of sharedStorage values the schema cannot express (a
half-filled setting); each `fail` names the key. sharedstorage/pvc.yaml runs them (mlflow.sharedStorage
is checked by ray-aks.validateMlflow). Takes the root context.
*/}}
{{- define "ray-aks.validateSharedStorage" -}}
{{- $create := .Values.sharedStorage.create -}}
{{- $class := $create.storageClass -}}
{{- $p := "sharedStorage.create.storageClass" -}}
{{- if and $class.enabled (not $create.enabled) -}}
{{- fail (printf "%s.enabled needs sharedStorage.create.enabled: the StorageClass is for the chart's PVC" $p) -}}
{{- end -}}
{{- if not $class.enabled -}}
{{- range $key := list "storageAccount" "resourceGroup" "extraParameters" -}}
{{- if get $class $key -}}
{{- fail (printf "%s.%s needs %s.enabled: the built-in storage class chooses its own account and parameters" $p $key $p) -}}
{{- end -}}
{{- end -}}
{{- if $class.blob.containerName -}}
{{- fail (printf "%s.blob.containerName needs %s.enabled: the built-in storage class creates its own container" $p $p) -}}
{{- end -}}
{{- if $class.files.shareName -}}
{{- fail (printf "%s.files.shareName needs %s.enabled: the built-in storage class creates its own share" $p $p) -}}
{{- end -}}
{{- end -}}
{{- if and $class.blob.containerName (ne $create.type "blob") -}}
{{- fail (printf "%s.blob.containerName is for sharedStorage.create.type blob (it is %s): use %s.files.shareName" $p $create.type $p) -}}
{{- end -}}
{{- if and $class.files.shareName (ne $create.type "files") -}}
{{- fail (printf "%s.files.shareName is for sharedStorage.create.type files (it is %s): use %s.blob.containerName" $p $create.type $p) -}}
{{- end -}}
{{- if and $class.blob.containerName (not $class.storageAccount) -}}
{{- fail (printf "%s.blob.containerName needs %s.storageAccount (the account that holds the container)" $p $p) -}}
{{- end -}}
{{- if and $class.files.shareName (not $class.storageAccount) -}}
{{- fail (printf "%s.files.shareName needs %s.storageAccount (the account that holds the share)" $p $p) -}}
{{- end -}}
{{- if and $class.enabled $class.workloadIdentity -}}
{{- if not (and .Values.workloadIdentity.enabled .Values.workloadIdentity.clientId) -}}
{{- fail (printf "%s.workloadIdentity needs workloadIdentity.enabled and workloadIdentity.clientId (the identity the CSI driver mounts with); set it false to mount with the kubelet identity" $p) -}}
{{- end -}}
{{- if not $class.storageAccount -}}
{{- fail (printf "%s.storageAccount is required when %s.workloadIdentity is true (the existing account the identity has a role on)" $p $p) -}}
{{- end -}}
{{- end -}}
{{- end -}}
