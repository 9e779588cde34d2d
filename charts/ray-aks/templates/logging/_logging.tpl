{{/*
The log sidecar of every Ray pod (values `logging`): an OpenTelemetry Collector built by `make image`
(tools/otelcol/builder-config.yaml) that tails Ray's log files and writes each line to its stdout and,
when `logging.otlp.endpoint` is set, to an OTLP endpoint. _pod.tpl adds it to the head and worker
templates (ray-aks.logSidecar) with its config volume (ray-aks.logSidecarVolume); its config is the
ConfigMap of templates/logging-configmap.yaml (ray-aks.logCollectorConfig). The checks of `logging`
are ray-aks.validateLogging's (_validate.tpl).
*/}}

{{/*
ray-aks.logSidecarEnabled: "true" when the sidecar is rendered: logging.enabled and an image
registry known (logging.image.registry or global.imageRegistry: the image is ours, `make push` puts
it there, and no public registry has it). Takes the root context.
*/}}
{{- define "ray-aks.logSidecarEnabled" -}}
{{- $logging := .Values.logging -}}
{{- if and $logging.enabled ($logging.image.registry | default .Values.global.imageRegistry) -}}true{{- end -}}
{{- end -}}

{{/* ray-aks.logCollectorName: the ConfigMap of the collector's config. Takes the root context. */}}
{{- define "ray-aks.logCollectorName" -}}
{{- include "ray-aks.suffixedName" (dict "context" . "suffix" "log-collector") -}}
{{- end -}}

{{/* Where Ray writes its logs (the `ray-logs` emptyDir at /tmp/ray) and where the config is mounted. */}}
{{- define "ray-aks.rayLogsDir" -}}/tmp/ray/session_latest/logs{{- end -}}
{{- define "ray-aks.logCollectorConfigDir" -}}/etc/ray-aks-log-collector{{- end -}}

{{/*
ray-aks.otlpEndpoint: logging.otlp.endpoint taken apart, as JSON: scheme ("http", "https" or ""),
host, port (the endpoint's, else 443 for https and 80 for http; 0 when it has neither) and valid
(false when it is not `[scheme://]host[:port][/path]`). Takes the root context.
*/}}
{{- define "ray-aks.otlpEndpoint" -}}
{{- $endpoint := .Values.logging.otlp.endpoint -}}
{{- $scheme := "" -}}
{{- if hasPrefix "https://" $endpoint -}}{{- $scheme = "https" -}}{{- else if hasPrefix "http://" $endpoint -}}{{- $scheme = "http" -}}{{- end -}}
{{- $hostPort := splitList ":" (splitList "/" (trimPrefix (printf "%s://" $scheme) $endpoint) | first) -}}
{{- $port := 0 -}}
{{- if eq (len $hostPort) 2 -}}
{{- $port = atoi (index $hostPort 1) -}}
{{- else if eq $scheme "https" -}}
{{- $port = 443 -}}
{{- else if eq $scheme "http" -}}
{{- $port = 80 -}}
{{- end -}}
{{- $valid := regexMatch "^(https?://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?(/.*)?$" $endpoint -}}
{{- dict "scheme" $scheme "host" (first $hostPort) "port" $port "valid" $valid | toJson -}}
{{- end -}}

{{/*
ray-aks.logCollectorConfig: the collector's config. filelog tails Ray's log files from their first
line (start_at: beginning: the sidecar starts before Ray writes, and after a restart of its own it
sends a file again rather than lose lines); the attributes come from the environment the sidecar
gets from the downward API (ray-aks.logSidecar); a driver's file name gives the Ray job's submission
id. The collector's own metrics are off: it opens no port. Takes the root context.
*/}}
{{- define "ray-aks.logCollectorConfig" -}}
{{- $logging := .Values.logging -}}
{{- $dir := include "ray-aks.rayLogsDir" . -}}
{{- $exporters := dict -}}
{{- if $logging.stdout -}}
{{- /* One line per Ray log line on stdout: its text, then its attributes as key=value. */ -}}
{{- $_ := set $exporters "debug" (dict "verbosity" "normal" "use_internal_logger" false "output_paths" (list "stdout")) -}}
{{- end -}}
{{- with $logging.otlp.endpoint -}}
{{- $otlp := dict "endpoint" . "sending_queue" (dict "queue_size" 100) "retry_on_failure" (dict "enabled" true "max_elapsed_time" "300s") -}}
{{- with $logging.otlp.headers -}}
{{- $_ := set $otlp "headers" . -}}
{{- end -}}
{{- /* gRPC's client dials TLS whatever the scheme says: an http:// endpoint means plaintext. */ -}}
{{- if and (eq $logging.otlp.protocol "grpc") (eq (include "ray-aks.otlpEndpoint" $ | fromJson).scheme "http") -}}
{{- $_ := set $otlp "tls" (dict "insecure" true) -}}
{{- end -}}
{{- $_ := set $exporters (ternary "otlp" "otlphttp" (eq $logging.otlp.protocol "grpc")) $otlp -}}
{{- end -}}
receivers:
  filelog:
    include:
      {{- range $logging.files.include }}
      - {{ printf "%s/%s" $dir . | quote }}
      {{- end }}
    {{- with $logging.files.exclude }}
    exclude:
      {{- range . }}
      - {{ printf "%s/%s" $dir . | quote }}
      {{- end }}
    {{- end }}
    start_at: beginning
    include_file_name: true
    include_file_path: false
    attributes:
      ray.cluster.name: ${env:RAY_AKS_LOG_CLUSTER}
      ray.node.type: ${env:RAY_AKS_LOG_NODE_TYPE}
      ray.node.group: ${env:RAY_AKS_LOG_GROUP}
      k8s.pod.name: ${env:RAY_AKS_LOG_POD}
      k8s.namespace.name: ${env:RAY_AKS_LOG_NAMESPACE}
      k8s.node.name: ${env:RAY_AKS_LOG_NODE}
    operators:
      # job-driver-<submission id>.log: the Ray job's submission id (`ray job submit`, a RayJob's
      # status.jobId) as ray.job.submission_id.
      - type: regex_parser
        id: driver_file
        if: 'attributes["log.file.name"] matches "^job-driver-.+[.]log$"'
        parse_from: attributes["log.file.name"]
        regex: '^job-driver-(?P<submission_id>.+)[.]log$'
      - type: move
        id: submission_id
        if: 'attributes["submission_id"] != nil'
        from: attributes["submission_id"]
        to: attributes["ray.job.submission_id"]
processors:
  batch:
    timeout: 1s
    send_batch_size: 512
    send_batch_max_size: 1024
exporters:
  {{- toYaml $exporters | nindent 2 }}
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: {{ keys $exporters | sortAlpha | toJson }}
{{- end -}}

{{/*
ray-aks.logSidecar: the sidecar as an init container list entry (a native sidecar: restartPolicy
Always starts it before the Ray container, keeps it running beside it, and stops it after the Ray
container has exited, so it neither delays Ray's start nor outlives the pod), or "" when it is not
rendered. It reads Ray's log volume read-only. Takes a dict: context (root), cluster (values shaped
like .Values.rayCluster: its security context).
*/}}
{{- define "ray-aks.logSidecar" -}}
{{- $ctx := .context -}}
{{- if include "ray-aks.logSidecarEnabled" $ctx -}}
{{- $logging := $ctx.Values.logging -}}
{{- $image := $logging.image -}}
{{- $tag := $image.tag | default $ctx.Values.global.imageTag | default $ctx.Chart.AppVersion -}}
{{- $fields := list
  (list "RAY_AKS_LOG_CLUSTER" "metadata.labels['ray.io/cluster']")
  (list "RAY_AKS_LOG_NODE_TYPE" "metadata.labels['ray.io/node-type']")
  (list "RAY_AKS_LOG_GROUP" "metadata.labels['ray.io/group']")
  (list "RAY_AKS_LOG_POD" "metadata.name")
  (list "RAY_AKS_LOG_NAMESPACE" "metadata.namespace")
  (list "RAY_AKS_LOG_NODE" "spec.nodeName") -}}
- name: log-collector
  image: {{ include "ray-aks.image" (dict "context" $ctx "image" (dict "registry" $image.registry "repository" $image.repository "tag" $tag "digest" $image.digest)) }}
  imagePullPolicy: {{ $image.pullPolicy }}
  restartPolicy: Always
  args:
    - --config={{ include "ray-aks.logCollectorConfigDir" $ctx }}/config.yaml
  env:
    {{- range $fields }}
    - name: {{ index . 0 }}
      valueFrom:
        fieldRef:
          fieldPath: {{ index . 1 | quote }}
    {{- end }}
    {{- with $logging.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  resources:
    {{- toYaml $logging.resources | nindent 4 }}
  securityContext:
    {{- toYaml (merge (dict "readOnlyRootFilesystem" true) .cluster.securityContext) | nindent 4 }}
  volumeMounts:
    - name: ray-logs
      mountPath: /tmp/ray
      readOnly: true
    - name: log-collector-config
      mountPath: {{ include "ray-aks.logCollectorConfigDir" $ctx }}
      readOnly: true
{{- end -}}
{{- end -}}

{{/* ray-aks.logSidecarVolume: the sidecar's config volume (a volumes list entry), or "". Takes the root context. */}}
{{- define "ray-aks.logSidecarVolume" -}}
{{- if include "ray-aks.logSidecarEnabled" . -}}
- name: log-collector-config
  configMap:
    name: {{ include "ray-aks.logCollectorName" . }}
{{- end -}}
{{- end -}}
