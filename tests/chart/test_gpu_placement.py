"""GPU placement in real helm renders: GPU pods land on AKS GPU nodes, nothing else does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.pod_specs import (
    gpu_placement_errors,
    pod_specs,
    requests_gpu,
    selects_gpu_nodes,
    tolerated_gpu_taints,
    tolerates,
)
from tools.render_chart import GPU_VALUES, render

Objects = list[dict[str, Any]]
ALL_GPU_TAINTS = ["sku=gpu:NoSchedule", "nvidia.com/gpu=:NoSchedule"]
GPU_NODE_SELECTOR = {"kubernetes.azure.com/accelerator": "nvidia"}


@pytest.fixture(scope="module")
def gpu_render() -> Objects:
    return render(values_files=[GPU_VALUES])


@pytest.fixture(scope="module")
def cpu_render() -> Objects:
    return render()


def test_gpu_render_has_gpu_pods_and_others(gpu_render: Objects) -> None:
    pods = pod_specs(gpu_render)
    assert any(requests_gpu(p.spec) for p in pods), "the GPU render has no pod that requests a GPU"
    assert any(not requests_gpu(p.spec) for p in pods), "the GPU render has no CPU-only pod"


def test_every_gpu_pod_selects_and_tolerates_aks_gpu_nodes(gpu_render: Objects) -> None:
    for pod in pod_specs(gpu_render):
        if requests_gpu(pod.spec):
            assert selects_gpu_nodes(pod.spec), pod.where
            assert tolerated_gpu_taints(pod.spec) == ALL_GPU_TAINTS, pod.where


def test_no_cpu_pod_carries_gpu_tolerations_or_selector(gpu_render: Objects) -> None:
    assert gpu_placement_errors(gpu_render) == []


def test_cpu_render_requests_no_gpu_and_tolerates_none(cpu_render: Objects) -> None:
    pods = pod_specs(cpu_render)
    assert pods, "the CPU render has no pod spec"
    assert not any(requests_gpu(p.spec) for p in pods)
    assert gpu_placement_errors(cpu_render) == []


def test_finds_pod_specs_in_every_kind_and_group(gpu_render: Objects) -> None:
    found = {(p.kind, p.path) for p in pod_specs(gpu_render)}
    assert ("RayCluster", ".spec.headGroupSpec.template.spec") in found
    assert ("RayCluster", ".spec.workerGroupSpecs[0].template.spec") in found
    assert ("RayCluster", ".spec.workerGroupSpecs[1].template.spec") in found
    assert ("Pod", ".spec") in found


def test_flags_a_gpu_group_without_tolerations() -> None:
    objects = render(values_files=[GPU_VALUES], set_values={"rayCluster.workerGroups.gpu.tolerations": []})
    errors = gpu_placement_errors(objects)
    assert len(errors) == 1
    assert "workerGroupSpecs[1]" in errors[0]
    assert "tolerates only []" in errors[0]


def test_flags_a_gpu_group_without_the_node_selector() -> None:
    objects = render(values_files=[GPU_VALUES], set_values={"rayCluster.workerGroups.gpu.nodeSelector": {}})
    errors = gpu_placement_errors(objects)
    assert errors == [
        "RayCluster/ray-ray-aks at .spec.workerGroupSpecs[1].template.spec: "
        "requests nvidia.com/gpu but does not select kubernetes.azure.com/accelerator"
    ]


def test_flags_gpu_tolerations_on_a_cpu_group() -> None:
    sku_toleration = {"key": "sku", "operator": "Exists", "effect": "NoSchedule"}
    objects = render(set_values={"rayCluster.workerGroups.cpu.tolerations": [sku_toleration]})
    errors = gpu_placement_errors(objects)
    assert errors == [
        "RayCluster/ray-ray-aks at .spec.workerGroupSpecs[0].template.spec: "
        "requests no GPU but tolerates GPU taints ['sku=gpu:NoSchedule']"
    ]


def test_flags_the_gpu_selector_on_the_head() -> None:
    objects = render(set_values={"rayCluster.head.nodeSelector": GPU_NODE_SELECTOR})
    assert gpu_placement_errors(objects) == [
        "RayCluster/ray-ray-aks at .spec.headGroupSpec.template.spec: requests no GPU but selects GPU nodes"
    ]


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        ({"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
        ({"key": "sku", "value": "gpu"}, True),
        ({"key": "sku", "operator": "Exists"}, True),
        ({"operator": "Exists"}, True),
        ({"key": "sku", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"}, False),
        ({"key": "sku", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "nvidia.com/gpu", "operator": "Exists"}, False),
    ],
)
def test_toleration_rules_match_kubernetes(toleration: dict[str, str], expected: bool) -> None:
    assert tolerates(toleration, {"key": "sku", "value": "gpu", "effect": "NoSchedule"}) is expected
