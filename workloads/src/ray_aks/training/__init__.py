"""Ray Train jobs: the MNIST CNN and the CLIP-embedding classifier (Ray glue; models in ray_aks.models)."""
