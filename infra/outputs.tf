# What `make aks` reads back. Every value comes from a local (spec.tf, or main.tf's Azure answers),
# never from a resource directly: tools/infra/harness.py evaluates this file offline with spec.tf.

output "resource_group_name" {
  description = "Resource group of everything the module created."
  value       = local.names.resource_group
}

output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = local.names.cluster
}

output "get_credentials_command" {
  description = "The command that writes the cluster's kubeconfig entry (`make aks` runs it)."
  value       = "az aks get-credentials --resource-group ${local.names.resource_group} --name ${local.names.cluster} --overwrite-existing"
}

output "acr_name" {
  description = "Name of the container registry: `make push ACR_NAME=<this>` and `make install ACR_NAME=<this>`."
  value       = local.names.acr
}

output "acr_login_server" {
  description = "Login server of the container registry (the chart's global.imageRegistry)."
  value       = local.created.registry_login_server
}

output "oidc_issuer_url" {
  description = "The cluster's OIDC issuer, which the federated credential trusts."
  value       = local.created.oidc_issuer_url
}

output "workload_identity_client_id" {
  description = "Client id of the identity the Ray pods act as (the chart's workloadIdentity.clientId)."
  value       = local.created.workload_identity_client_id
}

output "workload_identity_subject" {
  description = "The ServiceAccount the federated credential accepts: system:serviceaccount:<namespace>:<service_account_name>."
  value       = local.workload_identity.federated_subject
}

output "storage_account_name" {
  description = "Storage account of the shared storage."
  value       = local.names.storage_account
}

output "storage_container_name" {
  description = "Blob container mounted at /mnt/cluster_storage."
  value       = var.storage_container_name
}

output "node_pools" {
  description = "Each node pool: enabled, VM size, autoscaler range, taints and labels (those AKS adds itself in aks_node_taints and aks_node_labels)."
  value       = local.node_pools
}

output "network_profile" {
  description = "Network plugin, mode, dataplane and policy engine, and the address ranges."
  value       = local.network_profile
}

output "cluster_features" {
  description = "Sign-in and identity features (OIDC issuer, workload identity, Entra ID with Azure RBAC, local accounts off) and the Blob CSI driver."
  value       = local.cluster_features
}

output "chart_values" {
  description = "The chart's values for this cluster (registry, workload identity, shared storage, MLflow artifacts, monitoring), keyed as charts/ray-aks/values.yaml. `make aks` writes them to infra/aks-values.yaml, which `make install` uses."
  value       = local.chart_values

  precondition {
    condition     = !var.mlflow_artifacts_on_shared_storage || var.mount_shared_storage
    error_message = "mlflow_artifacts_on_shared_storage needs mount_shared_storage: MLflow keeps its artifacts on the shared Blob container the values file mounts."
  }
}
