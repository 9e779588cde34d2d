# What `make aks` reads back. Every value comes from a local (spec.tf, or main.tf's Azure answers),
# never from a resource directly: tools/infra/harness.py evaluates this file offline with spec.tf.

# make aks reads the first three with `tofu output -raw`.
output "resource_group_name" {
  description = "Resource group of everything the module created."
  value       = local.names.resource_group
}

output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = local.names.cluster
}

output "acr_name" {
  description = "Name of the container registry: `make push ACR_NAME=<this>` and `make install ACR_NAME=<this>`."
  value       = local.names.acr
}

output "get_credentials_command" {
  description = "The command that writes the cluster's kubeconfig entry (`make aks` runs it)."
  value       = "az aks get-credentials --resource-group ${local.names.resource_group} --name ${local.names.cluster} --overwrite-existing"
}

output "acr_login_server" {
  description = "Login server of the container registry (the chart's global.imageRegistry)."
  value       = local.created.registry_login_server
}

output "workload_identity" {
  description = "The identity the Ray pods act as: client_id (the chart's workloadIdentity.clientId), subject (the ServiceAccount the federated credential accepts: system:serviceaccount:<namespace>:<service_account_name>) and oidc_issuer_url (the cluster's OIDC issuer, which the credential trusts)."
  value = {
    client_id       = local.created.workload_identity_client_id
    subject         = local.workload_identity.federated_subject
    oidc_issuer_url = local.created.oidc_issuer_url
  }
}

output "shared_storage" {
  description = "The shared storage: account_name (the storage account) and container_name (the Blob container mounted at /mnt/cluster_storage)."
  value = {
    account_name   = local.names.storage_account
    container_name = var.storage_container_name
  }
}

output "cluster_spec" {
  description = "The cluster as spec.tf states it: node_pools (each pool's enabled, VM size, autoscaler range, taints and labels, those AKS adds itself in aks_node_taints and aks_node_labels), network_profile (network plugin, mode, dataplane and policy engine, the address ranges) and cluster_features (OIDC issuer, workload identity, Entra ID with Azure RBAC, local accounts off, the Blob CSI driver)."
  value = {
    node_pools       = local.node_pools
    network_profile  = local.network_profile
    cluster_features = local.cluster_features
  }
}

output "chart_values" {
  description = "The chart's values for this cluster (registry, workload identity, shared storage, MLflow artifacts, monitoring), keyed as charts/ray-aks/values.yaml. `make aks` writes them to infra/aks-values.yaml, which `make install` uses."
  value       = local.chart_values

  precondition {
    condition     = !var.mlflow_artifacts_on_shared_storage || var.mount_shared_storage
    error_message = "mlflow_artifacts_on_shared_storage needs mount_shared_storage: MLflow keeps its artifacts on the shared Blob container the values file mounts."
  }
}
