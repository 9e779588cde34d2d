"""Why the e2e cluster's values differ from the chart's defaults: the one list of reasons.

The e2e scenarios install the chart's defaults. A key may differ only where this machine forces it
(the registry, image tags, CPU and memory sizes for 2 cores, storage, the operator mode, no network
for data or models), where a scenario needs the key to exist at all, or where a wait the chart keeps
for people (a finished job's cluster, left to read) would only spend `make test`'s time budget.
Each entry: a dotted key pattern (`*` matches one key, `**` any number) and its reason.
tests/e2e/test_values_overrides.py fails on an override of any key that no entry covers, and on an
entry that covers nothing.
"""

from __future__ import annotations

import fnmatch

REGISTRY = "the registry: the images are pushed to the e2e cluster's local registry, not ACR"
IMAGES = "the images: `make test` builds the ray-aks images tagged `test`, a tag that moves with each build"
SIZES = "sizes for 2 cores and 24 GiB: the chart's defaults ask for AKS node sizes (README)"
STORAGE = "storage: AKS's CSI drivers are not here; the test makes static volumes of a local class"
OPERATOR = "operator mode: the operator runs beside the chart as the AKS add-on would (its own namespace)"
NO_NETWORK = "no network for data or models: datasets and weights come from the shared volume or the image"
SCENARIO = "a scenario's input: the object or the client the scenario exercises"
TIME = "time: a wait the chart keeps for people, shortened to stay in make test's budget (same mechanism)"

REASONS: dict[str, str] = {
    # values-e2e.yaml
    "global.imageTag": IMAGES,
    "kuberay-operator.enabled": OPERATOR,
    "rayCluster.image.repository": IMAGES,
    "rayCluster.image.tag": IMAGES,
    "rayCluster.image.pullPolicy": IMAGES,
    "rayCluster.autoscaler.resources.**": SIZES,
    "rayCluster.sharedStorage.enabled": NO_NETWORK,
    "rayCluster.sharedStorage.existingClaim": STORAGE,
    "rayCluster.head.resources.**": SIZES,
    "rayCluster.workerGroups.cpu.resources.**": SIZES,
    "rayJobs.mnist.enabled": SCENARIO,
    "rayJobs.mnist.args.download": NO_NETWORK,
    "rayJobs.mnist.submitter.resources.**": SIZES,
    "rayJobs.mnist.deletionRules": TIME,
    "mlflow.image.repository": IMAGES,
    "mlflow.image.tag": IMAGES,
    "mlflow.image.pullPolicy": IMAGES,
    "mlflow.resources.requests.cpu": SIZES,
    "mlflow.persistence.storageClassName": STORAGE,
    "rayService.applications.*.autoscalingConfig.**": SIZES,
    "rayService.applications.*.rayActorOptions.num_cpus": SIZES,
    "rayService.applications.textgen.args.model": NO_NETWORK,
    "rayService.applications.embeddings.enabled": SIZES,
    "networkPolicy.operator.namespace": OPERATOR,
    "networkPolicy.operator.podLabels.**": OPERATOR,
    "networkPolicy.serve.namespaces": SCENARIO,
    # tests/e2e/kube.py's image_args (--set at install)
    "global.imageRegistry": REGISTRY,
    "global.imagePullSecrets": REGISTRY,
    "rayCluster.image.registry": REGISTRY,
    "mlflow.image.registry": REGISTRY,
}


def _matches(pattern: str, key: str) -> bool:
    """A dotted pattern against a dotted key: `*` is one key, `**` (last) any number of keys."""
    if pattern.endswith(".**"):
        prefix = pattern[: -len(".**")]
        return _matches(prefix, key) or any(
            _matches(prefix, ".".join(key.split(".")[:n])) for n in range(1, key.count(".") + 1)
        )
    parts, keys = pattern.split("."), key.split(".")
    return len(parts) == len(keys) and all(
        fnmatch.fnmatchcase(k, p) for p, k in zip(parts, keys, strict=True)
    )


def reason(key: str) -> str | None:
    """The reason listed for overriding `key`, or None."""
    return next((why for pattern, why in REASONS.items() if _matches(pattern, key)), None)


def patterns_used(keys: list[str]) -> set[str]:
    return {pattern for pattern in REASONS for key in keys if _matches(pattern, key)}
