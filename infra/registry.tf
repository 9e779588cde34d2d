# The registry `make push` pushes the ray-aks images to. No admin account: pushes sign in with Entra
# ID (az acr login), and the nodes pull with the kubelet identity's AcrPull role, no pull secret.

resource "azurerm_container_registry" "this" {
  name                = local.names.acr
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  sku                 = var.acr_sku
  admin_enabled       = false
  tags                = local.tags
}
