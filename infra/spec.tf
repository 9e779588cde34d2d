# The cluster the chart expects, as data: names, node pools (sizes, taints, labels), the network
# profile, the identity settings and the chart's values. The resources read these locals; so do
# outputs.tf and the contract tests.
#
# This file refers to variables and to two locals that main.tf fills from Azure (local.azure_context:
# the subscription and tenant; local.created: what Azure assigns at apply time) and to nothing else.
# So OpenTofu evaluates it with variables.tf and outputs.tf alone, without the azurerm provider:
# tools/infra/harness.py does that offline for the tests, infra/README.md and `make aks`'s values.

locals {
  # ACR and storage account names are global DNS names: the cluster name without dashes, then a
  # suffix from the subscription and resource group, so that two subscriptions' defaults differ and
  # the same inputs always name the same resources.
  resource_group_name = coalesce(var.resource_group_name, "${var.name}-rg")
  name_stem           = substr(replace(var.name, "-", ""), 0, 16)
  name_suffix         = substr(sha1("${local.azure_context.subscription_id}/${local.resource_group_name}"), 0, 8)

  names = {
    resource_group    = local.resource_group_name
    cluster           = var.name
    acr               = coalesce(var.acr_name, "${local.name_stem}${local.name_suffix}")
    storage_account   = coalesce(var.storage_account_name, "${local.name_stem}${local.name_suffix}")
    workload_identity = "${var.name}-workload"
    log_analytics     = "${var.name}-logs"
    monitor_workspace = "${var.name}-prometheus"
  }

  # The taints and labels the chart relies on. AKS adds some itself (documented AKS behaviour): the
  # accelerator label on NVIDIA sizes, which the GPU overlay selects (the kubernetes.azure.com/
  # prefix is reserved: a pool may not set it), and the spot taint and label on Spot pools, which
  # azurerm wants in the configuration too (else every plan would remove them).
  gpu_taint  = "sku=gpu:NoSchedule"
  spot_taint = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
  spot_label = { "kubernetes.azure.com/scalesetpriority" = "spot" }

  # What a pool is unless it says otherwise: a user pool of regular VMs that scales from zero, with
  # no taint or label of its own or from AKS. aks_node_labels and aks_node_taints are what AKS puts
  # on the nodes by itself; node_labels and node_taints what the pool sets.
  node_pool_defaults = {
    enabled         = true
    mode            = "User"
    priority        = "Regular"
    min_count       = 0
    node_taints     = tolist([])
    node_labels     = tomap({})
    aks_node_taints = tolist([])
    aks_node_labels = tomap({})
    gpu_driver      = null
    spot_max_price  = null
    eviction_policy = null
  }

  # Every pool autoscales between min_count and max_count: its size, disk and counts (and the GPU
  # driver, the Spot price) are var.node_pools', the rest is how it differs from node_pool_defaults.
  node_pools = {
    system = merge(local.node_pool_defaults, var.node_pools.system, {
      name        = "system"
      mode        = "System"
      node_taints = ["CriticalAddonsOnly=true:NoSchedule"]
    })
    cpu = merge(local.node_pool_defaults, var.node_pools.cpu, { name = "cpu" })
    gpu = merge(local.node_pool_defaults, var.node_pools.gpu, {
      name            = "gpu"
      node_taints     = [local.gpu_taint]
      aks_node_labels = { "kubernetes.azure.com/accelerator" = "nvidia" }
    })
    spot = merge(local.node_pool_defaults, var.node_pools.spot, {
      name            = "spot"
      priority        = "Spot"
      node_taints     = [local.spot_taint]
      node_labels     = local.spot_label
      aks_node_taints = [local.spot_taint]
      aks_node_labels = local.spot_label
      eviction_policy = "Delete"
    })
  }

  # Azure CNI Overlay with the Cilium dataplane: Cilium enforces the chart's NetworkPolicies.
  network_profile = {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    pod_cidr            = var.network.pod_cidr
    service_cidr        = var.network.service_cidr
    dns_service_ip      = var.network.dns_service_ip
    load_balancer_sku   = "standard"
    outbound_type       = "loadBalancer"
  }

  # Sign-in and pod identity: Entra ID with Azure RBAC for Kubernetes and no local accounts; the
  # OIDC issuer and workload identity let the Ray pods act as the user-assigned identity. The Blob
  # CSI driver mounts the shared storage.
  cluster_features = {
    oidc_issuer_enabled       = true
    workload_identity_enabled = true
    azure_rbac_enabled        = true
    local_account_disabled    = true
    blob_driver_enabled       = true
  }

  workload_identity = {
    name              = local.names.workload_identity
    federated_subject = "system:serviceaccount:${var.namespace}:${var.service_account_name}"
    audience          = ["api://AzureADTokenExchange"]
    # A data role only: the Blob CSI driver mounts with the pod's token (mountWithWorkloadIdentityToken).
    storage_role = "Storage Blob Data Contributor"
  }

  # The chart's values for this cluster, keyed as charts/ray-aks/values.yaml: `make aks` writes them
  # to the values file that `make install` passes to helm. merge skips the null of a part left out.
  chart_values = merge(
    {
      global           = { imageRegistry = local.created.registry_login_server }
      serviceAccount   = { name = var.service_account_name }
      workloadIdentity = { enabled = true, clientId = local.created.workload_identity_client_id }
    },
    var.mount_shared_storage ? {
      sharedStorage = {
        create = {
          enabled = true
          type    = "blob"
          storageClass = {
            enabled          = true
            workloadIdentity = true
            storageAccount   = local.names.storage_account
            resourceGroup    = local.names.resource_group
            extraParameters  = { mountWithWorkloadIdentityToken = "true" }
            blob             = { containerName = var.storage_container_name }
          }
        }
      }
      rayCluster = { sharedStorage = { enabled = true } }
    } : null,
    var.mlflow_artifacts_on_shared_storage ? { mlflow = { sharedStorage = { enabled = true } } } : null,
    var.managed_prometheus_enabled ? { monitoring = { flavor = "azure-managed", podMonitors = { enabled = true } } } : null,
  )
}
