# The shared storage behind the chart's sharedStorage.create (type blob): a Blob container that
# BlobFuse2 mounts at /mnt/cluster_storage in every Ray pod, and MLflow's artifacts when asked.

resource "azurerm_storage_account" "shared" {
  name                     = local.names.storage_account
  resource_group_name      = azurerm_resource_group.this.name
  location                 = azurerm_resource_group.this.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type

  https_traffic_only_enabled      = true
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
  local_user_enabled              = false
  default_to_oauth_authentication = true
  # The Blob CSI driver's controller reads the account key when it provisions the chart's claim (it
  # keeps it in a volume Secret); the Ray pods mount with workload identity tokens, not the key.
  shared_access_key_enabled = true

  # Account SAS tokens, if anyone makes one, expire within a day.
  sas_policy {
    expiration_period = "01.00:00:00"
  }

  # A deleted checkpoint or container can be restored for a week.
  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  tags = local.tags
}

# Created through Azure Resource Manager (storage_account_id), not the data plane: no account key
# or data role is needed to apply.
resource "azurerm_storage_container" "shared" {
  name                  = var.storage_container_name
  storage_account_id    = azurerm_storage_account.shared.id
  container_access_type = "private"
}

# The Ray pods' identity reads and writes blobs: BlobFuse2 mounts with the pod's workload identity
# token (mountWithWorkloadIdentityToken in the values file), so no account key reaches the nodes.
resource "azurerm_role_assignment" "workload_blob_data" {
  scope                            = azurerm_storage_account.shared.id
  role_definition_name             = local.workload_identity.storage_role
  principal_id                     = azurerm_user_assigned_identity.workload.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The Blob CSI driver's controller acts as the cluster's identity when it provisions the chart's
# claim on this account (it checks the container through Resource Manager and reads the account's
# keys for its volume secret). AKS grants that identity roles only in the node resource group.
resource "azurerm_role_assignment" "cluster_storage_account" {
  scope                            = azurerm_storage_account.shared.id
  role_definition_name             = "Storage Account Contributor"
  principal_id                     = azurerm_kubernetes_cluster.this.identity[0].principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}
