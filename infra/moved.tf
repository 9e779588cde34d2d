# Addresses that changed when near-copies became one resource with for_each: OpenTofu moves the
# existing objects to the new addresses, so a deployment made before is neither destroyed nor
# recreated. Safe to delete once every deployment has applied this version.

# The user node pools (aks.tf).
moved {
  from = azurerm_kubernetes_cluster_node_pool.cpu
  to   = azurerm_kubernetes_cluster_node_pool.user["cpu"]
}
moved {
  from = azurerm_kubernetes_cluster_node_pool.gpu[0]
  to   = azurerm_kubernetes_cluster_node_pool.user["gpu"]
}
moved {
  from = azurerm_kubernetes_cluster_node_pool.spot[0]
  to   = azurerm_kubernetes_cluster_node_pool.user["spot"]
}

# The service identities' role assignments (roles.tf).
moved {
  from = azurerm_role_assignment.kubelet_acr_pull
  to   = azurerm_role_assignment.service["kubelet_acr_pull"]
}
moved {
  from = azurerm_role_assignment.workload_blob_data
  to   = azurerm_role_assignment.service["workload_blob_data"]
}
moved {
  from = azurerm_role_assignment.cluster_storage_account
  to   = azurerm_role_assignment.service["cluster_storage_account"]
}

# Azure Monitor's data collection rules and their associations (monitoring.tf).
moved {
  from = azurerm_monitor_data_collection_rule.container_insights[0]
  to   = azurerm_monitor_data_collection_rule.cluster["container_insights"]
}
moved {
  from = azurerm_monitor_data_collection_rule.prometheus[0]
  to   = azurerm_monitor_data_collection_rule.cluster["prometheus"]
}
moved {
  from = azurerm_monitor_data_collection_rule_association.container_insights[0]
  to   = azurerm_monitor_data_collection_rule_association.cluster["container_insights"]
}
moved {
  from = azurerm_monitor_data_collection_rule_association.prometheus_rule[0]
  to   = azurerm_monitor_data_collection_rule_association.cluster["prometheus"]
}
