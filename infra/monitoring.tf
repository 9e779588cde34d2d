# Azure Monitor, each part optional (both off by default: they bill per GB ingested).
#  - Container Insights: container logs, events and inventory into a Log Analytics workspace, sent
#    by the cluster's monitoring agent with its managed identity through a data collection rule.
#  - Managed Prometheus: the cluster's metrics agent scrapes into an Azure Monitor workspace; the
#    chart's PodMonitors (monitoring.flavor azure-managed, set in the values file) add Ray's metrics.

resource "azurerm_log_analytics_workspace" "this" {
  count = var.container_insights_enabled ? 1 : 0

  name                = local.names.log_analytics
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

resource "azurerm_monitor_data_collection_rule" "container_insights" {
  count = var.container_insights_enabled ? 1 : 0

  name                = "MSCI-${var.location}-${local.names.cluster}"
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  kind                = "Linux"

  destinations {
    log_analytics {
      name                  = "logs"
      workspace_resource_id = azurerm_log_analytics_workspace.this[0].id
    }
  }

  data_flow {
    streams      = ["Microsoft-ContainerInsights-Group-Default"]
    destinations = ["logs"]
  }

  data_sources {
    extension {
      name           = "ContainerInsightsExtension"
      extension_name = "ContainerInsights"
      streams        = ["Microsoft-ContainerInsights-Group-Default"]
      extension_json = jsonencode({
        dataCollectionSettings = {
          interval               = "1m"
          namespaceFilteringMode = "Off"
          enableContainerLogV2   = true
        }
      })
    }
  }

  tags = local.tags
}

resource "azurerm_monitor_data_collection_rule_association" "container_insights" {
  count = var.container_insights_enabled ? 1 : 0

  name                    = "ContainerInsightsExtension"
  target_resource_id      = azurerm_kubernetes_cluster.this.id
  data_collection_rule_id = azurerm_monitor_data_collection_rule.container_insights[0].id
}

resource "azurerm_monitor_workspace" "this" {
  count = var.managed_prometheus_enabled ? 1 : 0

  name                = local.names.monitor_workspace
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  tags                = local.tags
}

resource "azurerm_monitor_data_collection_endpoint" "prometheus" {
  count = var.managed_prometheus_enabled ? 1 : 0

  # Endpoint names take at most 44 characters and end with a letter or digit.
  name                = trim(substr("MSProm-${var.location}-${local.names.cluster}", 0, 44), "-")
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  kind                = "Linux"
  tags                = local.tags
}

resource "azurerm_monitor_data_collection_rule" "prometheus" {
  count = var.managed_prometheus_enabled ? 1 : 0

  name                        = "MSProm-${var.location}-${local.names.cluster}"
  resource_group_name         = azurerm_resource_group.this.name
  location                    = azurerm_resource_group.this.location
  kind                        = "Linux"
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.prometheus[0].id

  destinations {
    monitor_account {
      name               = "prometheus"
      monitor_account_id = azurerm_monitor_workspace.this[0].id
    }
  }

  data_flow {
    streams      = ["Microsoft-PrometheusMetrics"]
    destinations = ["prometheus"]
  }

  data_sources {
    prometheus_forwarder {
      name    = "PrometheusDataSource"
      streams = ["Microsoft-PrometheusMetrics"]
    }
  }

  tags = local.tags
}

# The metrics agent finds its rule through the rule association and its endpoint through the
# endpoint association (whose name AKS requires to be configurationAccessEndpoint).
resource "azurerm_monitor_data_collection_rule_association" "prometheus_rule" {
  count = var.managed_prometheus_enabled ? 1 : 0

  name                    = "MSProm-${var.location}-${local.names.cluster}"
  target_resource_id      = azurerm_kubernetes_cluster.this.id
  data_collection_rule_id = azurerm_monitor_data_collection_rule.prometheus[0].id
}

resource "azurerm_monitor_data_collection_rule_association" "prometheus_endpoint" {
  count = var.managed_prometheus_enabled ? 1 : 0

  target_resource_id          = azurerm_kubernetes_cluster.this.id
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.prometheus[0].id
}
