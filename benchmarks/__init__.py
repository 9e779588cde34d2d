"""`make bench`: each ray-aks workload measured against the plain alternative, as ratios."""
