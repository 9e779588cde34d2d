"""Scenario 23: AKS spot pools. The kwok nodes gain an AKS spot pool (CPU) and a spot GPU pool, shaped as
AKS makes them (the label and the taint kubernetes.azure.com/scalesetpriority=spot:NoSchedule, the GPU
pool's sku=gpu taint too); the real scheduler puts the spot worker groups (charts/ray-aks/ci/
33-spot-workers-values.yaml's, the GPU variant of 34-spot-gpu-workers-values.yaml) there, and the
heads never: they stay on the real node. The chart refuses a head that tolerates the spot taint,
naming the key, before anything reaches the cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import kube, rendered, scenario
from tests.e2e.conftest import image_values

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

NAMESPACE = "ray-spot"
RELEASE = "ray-spot"
SPOT_KEY = "kubernetes.azure.com/scalesetpriority"
SPOT_NODES = ("aks-spot-00000", "aks-spot-00001")
SPOT_GPU_NODES = ("aks-gpuspot-00000",)
SPOT_TOLERATION = {"key": SPOT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
GPU_TOLERATIONS = [
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
]
SPOT_VALUES: dict[str, object] = {
    # A CPU group and a GPU group on spot pools, two and one pods, beside the e2e values' cpu group.
    "rayCluster.workerGroups.spot": {
        "enabled": True,
        "replicas": 2,
        "minReplicas": 2,
        "maxReplicas": 4,
        "resources": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}},
        "nodeSelector": {SPOT_KEY: "spot"},
        "tolerations": [SPOT_TOLERATION],
    },
    "rayCluster.workerGroups.gpuspot": {
        "enabled": True,
        "replicas": 1,
        "minReplicas": 1,
        "maxReplicas": 1,
        "image": {"tag": "2.60.0-py311-gpu"},
        "resources": {
            "requests": {"cpu": "3", "memory": "20Gi", "nvidia.com/gpu": 1},
            "limits": {"cpu": "3", "memory": "20Gi", "nvidia.com/gpu": 1},
        },
        "nodeSelector": {"kubernetes.azure.com/accelerator": "nvidia", SPOT_KEY: "spot"},
        "tolerations": [*GPU_TOLERATIONS, SPOT_TOLERATION],
    },
    # Only what the scenario looks at: the RayCluster (no RayJob, MLflow, helm test or shared volume).
    "rayJobs.mnist.enabled": False,
    "mlflow.enabled": False,
    "tests.enabled": False,
    "rayCluster.sharedStorage.enabled": False,
}
SPOT = rendered.Release(RELEASE, NAMESPACE, SPOT_VALUES)
spot_raycluster = SPOT.lookup("raycluster")


def spot_node(name: str, gpu: bool) -> dict:
    """A node of an AKS spot pool (Standard_D8ds_v5, or Standard_NC8as_T4_v3 with one T4 for GPU)."""
    capacity = {"cpu": "8", "memory": "32Gi" if not gpu else "56Gi", "pods": "110"}
    labels = {SPOT_KEY: "spot"}
    taints = [{"key": SPOT_KEY, "value": "spot", "effect": "NoSchedule"}]
    if gpu:
        capacity["nvidia.com/gpu"] = "1"
        labels["kubernetes.azure.com/accelerator"] = "nvidia"
        taints.append({"key": "sku", "value": "gpu", "effect": "NoSchedule"})
    pool, size = ("gpuspot", "Standard_NC8as_T4_v3") if gpu else ("spot", "Standard_D8ds_v5")
    return kube.fake_aks_node(name, pool, size, capacity, labels, taints)


@pytest.fixture(scope="module")
def spot_release(cluster, registry, chart) -> Iterator[list[dict]]:
    raycluster = spot_raycluster()
    nodes = [spot_node(n, gpu=False) for n in SPOT_NODES] + [spot_node(n, gpu=True) for n in SPOT_GPU_NODES]
    kube.apply(nodes)
    try:
        for name in (*SPOT_NODES, *SPOT_GPU_NODES):
            kube.kubectl("wait", "--for=condition=Ready", f"node/{name}", "--timeout=120s", timeout=150)
        with (
            scenario.namespace(NAMESPACE, registry),
            scenario.release(RELEASE, NAMESPACE, chart, registry, SPOT_VALUES),
        ):

            def placed() -> list[dict] | None:
                pods = scenario.pods(NAMESPACE, f"ray.io/cluster={raycluster}")
                spot = [p for p in pods if p["metadata"]["labels"].get("ray.io/group") in ("spot", "gpuspot")]
                scheduled = [p for p in spot if p["spec"].get("nodeName")]
                head = [p for p in pods if p["metadata"]["labels"].get("ray.io/node-type") == "head"]
                return pods if len(scheduled) == 3 and head and head[0]["spec"].get("nodeName") else None

            pods = kube.wait_until(placed, 600, "the spot workers and the head to be scheduled", interval=3)
            kube.record(
                "spot_placement",
                {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")},
            )
            yield pods
    finally:
        kube.kubectl("delete", "node", *SPOT_NODES, *SPOT_GPU_NODES, "--ignore-not-found", check=False)


def group_of(pod: dict) -> str:
    return pod["metadata"]["labels"].get("ray.io/group", "")


def test_spot_worker_groups_land_on_the_spot_pools(spot_release):
    cpu = sorted(p["spec"]["nodeName"] for p in spot_release if group_of(p) == "spot")
    gpu = sorted(p["spec"]["nodeName"] for p in spot_release if group_of(p) == "gpuspot")
    assert len(cpu) == 2 and set(cpu) <= set(SPOT_NODES), cpu
    assert gpu == list(SPOT_GPU_NODES), gpu


def test_the_head_never_lands_on_a_spot_node(spot_release):
    (head,) = [p for p in spot_release if p["metadata"]["labels"].get("ray.io/node-type") == "head"]
    assert head["spec"]["nodeName"] == kube.LAYOUT.node_name
    assert head["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    tolerated = [t for t in head["spec"].get("tolerations") or [] if t.get("key") in (SPOT_KEY, None, "")]
    assert not [t for t in tolerated if t.get("operator") == "Exists" or t.get("value") == "spot"], tolerated


def test_nothing_else_lands_on_the_spot_nodes(spot_release):
    everything = kube.kubectl_json("get", "pods", "--all-namespaces")["items"]
    on_spot = [
        f"{p['metadata']['namespace']}/{p['metadata']['name']}"
        for p in everything
        if p["spec"].get("nodeName") in (*SPOT_NODES, *SPOT_GPU_NODES)
        and group_of(p) not in ("spot", "gpuspot")
    ]
    assert on_spot == []


def test_the_regular_workers_stay_off_spot(spot_release):
    regular = [p for p in spot_release if group_of(p) == "cpu"]
    assert regular and all(p["spec"].get("nodeName") in (kube.LAYOUT.node_name, None) for p in regular)


def test_a_head_that_tolerates_the_spot_taint_is_refused_naming_the_key(spot_release, chart, registry):
    """The chart's check runs before anything reaches the cluster (a server-side dry run here)."""
    values = SPOT_VALUES | {"rayCluster.head.tolerations": [SPOT_TOLERATION]}
    result = kube.helm(
        "upgrade", RELEASE, str(chart), "--namespace", NAMESPACE, "-f", str(kube.VALUES),
        *image_values(registry), *scenario.set_args(values), "--dry-run=server", check=False,
    )  # fmt: skip
    kube.record("spot_head_refused", result.stderr.strip()[-300:])
    assert result.returncode != 0
    assert "rayCluster.head.tolerations tolerates the AKS spot taint" in result.stderr
