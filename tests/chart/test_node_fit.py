"""The pods of the default CPU install and of the GPU overlay fit the AKS nodes the docs create.

Each pod (the Ray head with its autoscaler sidecar, each worker group, MLflow, the `helm test` pod,
the KubeRay operator) must fit one node of its pool (Standard_D8ds_v5 for CPU, Standard_NC4as_T4_v3
for GPU) after AKS's kube-reserved and eviction reservations and the DaemonSets on every node
(tests/chart/aks_nodes.py, each number with its source); a pod that would stay Pending fails with its
name and the shortfall. The whole install, packed first-fit decreasing, must fit the pools' node
counts. Renders with the real helm (tools/render_chart.py); no cluster.

`.venv/bin/python -m tests.chart.node_fit` prints the table these tests check.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart import aks_nodes
from tests.chart.node_fit import (
    GIB,
    MIB,
    PodGroup,
    Resources,
    budget_room,
    chart_values,
    fit_errors,
    fit_table,
    pack,
    pod_groups,
    pod_requests,
    quantity,
    render_groups,
    report,
)
from tests.chart.pod_specs import pod_specs
from tests.infra.test_docs_az import commands_of
from tools.render_chart import CHART_DIR, GPU_VALUES, render

CPU_NODE = aks_nodes.node_budget(aks_nodes.CPU_POOL)
GPU_NODE = aks_nodes.node_budget(aks_nodes.GPU_POOL)
# ct scenarios that turn on the workloads the defaults leave off: every RayJob, the RayService (CPU
# and GPU), the RayCronJob. Their pods must fit a node too once a user enables them.
WORKLOAD_SCENARIOS = [
    "10-rayjobs-values.yaml",
    "12-rayservice-values.yaml",
    "14-workloads-gpu-values.yaml",
    "16-raycronjob-values.yaml",
]


@pytest.fixture(scope="module")
def default_objects() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def default_groups(default_objects: list[dict[str, Any]]) -> list[PodGroup]:
    return pod_groups(default_objects, chart_values())


@pytest.fixture(scope="module")
def gpu_groups() -> list[PodGroup]:
    return render_groups([GPU_VALUES])


def by_name(groups: list[PodGroup]) -> dict[str, PodGroup]:
    return {g.name: g for g in groups}


def values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def sized(cpu: str, memory: str, **extra: Any) -> dict[str, dict[str, Any]]:
    asked = {"cpu": cpu, "memory": memory, **extra}
    return {"requests": asked, "limits": dict(asked)}


# The cluster the data describes.


def test_the_pools_are_the_ones_the_docs_create() -> None:
    made = {c.value("--name"): c for c in commands_of("aks nodepool add")}
    for pool in aks_nodes.POOLS.values():
        command = made[pool.name]
        assert command.value("--node-vm-size") == pool.vm.name, pool.name
        assert int(command.value("--max-pods")) == pool.max_pods, pool.name
        assert int(command.value("--node-count")) == pool.node_count, pool.name
        assert int(command.value("--max-count")) == pool.max_count, pool.name


def test_kube_reserved_memory_follows_the_aks_examples() -> None:
    # The docs' examples: 8 GB and 30 pods reserve 650 MB; 4 GB and 70 pods reserve 25% of 4 GB.
    assert aks_nodes.kube_reserved_memory_mib(8 * 1024, 30) == 650
    assert aks_nodes.kube_reserved_memory_mib(4 * 1024, 70) == 1024
    assert aks_nodes.kube_reserved_memory_mib(32 * 1024, 110) == 2250


def test_kube_reserved_cpu_is_the_documented_table_only() -> None:
    assert (aks_nodes.kube_reserved_cpu_m(8), aks_nodes.kube_reserved_cpu_m(4)) == (180, 140)
    with pytest.raises(ValueError, match="not 6"):
        aks_nodes.kube_reserved_cpu_m(6)


def test_every_daemonset_names_its_source_and_every_estimate_its_reason() -> None:
    for daemonset in aks_nodes.DAEMONSETS:
        assert "https://" in daemonset.source, daemonset.name
        assert daemonset.pools <= set(aks_nodes.POOLS), daemonset.name
    estimates = [d for d in aks_nodes.DAEMONSETS if d.estimate]
    assert [d.name for d in estimates] == ["azure-cns"]
    assert all(aks_nodes.ABSENT_DAEMONSETS.values())


def test_a_cpu_node_leaves_its_size_less_the_reservations_and_daemonsets() -> None:
    daemonset_cpu = sum(d.cpu_m for d in aks_nodes.DAEMONSETS if "cpu" in d.pools)
    assert CPU_NODE.left_cpu_m == 8000 - 180 - daemonset_cpu
    daemonset_memory = sum(d.memory_mib for d in aks_nodes.DAEMONSETS if "cpu" in d.pools)
    kernel = Fraction(32 * 1024) * aks_nodes.KERNEL_MEMORY_FRACTION
    assert CPU_NODE.left_memory_mib == 32 * 1024 - kernel - 2250 - 100 - daemonset_memory


def test_a_gpu_node_runs_the_device_plugin_and_keeps_its_gpu_for_the_chart() -> None:
    assert "nvidia-device-plugin-daemonset" in {d.name for d in GPU_NODE.daemonsets}
    assert "nvidia-device-plugin-daemonset" not in {d.name for d in CPU_NODE.daemonsets}
    assert budget_room(GPU_NODE).gpu == 1
    assert GPU_NODE.left_cpu_m == 4000 - 140 - GPU_NODE.daemonset_cpu_m


# How a pod's requests add up.


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        (3, Fraction(3)),
        ("0.25", Fraction(1, 4)),
        ("4Gi", Fraction(4 * GIB)),
        ("512Mi", Fraction(512 * MIB)),
        ("1G", Fraction(10**9)),
        ("1e3", Fraction(1000)),
        ("128974848", Fraction(128974848)),
    ],
)
def test_quantities_read_like_kubernetes(text: Any, value: Fraction) -> None:
    assert quantity(text) == value


def test_a_malformed_quantity_is_refused_by_value() -> None:
    with pytest.raises(ValueError, match="'4 GB'"):
        quantity("4 GB")


def test_containers_add_up_and_the_largest_init_container_can_dominate() -> None:
    spec = {
        "initContainers": [
            {"name": "setup", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}},
            {"name": "small", "resources": {"requests": {"cpu": "100m", "memory": "6Gi"}}},
        ],
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}},
        ],
    }
    assert pod_requests(spec) == Resources(cpu=Fraction(3), memory=Fraction(6 * GIB))


def test_sidecar_init_containers_count_with_the_containers() -> None:
    spec = {
        "initContainers": [
            {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "250m"}}},
            {"name": "setup", "resources": {"requests": {"cpu": "1"}}},
        ],
        "containers": [{"name": "main", "resources": {"requests": {"cpu": "500m"}}}],
    }
    assert pod_requests(spec).cpu == Fraction(5, 4)


def test_a_limit_without_a_request_is_the_request() -> None:
    spec = {"containers": [{"name": "op", "resources": {"limits": {"cpu": "100m", "memory": "512Mi"}}}]}
    assert pod_requests(spec) == Resources(cpu=Fraction(1, 10), memory=Fraction(512 * MIB))


# What the renders create.


def test_the_default_install_has_every_pod_the_issue_names(default_groups: list[PodGroup]) -> None:
    assert set(by_name(default_groups)) == {
        "ray-ray-aks head",
        "ray-ray-aks worker group cpu",
        "ray-ray-aks-mlflow",
        "ray-ray-aks-test-ray-head",
        "kuberay-operator",
    }


def test_every_pod_template_of_a_render_is_counted(default_objects: list[dict[str, Any]]) -> None:
    workloads = render(values_files=[CHART_DIR / "ci" / "14-workloads-gpu-values.yaml"])
    for objects in (default_objects, workloads):
        found = {g.found_at for g in pod_groups(objects, {})}
        assert {p.where for p in pod_specs(objects)} <= found


def test_the_head_counts_the_autoscaler_sidecar_kuberay_adds(default_objects: list[dict[str, Any]]) -> None:
    (cluster,) = [o for o in default_objects if o["kind"] == "RayCluster"]
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    autoscaler = cluster["spec"]["autoscalerOptions"]["resources"]["requests"]
    (group,) = [g for g in pod_groups([cluster], {}) if g.name.endswith(" head")]
    assert group.requests.cpu == quantity(head["cpu"]) + quantity(autoscaler["cpu"])
    assert group.requests.memory == quantity(head["memory"]) + quantity(autoscaler["memory"])


def test_the_gpu_worker_group_lands_on_the_gpu_pool(gpu_groups: list[PodGroup]) -> None:
    pools = {g.name: g.pool for g in gpu_groups}
    assert pools.pop("ray-ray-aks worker group gpu") == "gpu"
    assert set(pools.values()) == {"cpu"}


def test_the_operator_takes_the_upstream_charts_default_resources(default_groups: list[PodGroup]) -> None:
    assert by_name(default_groups)["kuberay-operator"].requests == Resources(
        Fraction(1, 10), Fraction(512 * MIB)
    )


def test_the_operator_takes_resources_the_values_give_it() -> None:
    groups = render_groups(set_values={"kuberay-operator.resources": sized("250m", "1Gi")})
    assert by_name(groups)["kuberay-operator"].requests == Resources(Fraction(1, 4), Fraction(GIB))


def test_a_rendered_operator_deployment_is_counted_once(default_objects: list[dict[str, Any]]) -> None:
    # After `make deps` the render holds the upstream chart's Deployment; its own resources count.
    deployment = {
        "kind": "Deployment",
        "metadata": {
            "name": "ray-kuberay-operator",
            "labels": {"app.kubernetes.io/name": "kuberay-operator"},
        },
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "kuberay-operator", "resources": sized("1", "1Gi")}]}
            }
        },
    }
    groups = pod_groups([*default_objects, deployment], chart_values())
    operators = [g for g in groups if g.name == "kuberay-operator"]
    assert [g.requests for g in operators] == [Resources(Fraction(1), Fraction(GIB))]


def test_no_operator_pod_when_the_chart_does_not_install_it() -> None:
    groups = render_groups(set_values={"kuberay-operator.enabled": False})
    assert "kuberay-operator" not in by_name(groups)


# The defaults fit.


def test_each_default_pod_fits_one_cpu_node(default_groups: list[PodGroup]) -> None:
    assert fit_errors(default_groups) == []


def test_each_gpu_overlay_pod_fits_one_node_of_its_pool(gpu_groups: list[PodGroup]) -> None:
    assert fit_errors(gpu_groups) == []


@pytest.mark.parametrize("scenario", WORKLOAD_SCENARIOS)
def test_each_workload_pod_fits_one_node_of_its_pool(scenario: str) -> None:
    assert fit_errors(render_groups([CHART_DIR / "ci" / scenario])) == []


def test_the_default_install_fits_the_cpu_pools_first_node(default_groups: list[PodGroup]) -> None:
    packing = pack(default_groups, "cpu", "replicas")
    assert packing.unplaced == []
    assert len(packing.nodes) <= aks_nodes.CPU_POOL.node_count, packing.nodes


def test_the_default_install_at_most_workers_fits_the_cpu_pools_max_count(
    default_groups: list[PodGroup],
) -> None:
    packing = pack(default_groups, "cpu", "maximum")
    assert packing.unplaced == []
    assert len(packing.nodes) <= aks_nodes.CPU_POOL.max_count, packing.nodes


def test_the_gpu_overlay_at_most_gpu_workers_fits_the_gpu_pools_max_count(gpu_groups: list[PodGroup]) -> None:
    packing = pack(gpu_groups, "gpu", "maximum")
    assert packing.unplaced == []
    assert 1 <= len(packing.nodes) <= aks_nodes.GPU_POOL.max_count, packing.nodes


# What a values file that asks too much gets.


def test_a_worker_asking_more_cpu_than_a_node_has_fails_with_its_shortfall(tmp_path: Path) -> None:
    path = values_file(tmp_path, {"rayCluster": {"workerGroups": {"cpu": {"resources": sized("16", "8Gi")}}}})
    left = Fraction(CPU_NODE.left_cpu_m, 1000)
    assert fit_errors(render_groups([path])) == [
        f"ray-ray-aks worker group cpu: asks 16 CPU, a Standard_D8ds_v5 node has {float(left):g} CPU "
        f"left after kube-reserved and daemonsets: {float(16 - left):g} CPU short"
    ]


def test_a_head_asking_more_memory_than_a_node_has_fails_with_its_shortfall(tmp_path: Path) -> None:
    path = values_file(tmp_path, {"rayCluster": {"head": {"resources": sized("1", "40Gi")}}})
    (error,) = fit_errors(render_groups([path]))
    # 40Gi and the autoscaler's 512Mi, against what a CPU node has left.
    left = budget_room(CPU_NODE).memory
    assert error == (
        f"ray-ray-aks head: asks 40.50 GiB memory, a Standard_D8ds_v5 node has {float(left) / GIB:.2f} GiB "
        f"left after kube-reserved and daemonsets: {(40.5 * GIB - float(left)) / GIB:.2f} GiB short"
    )


def test_a_gpu_worker_asking_two_gpus_fails_on_a_one_gpu_node(tmp_path: Path) -> None:
    two_gpus = sized("3", "20Gi", **{"nvidia.com/gpu": 2})
    path = values_file(tmp_path, {"rayCluster": {"workerGroups": {"gpu": {"resources": two_gpus}}}})
    assert fit_errors(render_groups([GPU_VALUES, path])) == [
        "ray-ray-aks worker group gpu: asks 2 nvidia.com/gpu, a Standard_NC4as_T4_v3 node has 1: "
        "1 nvidia.com/gpu short"
    ]


# The table a reader checks the margins in.


def test_the_table_shows_each_pod_against_what_its_node_has_left(
    default_groups: list[PodGroup], gpu_groups: list[PodGroup], record_property: Any
) -> None:
    for title, groups in (("defaults", default_groups), ("GPU overlay", gpu_groups)):
        text = report(groups)
        print(f"\n## {title}\n{text}")
        record_property(f"node_fit_{title.replace(' ', '_')}", text)
        rows = fit_table(groups).splitlines()[2:]
        assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [g.name for g in groups]
        worker = by_name(groups)["ray-ray-aks worker group cpu"]
        # The worker's row: what a CPU node has left less the worker's CPU.
        margin = Fraction(CPU_NODE.left_cpu_m, 1000) - worker.requests.cpu
        assert f"| {float(margin):g} |" in rows[[g.name for g in groups].index(worker.name)]
