terraform {
  # HCL that OpenTofu >= 1.8 and Terraform >= 1.9 both read: optional() object attributes with
  # defaults, validations that name their own variable only, preconditions.
  required_version = ">= 1.8"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.65 renamed the federated credential's parent to user_assigned_identity_id; gpu_driver on
      # node pools came in 4.40.
      version = "~> 4.65"
    }
  }
}
