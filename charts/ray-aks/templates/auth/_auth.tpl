{{/*
Ray authentication of the release's Ray clusters (values `rayCluster.auth`): the Secret that holds a
cluster's token (an existing one, `secretName`; the chart's kept one, `createSecret`; else KubeRay's
own, one per cluster) and Kubernetes-RBAC auth of the chart's RayCluster. _pod.tpl renders a
cluster's `authOptions` from these; templates/auth/ holds the chart's Secret and the RBAC objects.
The checks are ray-aks.validateAuth's and ray-aks.validateRayCluster's (_validate.tpl).
*/}}

{{/* ray-aks.chartTokenSecretName: the chart's kept token Secret, `<fullname>-ray-token`. Takes the root context. */}}
{{- define "ray-aks.chartTokenSecretName" -}}
{{- include "ray-aks.suffixedName" (dict "context" . "suffix" "ray-token") -}}
{{- end -}}

{{/* ray-aks.kubernetesRBAC: "true" when a cluster's values turn on Kubernetes-RBAC auth. Takes the cluster values. */}}
{{- define "ray-aks.kubernetesRBAC" -}}
{{- $auth := .auth -}}
{{- if and (eq $auth.mode "token") ($auth.kubernetesRBAC | default dict).enabled -}}true{{- end -}}
{{- end -}}

{{/*
ray-aks.authSecretRef: the Secret a cluster's `authOptions.secretName` names: the cluster's
`auth.secretName`, else the chart's Secret with `auth.createSecret`; "" when KubeRay makes the
cluster's own (or the cluster has no token: mode disabled, or Kubernetes-RBAC auth, which KubeRay
refuses together with a secretName). Takes a dict: context (root), cluster (cluster values).
*/}}
{{- define "ray-aks.authSecretRef" -}}
{{- $auth := .cluster.auth -}}
{{- if and (eq $auth.mode "token") (not (include "ray-aks.kubernetesRBAC" .cluster)) -}}
{{- if $auth.secretName -}}
{{- $auth.secretName -}}
{{- else if $auth.createSecret -}}
{{- include "ray-aks.chartTokenSecretName" .context -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.chartTokenSecretUsed: "true" when some Ray cluster of the release takes its token from the
chart's Secret, so templates/auth/secret.yaml renders it. Takes the root context.
*/}}
{{- define "ray-aks.chartTokenSecretUsed" -}}
{{- $name := include "ray-aks.chartTokenSecretName" . -}}
{{- range $id, $cluster := include "ray-aks.clustersById" . | fromJson -}}
{{- if eq (include "ray-aks.authSecretRef" (dict "context" $ "cluster" $cluster)) $name -}}true{{- end -}}
{{- end -}}
{{- end -}}
