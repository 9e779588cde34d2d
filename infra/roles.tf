# The Azure roles the module's own identities need. Each principal is a service principal that the
# module has just created (the cluster's identities, the workload identity): principal_type says so,
# and the Entra ID check that can fail before a new principal has replicated is skipped.
locals {
  service_role_assignments = {
    # The nodes pull images with the kubelet identity: no pull secret.
    kubelet_acr_pull = {
      scope        = azurerm_container_registry.this.id
      role         = "AcrPull"
      principal_id = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
    }
    # The Ray pods' identity reads and writes blobs: BlobFuse2 mounts with the pod's workload
    # identity token (mountWithWorkloadIdentityToken in the values file), so no account key reaches
    # the nodes.
    workload_blob_data = {
      scope        = azurerm_storage_account.shared.id
      role         = local.workload_identity.storage_role
      principal_id = azurerm_user_assigned_identity.workload.principal_id
    }
    # The Blob CSI driver's controller acts as the cluster's identity when it provisions the chart's
    # claim on the storage account (it checks the container through Resource Manager and reads the
    # account's keys for its volume secret). AKS grants that identity roles only in the node
    # resource group.
    cluster_storage_account = {
      scope        = azurerm_storage_account.shared.id
      role         = "Storage Account Contributor"
      principal_id = azurerm_kubernetes_cluster.this.identity[0].principal_id
    }
  }
}

resource "azurerm_role_assignment" "service" {
  for_each = local.service_role_assignments

  scope                            = each.value.scope
  role_definition_name             = each.value.role
  principal_id                     = each.value.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}
