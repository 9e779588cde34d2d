{{/*
Names, labels, metadata, the pod-level fields every pod shares, images and the object-name check
(ray-aks.checkDnsLabel; every other check is in _validate.tpl). Helpers that need more than the
root context take a dict with `context` (the root, `$`) and what they describe, like argo-helm's
_common.tpl.
*/}}

{{/* ray-aks.name: the chart name, or nameOverride. Takes the root context. */}}
{{- define "ray-aks.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* ray-aks.fullname: `<release>-<chart>` (or the release name when it contains the chart name). Takes the root context. */}}
{{- define "ray-aks.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.suffixedName: `<fullname>-<suffix>` in at most 63 characters. The fullname is shortened,
never the suffix, so two objects of one release keep distinct names. Takes a dict: context, suffix.
*/}}
{{- define "ray-aks.suffixedName" -}}
{{- $suffix := printf "-%s" .suffix -}}
{{- printf "%s%s" (include "ray-aks.fullname" .context | trunc (int (sub 63 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{/*
ray-aks.checkDnsLabel: fail unless `name` is a DNS-1035 label (lowercase letters, digits and '-',
starting with a letter) of at most `max` characters. The message names `key`, the values key that
sets the name, and `why` (optional) says where the limit comes from. Takes a dict: name, key, max, why.
*/}}
{{- define "ray-aks.checkDnsLabel" -}}
{{- if or (gt (len .name) (int .max)) (not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" .name)) -}}
{{- fail (printf "%s %q must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter) of at most %d characters%s; set %s to choose one" .key .name (int .max) (ternary (printf " (%s)" .why) "" (not (empty .why))) .key) -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.port: the number of a named port, the one place each is written. Ray's: gcs 6379,
dashboard (and the Jobs API) 8265, client 10001, serve 8000, metrics 8080, autoscalerMetrics 44217,
dashboardMetrics 44227; and mlflow 5000 (the tracking server's container). Takes the name.
*/}}
{{- define "ray-aks.port" -}}
{{- $ports := dict "gcs" 6379 "dashboard" 8265 "client" 10001 "serve" 8000 "metrics" 8080 "autoscalerMetrics" 44217 "dashboardMetrics" 44227 "mlflow" 5000 -}}
{{- get $ports . -}}
{{- end -}}

{{/* ray-aks.chart: `<chart>-<version>` for the helm.sh/chart label. Takes the root context. */}}
{{- define "ray-aks.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
ray-aks.selectorLabels: the labels that identify a component's pods.
Takes a dict: context (root), component (e.g. "ray-head", "ray-worker", "test").
*/}}
{{- define "ray-aks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ray-aks.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/*
ray-aks.labels: the labels of every object.
Takes a dict: context (root), component (optional).
*/}}
{{- define "ray-aks.labels" -}}
helm.sh/chart: {{ include "ray-aks.chart" .context }}
{{ include "ray-aks.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: ray-aks
{{- end -}}

{{/*
ray-aks.metadata: an object's metadata: name, namespace (unless `clusterScoped`), the labels of
every object with `component` and the extra `labels`, and `annotations` when there are any.
Takes a dict: context (root), name, component (optional), labels, annotations, clusterScoped (optional maps and bool).
*/}}
{{- define "ray-aks.metadata" -}}
name: {{ .name }}
{{- if not .clusterScoped }}
namespace: {{ .context.Release.Namespace }}
{{- end }}
labels:
  {{- include "ray-aks.labels" . | nindent 2 }}
  {{- with .labels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
ray-aks.podLabels: the labels of a pod of `component`: the extra `labels`, the workload identity
label when workloadIdentity.enabled (and `workloadIdentity` is not false), then the selector labels.
Takes a dict: context (root), component, labels (optional map), workloadIdentity (optional bool, default true).
*/}}
{{- define "ray-aks.podLabels" -}}
{{- $labels := deepCopy (.labels | default dict) -}}
{{- if and .context.Values.workloadIdentity.enabled (ne (toString .workloadIdentity) "false") -}}
{{- $_ := set $labels "azure.workload.identity/use" "true" -}}
{{- end -}}
{{- $labels = mergeOverwrite $labels (include "ray-aks.selectorLabels" . | fromYaml) -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
ray-aks.podSpec: the pod-level fields every pod of the chart (Ray heads and workers, RayJob
submitters, MLflow, the `helm test` pod) writes the same way: the ServiceAccount and whether its
token is mounted, global.imagePullSecrets, the priority class (`priorityClassName`, else
global.priorityClassName), `runtimeClassName`, the pod security context, and the scheduling fields
of `scheduling` (nodeSelector, tolerations, affinity, topologySpreadConstraints: a values map such
as a worker group's or mlflow's). Takes a dict: context (root), automountServiceAccountToken (bool),
podSecurityContext, and optionally priorityClassName, runtimeClassName, scheduling.
*/}}
{{- define "ray-aks.podSpec" -}}
{{- $values := .context.Values -}}
serviceAccountName: {{ include "ray-aks.serviceAccountName" .context }}
automountServiceAccountToken: {{ .automountServiceAccountToken }}
{{- with $values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .priorityClassName | default $values.global.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- with .runtimeClassName }}
runtimeClassName: {{ . | quote }}
{{- end }}
securityContext:
  {{- toYaml .podSecurityContext | nindent 2 }}
{{- $scheduling := .scheduling | default dict }}
{{- range $key := list "nodeSelector" "tolerations" "affinity" "topologySpreadConstraints" }}
{{- with get $scheduling $key }}
{{ $key }}:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ray-aks.serviceAccountName: the ServiceAccount of every pod of the chart. Takes the root context. */}}
{{- define "ray-aks.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ray-aks.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ray-aks.rayClusterName: the chart's RayCluster name. Takes the root context. */}}
{{- define "ray-aks.rayClusterName" -}}
{{- default (include "ray-aks.fullname" .) .Values.rayCluster.name -}}
{{- end -}}

{{/*
ray-aks.headServiceName: the head Service KubeRay creates for a RayCluster named `name`.
Takes the cluster name (a string).
*/}}
{{- define "ray-aks.headServiceName" -}}
{{- printf "%s-head-svc" . -}}
{{- end -}}

{{/*
ray-aks.authSecretName: the Secret (key `auth_token`) that holds the token of a Ray cluster whose
authOptions.mode is token: the one its `auth` values name (ray-aks.authSecretRef: an existing Secret
or the chart's kept one), else the one KubeRay creates, named after the cluster (KubeRay's
utils.CheckName keeps the name as it is when it is at most 50 characters and starts with a letter,
which the cluster name validation guarantees). Takes a dict: context (root), cluster (cluster
values), name (the RayCluster's name).
*/}}
{{- define "ray-aks.authSecretName" -}}
{{- include "ray-aks.authSecretRef" . | default .name -}}
{{- end -}}

{{/*
ray-aks.scalarString: a values scalar as a string. YAML numbers arrive as float64: whole ones are
written as integers (20260101, not "2.0260101e+07"). Takes the value.
*/}}
{{- define "ray-aks.scalarString" -}}
{{- $value := . -}}
{{- if and (kindIs "float64" $value) (eq (float64 (int64 $value)) $value) -}}
{{- $value = int64 $value -}}
{{- end -}}
{{- toString $value -}}
{{- end -}}

{{/*
ray-aks.image: `registry/repository:tag[@digest]`.
Takes a dict: context (root), image (registry, repository, tag, digest), fallback (optional image
whose keys fill the ones `image` leaves empty, e.g. a worker group's image over rayCluster.image).
An empty registry falls back to global.imageRegistry, then to none.
*/}}
{{- define "ray-aks.image" -}}
{{- $image := .image | default dict -}}
{{- $fallback := .fallback | default dict -}}
{{- $registry := $fallback.registry -}}
{{- if hasKey $image "registry" -}}{{- $registry = $image.registry -}}{{- end -}}
{{- $registry = $registry | default .context.Values.global.imageRegistry -}}
{{- $repository := $image.repository | default $fallback.repository -}}
{{- $tag := include "ray-aks.scalarString" ($image.tag | default $fallback.tag) -}}
{{- $digest := $image.digest | default $fallback.digest -}}
{{- if $registry -}}{{- printf "%s/" (trimSuffix "/" $registry) -}}{{- end -}}
{{- $repository -}}
{{- with $tag -}}:{{ . }}{{- end -}}
{{- with $digest -}}@{{ . }}{{- end -}}
{{- end -}}

{{/*
ray-aks.requestsGPU: "true" when a resources block asks for nvidia.com/gpu, else "".
Takes the resources dict.
*/}}
{{- define "ray-aks.requestsGPU" -}}
{{- $resources := . | default dict -}}
{{- if or (hasKey ($resources.limits | default dict) "nvidia.com/gpu") (hasKey ($resources.requests | default dict) "nvidia.com/gpu") -}}true{{- end -}}
{{- end -}}

{{/*
ray-aks.operatorFeatureGate: "true" or "false" as kuberay-operator.featureGates sets the operator's
feature gate `name`, "" when the list leaves it out (the operator's own default). Takes a dict:
context (root), name.
*/}}
{{- define "ray-aks.operatorFeatureGate" -}}
{{- $name := .name -}}
{{- $state := "" -}}
{{- range (index .context.Values "kuberay-operator" "featureGates" | default list) -}}
{{- if eq .name $name -}}
{{- $state = toString .enabled -}}
{{- end -}}
{{- end -}}
{{- $state -}}
{{- end -}}
