# The AKS cluster, its node pools and who may administer it. Pool sizes, taints and labels, the
# network profile and the identity settings come from spec.tf, which the contract tests compare
# with the chart's GPU overlay and docs/deploy-to-aks.md's az commands.

resource "azurerm_kubernetes_cluster" "this" {
  name                      = local.names.cluster
  location                  = azurerm_resource_group.this.location
  resource_group_name       = azurerm_resource_group.this.name
  dns_prefix                = local.names.cluster
  kubernetes_version        = var.kubernetes_version
  sku_tier                  = var.sku_tier
  automatic_upgrade_channel = var.automatic_upgrade_channel
  node_os_upgrade_channel   = var.node_os_upgrade_channel
  private_cluster_enabled   = var.private_cluster_enabled
  azure_policy_enabled      = var.azure_policy_enabled

  oidc_issuer_enabled               = local.cluster_features.oidc_issuer_enabled
  workload_identity_enabled         = local.cluster_features.workload_identity_enabled
  role_based_access_control_enabled = true
  local_account_disabled            = local.cluster_features.local_account_disabled

  # The system pool: CriticalAddonsOnly=true:NoSchedule keeps every Ray pod off it.
  default_node_pool {
    name                         = local.node_pools.system.name
    vm_size                      = local.node_pools.system.vm_size
    os_disk_type                 = local.node_pools.system.os_disk_type
    only_critical_addons_enabled = true
    auto_scaling_enabled         = true
    node_count                   = local.node_pools.system.min_count
    min_count                    = local.node_pools.system.min_count
    max_count                    = local.node_pools.system.max_count
    max_pods                     = var.max_pods
    host_encryption_enabled      = var.host_encryption_enabled
    # Changing the size or disk of the system pool cycles it through a pool of this name.
    temporary_name_for_rotation = "systemtmp"
    tags                        = local.tags

    upgrade_settings {
      max_surge = local.upgrade_max_surge.system
    }
  }

  identity {
    type = "SystemAssigned"
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled = local.cluster_features.azure_rbac_enabled
    tenant_id          = local.azure_context.tenant_id
  }

  network_profile {
    network_plugin      = local.network_profile.network_plugin
    network_plugin_mode = local.network_profile.network_plugin_mode
    network_data_plane  = local.network_profile.network_data_plane
    network_policy      = local.network_profile.network_policy
    pod_cidr            = local.network_profile.pod_cidr
    service_cidr        = local.network_profile.service_cidr
    dns_service_ip      = local.network_profile.dns_service_ip
    load_balancer_sku   = local.network_profile.load_balancer_sku
    outbound_type       = local.network_profile.outbound_type
  }

  # BlobFuse2 for the chart's shared storage (sharedStorage.create.type blob).
  storage_profile {
    blob_driver_enabled = local.cluster_features.blob_driver_enabled
  }

  dynamic "api_server_access_profile" {
    for_each = length(var.api_server_authorized_ip_ranges) > 0 ? [var.api_server_authorized_ip_ranges] : []
    content {
      authorized_ip_ranges = api_server_access_profile.value
    }
  }

  dynamic "oms_agent" {
    for_each = var.container_insights_enabled ? [azurerm_log_analytics_workspace.this[0].id] : []
    content {
      log_analytics_workspace_id      = oms_agent.value
      msi_auth_for_monitoring_enabled = true
    }
  }

  # Managed Prometheus: no extra label or annotation keys in kube-state-metrics.
  dynamic "monitor_metrics" {
    for_each = var.managed_prometheus_enabled ? [true] : []
    content {
      annotations_allowed = null
      labels_allowed      = null
    }
  }

  tags = local.tags

  lifecycle {
    # The cluster autoscaler owns the node count.
    ignore_changes = [default_node_pool[0].node_count]

    precondition {
      condition     = var.automatic_upgrade_channel != "node-image" || var.node_os_upgrade_channel == "NodeImage"
      error_message = "node_os_upgrade_channel must be NodeImage when automatic_upgrade_channel is node-image."
    }
    precondition {
      # The DNS address, with the Service range's prefix length, falls in that range.
      condition     = cidrhost("${var.network.dns_service_ip}/${split("/", var.network.service_cidr)[1]}", 0) == cidrhost(var.network.service_cidr, 0)
      error_message = "network.dns_service_ip (${var.network.dns_service_ip}) must lie inside network.service_cidr (${var.network.service_cidr})."
    }
  }
}

locals {
  # How many extra nodes an upgrade may add to a pool at a time. Spot pools take no surge settings
  # (AKS reimages Spot nodes in place).
  upgrade_max_surge = { system = "10%", cpu = "10%", gpu = "1", spot = null }
}

# The user pools (spec.tf): the CPU pool always, the GPU and Spot pools when enabled. Each scales
# with the cluster autoscaler, which owns node_count after creation.
resource "azurerm_kubernetes_cluster_node_pool" "user" {
  for_each = { for name, pool in local.node_pools : name => pool if pool.enabled && pool.mode == "User" }

  name                  = each.value.name
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  mode                  = each.value.mode
  orchestrator_version  = var.kubernetes_version
  tags                  = local.tags

  # The machines: size, disk, GPU driver (GPU pool only), pods per node.
  vm_size                 = each.value.vm_size
  os_disk_type            = each.value.os_disk_type
  gpu_driver              = each.value.gpu_driver
  host_encryption_enabled = var.host_encryption_enabled
  max_pods                = var.max_pods

  # Spot VMs (Spot pool only; the others are Regular).
  priority        = each.value.priority
  eviction_policy = each.value.eviction_policy
  spot_max_price  = each.value.spot_max_price

  auto_scaling_enabled = true
  node_count           = each.value.min_count
  min_count            = each.value.min_count
  max_count            = each.value.max_count

  # Which pods land here: those that tolerate the taints (and select the labels).
  node_taints = each.value.node_taints
  node_labels = each.value.node_labels

  dynamic "upgrade_settings" {
    for_each = local.upgrade_max_surge[each.key] == null ? [] : [local.upgrade_max_surge[each.key]]
    content {
      max_surge = upgrade_settings.value
    }
  }

  lifecycle {
    ignore_changes = [node_count]
  }
}

# Local accounts are off: kubectl and helm sign in with Entra ID, and need an Azure role.
resource "azurerm_role_assignment" "cluster_admin" {
  for_each = toset(concat(
    var.grant_deployer_cluster_admin ? [data.azurerm_client_config.current.object_id] : [],
    var.cluster_admin_object_ids,
  ))

  scope                = azurerm_kubernetes_cluster.this.id
  role_definition_name = "Azure Kubernetes Service RBAC Cluster Admin"
  principal_id         = each.value
}
