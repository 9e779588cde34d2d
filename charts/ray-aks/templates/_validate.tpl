{{/*
Every check the schema cannot state (one key against another, a half-filled setting, what KubeRay
would refuse), run once per render from templates/validate.yaml through ray-aks.validate; each
`fail` names the key. The object templates render values these checks passed; the only checks left
beside them are ray-aks.checkDnsLabel's (_helpers.tpl), the format of the object name a template
derives (from the release, the key or `name`) and nowhere else.
*/}}

{{/* ray-aks.validate: every check of this file. Takes the root context. */}}
{{- define "ray-aks.validate" -}}
{{- include "ray-aks.removedValues" . -}}
{{- include "ray-aks.renamedValues" . -}}
{{- include "ray-aks.validateChart" . -}}
{{- include "ray-aks.validateSharedStorage" . -}}
{{- include "ray-aks.validateMlflow" . -}}
{{- include "ray-aks.validateMonitoring" . -}}
{{- include "ray-aks.validateLogging" . -}}
{{- include "ray-aks.validateAuth" . -}}
{{- if .Values.rayCluster.enabled -}}
{{- include "ray-aks.validateRayCluster" (dict "context" . "cluster" .Values.rayCluster "keyPrefix" "rayCluster") -}}
{{- end -}}
{{- include "ray-aks.validateJobs" . -}}
{{- include "ray-aks.validateRayService" . -}}
{{- include "ray-aks.validateKueue" . -}}
{{- end -}}

{{/*
ray-aks.clusterValues: the Ray cluster values of the chart by values path, as JSON: rayCluster,
rayService.rayCluster, rayJobDefaults.rayCluster and every rayJobs/rayCronJobs entry's rayCluster
(set or not, enabled or not). Takes the root context.
*/}}
{{- define "ray-aks.clusterValues" -}}
{{- $clusters := dict "rayCluster" .Values.rayCluster -}}
{{- $_ := set $clusters "rayJobDefaults.rayCluster" ((.Values.rayJobDefaults | default dict).rayCluster | default dict) -}}
{{- with .Values.rayService -}}
{{- $_ := set $clusters "rayService.rayCluster" (.rayCluster | default dict) -}}
{{- end -}}
{{- range $kind := list "rayJobs" "rayCronJobs" -}}
{{- range $key, $entry := get $.Values $kind | default dict -}}
{{- if kindIs "map" $entry -}}
{{- $_ := set $clusters (printf "%s.%s.rayCluster" $kind $key) ($entry.rayCluster | default dict) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $clusters -}}
{{- end -}}

{{/*
ray-aks.removedValues: keys that earlier versions of the chart took, each with what to do instead
(the chart README's "Upgrading" section lists them). A values file that still sets one fails with a
message naming it: the schema lets these keys through (so this message, not a generic one, is
what the user reads), and nothing renders them. The keys are paths in every cluster's values
(ray-aks.clusterValues).
*/}}
{{- define "ray-aks.removedValues" -}}
{{- $removed := dict
  "head.serviceType" "was removed: the head Service is always ClusterIP (its Jobs API and client port run code on the cluster, see SECURITY.md). Reach the dashboard with kubectl port-forward and expose Serve with rayService.service"
-}}
{{- $clusters := include "ray-aks.clusterValues" . | fromJson -}}
{{- range $prefix := keys $clusters | sortAlpha -}}
{{- $cluster := get $clusters $prefix -}}
{{- range $path := keys $removed | sortAlpha -}}
{{- if include "ray-aks.isSet" (dict "values" $cluster "path" $path) -}}
{{- fail (printf "%s.%s %s" $prefix $path (get $removed $path)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.renamedValues: keys that moved, each with its new path and why (the "Upgrading" section
lists them). A values file that still sets the old path fails with a message naming the new one.
`$renamed` holds paths of the values; `$renamedInClusters` paths in every cluster's values
(ray-aks.clusterValues), so `rayJobs.<job>.rayCluster.head.serviceAnnotations` names its new path too.
*/}}
{{- define "ray-aks.renamedValues" -}}
{{- $secretRef := "every Secret reference of the chart is {secretName, secretKey}" -}}
{{- $renamed := dict
  "mlflow.database.existingSecret" (list "mlflow.database.uri.secretName" $secretRef)
  "mlflow.database.secretKey" (list "mlflow.database.uri.secretKey" $secretRef)
  "monitoring.enabled" (list "monitoring.podMonitors.enabled" "podMonitors, prometheusRule and grafanaDashboard each have their own enabled")
-}}
{{- $renamedInClusters := dict
  "head.serviceAnnotations" (list "head.service.annotations" "a Service's settings are under `service`, like rayService.service.annotations")
-}}
{{- $clusters := include "ray-aks.clusterValues" . | fromJson -}}
{{- range $prefix := keys $clusters | sortAlpha -}}
{{- range $old, $to := $renamedInClusters -}}
{{- $_ := set $renamed (printf "%s.%s" $prefix $old) (list (printf "%s.%s" $prefix (index $to 0)) (index $to 1)) -}}
{{- end -}}
{{- end -}}
{{- range $old := keys $renamed | sortAlpha -}}
{{- if include "ray-aks.isSet" (dict "values" $.Values "path" $old) -}}
{{- $to := get $renamed $old -}}
{{- fail (printf "%s was renamed to %s: %s" $old (index $to 0) (index $to 1)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.isSet: "true" when the dotted `path` (e.g. "mlflow.database.secretKey") names a key of
`values`, whatever its value; empty otherwise. Takes a dict: values, path.
*/}}
{{- define "ray-aks.isSet" -}}
{{- $node := .values -}}
{{- $found := true -}}
{{- range $part := splitList "." .path -}}
{{- if and $found (kindIs "map" $node) (hasKey $node $part) -}}
{{- $node = get $node $part -}}
{{- else -}}
{{- $found = false -}}
{{- end -}}
{{- end -}}
{{- if $found }}true{{ end -}}
{{- end -}}

{{/*
ray-aks.validateChart: checks of top-level values the schema cannot express; each `fail` names
the key. Takes the root context.
*/}}
{{- define "ray-aks.validateChart" -}}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) -}}
{{- fail "serviceAccount.name is required when serviceAccount.create is false (the existing ServiceAccount the Ray pods run as)" -}}
{{- end -}}
{{- if and .Values.workloadIdentity.enabled .Values.serviceAccount.create (not .Values.workloadIdentity.clientId) -}}
{{- fail "workloadIdentity.clientId is required when workloadIdentity.enabled is true (the client id of the managed identity the ServiceAccount federates with)" -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.validateSharedStorage: checks of sharedStorage values the schema cannot express (a
half-filled setting); each `fail` names the key (mlflow.sharedStorage is checked by
ray-aks.validateMlflow). Takes the root context.
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
{{- fail "mlflow.autoscaling.enabled requires mlflow.database.type external: the SQLite file on a ReadWriteOnce volume has one writer, so the MLflow Deployment cannot scale (set mlflow.database.uri.secretName to a database URI Secret)" -}}
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
ray-aks.validateRayCluster: checks of cluster values the schema cannot express; each `fail` names
the key under keyPrefix. Takes a dict: context (root), cluster (values shaped like .Values.rayCluster,
a workload's merged copy), keyPrefix (the values path of `cluster`, e.g. "rayJobs.mnist.rayCluster").
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
{{- if and (include "ray-aks.kubernetesRBAC" $cluster) (ne $p "rayCluster") -}}
{{- fail (printf "%s.auth.kubernetesRBAC.enabled must be false: KubeRay supports Kubernetes-RBAC auth for the standalone RayCluster only (rayCluster.auth.kubernetesRBAC), not for RayJob or RayService clusters, which keep the token (rayCluster.auth.secretName or createSecret)" $p) -}}
{{- end -}}
{{- include "ray-aks.validateHeadPlacement" (dict "head" $cluster.head "keyPrefix" $p) -}}
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

{{/*
ray-aks.validateHeadPlacement: a head never runs on an AKS spot pool. A spot eviction (Azure takes the
VM back at 30 s notice) stops the head and with it every job and Serve app of its Ray cluster; spot
pools are for worker groups (docs/operations.md). AKS taints spot nodes
kubernetes.azure.com/scalesetpriority=spot:NoSchedule and labels them with that key. Takes a dict:
head (head values), keyPrefix (the cluster's values path).
*/}}
{{- define "ray-aks.validateHeadPlacement" -}}
{{- $key := "kubernetes.azure.com/scalesetpriority" -}}
{{- range (.head.tolerations | default list) -}}
{{- $operator := .operator | default "Equal" -}}
{{- $effectMatches := or (not .effect) (eq .effect "NoSchedule") -}}
{{- $keyMatches := or (eq (.key | default "") $key) (and (not .key) (eq $operator "Exists")) -}}
{{- $valueMatches := or (eq $operator "Exists") (eq (toString .value) "spot") -}}
{{- if and $effectMatches $keyMatches $valueMatches -}}
{{- fail (printf "%s.head.tolerations tolerates the AKS spot taint %s=spot:NoSchedule: a spot eviction would take the head and with it every job and Serve app of the Ray cluster; put only worker groups on spot pools" $.keyPrefix $key) -}}
{{- end -}}
{{- end -}}
{{- if eq (toString (get (.head.nodeSelector | default dict) $key)) "spot" -}}
{{- fail (printf "%s.head.nodeSelector selects AKS spot nodes (%s: spot): a spot eviction would take the head and with it every job and Serve app of the Ray cluster; put only worker groups on spot pools" .keyPrefix $key) -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.validateLogging: the log sidecar's values (templates/logging/); only while it is rendered.
Takes the root context.
*/}}
{{- define "ray-aks.validateLogging" -}}
{{- $logging := .Values.logging -}}
{{- if include "ray-aks.logSidecarEnabled" . -}}
{{- $otlp := $logging.otlp -}}
{{- if and (not $logging.stdout) (not $otlp.endpoint) -}}
{{- fail "logging.stdout is false and logging.otlp.endpoint is empty: the log sidecar would send Ray's logs nowhere; set an endpoint, or logging.enabled false" -}}
{{- end -}}
{{- if $otlp.endpoint -}}
{{- $endpoint := include "ray-aks.otlpEndpoint" . | fromJson -}}
{{- if not $endpoint.valid -}}
{{- fail (printf "logging.otlp.endpoint %q is not an endpoint: write http://host:port, https://host[:port] or host:port" $otlp.endpoint) -}}
{{- end -}}
{{- if not (int $endpoint.port) -}}
{{- fail (printf "logging.otlp.endpoint %q has no port: write host:port (TLS), or a URL with http:// or https://" $otlp.endpoint) -}}
{{- end -}}
{{- $np := $otlp.networkPolicy -}}
{{- if and .Values.networkPolicy.enabled .Values.networkPolicy.egress.restrict (not (or $np.namespaces $np.podLabels $np.cidrs)) -}}
{{- fail "logging.otlp.networkPolicy needs namespaces, podLabels or cidrs while networkPolicy.egress.restrict is true: the NetworkPolicy lets the Ray pods reach the OTLP endpoint there only" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.validateAuth: rayCluster.auth beyond the schema: what KubeRay's ValidateRayClusterSpec refuses
(a secretName without token mode; Kubernetes-RBAC auth without token mode or below Ray 2.55) and
Kubernetes-RBAC auth without the chart's RayCluster. (With Kubernetes-RBAC auth the RayCluster gets
no secretName, which KubeRay refuses beside it; its RayJobs and RayService keep the Secret.) Takes
the root context.
*/}}
{{- define "ray-aks.validateAuth" -}}
{{- $cluster := .Values.rayCluster -}}
{{- $auth := $cluster.auth -}}
{{- $rbac := $auth.kubernetesRBAC -}}
{{- if and $auth.secretName (ne $auth.mode "token") -}}
{{- fail (printf "rayCluster.auth.secretName needs rayCluster.auth.mode token (it is %s): the Secret holds the token" $auth.mode) -}}
{{- end -}}
{{- if $rbac.enabled -}}
{{- if ne $auth.mode "token" -}}
{{- fail (printf "rayCluster.auth.kubernetesRBAC.enabled needs rayCluster.auth.mode token (it is %s)" $auth.mode) -}}
{{- end -}}
{{- if not $cluster.enabled -}}
{{- fail "rayCluster.auth.kubernetesRBAC.enabled needs rayCluster.enabled: it is the auth of the chart's standalone RayCluster (KubeRay refuses it for RayJob and RayService clusters)" -}}
{{- end -}}
{{- if semverCompare "<2.55.0-0" (toString $cluster.rayVersion) -}}
{{- fail (printf "rayCluster.auth.kubernetesRBAC.enabled needs Ray 2.55 or later (rayCluster.rayVersion is %s)" $cluster.rayVersion) -}}
{{- end -}}
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
{{- include "ray-aks.validateQueuedCluster" (dict "cluster" .cluster "keyPrefix" (printf "%s.rayCluster" $p) "submitter" (eq $job.submissionMode "K8sJobMode") "gpu" $values.global.gpu) -}}
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
ray-aks.validateKueue: the kueue values beyond the schema (the RayJobs' own checks are in
ray-aks.validateRayJob): every switch needs the queue, a queued workload must be rendered, and a
queued RayService cannot upgrade incrementally (that needs the Ray autoscaler, which a queued
cluster runs without: ray-aks.queuedCluster). Takes the root context.
*/}}
{{- define "ray-aks.validateKueue" -}}
{{- $kueue := .Values.kueue -}}
{{- if not $kueue.queueName -}}
{{- range $key := list "priorityClassName" "rayCluster" "rayService" -}}
{{- if get $kueue $key -}}
{{- fail (printf "kueue.%s needs kueue.queueName: the LocalQueue Kueue admits the workloads from" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $kueue.rayCluster -}}
{{- if not .Values.rayCluster.enabled -}}
{{- fail "kueue.rayCluster needs rayCluster.enabled: it queues the chart's RayCluster" -}}
{{- end -}}
{{- include "ray-aks.validateQueuedCluster" (dict "cluster" .Values.rayCluster "keyPrefix" "rayCluster" "submitter" false "gpu" .Values.global.gpu) -}}
{{- end -}}
{{- if $kueue.rayService -}}
{{- $svc := .Values.rayService -}}
{{- if not $svc.enabled -}}
{{- fail "kueue.rayService needs rayService.enabled: it queues the RayService" -}}
{{- end -}}
{{- if eq $svc.upgradeStrategy.type "NewClusterWithIncrementalUpgrade" -}}
{{- fail "kueue.rayService cannot be used with rayService.upgradeStrategy.type NewClusterWithIncrementalUpgrade: the new cluster scales up with the Ray autoscaler, and Kueue runs a queued cluster without it (use NewCluster)" -}}
{{- end -}}
{{- $cluster := (include "ray-aks.rayServiceWorkload" . | fromJson).cluster -}}
{{- include "ray-aks.validateQueuedCluster" (dict "cluster" $cluster "keyPrefix" "rayService.rayCluster" "submitter" false "gpu" .Values.global.gpu) -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.validateQueuedCluster: what Kueue refuses in a queued Ray cluster. Its Workload holds at
most 8 pod sets, named after them: the head (`head`), one per enabled worker group and, for a RayJob
in K8sJobMode, the submitter (`submitter`). And in GPU mode it needs a GPU worker at its fixed size
(the GPU values file leaves the GPU group at 0 replicas for the autoscaler). Takes a dict: cluster
(cluster values), keyPrefix (their values path), submitter (bool), gpu (bool: global.gpu).
*/}}
{{- define "ray-aks.validateQueuedCluster" -}}
{{- $reserved := ternary (list "head" "submitter") (list "head") .submitter -}}
{{- $groups := list -}}
{{- range $name := keys .cluster.workerGroups | sortAlpha -}}
{{- if (get $.cluster.workerGroups $name).enabled -}}
{{- if has $name $reserved -}}
{{- fail (printf "%s.workerGroups.%s: Kueue names a queued cluster's pod sets after its worker groups, and %q is %s: rename the group" $.keyPrefix $name $name (ternary "the head's" "the submitter's" (eq $name "head"))) -}}
{{- end -}}
{{- $groups = append $groups $name -}}
{{- end -}}
{{- end -}}
{{- if .gpu -}}
{{- $gpuPods := 0 -}}
{{- range $name := $groups -}}
{{- $group := get $.cluster.workerGroups $name -}}
{{- if include "ray-aks.requestsGPU" $group.resources -}}
{{- $gpuPods = add $gpuPods (int (include "ray-aks.replicas" $group)) -}}
{{- end -}}
{{- end -}}
{{- if eq (int $gpuPods) 0 -}}
{{- fail (printf "%s.workerGroups has no GPU worker: Kueue runs a queued cluster without the autoscaler, each group at its replicas, and no GPU group has any while global.gpu is true (set one, e.g. %s.workerGroups.gpu.replicas: 1)" .keyPrefix .keyPrefix) -}}
{{- end -}}
{{- end -}}
{{- $max := sub 8 (len $reserved) -}}
{{- if gt (len $groups) (int $max) -}}
{{- fail (printf "%s.workerGroups has %d enabled groups: Kueue queues a cluster with at most %d (its Workload holds 8 pod sets: %s and one per group)" .keyPrefix (len $groups) (int $max) (ternary "one for the head, one for the submitter" "one for the head" .submitter)) -}}
{{- end -}}
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
ray-aks.validateMonitoring: the PrometheusRule's needs. Its alerts read the Ray metrics the chart's
PodMonitors scrape (RayHeadDown selects the head PodMonitor's job), so it needs
monitoring.podMonitors.enabled; and only the Prometheus Operator reads PrometheusRule objects.
Takes the root context.
*/}}
{{- define "ray-aks.validateMonitoring" -}}
{{- $mon := .Values.monitoring -}}
{{- if $mon.prometheusRule.enabled -}}
{{- if not $mon.podMonitors.enabled -}}
{{- fail "monitoring.prometheusRule.enabled needs monitoring.podMonitors.enabled: the alerts read the metrics the chart's PodMonitors scrape (RayHeadDown by the head PodMonitor's job)" -}}
{{- end -}}
{{- if ne (include "ray-aks.monitoringAPIVersion" .) "monitoring.coreos.com/v1" -}}
{{- fail (printf "monitoring.prometheusRule.enabled needs monitoring.flavor prometheus-operator (got %s): AKS managed Prometheus does not read PrometheusRule objects; create Azure Prometheus rule groups instead and set monitoring.prometheusRule.enabled to false" $mon.flavor) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.validateImageRegistry: a workload image needs a registry: its own or global.imageRegistry.
Takes a dict: context, prefix (the workload's values path), image.
*/}}
{{- define "ray-aks.validateImageRegistry" -}}
{{- if not (.image.registry | default .context.Values.global.imageRegistry) -}}
{{- fail (printf "%s.enabled needs an image registry: set global.imageRegistry (e.g. myacr.azurecr.io, where `make push` put the ray-aks images) or %s.image.registry" .prefix .prefix) -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.validateWorkloadCluster: the cluster of a RayJob or the RayService (`cluster`, from
ray-aks.workloadCluster): a GPU group runs the `-gpu` build of the workload image, which a digest
cannot pin, unless the group names its own image; then ray-aks.validateRayCluster. Takes a dict:
context, cluster, image (from ray-aks.workloadImage), overrides (the workload's rayCluster values), keyPrefix.
*/}}
{{- define "ray-aks.validateWorkloadCluster" -}}
{{- $groupOverrides := (.overrides | default dict).workerGroups | default dict -}}
{{- range $name, $group := .cluster.workerGroups -}}
{{- if and $group.enabled $.image.digest (include "ray-aks.requestsGPU" $group.resources) (not (get $groupOverrides $name | default dict).image) -}}
{{- fail (printf "%s.workerGroups.%s.image is required when the workload image has a digest: the digest pins the CPU image, not its -gpu build" $.keyPrefix $name) -}}
{{- end -}}
{{- end -}}
{{- include "ray-aks.validateRayCluster" . -}}
{{- end -}}

{{/*
ray-aks.validateJobs: every RayJob and RayCronJob of ray-aks.workloads (each job's values merged over
the defaults, as the templates render them): the operator's feature gate and the schedule of a
RayCronJob, the image registry, the job's own cluster, and ray-aks.validateRayJob. Takes the root context.
*/}}
{{- define "ray-aks.validateJobs" -}}
{{- $queue := .Values.kueue.queueName -}}
{{- $cronGate := include "ray-aks.operatorFeatureGate" (dict "context" . "name" "RayCronJob") -}}
{{- range $w := include "ray-aks.workloads" . | fromJsonArray -}}
{{- if ne $w.kind "RayService" -}}
{{- $cron := eq $w.kind "RayCronJob" -}}
{{- $p := $w.path -}}
{{- $job := $w.values -}}
{{- if and $cron (index $.Values "kuberay-operator" "enabled") (ne $cronGate "true") -}}
{{- fail (printf "%s.enabled needs the KubeRay operator's RayCronJob feature gate: set the RayCronJob entry of kuberay-operator.featureGates to enabled: true" $p) -}}
{{- end -}}
{{- if and $cron (contains "TZ" $job.schedule) -}}
{{- fail (printf "%s.schedule must not set TZ or CRON_TZ (KubeRay 1.7 refuses it): use %s.timeZone" $p $p) -}}
{{- end -}}
{{- include "ray-aks.validateImageRegistry" (dict "context" $ "prefix" $p "image" $job.image) -}}
{{- if $w.ownCluster -}}
{{- include "ray-aks.validateWorkloadCluster" (dict "context" $ "cluster" $w.cluster "image" $w.image "overrides" $job.rayCluster "keyPrefix" (printf "%s.rayCluster" $p)) -}}
{{- end -}}
{{- include "ray-aks.validateRayJob" (dict "context" $ "prefix" $p "job" $job "cluster" $w.cluster "kueue" (and (not $cron) (not (empty $queue)))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
ray-aks.validateRayService: the RayService's Service, upgrade strategy (what KubeRay's
ValidateClusterUpgradeOptions refuses), applications (serveConfigV2) and cluster, and the Ingress
to it. Takes the root context.
*/}}
{{- define "ray-aks.validateRayService" -}}
{{- $svc := .Values.rayService -}}
{{- if and $svc.ingress.enabled (not $svc.enabled) -}}
{{- fail "rayService.ingress.enabled needs rayService.enabled: the Ingress routes to the RayService's Serve Service" -}}
{{- end -}}
{{- if $svc.enabled -}}
{{- include "ray-aks.validateImageRegistry" (dict "context" . "prefix" "rayService" "image" $svc.image) -}}
{{- $lb := $svc.service.loadBalancer -}}
{{- if and (ne $svc.service.type "LoadBalancer") (or $lb.internalSubnet $lb.sourceRanges) -}}
{{- fail "rayService.service.loadBalancer.internalSubnet and sourceRanges need rayService.service.type LoadBalancer" -}}
{{- end -}}
{{- if and $lb.internalSubnet (not $lb.internal) -}}
{{- fail "rayService.service.loadBalancer.internalSubnet needs rayService.service.loadBalancer.internal true (a public load balancer has no subnet)" -}}
{{- end -}}
{{- $workload := include "ray-aks.rayServiceWorkload" . | fromJson -}}
{{- $image := $workload.image -}}
{{- $cluster := $workload.cluster -}}
{{- $upgrade := $svc.upgradeStrategy -}}
{{- $options := $upgrade.clusterUpgradeOptions -}}
{{- if eq $upgrade.type "NewClusterWithIncrementalUpgrade" -}}
{{- if and (index .Values "kuberay-operator" "enabled") (eq (include "ray-aks.operatorFeatureGate" (dict "context" . "name" "RayServiceIncrementalUpgrade")) "false") -}}
{{- fail "rayService.upgradeStrategy.type NewClusterWithIncrementalUpgrade needs the operator's RayServiceIncrementalUpgrade feature gate: its entry in kuberay-operator.featureGates is enabled: false" -}}
{{- end -}}
{{- if not $cluster.autoscaler.enabled -}}
{{- fail "rayService.upgradeStrategy.type NewClusterWithIncrementalUpgrade needs the Ray autoscaler (rayService.rayCluster.autoscaler.enabled true): the new cluster scales up step by step" -}}
{{- end -}}
{{- if not $options.gatewayClassName -}}
{{- fail "rayService.upgradeStrategy.clusterUpgradeOptions.gatewayClassName is required when rayService.upgradeStrategy.type is NewClusterWithIncrementalUpgrade (a GatewayClass of the cluster's Gateway API controller)" -}}
{{- end -}}
{{- if gt (int $options.stepSizePercent) (int $options.maxSurgePercent) -}}
{{- fail (printf "rayService.upgradeStrategy.clusterUpgradeOptions.stepSizePercent (%d) must be <= maxSurgePercent (%d) (KubeRay 1.7 refuses more)" (int $options.stepSizePercent) (int $options.maxSurgePercent)) -}}
{{- end -}}
{{- else if $options.gatewayClassName -}}
{{- fail (printf "rayService.upgradeStrategy.clusterUpgradeOptions.gatewayClassName needs rayService.upgradeStrategy.type NewClusterWithIncrementalUpgrade (it is %s)" $upgrade.type) -}}
{{- end -}}
{{- $prefixes := dict -}}
{{- range $name, $app := $svc.applications -}}
{{- if $app.enabled -}}
{{- $key := printf "rayService.applications.%s" $name -}}
{{- with get $prefixes $app.routePrefix -}}
{{- fail (printf "%s.routePrefix %s is also the route prefix of rayService.applications.%s: each app needs its own" $key $app.routePrefix .) -}}
{{- end -}}
{{- $_ := set $prefixes $app.routePrefix $name -}}
{{- if and $app.autoscalingConfig (hasKey ($app.args | default dict) "num_replicas") -}}
{{- fail (printf "%s.args.num_replicas and %s.autoscalingConfig are exclusive: set autoscalingConfig to null for a fixed replica count" $key $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $prefixes -}}
{{- fail "rayService.applications has no enabled application: enable one (mnist, textgen or embeddings) or set rayService.enabled false" -}}
{{- end -}}
{{- include "ray-aks.validateWorkloadCluster" (dict "context" . "cluster" $cluster "image" $image "overrides" $svc.rayCluster "keyPrefix" "rayService.rayCluster") -}}
{{- end -}}
{{- end -}}
