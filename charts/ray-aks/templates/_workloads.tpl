{{/*
Workload helpers: the RayJobs and the RayService run the ray-aks images on Ray clusters built from
the shared pod templates (_pod.tpl). Helpers take a dict with `context` (the root) like the others.
*/}}

{{/*
ray-aks.rayJobDefaults: what a job in `rayJobs` or `rayCronJobs` leaves out (the defaults
documented for `rayJobs.mnist`; deletionRules come from ray-aks.defaultDeletionRules). `command`,
`image.repository` and `enabled` have none (nor a RayCronJob's `schedule`): the schema requires them.
*/}}
{{- define "ray-aks.rayJobDefaults" -}}
name: ""
image:
  registry: ""
  tag: ""
  digest: ""
args: {}
gpuArgs: {}
storagePath: ""
entrypointOverride: ""
submissionMode: K8sJobMode
backoffLimit: 0
activeDeadlineSeconds: null
shutdownAfterJobFinishes: false
ttlSecondsAfterFinished: 0
useChartCluster: false
rayCluster: {}
env: []
runtimeEnv: {}
submitter:
  resources:
    requests:
      cpu: 500m
      memory: 256Mi
    limits:
      cpu: "1"
      memory: 1Gi
{{- end -}}

{{/*
ray-aks.defaultDeletionRules: the deletionRules of a job that sets none and runs on a cluster of its
own (the ones documented for `rayJobs.mnist`; a RayCronJob's also delete each finished RayJob, as
documented for `rayCronJobs.nightlyMnist`). Takes a dict: cron (bool).
*/}}
{{- define "ray-aks.defaultDeletionRules" -}}
- {policy: DeleteCluster, condition: {jobStatus: SUCCEEDED, ttlSeconds: 60}}
{{- if .cron }}
- {policy: DeleteSelf, condition: {jobStatus: SUCCEEDED, ttlSeconds: 86400}}
{{- end }}
- {policy: DeleteCluster, condition: {jobStatus: FAILED, ttlSeconds: 1800}}
{{- if .cron }}
- {policy: DeleteSelf, condition: {jobStatus: FAILED, ttlSeconds: 604800}}
{{- end }}
- {policy: DeleteCluster, condition: {jobDeploymentStatus: Failed, ttlSeconds: 1800}}
{{- if .cron }}
- {policy: DeleteSelf, condition: {jobDeploymentStatus: Failed, ttlSeconds: 604800}}
{{- end }}
{{- end -}}

{{/*
ray-aks.rayJob: a job's values over the defaults, as JSON. Takes a dict: context, kind ("rayJobs" or
"rayCronJobs", the values map), key.
*/}}
{{- define "ray-aks.rayJob" -}}
{{- $cron := eq .kind "rayCronJobs" -}}
{{- $job := get (get .context.Values .kind) .key -}}
{{- $defaults := include "ray-aks.rayJobDefaults" . | fromYaml -}}
{{- if $cron -}}
{{- $defaults = merge $defaults (dict "timeZone" "" "suspend" false) -}}
{{- end -}}
{{- /* submitter.resources replaces, never merges: a job that sets requests only gets no default limits. */ -}}
{{- if (($job.submitter | default dict).resources) -}}
{{- $_ := unset $defaults "submitter" -}}
{{- end -}}
{{- $merged := mergeOverwrite $defaults (deepCopy $job) -}}
{{- /* The job's own list, even an empty one (mergeOverwrite would keep a default over it); null: the defaults. */ -}}
{{- if not (kindIs "invalid" $job.deletionRules) -}}
{{- $_ := set $merged "deletionRules" (deepCopy $job.deletionRules) -}}
{{- else if $merged.useChartCluster -}}
{{- $_ := set $merged "deletionRules" list -}}
{{- else -}}
{{- $_ := set $merged "deletionRules" (include "ray-aks.defaultDeletionRules" (dict "cron" $cron) | fromYamlArray) -}}
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
with the head Service ClusterIP and no GCS fault tolerance, then `overrides` merged over it. Every
Ray container runs the workload image: worker groups that request nvidia.com/gpu run `<tag>-gpu`
(the GPU build of the same image), unless `overrides` names a group's image.
Takes a dict: context, image (from ray-aks.workloadImage), overrides, keyPrefix (for errors).
*/}}
{{- define "ray-aks.workloadCluster" -}}
{{- $values := .context.Values -}}
{{- $cluster := deepCopy $values.rayCluster -}}
{{- $_ := unset $cluster "enabled" -}}
{{- $_ := unset $cluster "name" -}}
{{- $_ := set $cluster.head "serviceAnnotations" dict -}}
{{- $_ := set $cluster.gcsFaultTolerance "enabled" false -}}
{{- $overrides := deepCopy (.overrides | default dict) -}}
{{- $cluster = mergeOverwrite $cluster $overrides -}}
{{- $image := .image -}}
{{- $_ := set $cluster "image" (dict "registry" $image.registry "repository" $image.repository "tag" $image.tag "digest" $image.digest "pullPolicy" $cluster.image.pullPolicy) -}}
{{- $groupOverrides := $overrides.workerGroups | default dict -}}
{{- range $name, $group := $cluster.workerGroups -}}
{{- if not ((get $groupOverrides $name | default dict).image) -}}
{{- if include "ray-aks.requestsGPU" $group.resources -}}
{{- if and $group.enabled $image.digest -}}
{{- fail (printf "%s.workerGroups.%s.image is required when the workload image has a digest: the digest pins the CPU image, not its -gpu build" $.keyPrefix $name) -}}
{{- end -}}
{{- $_ := set $group "image" (dict "registry" $image.registry "repository" $image.repository "tag" (printf "%s-gpu" $image.tag)) -}}
{{- else -}}
{{- $_ := set $group "image" dict -}}
{{- end -}}
{{- end -}}
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
{{- $env := list -}}
{{- if .Values.rayService.throughputOptimized -}}
{{- $overridden := list -}}
{{- range .Values.rayService.env -}}
{{- $overridden = append $overridden .name -}}
{{- end -}}
{{- $settings := dict "RAY_SERVE_THROUGHPUT_OPTIMIZED" "1" "RAY_SERVE_ENABLE_HA_PROXY" "1" "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S" "30" -}}
{{- range $name := keys $settings | sortAlpha -}}
{{- if not (has $name $overridden) -}}
{{- $env = append $env (dict "name" $name "value" (get $settings $name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $env | toJson -}}
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
ray-aks.validateRayJob: checks of a job's values the schema cannot express, mirroring what KubeRay's
ValidateRayJobSpec refuses; each `fail` names the key. Takes a dict: context, prefix (the job's values
path, e.g. "rayJobs.mnist"), job (merged values), cluster (the cluster values the job runs on),
kueue (bool: the RayJob is suspended for Kueue).
*/}}
{{- define "ray-aks.validateRayJob" -}}
{{- $values := .context.Values -}}
{{- $job := .job -}}
{{- $p := .prefix -}}
{{- if $job.useChartCluster -}}
{{- if not $values.rayCluster.enabled -}}
{{- fail (printf "%s.useChartCluster needs rayCluster.enabled: the job runs on the chart's RayCluster" $p) -}}
{{- end -}}
{{- if $job.rayCluster -}}
{{- fail (printf "%s.rayCluster must be empty when %s.useChartCluster is true: a job runs on the chart's RayCluster (clusterSelector) or on a cluster of its own, not both" $p $p) -}}
{{- end -}}
{{- if $job.env -}}
{{- fail (printf "%s.env must be empty when %s.useChartCluster is true (the chart's RayCluster is already running): use %s.runtimeEnv.env_vars" $p $p $p) -}}
{{- end -}}
{{- if eq $job.submissionMode "SidecarMode" -}}
{{- fail (printf "%s.submissionMode SidecarMode needs a cluster of the job's own: it cannot be used with %s.useChartCluster" $p $p) -}}
{{- end -}}
{{- if gt (int $job.backoffLimit) 0 -}}
{{- fail (printf "%s.backoffLimit must be 0 when %s.useChartCluster is true (KubeRay retries by creating a new cluster)" $p $p) -}}
{{- end -}}
{{- end -}}
{{- $rules := $job.deletionRules | default list -}}
{{- if .kueue -}}
{{- if $job.useChartCluster -}}
{{- fail (printf "%s.useChartCluster cannot be used with kueue.queueName: KubeRay does not suspend a RayJob that runs on an existing cluster, so Kueue cannot queue it" $p) -}}
{{- end -}}
{{- if or (not $job.shutdownAfterJobFinishes) $rules -}}
{{- fail (printf "kueue.queueName needs %s.shutdownAfterJobFinishes true and %s.deletionRules []: Kueue suspends the RayJob, and KubeRay suspends only a RayJob that deletes its cluster when it ends" $p $p) -}}
{{- end -}}
{{- end -}}
{{- if not $job.useChartCluster -}}
{{- if and $rules $job.shutdownAfterJobFinishes -}}
{{- fail (printf "%s.deletionRules and %s.shutdownAfterJobFinishes are exclusive (KubeRay refuses both): set shutdownAfterJobFinishes false to keep the rules, or deletionRules [] for the shutdown" $p $p) -}}
{{- end -}}
{{- if and (not $job.shutdownAfterJobFinishes) (gt (int $job.ttlSecondsAfterFinished) 0) -}}
{{- fail (printf "%s.ttlSecondsAfterFinished needs %s.shutdownAfterJobFinishes true (KubeRay refuses a TTL without it); each of %s.deletionRules has its own condition.ttlSeconds" $p $p $p) -}}
{{- end -}}
{{- end -}}
{{- include "ray-aks.validateDeletionRules" . -}}
{{- end -}}

{{/*
ray-aks.validateDeletionRules: a job's deletionRules as KubeRay's validateDeletionRules checks them:
one condition each, nothing that deletes the chart's RayCluster, no DeleteWorkers with the autoscaler,
one rule per policy and condition, and TTLs that do not decrease from DeleteWorkers to DeleteCluster
to DeleteSelf. Takes the dict of ray-aks.validateRayJob.
*/}}
{{- define "ray-aks.validateDeletionRules" -}}
{{- $job := .job -}}
{{- $p := .prefix -}}
{{- $ttls := dict -}}
{{- range $i, $rule := $job.deletionRules | default list -}}
{{- $r := printf "%s.deletionRules[%d]" $p $i -}}
{{- $condition := $rule.condition | default dict -}}
{{- $jobStatus := $condition.jobStatus | default "" -}}
{{- $deploymentStatus := $condition.jobDeploymentStatus | default "" -}}
{{- if eq (empty $jobStatus) (empty $deploymentStatus) -}}
{{- fail (printf "%s.condition needs exactly one of jobStatus (SUCCEEDED or FAILED) and jobDeploymentStatus (Failed)" $r) -}}
{{- end -}}
{{- if and $job.useChartCluster (has $rule.policy (list "DeleteCluster" "DeleteWorkers")) -}}
{{- fail (printf "%s.policy %s would delete the chart's RayCluster: with %s.useChartCluster only DeleteSelf and DeleteNone apply" $r $rule.policy $p) -}}
{{- end -}}
{{- if and (not $job.useChartCluster) (eq $rule.policy "DeleteWorkers") $.cluster.autoscaler.enabled -}}
{{- fail (printf "%s.policy DeleteWorkers needs the job cluster's autoscaler off (%s.rayCluster.autoscaler.enabled false): KubeRay refuses DeleteWorkers with autoscaling" $r $p) -}}
{{- end -}}
{{- $when := ternary (printf "jobStatus %s" $jobStatus) (printf "jobDeploymentStatus %s" $deploymentStatus) (not (empty $jobStatus)) -}}
{{- $policies := get $ttls $when | default dict -}}
{{- if hasKey $policies $rule.policy -}}
{{- fail (printf "%s repeats the %s rule for %s: one rule per policy and condition" $r $rule.policy $when) -}}
{{- end -}}
{{- $_ := set $policies $rule.policy (int ($condition.ttlSeconds | default 0)) -}}
{{- $_ := set $ttls $when $policies -}}
{{- end -}}
{{- range $when, $policies := $ttls -}}
{{- $previous := "" -}}
{{- range $policy := list "DeleteWorkers" "DeleteCluster" "DeleteSelf" -}}
{{- if hasKey $policies $policy -}}
{{- if and $previous (lt (get $policies $policy) (get $policies $previous)) -}}
{{- fail (printf "%s.deletionRules: the %s TTL (%d) for %s must be >= the %s TTL (%d): KubeRay deletes the workers, then the cluster, then the RayJob" $p $policy (get $policies $policy) $when $previous (get $policies $previous)) -}}
{{- end -}}
{{- $previous = $policy -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.rayJobSpec: a RayJobSpec (a RayJob's `spec`, a RayCronJob's `spec.jobTemplate`) of a job's
merged values, after validating them; every Ray pod of its cluster is labelled
`ray-aks/cluster: <clusterId>`. Takes a dict: context, prefix (values path), job (merged values),
clusterId, podLabels (extra labels of the submitter pod), suspend (bool: Kueue admits the RayJob).
*/}}
{{- define "ray-aks.rayJobSpec" -}}
{{- $ctx := .context -}}
{{- $job := .job -}}
{{- $p := .prefix -}}
{{- if not ($job.image.registry | default $ctx.Values.global.imageRegistry) -}}
{{- fail (printf "%s.enabled needs an image registry: set global.imageRegistry (e.g. myacr.azurecr.io, where `make push` put the ray-aks images) or %s.image.registry" $p $p) -}}
{{- end -}}
{{- $image := include "ray-aks.workloadImage" (dict "context" $ctx "image" $job.image) | fromJson -}}
{{- $mlflowEnv := include "ray-aks.mlflowEnv" $ctx | fromJsonArray -}}
{{- $cluster := $ctx.Values.rayCluster -}}
{{- $keyPrefix := printf "%s.rayCluster" $p -}}
{{- if not $job.useChartCluster -}}
{{- $cluster = include "ray-aks.workloadCluster" (dict "context" $ctx "image" $image "overrides" $job.rayCluster "keyPrefix" $keyPrefix) | fromJson -}}
{{- end -}}
{{- include "ray-aks.validateRayJob" (dict "context" $ctx "prefix" $p "job" $job "cluster" $cluster "kueue" .suspend) -}}
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
      {{- include "ray-aks.selectorLabels" (dict "context" $ctx "component" "ray-job-submitter") | nindent 6 }}
      {{- with .podLabels }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
  spec:
    restartPolicy: Never
    serviceAccountName: {{ include "ray-aks.serviceAccountName" $ctx }}
    automountServiceAccountToken: {{ $ctx.Values.serviceAccount.automountServiceAccountToken }}
    {{- with $ctx.Values.global.imagePullSecrets }}
    imagePullSecrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $ctx.Values.global.priorityClassName }}
    priorityClassName: {{ . | quote }}
    {{- end }}
    securityContext:
      {{- toYaml $cluster.podSecurityContext | nindent 6 }}
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
  {{- include "ray-aks.rayClusterSpec" (dict "context" $ctx "cluster" $cluster "keyPrefix" $keyPrefix "clusterId" .clusterId "extraEnv" (concat $mlflowEnv (include "ray-aks.monitoringEnv" $ctx | fromJsonArray) ($job.env | default list))) | nindent 2 }}
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
{{- $prefixes := dict -}}
{{- range $name, $app := $values.rayService.applications -}}
{{- if $app.enabled -}}
{{- $key := printf "rayService.applications.%s" $name -}}
{{- with get $prefixes $app.routePrefix -}}
{{- fail (printf "%s.routePrefix %s is also the route prefix of rayService.applications.%s: each app needs its own" $key $app.routePrefix .) -}}
{{- end -}}
{{- $_ := set $prefixes $app.routePrefix $name -}}
{{- $args := deepCopy ($app.args | default dict) -}}
{{- with $app.autoscalingConfig -}}
{{- if hasKey $args "num_replicas" -}}
{{- fail (printf "%s.args.num_replicas and %s.autoscalingConfig are exclusive: set autoscalingConfig to null for a fixed replica count" $key $key) -}}
{{- end -}}
{{- $_ := set $args "autoscaling_config" (deepCopy .) -}}
{{- end -}}
{{- $actor := deepCopy ($app.rayActorOptions | default dict) -}}
{{- $_ := set $actor "num_gpus" (ternary ($app.gpusPerReplica | default 0) 0 $values.global.gpu) -}}
{{- $_ := set $args "ray_actor_options" $actor -}}
{{- $apps = append $apps (dict "name" $name "import_path" $app.importPath "route_prefix" $app.routePrefix "args" $args) -}}
{{- end -}}
{{- end -}}
{{- if not $apps -}}
{{- fail "rayService.applications has no enabled application: enable one (mnist, textgen or embeddings) or set rayService.enabled false" -}}
{{- end -}}
{{- toYaml (dict "applications" $apps) -}}
{{- end -}}
