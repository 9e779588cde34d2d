{{/*
The Ray pod templates and the whole RayClusterSpec, written once. The chart's RayCluster uses them
for its `spec`, and so can a RayJob's `spec.rayClusterSpec` or a RayService's
`spec.rayClusterConfig`:

  spec:
    rayClusterSpec:
      {{- include "ray-aks.rayClusterSpec" (dict "context" $ "cluster" $cluster "keyPrefix" "rayJobs.train.rayCluster") | nindent 6 }}

A job's cluster values can start from the chart's: `$cluster := mergeOverwrite (deepCopy .Values.rayCluster) $job.rayCluster`.

Every helper takes a dict:
  context    the root context ($)
  cluster    cluster values shaped like .Values.rayCluster (a RayJob may pass a merged copy)
  keyPrefix  the values path of `cluster`, used in error messages (e.g. "rayCluster")
  clusterId  optional logical name of the cluster, the pods' `ray-aks/cluster` label: "cluster" (the
             default) for the chart's RayCluster; a RayJob or the RayService passes its own, so
             NetworkPolicies can allow traffic within one Ray cluster and no further
  extraEnv   optional list of env vars the caller adds to every Ray container (e.g. MLFLOW_TRACKING_URI)
The pod helpers also take `component` ("head" or "worker"), `group` (head or worker group values)
and `groupKey` (the group's values path).
*/}}

{{/* ray-aks.rayClusterSpec: a RayClusterSpec (ray.io/v1) after validating `cluster`. */}}
{{- define "ray-aks.rayClusterSpec" -}}
{{- $ctx := .context -}}
{{- $cluster := .cluster -}}
{{- include "ray-aks.validateRayCluster" . -}}
{{- $autoscaler := $cluster.autoscaler -}}
rayVersion: {{ $cluster.rayVersion | quote }}
enableInTreeAutoscaling: {{ $autoscaler.enabled }}
{{- if $autoscaler.enabled }}
autoscalerOptions:
  version: {{ $autoscaler.version }}
  idleTimeoutSeconds: {{ int $autoscaler.idleTimeoutSeconds }}
  upscalingMode: {{ $autoscaler.upscalingMode }}
  imagePullPolicy: {{ $cluster.image.pullPolicy }}
  resources:
    {{- toYaml $autoscaler.resources | nindent 4 }}
  securityContext:
    {{- toYaml $cluster.securityContext | nindent 4 }}
  {{- with $autoscaler.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
authOptions:
  mode: {{ $cluster.auth.mode }}
{{- $gcs := $cluster.gcsFaultTolerance }}
{{- if $gcs.enabled }}
gcsFaultToleranceOptions:
  redisAddress: {{ $gcs.redisAddress | quote }}
  {{- if $gcs.redisPassword.secretName }}
  redisPassword:
    valueFrom:
      secretKeyRef:
        name: {{ $gcs.redisPassword.secretName }}
        key: {{ $gcs.redisPassword.secretKey }}
  {{- end }}
  {{- with $gcs.externalStorageNamespace }}
  externalStorageNamespace: {{ . | quote }}
  {{- end }}
{{- end }}
{{- $head := $cluster.head }}
{{- with $head.serviceAnnotations }}
headServiceAnnotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
headGroupSpec:
  {{- /* Never exposed beyond the cluster: the Jobs API and the client port run code (SECURITY.md). */}}
  serviceType: ClusterIP
  rayStartParams:
    {{- include "ray-aks.rayStartParams" $head.rayStartParams | nindent 4 }}
  template:
    {{- include "ray-aks.rayPodTemplate" (merge (dict "component" "head" "group" $head "groupKey" (printf "%s.head" .keyPrefix)) .) | nindent 4 }}
{{- $groups := list }}
{{- range $name, $group := $cluster.workerGroups }}
{{- if $group.enabled }}
{{- $groups = append $groups $name }}
{{- end }}
{{- end }}
{{- if $groups }}
workerGroupSpecs:
{{- range $name := $groups }}
{{- $group := get $cluster.workerGroups $name }}
{{- $min := int $group.minReplicas }}
  - groupName: {{ $name }}
    replicas: {{ include "ray-aks.replicas" $group }}
    minReplicas: {{ $min }}
    maxReplicas: {{ int $group.maxReplicas }}
    {{- if not (kindIs "invalid" $group.idleTimeoutSeconds) }}
    idleTimeoutSeconds: {{ int $group.idleTimeoutSeconds }}
    {{- end }}
    rayStartParams:
      {{- include "ray-aks.rayStartParams" $group.rayStartParams | nindent 6 }}
    template:
      {{- include "ray-aks.rayPodTemplate" (merge (dict "component" "worker" "group" $group "groupKey" (printf "%s.workerGroups.%s" $.keyPrefix $name)) $) | nindent 6 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* ray-aks.replicas: a worker group's replicas, defaulting to minReplicas. Takes the group values. */}}
{{- define "ray-aks.replicas" -}}
{{- if kindIs "invalid" .replicas -}}{{ int .minReplicas }}{{- else -}}{{ int .replicas }}{{- end -}}
{{- end -}}

{{/* ray-aks.rayStartParams: `ray start` parameters as the strings the CRD requires. Takes the map. */}}
{{- define "ray-aks.rayStartParams" -}}
{{- $params := dict -}}
{{- range $key, $value := . -}}
{{- /* YAML numbers arrive as float64: write whole ones as integers, not "2e+09". */ -}}
{{- if and (kindIs "float64" $value) (eq (float64 (int64 $value)) $value) -}}
{{- $value = int64 $value -}}
{{- end -}}
{{- $_ := set $params $key (toString $value) -}}
{{- end -}}
{{- toYaml $params -}}
{{- end -}}

{{/*
ray-aks.rayPodTemplate: the PodTemplateSpec of a head or worker group. Takes the dict described at
the top of this file, with component, group and groupKey.
*/}}
{{- define "ray-aks.rayPodTemplate" -}}
{{- $ctx := .context -}}
{{- $values := $ctx.Values -}}
{{- $cluster := .cluster -}}
{{- $group := .group -}}
{{- $isHead := eq .component "head" -}}
{{- $labels := dict -}}
{{- with $group.labels }}{{- $labels = merge $labels (deepCopy .) -}}{{- end -}}
{{- if $values.workloadIdentity.enabled -}}
{{- $_ := set $labels "azure.workload.identity/use" "true" -}}
{{- end -}}
{{- $labels = mergeOverwrite $labels (include "ray-aks.selectorLabels" (dict "context" $ctx "component" (printf "ray-%s" .component)) | fromYaml) -}}
{{- $_ := set $labels "ray-aks/cluster" (.clusterId | default "cluster") -}}
{{- $storage := $cluster.sharedStorage -}}
metadata:
  labels:
    {{- toYaml $labels | nindent 4 }}
  {{- with $group.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "ray-aks.serviceAccountName" $ctx }}
  {{- /* The autoscaler sidecar KubeRay adds to the head reads and scales pods through the API. */}}
  automountServiceAccountToken: {{ or $values.serviceAccount.automountServiceAccountToken (and $isHead $cluster.autoscaler.enabled) }}
  {{- with $values.global.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with ($group.priorityClassName | default $values.global.priorityClassName) }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- with $group.runtimeClassName }}
  runtimeClassName: {{ . | quote }}
  {{- end }}
  securityContext:
    {{- toYaml $cluster.podSecurityContext | nindent 4 }}
  {{- with $group.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $group.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $group.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $group.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ printf "ray-%s" .component }}
      image: {{ include "ray-aks.image" (dict "context" $ctx "image" (ternary (dict) $group.image $isHead) "fallback" $cluster.image) }}
      imagePullPolicy: {{ $cluster.image.pullPolicy }}
      ports:
        {{- if $isHead }}
        - name: gcs-server
          containerPort: {{ include "ray-aks.port" "gcs" }}
          protocol: TCP
        - name: dashboard
          containerPort: {{ include "ray-aks.port" "dashboard" }}
          protocol: TCP
        - name: client
          containerPort: {{ include "ray-aks.port" "client" }}
          protocol: TCP
        - name: serve
          containerPort: {{ include "ray-aks.port" "serve" }}
          protocol: TCP
        {{- if $cluster.autoscaler.enabled }}
        {{- /* Served by the autoscaler sidecar (same pod network); the head PodMonitor scrapes it by name. */}}
        - name: as-metrics
          containerPort: {{ include "ray-aks.port" "autoscalerMetrics" }}
          protocol: TCP
        {{- end }}
        - name: dash-metrics
          containerPort: {{ include "ray-aks.port" "dashboardMetrics" }}
          protocol: TCP
        {{- end }}
        - name: metrics
          containerPort: {{ include "ray-aks.port" "metrics" }}
          protocol: TCP
      {{- $env := concat ($group.env | default list) (.extraEnv | default list) }}
      {{- with $env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if not $isHead }}
      {{- /* A scale-down or node drain stops Ray on the worker first, so Ray moves its work elsewhere. */}}
      lifecycle:
        preStop:
          exec:
            command: ["/bin/sh", "-c", "ray stop"]
      {{- end }}
      resources:
        {{- toYaml $group.resources | nindent 8 }}
      securityContext:
        {{- toYaml $cluster.securityContext | nindent 8 }}
      volumeMounts:
        {{- /* Named as KubeRay names it, so the autoscaler sidecar mounts the same volume. */}}
        - name: ray-logs
          mountPath: /tmp/ray
        {{- if $storage.enabled }}
        - name: cluster-storage
          mountPath: /mnt/cluster_storage
          readOnly: {{ $storage.readOnly }}
        {{- end }}
        {{- with $group.volumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: ray-logs
      emptyDir: {}
    {{- if $storage.enabled }}
    - name: cluster-storage
      persistentVolumeClaim:
        claimName: {{ $storage.existingClaim | default (include "ray-aks.sharedClaimName" $ctx) | quote }}
        readOnly: {{ $storage.readOnly }}
    {{- end }}
    {{- with $group.volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
ray-aks.validateRayCluster: checks of cluster values the schema cannot express; each `fail` names
the key under keyPrefix. Takes the dict described at the top of this file.
*/}}
{{- define "ray-aks.validateRayCluster" -}}
{{- $ctx := .context -}}
{{- $cluster := .cluster -}}
{{- $p := .keyPrefix -}}
{{- $gcs := $cluster.gcsFaultTolerance -}}
{{- if $gcs.enabled -}}
{{- if not $gcs.redisAddress -}}
{{- fail (printf "%s.gcsFaultTolerance.redisAddress is required when %s.gcsFaultTolerance.enabled is true (host:port of the external Redis)" $p $p) -}}
{{- end -}}
{{- if hasKey ($cluster.head.rayStartParams | default dict) "redis-password" -}}
{{- fail (printf "%s.head.rayStartParams.redis-password must not be set when %s.gcsFaultTolerance.enabled is true: use %s.gcsFaultTolerance.redisPassword" $p $p $p) -}}
{{- end -}}
{{- range ($cluster.head.env | default list) -}}
{{- if has .name (list "RAY_REDIS_ADDRESS" "REDIS_PASSWORD") -}}
{{- fail (printf "%s.head.env must not set %s when %s.gcsFaultTolerance.enabled is true: use %s.gcsFaultTolerance" $p .name $p $p) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $storage := $cluster.sharedStorage -}}
{{- if and $storage.enabled (not $storage.existingClaim) (not $ctx.Values.sharedStorage.create.enabled) -}}
{{- fail (printf "%s.sharedStorage.existingClaim is required when %s.sharedStorage.enabled is true and sharedStorage.create.enabled is false (an existing ReadWriteMany PVC, or the chart's)" $p $p) -}}
{{- end -}}
{{- $gpuGroups := 0 -}}
{{- range $name, $group := $cluster.workerGroups -}}
{{- if $group.enabled -}}
{{- $key := printf "%s.workerGroups.%s" $p $name -}}
{{- $min := int $group.minReplicas -}}
{{- $max := int $group.maxReplicas -}}
{{- $replicas := int (include "ray-aks.replicas" $group) -}}
{{- if gt $min $max -}}
{{- fail (printf "%s.minReplicas (%d) must be <= maxReplicas (%d)" $key $min $max) -}}
{{- end -}}
{{- if lt $replicas $min -}}
{{- fail (printf "%s.minReplicas (%d) must be <= replicas (%d)" $key $min $replicas) -}}
{{- end -}}
{{- if gt $replicas $max -}}
{{- fail (printf "%s.replicas (%d) must be <= maxReplicas (%d)" $key $replicas $max) -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $group.idleTimeoutSeconds)) (not (and $cluster.autoscaler.enabled (eq $cluster.autoscaler.version "v2"))) -}}
{{- fail (printf "%s.idleTimeoutSeconds needs the autoscaler v2 (%s.autoscaler.enabled true and %s.autoscaler.version v2)" $key $p $p) -}}
{{- end -}}
{{- $requests := $group.resources.requests | default dict -}}
{{- $limits := $group.resources.limits | default dict -}}
{{- if hasKey $requests "nvidia.com/gpu" -}}
{{- if not (hasKey $limits "nvidia.com/gpu") -}}
{{- fail (printf "%s.resources.limits.nvidia.com/gpu is required when requests set it (Kubernetes requires extended resources in limits)" $key) -}}
{{- end -}}
{{- if ne (toString (index $requests "nvidia.com/gpu")) (toString (index $limits "nvidia.com/gpu")) -}}
{{- fail (printf "%s.resources.requests.nvidia.com/gpu (%v) must equal limits.nvidia.com/gpu (%v)" $key (index $requests "nvidia.com/gpu") (index $limits "nvidia.com/gpu")) -}}
{{- end -}}
{{- end -}}
{{- if include "ray-aks.requestsGPU" $group.resources -}}
{{- $gpuGroups = add1 $gpuGroups -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $ctx.Values.global.gpu (eq $gpuGroups 0) -}}
{{- fail (printf "global.gpu is true but no enabled group in %s.workerGroups requests nvidia.com/gpu (add one, e.g. -f charts/ray-aks-gpu-values.yaml)" $p) -}}
{{- end -}}
{{- end -}}
