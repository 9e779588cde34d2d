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
