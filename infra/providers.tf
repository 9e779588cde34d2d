provider "azurerm" {
  features {}
  # Null: ARM_SUBSCRIPTION_ID (azurerm 4 requires one of them; `make aks` exports the az CLI's).
  subscription_id = var.subscription_id
}
