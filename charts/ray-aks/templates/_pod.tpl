{{/*
The Ray pod templates and the whole RayClusterSpec, written once. The chart's RayCluster uses them
for its `spec`, and so can a RayJob's `spec.rayClusterSpec` or a RayService's
`spec.rayClusterConfig`:

  spec:
    rayClusterSpec:
      {{- include "ray-aks.rayClusterSpec" (dict "context" $ "cluster" $cluster "clusterId" "job-train") | nindent 6 }}

A job's cluster values can start from the chart's: `$cluster := mergeOverwrite (deepCopy .Values.rayCluster) $job.rayCluster`.

Every helper takes a dict:
  context    the root context ($)
  cluster    cluster values shaped like .Values.rayCluster (a RayJob may pass a merged copy)
  clusterId  optional logical name of the cluster, the pods' `ray-aks/cluster` label: "cluster" (the
             default) for the chart's RayCluster; a RayJob or the RayService passes its own, so
             NetworkPolicies can allow traffic within one Ray cluster and no further
  extraEnv   optional list of env vars the caller adds to every Ray container (e.g. MLFLOW_TRACKING_URI)
The pod helpers also take `component` ("head" or "worker") and `group` (head or worker group values).
The checks of `cluster` are ray-aks.validateRayCluster's (_validate.tpl), run once per render.
*/}}

{{/* ray-aks.rayClusterSpec: a RayClusterSpec (ray.io/v1); _validate.tpl checked `cluster` (ray-aks.validateRayCluster). */}}
{{- define "ray-aks.rayClusterSpec" -}}
{{- $cluster := .cluster -}}
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
  {{- with include "ray-aks.authSecretRef" (dict "context" .context "cluster" $cluster) }}
  secretName: {{ . }}
  {{- end }}
  {{- if include "ray-aks.kubernetesRBAC" $cluster }}
  enableK8sTokenAuth: true
  {{- end }}
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
{{- with ($head.service | default dict).annotations }}
headServiceAnnotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
headGroupSpec:
  {{- /* Never exposed beyond the cluster: the Jobs API and the client port run code (SECURITY.md). */}}
  serviceType: ClusterIP
  rayStartParams:
    {{- include "ray-aks.rayStartParams" $head.rayStartParams | nindent 4 }}
  template:
    {{- include "ray-aks.rayPodTemplate" (merge (dict "component" "head" "group" $head) .) | nindent 4 }}
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
      {{- include "ray-aks.rayPodTemplate" (merge (dict "component" "worker" "group" $group) $) | nindent 6 }}
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
{{- $_ := set $params $key (include "ray-aks.scalarString" $value) -}}
{{- end -}}
{{- toYaml $params -}}
{{- end -}}

{{/*
ray-aks.rayPodTemplate: the PodTemplateSpec of a head or worker group. Takes the dict described at
the top of this file, with component and group.
*/}}
{{- define "ray-aks.rayPodTemplate" -}}
{{- $ctx := .context -}}
{{- $values := $ctx.Values -}}
{{- $cluster := .cluster -}}
{{- $group := .group -}}
{{- $isHead := eq .component "head" -}}
{{- $labels := mergeOverwrite (deepCopy ($group.labels | default dict)) (dict "ray-aks/cluster" (.clusterId | default "cluster")) -}}
{{- $storage := $cluster.sharedStorage -}}
{{- $annotations := deepCopy ($group.annotations | default dict) -}}
{{- if and $isHead (not $group.safeToEvict) -}}
{{- /* The AKS cluster autoscaler evicts pods with emptyDir volumes to empty a node; not a head (rayCluster.head.safeToEvict). */ -}}
{{- $annotations = merge $annotations (dict "cluster-autoscaler.kubernetes.io/safe-to-evict" "false") -}}
{{- end -}}
metadata:
  labels:
    {{- include "ray-aks.podLabels" (dict "context" $ctx "component" (printf "ray-%s" .component) "labels" $labels) | nindent 4 }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- /* The autoscaler sidecar KubeRay adds to the head reads and scales pods through the API; with
  Kubernetes-RBAC auth every Ray process checks tokens with the API server (TokenReview). */}}
  {{- $automount := or $values.serviceAccount.automountServiceAccountToken (and $isHead $cluster.autoscaler.enabled) (not (empty (include "ray-aks.kubernetesRBAC" $cluster))) }}
  {{- include "ray-aks.podSpec" (dict "context" $ctx "automountServiceAccountToken" $automount "podSecurityContext" $cluster.podSecurityContext "priorityClassName" $group.priorityClassName "runtimeClassName" $group.runtimeClassName "scheduling" $group) | nindent 2 }}
  {{- if $isHead }}
  {{- /* The head's `bash -c "ulimit ...; ray start"` and the autoscaler sidecar's Python run as PID 1 of
  their containers when each has its own PID namespace, and PID 1 ignores SIGTERM: a deleted idle head
  took the whole 30 s grace period (3 s in the shared namespace, where the pause process is PID 1). A head
  running a job or the Serve controller also waited out Ray's drain: see RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S
  below. */}}
  shareProcessNamespace: true
  {{- end }}
  {{- with include "ray-aks.logSidecar" (dict "context" $ctx "cluster" $cluster) }}
  {{- /* KubeRay appends its own init container (wait-gcs-ready) after this one. */}}
  initContainers:
    {{- . | nindent 4 }}
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
      {{- if $isHead }}
      {{- /* On SIGTERM `ray start` drains its node for up to this long (Ray's default 30 s: the whole
      grace period) and stops early only once no worker lease is left, which never happens on a head
      running the Serve controller or a job: every such head was SIGKILLed after 30 s. Nothing moves
      off a head (it has no CPUs for replicas, and the GCS goes with it), so it stops at once; a head
      `env` entry of the same name wins. Workers keep Ray's drain (their replicas move first). */}}
      {{- $env = concat $env (include "ray-aks.envDefaults" (dict "env" $env "defaults" (dict "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S" "0")) | fromJsonArray) }}
      {{- end }}
      {{- with $env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if not $isHead }}
      lifecycle:
        preStop:
          exec:
            command: ["/bin/sh", "-c", {{ include "ray-aks.workerPreStopScript" . | quote }}]
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
    {{- with include "ray-aks.logSidecarVolume" $ctx }}
    {{- . | nindent 4 }}
    {{- end }}
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
ray-aks.clustersById: the cluster values of every Ray cluster the release renders, as JSON keyed by
its `ray-aks/cluster` label (ray-aks.rayClusterIds): "cluster" (rayCluster), then each workload of
ray-aks.workloads with a cluster of its own ("job-<key>", "cronjob-<key>", "service"). Takes the
root context.
*/}}
{{- define "ray-aks.clustersById" -}}
{{- $clusters := dict -}}
{{- if .Values.rayCluster.enabled -}}
{{- $_ := set $clusters "cluster" .Values.rayCluster -}}
{{- end -}}
{{- range $w := include "ray-aks.workloads" . | fromJsonArray -}}
{{- if $w.ownCluster -}}
{{- $_ := set $clusters $w.clusterId $w.cluster -}}
{{- end -}}
{{- end -}}
{{- toJson $clusters -}}
{{- end -}}

{{/*
ray-aks.workerPreStopScript: what a worker's Ray container runs before it is stopped.
- Serve's HAProxy (throughput-optimized Serve runs one on every worker) stops first, and the
  replicas only 2 s later: when a whole cluster goes (the old cluster after an
  upgrade), every worker stops at once, and a proxy that outlived the replicas it forwards to
  answered a client still kept alive on it with 500 (HAProxy's 502/503, as Serve words them).
  Stopped first, the proxy closes its connections and the client reconnects through the Service to
  the pods that stay. /proc is read because the image may have no pkill.
- Ray then stops, so Ray moves its work elsewhere (a scale-down or a node drain).
*/}}
{{- define "ray-aks.workerPreStopScript" -}}
for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = haproxy ] && kill -TERM "${p#/proc/}" && proxied=1; done; [ -z "$proxied" ] || sleep 2; ray stop
{{- end -}}

{{/*
ray-aks.envDefaults: JSON list of env entries, one per name of `defaults` (a name -> value map, sorted
by name) that no entry of `env` has: defaults that a user's entry of the same name replaces. Takes a
dict with env (a list, may be empty) and defaults.
*/}}
{{- define "ray-aks.envDefaults" -}}
{{- $names := list -}}
{{- range .env -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- $added := list -}}
{{- range $name := keys .defaults | sortAlpha -}}
{{- if not (has $name $names) -}}
{{- $added = append $added (dict "name" $name "value" (get $.defaults $name)) -}}
{{- end -}}
{{- end -}}
{{- $added | toJson -}}
{{- end -}}
