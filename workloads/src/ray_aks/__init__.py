"""ray-aks workloads."""
