"""charts/ray-aks-gpu-values.yaml turns on GPUs for every RayJob and Serve app and changes nothing else.

The CPU and GPU renders with every workload on are compared object by object: once each job's
gpuArgs, each Serve app's num_gpus and the added `gpu` worker groups are accounted for, the two
renders are identical.
"""

from __future__ import annotations

import copy
import shlex
from collections import Counter
from typing import Any

import pytest
import yaml

from tests.chart.every_workload import EVERY_WORKLOAD
from tools.render_chart import CHART_DIR, GPU_VALUES, render

VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
OVERLAY = yaml.safe_load(GPU_VALUES.read_text())
Objects = dict[tuple[str, str], dict[str, Any]]


def by_name(objects: list[dict[str, Any]]) -> Objects:
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}


@pytest.fixture(scope="module")
def cpu() -> Objects:
    return by_name(render(set_values=EVERY_WORKLOAD))


@pytest.fixture(scope="module")
def gpu() -> Objects:
    return by_name(render(values_files=[GPU_VALUES], set_values=EVERY_WORKLOAD))


def cluster_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The RayClusterSpec(s) of a Ray object; none for other kinds."""
    spec = obj.get("spec") or {}
    found = {
        "RayCluster": spec,
        "RayJob": spec.get("rayClusterSpec"),
        "RayService": spec.get("rayClusterConfig"),
    }.get(obj["kind"])
    return [found] if found else []


def without_gpu_groups(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for spec in cluster_specs(obj):
        spec["workerGroupSpecs"] = [g for g in spec["workerGroupSpecs"] if g["groupName"] != "gpu"]
    return obj


def gpu_words(args: dict[str, Any]) -> list[str]:
    """The entrypoint words of a gpuArgs block (booleans and numbers, as the chart writes them)."""
    words: list[str] = []
    for flag, value in args.items():
        words += [f"--{flag}"] if value is True else [f"--{flag}", str(value)]
    return words


def job_key(obj: dict[str, Any]) -> str:
    return obj["metadata"]["labels"]["ray-aks/job"]


def test_the_overlay_sets_only_gpu_mode_and_a_gpu_worker_group() -> None:
    assert set(OVERLAY) == {"global", "rayCluster"}
    assert OVERLAY["global"] == {"gpu": True}
    assert set(OVERLAY["rayCluster"]) == {"workerGroups"}
    assert set(OVERLAY["rayCluster"]["workerGroups"]) == {"gpu"}


def test_every_workload_gets_a_gpu_worker_group(gpu: Objects) -> None:
    workloads = [obj for (kind, _), obj in gpu.items() if kind in ("RayJob", "RayService")]
    assert len(workloads) == 5
    for obj in workloads:
        groups = [g["groupName"] for g in cluster_specs(obj)[0]["workerGroupSpecs"]]
        assert groups == ["cpu", "gpu"], obj["metadata"]["name"]


def test_every_job_adds_exactly_its_gpu_args(cpu: Objects, gpu: Objects) -> None:
    jobs = [key for key in cpu if key[0] == "RayJob"]
    assert len(jobs) == 4
    for key in jobs:
        cpu_words = shlex.split(cpu[key]["spec"]["entrypoint"])
        gpu_words_ = shlex.split(gpu[key]["spec"]["entrypoint"])
        added = Counter(gpu_words_) - Counter(cpu_words)
        expected = gpu_words(VALUES["rayJobs"][job_key(cpu[key])]["gpuArgs"])
        assert added == Counter(expected), key
        assert not Counter(cpu_words) - Counter(gpu_words_), f"{key}: the GPU entrypoint drops a CPU word"


def test_every_serve_app_reserves_its_gpus_only_in_gpu_mode(cpu: Objects, gpu: Objects) -> None:
    (key,) = [key for key in cpu if key[0] == "RayService"]
    cpu_apps = yaml.safe_load(cpu[key]["spec"]["serveConfigV2"])["applications"]
    gpu_apps = yaml.safe_load(gpu[key]["spec"]["serveConfigV2"])["applications"]
    assert (
        [a["name"] for a in cpu_apps] == [a["name"] for a in gpu_apps] == ["embeddings", "mnist", "textgen"]
    )
    for cpu_app, gpu_app in zip(cpu_apps, gpu_apps, strict=True):
        wanted = VALUES["rayService"]["applications"][cpu_app["name"]]["gpusPerReplica"]
        assert wanted > 0
        assert cpu_app["args"]["ray_actor_options"]["num_gpus"] == 0
        assert gpu_app["args"]["ray_actor_options"]["num_gpus"] == wanted


def test_the_overlay_changes_nothing_else(cpu: Objects, gpu: Objects) -> None:
    assert set(cpu) == set(gpu)
    for key, cpu_obj in cpu.items():
        gpu_obj = without_gpu_groups(gpu[key])
        if key[0] == "RayJob":
            gpu_obj["spec"]["entrypoint"] = cpu_obj["spec"]["entrypoint"]
        if key == ("Secret", "ray-ray-aks-ray-token"):
            # The release's token: random in every render without a cluster (templates/auth/secret.yaml).
            cpu_obj, gpu_obj = (
                {**o, "data": dict.fromkeys(o["data"], "<random>")} for o in (cpu_obj, gpu_obj)
            )
        if key[0] == "RayService":
            config = yaml.safe_load(gpu_obj["spec"]["serveConfigV2"])
            for app in config["applications"]:
                app["args"]["ray_actor_options"]["num_gpus"] = 0
            gpu_obj["spec"]["serveConfigV2"] = yaml.safe_dump(config)
            cpu_obj = copy.deepcopy(cpu_obj)
            cpu_obj["spec"]["serveConfigV2"] = yaml.safe_dump(
                yaml.safe_load(cpu_obj["spec"]["serveConfigV2"])
            )
        assert gpu_obj == cpu_obj, f"{key}: the GPU overlay changes more than GPUs"


def test_the_gpu_workloads_scenario_carries_the_overlay_unchanged() -> None:
    scenario = yaml.safe_load((CHART_DIR / "ci" / "14-workloads-gpu-values.yaml").read_text())

    def contains(big: Any, small: Any) -> bool:
        if isinstance(small, dict):
            return isinstance(big, dict) and all(k in big and contains(big[k], v) for k, v in small.items())
        return big == small

    assert contains(scenario, OVERLAY)


def test_the_ct_gpu_scenario_is_the_gpu_overlay_byte_for_byte() -> None:
    # ct installs ci/*-values.yaml only; this scenario is the overlay users install, not a copy that drifts.
    scenario = CHART_DIR / "ci" / "02-gpu-values.yaml"
    assert scenario.read_bytes() == GPU_VALUES.read_bytes(), f"cp {GPU_VALUES} {scenario}"
