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

# Each part sends one stream from the cluster to its workspace: a data collection rule, associated
# with the cluster (the monitoring agent's association takes the extension's name, the metrics
# agent's the rule's). The Prometheus rule also names its endpoint.
locals {
  data_collection_rules = {
    container_insights = {
      enabled          = var.container_insights_enabled
      name             = "MSCI-${var.location}-${local.names.cluster}"
      association_name = "ContainerInsightsExtension"
      stream           = "Microsoft-ContainerInsights-Group-Default"
      destination      = "logs"
      endpoint_id      = null
    }
    prometheus = {
      enabled          = var.managed_prometheus_enabled
      name             = "MSProm-${var.location}-${local.names.cluster}"
      association_name = "MSProm-${var.location}-${local.names.cluster}"
      stream           = "Microsoft-PrometheusMetrics"
      destination      = "prometheus"
      endpoint_id      = one(azurerm_monitor_data_collection_endpoint.prometheus[*].id)
    }
  }
}

resource "azurerm_monitor_data_collection_rule" "cluster" {
  for_each = { for part, rule in local.data_collection_rules : part => rule if rule.enabled }

  name                        = each.value.name
  resource_group_name         = azurerm_resource_group.this.name
  location                    = azurerm_resource_group.this.location
  kind                        = "Linux"
  data_collection_endpoint_id = each.value.endpoint_id

  # Container Insights into the Log Analytics workspace, Prometheus metrics into the Azure Monitor
  # workspace.
  destinations {
    dynamic "log_analytics" {
      for_each = each.key == "container_insights" ? azurerm_log_analytics_workspace.this[*].id : []
      content {
        name                  = each.value.destination
        workspace_resource_id = log_analytics.value
      }
    }
    dynamic "monitor_account" {
      for_each = each.key == "prometheus" ? azurerm_monitor_workspace.this[*].id : []
      content {
        name               = each.value.destination
        monitor_account_id = monitor_account.value
      }
    }
  }

  data_flow {
    streams      = [each.value.stream]
    destinations = [each.value.destination]
  }

  data_sources {
    dynamic "extension" {
      for_each = each.key == "container_insights" ? ["ContainerInsights"] : []
      content {
        name           = "ContainerInsightsExtension"
        extension_name = extension.value
        streams        = [each.value.stream]
        extension_json = jsonencode({
          dataCollectionSettings = {
            interval               = "1m"
            namespaceFilteringMode = "Off"
            enableContainerLogV2   = true
          }
        })
      }
    }
    dynamic "prometheus_forwarder" {
      for_each = each.key == "prometheus" ? ["PrometheusDataSource"] : []
      content {
        name    = prometheus_forwarder.value
        streams = [each.value.stream]
      }
    }
  }

  tags = local.tags
}

# The agents find their rule through this association; the metrics agent finds its endpoint through
# the endpoint association (whose name AKS requires to be configurationAccessEndpoint).
resource "azurerm_monitor_data_collection_rule_association" "cluster" {
  for_each = azurerm_monitor_data_collection_rule.cluster

  name                    = local.data_collection_rules[each.key].association_name
  target_resource_id      = azurerm_kubernetes_cluster.this.id
  data_collection_rule_id = each.value.id
}

resource "azurerm_monitor_data_collection_rule_association" "prometheus_endpoint" {
  count = var.managed_prometheus_enabled ? 1 : 0

  target_resource_id          = azurerm_kubernetes_cluster.this.id
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.prometheus[0].id
}
