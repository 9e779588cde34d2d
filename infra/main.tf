# ray-aks on AKS: the resource group and what Azure decides for spec.tf. Each area has its file:
# aks.tf (the cluster, its node pools, who may administer it), registry.tf, identity.tf, storage.tf,
# roles.tf (the roles of the module's own identities), monitoring.tf; spec.tf holds the settings
# they share with the chart, outputs.tf what `make aks` reads back, moved.tf the renamed addresses.

data "azurerm_client_config" "current" {}

locals {
  # spec.tf reads Azure's answers only through these two locals (tools/infra/harness.py gives it
  # stand-ins to evaluate it offline).
  azure_context = {
    subscription_id = data.azurerm_client_config.current.subscription_id
    tenant_id       = data.azurerm_client_config.current.tenant_id
  }
  created = {
    registry_login_server       = azurerm_container_registry.this.login_server
    workload_identity_client_id = azurerm_user_assigned_identity.workload.client_id
    oidc_issuer_url             = azurerm_kubernetes_cluster.this.oidc_issuer_url
  }

  tags = merge({ "managed-by" = "ray-aks/infra" }, var.tags)
}

resource "azurerm_resource_group" "this" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}
