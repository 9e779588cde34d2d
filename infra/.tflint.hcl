# tflint's bundled Terraform rules, all of them (naming, documented and typed variables and outputs,
# unused declarations, pinned providers, the standard module structure). No plugin is downloaded:
# the azurerm ruleset would need one, and `make test` runs offline.
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
