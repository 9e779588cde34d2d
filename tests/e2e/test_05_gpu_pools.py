"""Scenario 5: with the GPU overlay, the real scheduler puts the GPU worker pods onto the simulated AKS
GPU nodes (kwok: the AKS accelerator label, an agentpool, the `sku=gpu:NoSchedule` taint, capacity in
`nvidia.com/gpu`) and nothing else lands there."""

from __future__ import annotations

import pytest

from tests.e2e import kube
from tests.e2e.conftest import image_values, pods, pull_secret

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

GPU_NODES = ("aks-gpu-00000", "aks-gpu-00001")
GPU_RELEASE = "ray-gpu"
GPU_NAMESPACE = "ray-gpu"
# Test values that ask for GPU workers (the overlay starts its GPU group at zero, for the autoscaler),
# and leave out what this scenario does not need on a 2-core node.
GPU_SET = {
    "rayCluster.workerGroups.gpu.replicas": "2",
    "rayCluster.workerGroups.gpu.minReplicas": "2",
    "rayCluster.sharedStorage.enabled": "false",
    "rayJobs.mnist.enabled": "false",
    "mlflow.enabled": "false",
    "tests.enabled": "false",
}


def gpu_node(name: str) -> dict:
    """A node shaped like an AKS GPU pool's (Standard_NC8as_T4_v3: 8 vCPU, 56 GiB, one T4)."""
    return kube.fake_aks_node(
        name,
        "gpu",
        "Standard_NC8as_T4_v3",
        {"cpu": "8", "memory": "56Gi", "pods": "110", "nvidia.com/gpu": "1"},
        labels={"kubernetes.azure.com/accelerator": "nvidia"},
        taints=[{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
    )


@pytest.fixture(scope="module")
def gpu_release(cluster, registry, chart):
    kube.apply([gpu_node(name) for name in GPU_NODES])
    for name in GPU_NODES:
        kube.kubectl("wait", "--for=condition=Ready", f"node/{name}", "--timeout=120s", timeout=150)
    kube.restricted_namespace(GPU_NAMESPACE)
    pull_secret(GPU_NAMESPACE, registry)
    sets = [arg for key, value in GPU_SET.items() for arg in ("--set", f"{key}={value}")]
    kube.helm(
        "install", GPU_RELEASE, str(chart), "--namespace", GPU_NAMESPACE,
        "-f", str(kube.VALUES), "-f", str(kube.GPU_VALUES), *image_values(registry), *sets, "--timeout", "5m",
    )  # fmt: skip

    def placed() -> list[dict] | None:
        workers = pods(GPU_NAMESPACE, "ray.io/group=gpu")
        scheduled = [p for p in workers if p["spec"].get("nodeName")]
        return workers if len(workers) == 2 and len(scheduled) == 2 else None

    workers = kube.wait_until(placed, 600, "both GPU worker pods to be scheduled")
    kube.record("gpu_placement", {p["metadata"]["name"]: p["spec"]["nodeName"] for p in workers})
    yield workers
    kube.helm(
        "uninstall", GPU_RELEASE, "--namespace", GPU_NAMESPACE, "--wait", "--timeout", "5m", check=False
    )
    kube.kubectl("delete", "node", *GPU_NODES, "--ignore-not-found", check=False)


def test_gpu_workers_land_on_the_gpu_nodes(gpu_release):
    assert sorted(p["spec"]["nodeName"] for p in gpu_release) == sorted(GPU_NODES)


def test_gpu_workers_run_there(gpu_release):
    def running() -> bool:
        return all(p["status"].get("phase") == "Running" for p in pods(GPU_NAMESPACE, "ray.io/group=gpu"))

    kube.wait_until(running, 300, "kwok to run the GPU workers")


def test_nothing_else_lands_on_the_gpu_nodes(gpu_release):
    everything = kube.kubectl_json("get", "pods", "--all-namespaces")["items"]
    on_gpu = [
        f"{p['metadata']['namespace']}/{p['metadata']['name']}"
        for p in everything
        if p["spec"].get("nodeName") in GPU_NODES and p["metadata"]["labels"].get("ray.io/group") != "gpu"
    ]
    assert on_gpu == []


def test_the_other_pods_of_the_gpu_install_run_on_the_real_node(gpu_release):
    others = [p for p in pods(GPU_NAMESPACE) if p["metadata"]["labels"].get("ray.io/group") != "gpu"]
    assert others
    assert {p["spec"].get("nodeName") for p in others} <= {kube.LAYOUT.node_name, None}
