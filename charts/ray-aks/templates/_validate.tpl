{{/*
Validation that the schema cannot state, run once per render from templates/validate.yaml.

ray-aks.removedValues: keys that earlier versions of the chart took, each with what to do instead
(the chart README's "Upgrading" section lists them). A values file that still sets one fails with a
message naming it: the schema lets these keys through (so this message, not a generic one, is
what the user reads), and nothing renders them.
*/}}
{{- define "ray-aks.removedValues" -}}
{{- $removed := dict
  "head.serviceType" "was removed: the head Service is always ClusterIP (its Jobs API and client port run code on the cluster, see SECURITY.md). Reach the dashboard with kubectl port-forward and expose Serve with rayService.service"
-}}
{{- $clusters := dict "rayCluster" .Values.rayCluster -}}
{{- with .Values.rayService -}}
{{- $_ := set $clusters "rayService.rayCluster" (.rayCluster | default dict) -}}
{{- end -}}
{{- range $kind := list "rayJobs" "rayCronJobs" -}}
{{- $entries := get $.Values $kind | default dict -}}
{{- range $key, $entry := $entries -}}
{{- if kindIs "map" $entry -}}
{{- $_ := set $clusters (printf "%s.%s.rayCluster" $kind $key) ($entry.rayCluster | default dict) -}}
{{- end -}}
{{- end -}}
{{- end -}}
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
ray-aks.renamedValues: keys that moved, each with its new path (the "Upgrading" section lists them).
A values file that still sets the old path fails with a message naming the new one.
*/}}
{{- define "ray-aks.renamedValues" -}}
{{- $renamed := dict
  "mlflow.database.existingSecret" "mlflow.database.uri.secretName"
  "mlflow.database.secretKey" "mlflow.database.uri.secretKey"
-}}
{{- range $old := keys $renamed | sortAlpha -}}
{{- if include "ray-aks.isSet" (dict "values" $.Values "path" $old) -}}
{{- fail (printf "%s was renamed to %s: every Secret reference of the chart is {secretName, secretKey}" $old (get $renamed $old)) -}}
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

{{/* ray-aks.validate: every check of this file. Takes the root context. */}}
{{- define "ray-aks.validate" -}}
{{- include "ray-aks.removedValues" . -}}
{{- include "ray-aks.renamedValues" . -}}
{{- end -}}
