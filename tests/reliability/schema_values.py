"""Values the chart's schema accepts, generated from the schema: start from values.yaml (and
sometimes the GPU overlay) and give every boolean, enum and bounded integer the schema declares a
random allowed value. Free-form maps get random string entries (annotations, labels).

Only what jsonschema accepts against values.schema.json is returned, so a generated file is a
values combination a user could install (unless a template `fail` refuses it).
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import jsonschema

from tests.reliability.values_mutator import SUBCHART_KEY, ValuesMutator, _resolve, subschema

STRING_FILLS = [
    "fuzz-a1",
    "fuzz-b2",
    "00000000-0000-0000-0000-000000000000",
    "redis.example.internal:6380",
    "sha256:" + "a" * 64,
]


def _vary(rng: random.Random, root: dict[str, Any], node: Any, path: tuple, p: float) -> Any:
    sub = subschema(root, path) if path else root
    sub = _resolve(root, sub) or {}
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not path and key == SUBCHART_KEY:
                out[key] = {"enabled": rng.random() < 0.5}
                continue
            out[key] = _vary(rng, root, value, (*path, key), p)
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "string" and rng.random() < p:
            out[f"fuzz.example.com/k{rng.randrange(100)}"] = rng.choice(["true", "8265", "10001", "x"])
        return out
    if isinstance(node, list):
        return [_vary(rng, root, item, (*path, i), p) for i, item in enumerate(node)]
    if node == "" and sub.get("type") == "string" and "enum" not in sub and rng.random() < 0.7:
        # Fill an optional string (a name, an id, an address): the schema's pattern, if any, filters.
        fits = [f for f in STRING_FILLS if re.search(sub.get("pattern", ""), f)]
        return rng.choice(fits) if fits else node
    if rng.random() >= p:
        return node
    if "enum" in sub:
        return rng.choice(sub["enum"])
    kind = sub.get("type")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "integer" and "minimum" in sub and "maximum" in sub:
        return rng.randint(sub["minimum"], min(sub["maximum"], sub["minimum"] + 100_000))
    return node


def _satisfy_cross_key_checks(values: dict[str, Any]) -> dict[str, Any]:
    """Make the combination one the chart's templates accept too (the schema cannot say "this key
    needs that one"), so most generated files render and the property looks at real objects: a
    switched-on feature gets the keys its `fail` checks require."""
    service = values["rayService"]
    if service["ingress"]["enabled"]:
        service["enabled"] = True
    if service["service"]["type"] != "LoadBalancer":
        service["service"]["loadBalancer"].update(internalSubnet="", sourceRanges=[])
    mlflow = values["mlflow"]
    if mlflow["autoscaling"]["enabled"]:
        mlflow["enabled"] = True
        mlflow["database"]["type"] = "external"
    if mlflow["database"]["type"] == "external":
        mlflow["database"]["uri"]["secretName"] = mlflow["database"]["uri"]["secretName"] or "mlflow-database"
        if not mlflow["sharedStorage"]["enabled"]:
            mlflow["artifactsDestination"] = (
                mlflow["artifactsDestination"] or "wasbs://mlflow@account.blob.core.windows.net/mlflow"
            )
    if values["monitoring"]["prometheusRule"]["enabled"]:
        values["monitoring"]["podMonitors"]["enabled"] = True
        values["monitoring"]["flavor"] = "prometheus-operator"
    if values["workloadIdentity"]["enabled"] and not values["workloadIdentity"]["clientId"]:
        values["workloadIdentity"]["clientId"] = "00000000-0000-0000-0000-000000000000"
    if not values["serviceAccount"]["create"] and not values["serviceAccount"]["name"]:
        values["serviceAccount"]["name"] = "fuzz-a1"
    _satisfy_day2_checks(values)
    _satisfy_workload_checks(values)
    _satisfy_storage_checks(values)
    workloads = [*values["rayJobs"].values(), *values["rayCronJobs"].values(), service]
    if any(w["enabled"] for w in workloads) and not values["global"]["imageRegistry"]:
        values["global"]["imageRegistry"] = "fuzz.azurecr.io"
    gpu_group = values["rayCluster"]["workerGroups"].get("gpu", {})
    if not gpu_group.get("enabled", bool(gpu_group)):
        values["global"]["gpu"] = False  # GPU mode needs a GPU worker group (the overlay adds one)
    if gpu_group:
        for workload in workloads:  # a digest pins the CPU build; a GPU group would need its own image
            workload["image"]["digest"] = ""
    gcs = values["rayCluster"]["gcsFaultTolerance"]
    if gcs["enabled"] and not gcs["redisAddress"]:
        gcs["redisAddress"] = "redis.example.internal:6380"
    for key in ("fullnameOverride", "nameOverride"):  # RayJob names are at most 47 characters
        if len(values[key]) > 20:
            values[key] = "fuzz-a1"
    return values


def _satisfy_day2_checks(values: dict[str, Any]) -> None:
    """The log sidecar's endpoint, the token Secret and Kueue's queue and kinds."""
    logging = values["logging"]
    otlp = logging["otlp"]
    if otlp["endpoint"]:  # a generated string is rarely an endpoint
        otlp["endpoint"] = "http://otel-collector.observability.svc:4317"
        if not otlp["networkPolicy"]["namespaces"] and not otlp["networkPolicy"]["cidrs"]:
            otlp["networkPolicy"]["namespaces"] = ["observability"]
    elif not logging["stdout"]:
        logging["stdout"] = True  # the sidecar needs somewhere to send the lines
    auth = values["rayCluster"]["auth"]
    if auth["mode"] != "token":
        auth["secretName"] = ""
    kueue = values["kueue"]
    if values["global"]["gpu"]:  # a queued GPU cluster needs a GPU group with replicas: left out here
        kueue["queueName"] = ""
    if not kueue["queueName"]:
        kueue["priorityClassName"] = ""
    if not values["rayCluster"]["enabled"]:
        kueue["rayCluster"] = False
    if not values["rayService"]["enabled"]:
        kueue["rayService"] = False


def _satisfy_workload_checks(values: dict[str, Any]) -> None:
    """The RayJob cleanup, Kueue, RayCronJob and RayService upgrade checks (KubeRay's own rules)."""
    queued = bool(values["kueue"]["queueName"])
    for job in values["rayJobs"].values():
        if queued:  # KubeRay suspends only a RayJob that deletes its cluster when it ends
            job.update(useChartCluster=False, shutdownAfterJobFinishes=True, deletionRules=[])
    for job in [*values["rayJobs"].values(), *values["rayCronJobs"].values()]:
        if job.get("shutdownAfterJobFinishes"):  # exclusive with deletionRules
            job["deletionRules"] = []
        else:  # a TTL needs shutdownAfterJobFinishes
            job["ttlSecondsAfterFinished"] = 0
    if any(cron["enabled"] for cron in values["rayCronJobs"].values()):
        values[SUBCHART_KEY]["featureGates"] = [{"name": "RayCronJob", "enabled": True}]
    upgrade = values["rayService"]["upgradeStrategy"]
    options = upgrade["clusterUpgradeOptions"]
    incremental = upgrade["type"] == "NewClusterWithIncrementalUpgrade"
    if incremental and not values["rayCluster"]["autoscaler"]["enabled"]:
        upgrade["type"], incremental = "NewCluster", False  # it needs the Ray autoscaler
    if incremental:
        options["gatewayClassName"] = options["gatewayClassName"] or "fuzz-gateway"
        options["stepSizePercent"] = min(options["stepSizePercent"], options["maxSurgePercent"])
    else:
        options["gatewayClassName"] = ""


def _satisfy_storage_checks(values: dict[str, Any]) -> None:
    """Shared storage: a mount needs a claim, the chart's StorageClass its settings and identity."""
    create = values["sharedStorage"]["create"]
    storage_class = create["storageClass"]
    if storage_class["enabled"]:
        create["enabled"] = True
        if storage_class["workloadIdentity"]:
            values["workloadIdentity"].update(enabled=True)
            values["workloadIdentity"]["clientId"] = (
                values["workloadIdentity"]["clientId"] or "00000000-0000-0000-0000-000000000000"
            )
            storage_class["storageAccount"] = storage_class["storageAccount"] or "fuzzstorage1"
    else:  # the built-in class chooses these itself
        storage_class.update(storageAccount="", resourceGroup="", extraParameters={})
        storage_class["blob"]["containerName"] = ""
        storage_class["files"]["shareName"] = ""
    storage_class["files" if create["type"] == "blob" else "blob"][
        "shareName" if create["type"] == "blob" else "containerName"
    ] = ""
    if storage_class["blob"]["containerName"] or storage_class["files"]["shareName"]:
        storage_class["storageAccount"] = storage_class["storageAccount"] or "fuzzstorage1"
    mount = values["rayCluster"]["sharedStorage"]
    mlflow = values["mlflow"]
    if (mount["enabled"] or mlflow["sharedStorage"]["enabled"]) and not mount["existingClaim"]:
        create["enabled"] = True
    if mlflow["sharedStorage"]["enabled"]:
        mlflow["artifactsDestination"] = ""


def accepted_values(count: int, seed: int = 8265, p: float = 0.3, tries: int = 50) -> list[dict[str, Any]]:
    """`count` values files the schema accepts (each a pure function of the seed and its index)."""
    mutator = ValuesMutator()
    root = mutator.schema
    validator = jsonschema.validators.validator_for(root)(root)
    found = []
    for n in range(count):
        rng = random.Random(f"{seed}-{n}")
        for _ in range(tries):
            base = copy.deepcopy(mutator.bases["gpu" if rng.random() < 0.4 else "defaults"])
            values = _satisfy_cross_key_checks(_vary(rng, root, base, (), p))
            if validator.is_valid(values):
                found.append(values)
                break
    return found
