"""The module's GPU pool is where the GPU overlay's pods land, and nothing else does.

The pool's taints and labels are the module's own (evaluated by tofu), together with those AKS puts
on the nodes itself; the pods are the chart's real render with charts/ray-aks-gpu-values.yaml.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.chart.pod_specs import pod_specs, requests_gpu, tolerates
from tools.infra.harness import Evaluation
from tools.render_chart import GPU_VALUES, render

Objects = list[dict[str, Any]]


def taint(text: str) -> dict[str, str]:
    """key=value:effect as a Kubernetes taint."""
    key_value, effect = text.rsplit(":", 1)
    key, _, value = key_value.partition("=")
    return {"key": key, "value": value, "effect": effect}


def pool_taints(pool: dict[str, Any]) -> list[str]:
    return sorted(set(pool["node_taints"]) | set(pool["aks_node_taints"]))


def pool_labels(pool: dict[str, Any]) -> dict[str, str]:
    return {**pool["aks_node_labels"], **pool["node_labels"]}


def schedulable(spec: dict[str, Any], pool: dict[str, Any]) -> list[str]:
    """Why a pod spec cannot land on the pool's nodes (empty: it can)."""
    problems = [
        f"does not tolerate {t}"
        for t in pool_taints(pool)
        if taint(t)["effect"] in ("NoSchedule", "NoExecute")
        and not any(tolerates(tol, taint(t)) for tol in spec.get("tolerations") or [])
    ]
    labels = pool_labels(pool)
    problems += [
        f"selects {key}={value}, which the pool's nodes do not carry"
        for key, value in (spec.get("nodeSelector") or {}).items()
        if labels.get(key) != value
    ]
    return problems


@pytest.fixture(scope="module")
def gpu_render() -> Objects:
    return render(values_files=[GPU_VALUES])


@pytest.fixture(scope="module")
def gpu_pool(module_defaults: Evaluation) -> dict[str, Any]:
    pool = module_defaults.value("cluster_spec")["node_pools"]["gpu"]
    assert pool["enabled"], "the module's default has no GPU pool"
    return pool


def test_the_gpu_pool_has_the_taint_and_label_the_overlay_names(gpu_pool: dict[str, Any]) -> None:
    """The overlay's worker group: a toleration of sku=gpu:NoSchedule (Equal), a nodeSelector."""
    group = yaml.safe_load(GPU_VALUES.read_text())["rayCluster"]["workerGroups"]["gpu"]
    equal_tolerations = {
        f"{t['key']}={t['value']}:{t['effect']}"
        for t in group["tolerations"]
        if (t.get("operator") or "Equal") == "Equal"
    }
    assert equal_tolerations, "the GPU overlay has no Equal toleration to compare with"
    assert set(gpu_pool["node_taints"]) == equal_tolerations
    assert group["nodeSelector"].items() <= pool_labels(gpu_pool).items()


def test_every_gpu_pod_of_the_overlay_lands_on_the_gpu_pool(
    gpu_render: Objects, gpu_pool: dict[str, Any]
) -> None:
    gpu_pods = [p for p in pod_specs(gpu_render) if requests_gpu(p.spec)]
    assert gpu_pods, "the GPU overlay renders no pod that requests a GPU"
    problems = [f"{p.where}: {why}" for p in gpu_pods for why in schedulable(p.spec, gpu_pool)]
    assert not problems, "GPU pods that cannot land on the module's GPU pool:\n" + "\n".join(problems)


def test_no_cpu_pod_lands_on_the_gpu_pool(gpu_render: Objects, gpu_pool: dict[str, Any]) -> None:
    """The pool's taint keeps the chart's CPU pods (head, CPU workers, MLflow) off the GPU nodes."""
    cpu_pods = [p for p in pod_specs(gpu_render) if not requests_gpu(p.spec)]
    assert cpu_pods
    landing = [p.where for p in cpu_pods if not schedulable(p.spec, gpu_pool)]
    assert not landing, f"CPU pods that would land on GPU nodes: {landing}"


def test_cpu_pods_land_on_the_cpu_pool_and_not_on_system_or_spot(
    gpu_render: Objects, module_with_options: Evaluation
) -> None:
    pools = module_with_options.value("cluster_spec")["node_pools"]
    cpu_pods = [p for p in pod_specs(gpu_render) if not requests_gpu(p.spec)]
    assert all(not schedulable(p.spec, pools["cpu"]) for p in cpu_pods)
    for name in ("system", "spot"):
        assert pools[name]["enabled"]
        landing = [p.where for p in cpu_pods if not schedulable(p.spec, pools[name])]
        assert not landing, f"chart pods that would land on the {name} pool: {landing}"


def test_the_gpu_pool_scales_from_zero_with_the_driver_choice(gpu_pool: dict[str, Any]) -> None:
    assert gpu_pool["min_count"] == 0 and gpu_pool["max_count"] >= 1
    assert gpu_pool["gpu_driver"] in ("Install", "None")
    # AKS labels NVIDIA sizes only; the variable's validation refuses others.
    assert gpu_pool["vm_size"].startswith("Standard_N")


def test_the_spot_pool_carries_what_aks_puts_on_spot_nodes(module_with_options: Evaluation) -> None:
    spot = module_with_options.value("cluster_spec")["node_pools"]["spot"]
    assert spot["priority"] == "Spot" and spot["min_count"] == 0
    assert spot["node_taints"] == ["kubernetes.azure.com/scalesetpriority=spot:NoSchedule"]
    assert spot["node_labels"] == {"kubernetes.azure.com/scalesetpriority": "spot"}
    # azurerm wants exactly what AKS sets, or every plan would try to remove it.
    assert spot["node_taints"] == spot["aks_node_taints"] and spot["node_labels"] == spot["aks_node_labels"]
