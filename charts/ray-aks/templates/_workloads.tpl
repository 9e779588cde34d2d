{{/*
Workload helpers: the RayJobs and the RayService run the ray-aks images on Ray clusters built from
the shared pod templates (_pod.tpl). Helpers take a dict with `context` (the root) like the others.
*/}}

{{/*
ray-aks.rayJobDefaults: what a job in `rayJobs` leaves out (the defaults documented for
`rayJobs.mnist`). `command`, `image.repository` and `enabled` have none: the schema requires them.
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
shutdownAfterJobFinishes: true
ttlSecondsAfterFinished: 300
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

{{/* ray-aks.rayJob: a job's values over the defaults, as JSON. Takes a dict: context, key. */}}
{{- define "ray-aks.rayJob" -}}
{{- $job := get .context.Values.rayJobs .key -}}
{{- $defaults := include "ray-aks.rayJobDefaults" . | fromYaml -}}
{{- /* submitter.resources replaces, never merges: a job that sets requests only gets no default limits. */ -}}
{{- if (($job.submitter | default dict).resources) -}}
{{- $_ := unset $defaults "submitter" -}}
{{- end -}}
{{- mergeOverwrite $defaults (deepCopy $job) | toJson -}}
{{- end -}}

{{/* ray-aks.rayJobName: the RayJob's name. Takes a dict: context, key, job (merged values). */}}
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
{{- $_ := set $cluster.head "serviceType" "ClusterIP" -}}
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

{{/* ray-aks.mlflowEnv: the MLFLOW_TRACKING_URI EnvVar list, empty when mlflow is off. Takes the root. */}}
{{- define "ray-aks.mlflowEnv" -}}
{{- $env := list -}}
{{- with include "ray-aks.mlflowTrackingURI" . -}}
{{- $env = append $env (dict "name" "MLFLOW_TRACKING_URI" "value" .) -}}
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
ray-aks.validateRayJob: checks of a job's values the schema cannot express; each `fail` names the
key. Takes a dict: context, key, job (merged values), name.
*/}}
{{- define "ray-aks.validateRayJob" -}}
{{- $values := .context.Values -}}
{{- $job := .job -}}
{{- $p := printf "rayJobs.%s" .key -}}
{{- if not ($job.image.registry | default $values.global.imageRegistry) -}}
{{- fail (printf "%s.enabled needs an image registry: set global.imageRegistry (e.g. myacr.azurecr.io, where `make push` put the ray-aks images) or %s.image.registry" $p $p) -}}
{{- end -}}
{{- if or (gt (len .name) 47) (not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" .name)) -}}
{{- fail (printf "%s.name %q must be a DNS-1035 label of at most 47 characters (KubeRay's RayJob limit); set %s.name to choose one" $p .name $p) -}}
{{- end -}}
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
