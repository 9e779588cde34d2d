{{/*
Workload helpers: the RayJobs and the RayService run the ray-aks images on Ray clusters built from
the shared pod templates (_pod.tpl). Helpers take a dict with `context` (the root) like the others.
*/}}

{{/*
ray-aks.rayJob: a job's values over its defaults, as JSON: rayJobDefaults, and for a RayCronJob
rayCronJobDefaults over them. The job's values win (mergeOverwrite: a scalar or a list of the job
replaces the default's, false, 0 and [] too; maps merge key by key), except `submitter.resources`
and `deletionRules` (below). Takes a dict: context, kind ("rayJobs" or "rayCronJobs", the values
map), key.
*/}}
{{- define "ray-aks.rayJob" -}}
{{- $values := .context.Values -}}
{{- $job := get (get $values .kind) .key -}}
{{- $defaults := deepCopy ($values.rayJobDefaults | default dict) -}}
{{- $rules := $defaults.deletionRules -}}
{{- $_ := unset $defaults "deletionRules" -}}
{{- if eq .kind "rayCronJobs" -}}
{{- $cron := deepCopy ($values.rayCronJobDefaults | default dict) -}}
{{- $rules = $cron.deletionRules -}}
{{- $_ := unset $cron "deletionRules" -}}
{{- $defaults = mergeOverwrite $defaults $cron -}}
{{- end -}}
{{- /* submitter.resources replaces, never merges: a job that sets requests only gets no default limits. */ -}}
{{- if (($job.submitter | default dict).resources) -}}
{{- $_ := unset $defaults "submitter" -}}
{{- end -}}
{{- $merged := mergeOverwrite $defaults (deepCopy $job) -}}
{{- /* The job's own list wins, even an empty one; null or none: the defaults' rules, none on the chart's RayCluster. */ -}}
{{- if kindIs "invalid" $job.deletionRules -}}
{{- if $merged.useChartCluster -}}
{{- $_ := set $merged "deletionRules" list -}}
{{- else -}}
{{- $_ := set $merged "deletionRules" ($rules | default list) -}}
{{- end -}}
{{- end -}}
{{- $merged | toJson -}}
{{- end -}}

{{/* ray-aks.rayJobName: the RayJob's (or RayCronJob's) name. Takes a dict: context, key, job (merged values). */}}
{{- define "ray-aks.rayJobName" -}}
{{- .job.name | default (printf "%s-%s" (include "ray-aks.fullname" .context) (kebabcase .key)) -}}
{{- end -}}

{{/*
ray-aks.workloadImage: the image values (registry, repository, tag, digest) of a RayJob or the
RayService: the tag defaults to global.imageTag, then to the chart's appVersion; the registry to
global.imageRegistry. Takes a dict: context, image. Returns JSON.
*/}}
{{- define "ray-aks.workloadImage" -}}
{{- $values := .context.Values -}}
{{- $tag := .image.tag | default $values.global.imageTag | default .context.Chart.AppVersion -}}
{{- dict
  "registry" (.image.registry | default $values.global.imageRegistry)
  "repository" .image.repository
  "tag" (include "ray-aks.scalarString" $tag)
  "digest" (.image.digest | default "")
  | toJson -}}
{{- end -}}

{{/*
ray-aks.workloadCluster: the cluster values of a RayJob or the RayService, as JSON: `rayCluster`
with the head Service ClusterIP, no GCS fault tolerance and no Kubernetes-RBAC auth, then `overrides`
merged over it. Every Ray container runs the workload image: worker groups that request
nvidia.com/gpu run `<tag>-gpu` (the GPU build of the same image), unless `overrides` names a group's
image.
Takes a dict: context, image (from ray-aks.workloadImage), overrides.
*/}}
{{- define "ray-aks.workloadCluster" -}}
{{- $values := .context.Values -}}
{{- $cluster := deepCopy $values.rayCluster -}}
{{- $_ := unset $cluster "enabled" -}}
{{- $_ := unset $cluster "name" -}}
{{- $_ := set $cluster.head "service" (dict "annotations" dict) -}}
{{- $_ := set $cluster.gcsFaultTolerance "enabled" false -}}
{{- /* Kubernetes-RBAC auth is the chart's RayCluster's: KubeRay refuses it for RayJobs and RayServices. */ -}}
{{- $_ := set $cluster.auth "kubernetesRBAC" (dict "enabled" false "subjects" list) -}}
{{- $overrides := deepCopy (.overrides | default dict) -}}
{{- $cluster = mergeOverwrite $cluster $overrides -}}
{{- $image := .image -}}
{{- $_ := set $cluster "image" (dict "registry" $image.registry "repository" $image.repository "tag" $image.tag "digest" $image.digest "pullPolicy" $cluster.image.pullPolicy) -}}
{{- $groupOverrides := $overrides.workerGroups | default dict -}}
{{- range $name, $group := $cluster.workerGroups -}}
{{- if not ((get $groupOverrides $name | default dict).image) -}}
{{- if include "ray-aks.requestsGPU" $group.resources -}}
{{- $_ := set $group "image" (dict "registry" $image.registry "repository" $image.repository "tag" (printf "%s-gpu" $image.tag)) -}}
{{- else -}}
{{- $_ := set $group "image" dict -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $cluster | toJson -}}
{{- end -}}

{{/*
ray-aks.workloads: every enabled RayJob, RayCronJob and the RayService, resolved once, as a JSON list
in render order (rayJobs by key, rayCronJobs by key, then the RayService). Each entry has `kind`
(RayJob, RayCronJob, RayService), `key` (the values key; "" for the RayService), `path` (rayJobs.<key>,
rayCronJobs.<key>, rayService), `name`, `clusterId` (the `ray-aks/cluster` label of its own cluster:
job-<key>, cronjob-<key>, service), `values` (a job's values over the defaults, ray-aks.rayJob; the
RayService's values), `image` (ray-aks.workloadImage), `ownCluster` (false: the job runs on the
chart's RayCluster) and `cluster` (the cluster values it runs on: ray-aks.workloadCluster, or
rayCluster). The templates, the checks (_validate.tpl) and the NetworkPolicies read this one list.
Takes the root context.
*/}}
{{- define "ray-aks.workloads" -}}
{{- $workloads := list -}}
{{- range $jobs := list (list "rayJobs" "RayJob" "job") (list "rayCronJobs" "RayCronJob" "cronjob") -}}
{{- $valuesKey := index $jobs 0 -}}
{{- $entries := get $.Values $valuesKey | default dict -}}
{{- range $key := keys $entries | sortAlpha -}}
{{- $entry := get $entries $key -}}
{{- if and (kindIs "map" $entry) $entry.enabled -}}
{{- $job := include "ray-aks.rayJob" (dict "context" $ "kind" $valuesKey "key" $key) | fromJson -}}
{{- $image := include "ray-aks.workloadImage" (dict "context" $ "image" $job.image) | fromJson -}}
{{- $cluster := $.Values.rayCluster -}}
{{- if not $job.useChartCluster -}}
{{- $cluster = include "ray-aks.workloadCluster" (dict "context" $ "image" $image "overrides" $job.rayCluster) | fromJson -}}
{{- end -}}
{{- $workloads = append $workloads (dict
  "kind" (index $jobs 1) "key" $key "path" (printf "%s.%s" $valuesKey $key)
  "name" (include "ray-aks.rayJobName" (dict "context" $ "key" $key "job" $job))
  "clusterId" (printf "%s-%s" (index $jobs 2) $key) "values" $job "image" $image
  "ownCluster" (not $job.useChartCluster) "cluster" $cluster) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $svc := .Values.rayService | default dict -}}
{{- if $svc.enabled -}}
{{- $image := include "ray-aks.workloadImage" (dict "context" . "image" $svc.image) | fromJson -}}
{{- $workloads = append $workloads (dict
  "kind" "RayService" "key" "" "path" "rayService" "name" (include "ray-aks.rayServiceName" .)
  "clusterId" "service" "values" $svc "image" $image "ownCluster" true
  "cluster" (include "ray-aks.workloadCluster" (dict "context" . "image" $image "overrides" $svc.rayCluster) | fromJson)) -}}
{{- end -}}
{{- toJson $workloads -}}
{{- end -}}

{{/* ray-aks.rayServiceWorkload: the RayService's entry of ray-aks.workloads, as JSON ({} when off). Takes the root context. */}}
{{- define "ray-aks.rayServiceWorkload" -}}
{{- $found := dict -}}
{{- range $w := include "ray-aks.workloads" . | fromJsonArray -}}
{{- if eq $w.kind "RayService" -}}{{- $found = $w -}}{{- end -}}
{{- end -}}
{{- toJson $found -}}
{{- end -}}

{{/*
ray-aks.kueueLabels: the labels that put a workload in Kueue's queue (kueue.queueName) with its
WorkloadPriorityClass (kueue.priorityClassName), as JSON; empty without a queue. Takes the root context.
*/}}
{{- define "ray-aks.kueueLabels" -}}
{{- $kueue := .Values.kueue -}}
{{- $labels := dict -}}
{{- if $kueue.queueName -}}
{{- $_ := set $labels "kueue.x-k8s.io/queue-name" $kueue.queueName -}}
{{- with $kueue.priorityClassName -}}
{{- $_ := set $labels "kueue.x-k8s.io/priority-class" . -}}
{{- end -}}
{{- end -}}
{{- $labels | toJson -}}
{{- end -}}

{{/*
ray-aks.queuedCluster: cluster values as Kueue runs them, as JSON: without the Ray autoscaler (Kueue
refuses a queued cluster with `enableInTreeAutoscaling` unless it is an alpha elastic job, and
reserves quota for each group's `replicas`), so without the groups' `idleTimeoutSeconds` (KubeRay
takes it with the autoscaler v2 only). Takes the cluster values.
*/}}
{{- define "ray-aks.queuedCluster" -}}
{{- $cluster := deepCopy . -}}
{{- $_ := set $cluster.autoscaler "enabled" false -}}
{{- range $name, $group := $cluster.workerGroups -}}
{{- $_ := unset $group "idleTimeoutSeconds" -}}
{{- end -}}
{{- $cluster | toJson -}}
{{- end -}}

{{/* ray-aks.mlflowEnv: the MLFLOW_TRACKING_URI EnvVar list, empty when mlflow is off. Takes the root.
RAY_AKS_MLFLOW_WAIT_S: a job installed with the release starts before the MLflow server beside it
answers; the workloads wait for it that long instead of training untracked. */}}
{{- define "ray-aks.mlflowEnv" -}}
{{- $env := list -}}
{{- with include "ray-aks.mlflowTrackingURI" . -}}
{{- $env = append $env (dict "name" "MLFLOW_TRACKING_URI" "value" .) -}}
{{- $env = append $env (dict "name" "RAY_AKS_MLFLOW_WAIT_S" "value" "600") -}}
{{- end -}}
{{- $env | toJson -}}
{{- end -}}

{{/*
ray-aks.serveEnv: JSON list of the Serve cluster's env for Serve's throughput-optimized mode (empty
when rayService.throughputOptimized is false): the same variables as ray_aks.serving.local.SERVE_ENV
(tests/chart/test_contract.py checks they agree). An entry of rayService.env with the same name wins.
Takes the root context.
*/}}
{{- define "ray-aks.serveEnv" -}}
{{- if .Values.rayService.throughputOptimized -}}
{{- $settings := dict "RAY_SERVE_THROUGHPUT_OPTIMIZED" "1" "RAY_SERVE_ENABLE_HA_PROXY" "1" "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S" "30" "RAY_SERVE_HAPROXY_RETRY_ON" "conn-failure empty-response" -}}
{{- include "ray-aks.envDefaults" (dict "env" .Values.rayService.env "defaults" $settings) -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* ray-aks.shellWord: a value as one shell word (single-quoted unless plainly safe). Takes the value. */}}
{{- define "ray-aks.shellWord" -}}
{{- $word := include "ray-aks.scalarString" . -}}
{{- if regexMatch "^[A-Za-z0-9_./:@%+=,-]+$" $word -}}
{{- $word -}}
{{- else -}}
{{- printf "'%s'" (replace "'" "'\\''" $word) -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.commandArgs: `--flag value` words of an args map, in key order: true gives `--flag`, false
`--no-flag`, a list repeats the flag, null leaves it out. Takes the map.
*/}}
{{- define "ray-aks.commandArgs" -}}
{{- $words := list -}}
{{- range $flag, $value := . -}}
{{- if kindIs "bool" $value -}}
{{- $words = append $words (printf "--%s%s" (ternary "" "no-" $value) $flag) -}}
{{- else if kindIs "slice" $value -}}
{{- range $value -}}
{{- $words = append $words (printf "--%s %s" $flag (include "ray-aks.shellWord" .)) -}}
{{- end -}}
{{- else if not (kindIs "invalid" $value) -}}
{{- $words = append $words (printf "--%s %s" $flag (include "ray-aks.shellWord" $value)) -}}
{{- end -}}
{{- end -}}
{{- join " " $words -}}
{{- end -}}

{{/*
ray-aks.rayJobEntrypoint: `ray-aks <command> <args>`: args, then gpuArgs over them when global.gpu,
then `--storage-path` when the cluster mounts shared storage and args set none; or the override.
Takes a dict: context, job (merged values), cluster (the cluster values the job runs on).
*/}}
{{- define "ray-aks.rayJobEntrypoint" -}}
{{- $job := .job -}}
{{- if $job.entrypointOverride -}}
{{- $job.entrypointOverride -}}
{{- else -}}
{{- $args := deepCopy ($job.args | default dict) -}}
{{- if .context.Values.global.gpu -}}
{{- $args = mergeOverwrite $args (deepCopy ($job.gpuArgs | default dict)) -}}
{{- end -}}
{{- if and $job.storagePath .cluster.sharedStorage.enabled (not (hasKey $args "storage-path")) -}}
{{- $_ := set $args "storage-path" $job.storagePath -}}
{{- end -}}
{{- $words := list "ray-aks" $job.command -}}
{{- with include "ray-aks.commandArgs" $args -}}
{{- $words = append $words . -}}
{{- end -}}
{{- join " " $words -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.rayJobSpec: a RayJobSpec (a RayJob's `spec`, a RayCronJob's `spec.jobTemplate`) of a job's
entry of ray-aks.workloads (checked by ray-aks.validateJobs in _validate.tpl); every Ray pod of its
cluster is labelled `ray-aks/cluster: <clusterId>`. Takes a dict: context, workload, podLabels
(extra labels of the submitter pod), suspend (bool: Kueue admits the RayJob, and its cluster runs as
ray-aks.queuedCluster).
*/}}
{{- define "ray-aks.rayJobSpec" -}}
{{- $ctx := .context -}}
{{- $job := .workload.values -}}
{{- $image := .workload.image -}}
{{- $mlflowEnv := include "ray-aks.mlflowEnv" $ctx | fromJsonArray -}}
{{- $cluster := .workload.cluster -}}
{{- if and .workload.ownCluster .suspend -}}
{{- $cluster = include "ray-aks.queuedCluster" $cluster | fromJson -}}
{{- end -}}
{{- $runtimeEnv := deepCopy ($job.runtimeEnv | default dict) -}}
{{- if and $job.useChartCluster $mlflowEnv -}}
{{- $_ := set $runtimeEnv "env_vars" (merge (dict "MLFLOW_TRACKING_URI" (index $mlflowEnv 0).value) ($runtimeEnv.env_vars | default dict)) -}}
{{- end -}}
entrypoint: {{ include "ray-aks.rayJobEntrypoint" (dict "context" $ctx "job" $job "cluster" $cluster) | quote }}
{{- with $runtimeEnv }}
runtimeEnvYAML: |
  {{- toYaml . | nindent 2 }}
{{- end }}
submissionMode: {{ $job.submissionMode }}
{{- if .suspend }}
{{- /* Kueue sets it false when the queue admits the job. */}}
suspend: true
{{- end }}
{{- if $job.useChartCluster }}
clusterSelector:
  ray.io/cluster: {{ include "ray-aks.rayClusterName" $ctx }}
{{- else }}
backoffLimit: {{ int $job.backoffLimit }}
shutdownAfterJobFinishes: {{ $job.shutdownAfterJobFinishes }}
{{- if $job.shutdownAfterJobFinishes }}
ttlSecondsAfterFinished: {{ int $job.ttlSecondsAfterFinished }}
{{- end }}
{{- end }}
{{- with $job.deletionRules }}
deletionStrategy:
  deletionRules:
    {{- range . }}
    - policy: {{ .policy }}
      condition:
        {{- with .condition.jobStatus }}
        jobStatus: {{ . }}
        {{- end }}
        {{- with .condition.jobDeploymentStatus }}
        jobDeploymentStatus: {{ . }}
        {{- end }}
        ttlSeconds: {{ int (.condition.ttlSeconds | default 0) }}
    {{- end }}
{{- end }}
{{- if not (kindIs "invalid" $job.activeDeadlineSeconds) }}
activeDeadlineSeconds: {{ int $job.activeDeadlineSeconds }}
{{- end }}
{{- if eq $job.submissionMode "K8sJobMode" }}
{{- /* KubeRay fills in the `ray job submit` command, the head address and the auth token. */}}
submitterPodTemplate:
  metadata:
    labels:
      {{- /* No workload identity: the submitter only runs `ray job submit` against the head. */}}
      {{- include "ray-aks.podLabels" (dict "context" $ctx "component" "ray-job-submitter" "labels" .podLabels "workloadIdentity" false) | nindent 6 }}
  spec:
    restartPolicy: Never
    {{- include "ray-aks.podSpec" (dict "context" $ctx "automountServiceAccountToken" $ctx.Values.serviceAccount.automountServiceAccountToken "podSecurityContext" $cluster.podSecurityContext) | nindent 4 }}
    containers:
      - name: ray-job-submitter
        image: {{ include "ray-aks.image" (dict "context" $ctx "image" $image) }}
        imagePullPolicy: {{ $ctx.Values.rayCluster.image.pullPolicy }}
        resources:
          {{- toYaml $job.submitter.resources | nindent 10 }}
        securityContext:
          {{- toYaml $cluster.securityContext | nindent 10 }}
{{- end }}
{{- if not $job.useChartCluster }}
rayClusterSpec:
  {{- include "ray-aks.rayClusterSpec" (dict "context" $ctx "cluster" $cluster "clusterId" .workload.clusterId "extraEnv" (concat $mlflowEnv (include "ray-aks.monitoringEnv" $ctx | fromJsonArray) ($job.env | default list))) | nindent 2 }}
{{- end }}
{{- end -}}

{{/* ray-aks.rayServiceName: the RayService's name. Takes the root context. */}}
{{- define "ray-aks.rayServiceName" -}}
{{- .Values.rayService.name | default (printf "%s-serving" (include "ray-aks.fullname" .)) -}}
{{- end -}}

{{/* ray-aks.serveServiceName: the Serve Service of the RayService. Takes the root context. */}}
{{- define "ray-aks.serveServiceName" -}}
{{- printf "%s-serve-svc" (include "ray-aks.rayServiceName" .) -}}
{{- end -}}

{{/*
ray-aks.serveConfig: serveConfigV2 from rayService.applications: each enabled app's builder args
with autoscaling_config and ray_actor_options (num_gpus from gpusPerReplica when global.gpu).
Takes the root context.
*/}}
{{- define "ray-aks.serveConfig" -}}
{{- $values := .Values -}}
{{- $apps := list -}}
{{- range $name, $app := $values.rayService.applications -}}
{{- if $app.enabled -}}
{{- $args := deepCopy ($app.args | default dict) -}}
{{- with $app.autoscalingConfig -}}
{{- $_ := set $args "autoscaling_config" (deepCopy .) -}}
{{- end -}}
{{- $actor := deepCopy ($app.rayActorOptions | default dict) -}}
{{- $_ := set $actor "num_gpus" (ternary ($app.gpusPerReplica | default 0) 0 $values.global.gpu) -}}
{{- $_ := set $args "ray_actor_options" $actor -}}
{{- $apps = append $apps (dict "name" $name "import_path" $app.importPath "route_prefix" $app.routePrefix "args" $args) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "applications" $apps) -}}
{{- end -}}
