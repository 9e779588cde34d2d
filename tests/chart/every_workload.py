"""Values that turn on every workload of the chart (each RayJob and the RayService), with the registry
they need: the renders the contract and GPU-overlay tests read."""

EVERY_WORKLOAD = {
    "global.imageRegistry": "myacr.azurecr.io",
    "rayJobs.mnist.enabled": True,
    "rayJobs.clipClassifier.enabled": True,
    "rayJobs.tune.enabled": True,
    "rayJobs.embedding.enabled": True,
    "rayService.enabled": True,
}
