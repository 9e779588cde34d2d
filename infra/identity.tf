# The identity the Ray pods act as (Azure workload identity): the chart's ServiceAccount, annotated
# with its client id, exchanges its token for the identity's through this federated credential.

resource "azurerm_user_assigned_identity" "workload" {
  name                = local.workload_identity.name
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  tags                = local.tags
}

resource "azurerm_federated_identity_credential" "workload" {
  name                      = replace("${var.namespace}-${var.service_account_name}", ".", "-")
  user_assigned_identity_id = azurerm_user_assigned_identity.workload.id
  issuer                    = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject                   = local.workload_identity.federated_subject
  audience                  = local.workload_identity.audience
}
