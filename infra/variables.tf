# Every input of the module. Each one has a default that builds the cluster the chart expects, a
# description (infra/README.md's tables are generated from them) and a validation that names the
# variable when a value is wrong. Conditions refer to their own variable only: OpenTofu 1.8 allows
# no other reference there (cross-variable rules are preconditions in aks.tf and outputs.tf).
#
# An object variable states its defaults twice: in optional() for a partial object a user passes,
# and whole in `default`, which checkov reads (it does not apply optional() defaults).
# tests/infra checks that the two agree.

variable "subscription_id" {
  description = "Azure subscription to deploy into. Null: ARM_SUBSCRIPTION_ID, which `make aks` sets from `az account show` when it is unset."
  type        = string
  default     = null

  validation {
    condition     = var.subscription_id == null || can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID (az account show --query id -o tsv), or null."
  }
}

variable "name" {
  description = "Name of the AKS cluster; the resource group, identity and workspaces are named after it, and the ACR and storage account names start with it (without dashes)."
  type        = string
  default     = "ray-aks"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit."
  }
}

variable "location" {
  description = "Azure region of every resource (`az account list-locations -o table`, the Name column). GPU sizes and quotas differ between regions."
  type        = string
  default     = "westeurope"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]+$", var.location))
    error_message = "location must be a region name such as westeurope or eastus2 (lowercase, no spaces), not a display name."
  }
}

variable "resource_group_name" {
  description = "Resource group the module creates for everything it makes. Null: `<name>-rg`."
  type        = string
  default     = null

  validation {
    condition     = var.resource_group_name == null || can(regex("^[-A-Za-z0-9_.()]{1,89}[-A-Za-z0-9_()]$", var.resource_group_name))
    error_message = "resource_group_name must be 1-90 letters, digits, dashes, underscores, periods or parentheses, not ending with a period."
  }
}

variable "tags" {
  description = "Tags added to every resource (the module adds `managed-by = ray-aks/infra`)."
  type        = map(string)
  default     = {}
}

variable "kubernetes_version" {
  description = "Kubernetes version (`1.33` or `1.33.5`). Null: the AKS default; the automatic upgrade channel moves it after that."
  type        = string
  default     = null

  validation {
    condition     = var.kubernetes_version == null || can(regex("^1\\.[0-9]+(\\.[0-9]+)?$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33 or 1.33.5 (az aks get-versions --location <location>), or null."
  }
}

variable "sku_tier" {
  description = "AKS pricing tier: `Free` (no SLA), `Standard` (uptime SLA, for production) or `Premium`."
  type        = string
  default     = "Free"

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be Free, Standard or Premium."
  }
}

variable "automatic_upgrade_channel" {
  description = "Cluster auto-upgrade channel: `patch` (latest patch of the minor version), `stable`, `rapid` or `node-image`."
  type        = string
  default     = "patch"

  validation {
    condition     = contains(["patch", "stable", "rapid", "node-image"], var.automatic_upgrade_channel)
    error_message = "automatic_upgrade_channel must be patch, stable, rapid or node-image."
  }
}

variable "node_os_upgrade_channel" {
  description = "Node OS upgrade channel: `NodeImage` (weekly node images), `SecurityPatch`, `Unmanaged` or `None`. Must be NodeImage with automatic_upgrade_channel node-image."
  type        = string
  default     = "NodeImage"

  validation {
    condition     = contains(["NodeImage", "SecurityPatch", "Unmanaged", "None"], var.node_os_upgrade_channel)
    error_message = "node_os_upgrade_channel must be NodeImage, SecurityPatch, Unmanaged or None."
  }
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDRs allowed to reach the public API server (your workstation's and CI's egress). Empty: any address, authenticated by Entra ID."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.api_server_authorized_ip_ranges : can(cidrhost(cidr, 0))])
    error_message = "api_server_authorized_ip_ranges must hold CIDRs such as 203.0.113.7/32."
  }
}

variable "private_cluster_enabled" {
  description = "Put the API server on a private IP only. Off by default: `make aks` (get-credentials) and `make install` must reach it from where they run."
  type        = bool
  default     = false
}

variable "cluster_admin_object_ids" {
  description = "Entra object ids (users, groups, service principals) given `Azure Kubernetes Service RBAC Cluster Admin` on the cluster, besides whoever runs `make aks` (see grant_deployer_cluster_admin)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.cluster_admin_object_ids : can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", id))])
    error_message = "cluster_admin_object_ids must hold object id GUIDs (az ad signed-in-user show --query id -o tsv)."
  }
}

variable "grant_deployer_cluster_admin" {
  description = "Give the identity that runs `make aks` `Azure Kubernetes Service RBAC Cluster Admin` on the cluster: local accounts are off, so without an Azure role nobody can use kubectl or helm."
  type        = bool
  default     = true
}

variable "network" {
  description = "Address ranges of Azure CNI Overlay: pods get addresses from pod_cidr (not routable in a VNet), Services from service_cidr, and CoreDNS listens on dns_service_ip inside service_cidr."
  type = object({
    pod_cidr       = optional(string, "10.244.0.0/16")
    service_cidr   = optional(string, "10.0.0.0/16")
    dns_service_ip = optional(string, "10.0.0.10")
  })
  default = {
    pod_cidr       = "10.244.0.0/16"
    service_cidr   = "10.0.0.0/16"
    dns_service_ip = "10.0.0.10"
  }

  validation {
    condition     = can(cidrhost(var.network.pod_cidr, 0)) && can(cidrhost(var.network.service_cidr, 0))
    error_message = "network.pod_cidr and network.service_cidr must be CIDRs such as 10.244.0.0/16."
  }

  validation {
    condition     = can(regex("^([0-9]{1,3}\\.){3}[0-9]{1,3}$", var.network.dns_service_ip))
    error_message = "network.dns_service_ip must be an IPv4 address inside network.service_cidr, such as 10.0.0.10."
  }
}

variable "max_pods" {
  description = "Most pods per node, every pool (Azure CNI Overlay allows up to 250; pod addresses come from the overlay, not the VNet)."
  type        = number
  default     = 110

  validation {
    condition     = var.max_pods >= 50 && var.max_pods <= 250 && floor(var.max_pods) == var.max_pods
    error_message = "max_pods must be a whole number from 50 to 250."
  }
}

variable "node_pools" {
  description = "The node pools, each autoscaled by the cluster autoscaler up to max_count. `system`: cluster add-ons only (tainted CriticalAddonsOnly=true:NoSchedule, so no Ray pod lands there). `cpu`: the Ray head, the CPU workers and MLflow (untainted; the chart's default worker asks for 2 CPUs and 8 GiB). `gpu`: the GPU overlay's pool (charts/ray-aks-gpu-values.yaml), NVIDIA sizes only, tainted sku=gpu:NoSchedule and scaled from 0 (no GPU node runs, and none is paid for, until a GPU pod waits); AKS labels its nodes kubernetes.azure.com/accelerator=nvidia; GPU sizes need quota in the region; its gpu_driver is `Install` (AKS installs the NVIDIA driver; deploy NVIDIA's device plugin to expose nvidia.com/gpu) or `None` (for the NVIDIA GPU Operator, which installs its own), and changing it replaces the pool. `spot`: an optional pool of Spot VMs (evicted when Azure needs the capacity), scaled from 0; AKS taints and labels it kubernetes.azure.com/scalesetpriority=spot, so only pods that tolerate the taint land there; spot_max_price -1 pays up to the on-demand price. os_disk_type Ephemeral needs a size with a local disk (the `d` in D4ds_v5)."
  type = object({
    system = optional(object({
      vm_size      = optional(string, "Standard_D4ds_v5")
      min_count    = optional(number, 1)
      max_count    = optional(number, 3)
      os_disk_type = optional(string, "Ephemeral")
    }), {})
    cpu = optional(object({
      vm_size      = optional(string, "Standard_D8ds_v5")
      min_count    = optional(number, 1)
      max_count    = optional(number, 3)
      os_disk_type = optional(string, "Ephemeral")
    }), {})
    gpu = optional(object({
      enabled      = optional(bool, true)
      vm_size      = optional(string, "Standard_NC4as_T4_v3")
      max_count    = optional(number, 2)
      os_disk_type = optional(string, "Ephemeral")
      gpu_driver   = optional(string, "Install")
    }), {})
    spot = optional(object({
      enabled        = optional(bool, false)
      vm_size        = optional(string, "Standard_D8ds_v5")
      max_count      = optional(number, 4)
      spot_max_price = optional(number, -1)
      os_disk_type   = optional(string, "Ephemeral")
    }), {})
  })
  default = {
    system = { vm_size = "Standard_D4ds_v5", min_count = 1, max_count = 3, os_disk_type = "Ephemeral" }
    cpu    = { vm_size = "Standard_D8ds_v5", min_count = 1, max_count = 3, os_disk_type = "Ephemeral" }
    gpu    = { enabled = true, vm_size = "Standard_NC4as_T4_v3", max_count = 2, os_disk_type = "Ephemeral", gpu_driver = "Install" }
    spot   = { enabled = false, vm_size = "Standard_D8ds_v5", max_count = 4, spot_max_price = -1, os_disk_type = "Ephemeral" }
  }

  validation {
    condition     = alltrue([for pool in var.node_pools : contains(["Ephemeral", "Managed"], pool.os_disk_type) && can(regex("^Standard_", pool.vm_size))])
    error_message = "node_pools: each pool's os_disk_type must be Ephemeral or Managed, and its vm_size a size such as Standard_D8ds_v5."
  }

  validation {
    # The system pool and the CPU pool, where the Ray head runs, never scale to zero; the GPU and
    # Spot pools always start from zero.
    condition     = alltrue([for pool in [var.node_pools.system, var.node_pools.cpu] : pool.min_count >= 1 && pool.max_count >= pool.min_count]) && alltrue([for pool in var.node_pools : pool.max_count >= 1 && pool.max_count <= 100])
    error_message = "node_pools.system and node_pools.cpu need 1 <= min_count <= max_count (the system pool and the Ray head need a node at all times), and every pool's max_count must be 1-100."
  }

  validation {
    # AKS sets the accelerator label, which the GPU overlay selects, on NVIDIA sizes only: NC, ND and
    # NV (the NVv4 sizes, *as_v4, carry AMD GPUs).
    condition     = can(regex("^Standard_N[CDV]", var.node_pools.gpu.vm_size)) && !can(regex("^Standard_NV[0-9]+as_v4$", var.node_pools.gpu.vm_size))
    error_message = "node_pools.gpu.vm_size must be an NVIDIA GPU size (Standard_NC*, Standard_ND*, Standard_NV* but not the AMD NVv4): AKS labels only those kubernetes.azure.com/accelerator=nvidia, which the GPU overlay selects."
  }

  validation {
    condition     = contains(["Install", "None"], var.node_pools.gpu.gpu_driver)
    error_message = "node_pools.gpu.gpu_driver must be Install or None."
  }

  validation {
    condition     = var.node_pools.spot.spot_max_price == -1 || var.node_pools.spot.spot_max_price > 0
    error_message = "node_pools.spot.spot_max_price must be -1 (up to the on-demand price) or a positive USD price per hour."
  }
}

variable "host_encryption_enabled" {
  description = "Encrypt the nodes' temporary and cache disks at the host (needs the subscription feature Microsoft.Compute/EncryptionAtHost registered first)."
  type        = bool
  default     = false
}

variable "azure_policy_enabled" {
  description = "Install the Azure Policy add-on (Gatekeeper), for subscriptions whose owners assign Kubernetes policies."
  type        = bool
  default     = false
}

variable "acr_name" {
  description = "Name of the Azure Container Registry the images are pushed to (globally unique, 5-50 letters and digits). Null: the cluster name without dashes and a suffix from the subscription and resource group."
  type        = string
  default     = null

  validation {
    condition     = var.acr_name == null || can(regex("^[a-zA-Z0-9]{5,50}$", var.acr_name))
    error_message = "acr_name must be 5-50 letters and digits (it becomes <acr_name>.azurecr.io), or null."
  }
}

variable "acr_sku" {
  description = "ACR tier: `Basic`, `Standard` or `Premium` (private endpoints, geo-replication, retention policies)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.acr_sku)
    error_message = "acr_sku must be Basic, Standard or Premium."
  }
}

variable "namespace" {
  description = "Namespace the chart is installed in: `make install`'s NAMESPACE (default `ray`). The federated credential names it."
  type        = string
  default     = "ray"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label: lowercase letters, digits and dashes, at most 63."
  }
}

variable "service_account_name" {
  description = "ServiceAccount of the Ray pods that federates with the workload identity: the chart's default for `make install`'s release `ray` is `ray-ray-aks` (`<release>-ray-aks`). The values file pins serviceAccount.name to it, so another release name keeps the federation."
  type        = string
  default     = "ray-ray-aks"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.service_account_name))
    error_message = "service_account_name must be a Kubernetes name: lowercase letters, digits, dashes and periods."
  }
}

variable "storage_account_name" {
  description = "Name of the storage account for the shared storage (globally unique, 3-24 lowercase letters and digits). Null: the cluster name without dashes and a suffix from the subscription and resource group."
  type        = string
  default     = null

  validation {
    condition     = var.storage_account_name == null || can(regex("^[a-z0-9]{3,24}$", var.storage_account_name))
    error_message = "storage_account_name must be 3-24 lowercase letters and digits, or null."
  }
}

variable "storage_container_name" {
  description = "Blob container that BlobFuse2 mounts at /mnt/cluster_storage in every Ray pod (checkpoints, datasets, `--storage-path`)."
  type        = string
  default     = "ray"

  validation {
    condition     = can(regex("^[a-z0-9](-?[a-z0-9]){2,62}$", var.storage_container_name)) && length(var.storage_container_name) <= 63
    error_message = "storage_container_name must be 3-63 lowercase letters, digits and single dashes, starting and ending with a letter or digit."
  }
}

variable "storage_replication_type" {
  description = "Replication of the storage account: `LRS` (cheapest), `ZRS`, `GRS`, `RAGRS`, `GZRS` or `RAGZRS`."
  type        = string
  default     = "LRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS."
  }
}

variable "mount_shared_storage" {
  description = "The values file mounts the Blob container at /mnt/cluster_storage in every Ray pod: sharedStorage.create with the chart's StorageClass (workload identity tokens, no account key in the cluster) and rayCluster.sharedStorage.enabled."
  type        = bool
  default     = true
}

variable "mlflow_artifacts_on_shared_storage" {
  description = "The values file puts MLflow's artifacts on the shared Blob container (mlflow.sharedStorage.enabled: /mnt/cluster_storage/mlflow/artifacts) instead of MLflow's own disk. Needs mount_shared_storage."
  type        = bool
  default     = false
}

variable "container_insights_enabled" {
  description = "Azure Monitor Container Insights: container logs, events and inventory into a Log Analytics workspace the module creates (billed per GB ingested)."
  type        = bool
  default     = false
}

variable "managed_prometheus_enabled" {
  description = "Azure Monitor managed service for Prometheus: an Azure Monitor workspace the module creates scrapes the cluster; the chart's PodMonitors need monitoring.flavor=azure-managed."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days the Log Analytics workspace keeps Container Insights data (with container_insights_enabled)."
  type        = number
  default     = 30

  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be 30-730."
  }
}
