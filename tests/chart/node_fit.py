"""Every pod a render of the chart creates, its requests, and whether it fits one node of its AKS pool.

From rendered objects (tools/render_chart.py) this finds the pods each object makes, as the
controllers make them: a Ray cluster's head (with the autoscaler sidecar and, in SidecarMode, the
job submitter that KubeRay adds) and its worker groups (with KubeRay's wait-gcs-ready init
container), RayJob submitter pods, Deployments at their replicas (or their HPA's range), bare Pods;
and the KubeRay operator when the chart installs it (its subchart is not rendered offline). A pod's
requests follow Kubernetes: containers summed, init containers by the max rule, a missing request
taken from its limit. Its pool is the GPU pool when it asks for or selects GPU nodes, else the CPU
pool; tests/chart/aks_nodes.py says what one node of each pool offers.

    .venv/bin/python -m tests.chart.node_fit                 # the table for the defaults and GPU overlay
    .venv/bin/python -m tests.chart.node_fit -f my-values.yaml
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from tests.chart import aks_nodes
from tests.chart.pod_specs import GPU_RESOURCE, selects_gpu_nodes
from tools.render_chart import CHART_DIR, GPU_VALUES, REPO_ROOT, render

MIB = 1024**2
GIB = 1024**3

# What KubeRay 1.7.0 adds to the pods it builds (ray-operator/controllers/ray/common/pod.go, job.go at
# https://github.com/ray-project/kuberay/blob/v1.7.0/ray-operator/controllers/ray/common/):
# BuildAutoscalerContainer's resources unless autoscalerOptions.resources replaces them,
# DefaultWorkerPodTemplate's wait-gcs-ready init container on every worker, and
# GetDefaultSubmitterContainer for a submitter without a template (and the SidecarMode sidecar).
KUBERAY_AUTOSCALER_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "512Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}
KUBERAY_WAIT_GCS_READY = {
    "name": "wait-gcs-ready",
    "resources": {
        "requests": {"cpu": "200m", "memory": "256Mi"},
        "limits": {"cpu": "200m", "memory": "256Mi"},
    },
}
KUBERAY_DEFAULT_SUBMITTER = {
    "name": "ray-job-submitter",
    "resources": {"requests": {"cpu": "500m", "memory": "200Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
}
# CRD defaults of a worker group (KubeRay's RayCluster CRD): minReplicas 0, maxReplicas 2147483647.
CRD_MAX_REPLICAS = 2147483647
OPERATOR = "kuberay-operator"
# More pods of one shape than packing bothers to place (a group left at the CRD's unbounded maximum).
MAX_PODS_PACKED = 1000

_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def quantity(value: Any) -> Fraction:
    """A Kubernetes quantity ("500m", "4Gi", 2, "1e3") as an exact number (cores, bytes, GPUs)."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, exponent, suffix = match.groups()
    result = Fraction(number) * _SUFFIX[suffix or ""]
    return result * Fraction(10) ** int(exponent) if exponent else result


@dataclass(frozen=True)
class Resources:
    """CPU in cores, memory in bytes, nvidia.com/gpu in devices."""

    cpu: Fraction = Fraction(0)
    memory: Fraction = Fraction(0)
    gpu: Fraction = Fraction(0)

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.memory + other.memory, self.gpu + other.gpu)

    def max(self, other: Resources) -> Resources:
        return Resources(max(self.cpu, other.cpu), max(self.memory, other.memory), max(self.gpu, other.gpu))

    def fits_in(self, room: Resources) -> bool:
        return self.cpu <= room.cpu and self.memory <= room.memory and self.gpu <= room.gpu

    def minus(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.memory - other.memory, self.gpu - other.gpu)


def container_requests(container: Mapping[str, Any]) -> Resources:
    """A container's requests; a resource with a limit and no request requests its limit."""
    resources = container.get("resources") or {}
    asked = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return Resources(
        cpu=quantity(asked.get("cpu", 0)),
        memory=quantity(asked.get("memory", 0)),
        gpu=quantity(asked.get(GPU_RESOURCE, 0)),
    )


def pod_requests(spec: Mapping[str, Any]) -> Resources:
    """What the scheduler reserves for a pod: the containers' sum or the largest init container,
    whichever is larger per resource; sidecar init containers (restartPolicy Always) count with the
    containers and with every init container after them; plus the RuntimeClass overhead."""
    containers = sum((container_requests(c) for c in spec.get("containers") or []), Resources())
    sidecars = Resources()
    init_peak = Resources()
    for init in spec.get("initContainers") or []:
        asked = container_requests(init)
        if init.get("restartPolicy") == "Always":
            sidecars = sidecars + asked
            init_peak = init_peak.max(sidecars)
        else:
            init_peak = init_peak.max(sidecars + asked)
    overhead = spec.get("overhead") or {}
    overhead_requests = container_requests({"resources": {"requests": overhead}})
    return (containers + sidecars).max(init_peak) + overhead_requests


@dataclass(frozen=True)
class PodGroup:
    """Pods of one shape: how many exist at the fewest, at install (`replicas`) and at the most."""

    name: str
    pool: str
    requests: Resources
    minimum: int
    replicas: int
    maximum: int
    # Where the pod template sits, as tests/chart/pod_specs.py's PodSpec.where writes it.
    found_at: str


def pool_of(spec: Mapping[str, Any], requests: Resources) -> str:
    """The GPU pool for a pod that asks for a GPU or selects GPU nodes; every other pod lands on the
    CPU pool (the system pool's CriticalAddonsOnly taint keeps it off there)."""
    return "gpu" if requests.gpu > 0 or selects_gpu_nodes(spec) else "cpu"


def _group(name: str, spec: Mapping[str, Any], counts: tuple[int, int, int], found_at: str) -> PodGroup:
    requests = pod_requests(spec)
    return PodGroup(name, pool_of(spec, requests), requests, *counts, found_at=found_at)


def ray_cluster_groups(
    label: str, cluster: Mapping[str, Any], found_at: str, sidecar_submitter: bool = False
) -> list[PodGroup]:
    """The head and worker pods KubeRay creates for one RayCluster spec."""
    head = copy.deepcopy(cluster["headGroupSpec"]["template"]["spec"])
    if cluster.get("enableInTreeAutoscaling"):
        resources = (cluster.get("autoscalerOptions") or {}).get("resources") or KUBERAY_AUTOSCALER_RESOURCES
        head["containers"].append({"name": "autoscaler", "resources": resources})
    if sidecar_submitter:
        head["containers"].append(KUBERAY_DEFAULT_SUBMITTER)
    groups = [_group(f"{label} head", head, (1, 1, 1), f"{found_at}.headGroupSpec.template.spec")]
    autoscaling = bool(cluster.get("enableInTreeAutoscaling"))
    for i, worker in enumerate(cluster.get("workerGroupSpecs") or []):
        spec = copy.deepcopy(worker["template"]["spec"])
        spec["initContainers"] = [*(spec.get("initContainers") or []), KUBERAY_WAIT_GCS_READY]
        hosts = int(worker.get("numOfHosts", 1))
        minimum = int(worker.get("minReplicas", 0))
        replicas = int(worker.get("replicas", minimum))
        maximum = int(worker.get("maxReplicas", CRD_MAX_REPLICAS)) if autoscaling else replicas
        if worker.get("suspend"):
            minimum = replicas = maximum = 0
        if not autoscaling:
            minimum = replicas
        counts = (minimum * hosts, replicas * hosts, maximum * hosts)
        where = f"{found_at}.workerGroupSpecs[{i}].template.spec"
        groups.append(_group(f"{label} worker group {worker['groupName']}", spec, counts, where))
    return groups


def ray_job_groups(label: str, job: Mapping[str, Any], found_at: str) -> list[PodGroup]:
    """A RayJob spec's own cluster (none with a clusterSelector) and its submitter pod."""
    mode = job.get("submissionMode", "K8sJobMode")
    groups = []
    if job.get("rayClusterSpec"):
        groups += ray_cluster_groups(
            label,
            job["rayClusterSpec"],
            f"{found_at}.rayClusterSpec",
            sidecar_submitter=mode == "SidecarMode",
        )
    if mode == "K8sJobMode":
        template = (job.get("submitterPodTemplate") or {}).get("spec") or {
            "containers": [KUBERAY_DEFAULT_SUBMITTER]
        }
        groups.append(
            _group(f"{label} submitter", template, (1, 1, 1), f"{found_at}.submitterPodTemplate.spec")
        )
    return groups


def _hpa_ranges(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    ranges = {}
    for obj in objects:
        if obj.get("kind") == "HorizontalPodAutoscaler":
            target = obj["spec"]["scaleTargetRef"]
            ranges[(target["kind"], target["name"])] = (
                int(obj["spec"].get("minReplicas", 1)),
                int(obj["spec"]["maxReplicas"]),
            )
    return ranges


def chart_values(
    values_files: Iterable[str | Path] = (), set_values: Mapping[str, Any] | None = None
) -> dict:
    """The chart's values.yaml with the values files and --set keys applied, as helm merges them."""

    def merge(base: dict, override: Mapping[str, Any]) -> dict:
        for key, value in override.items():
            if isinstance(value, Mapping) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = copy.deepcopy(value)
        return base

    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    for path in values_files:
        merge(values, yaml.safe_load((REPO_ROOT / path).read_text()) or {})
    for dotted, value in (set_values or {}).items():
        *parents, last = dotted.split(".")
        node = values
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return values


def is_operator(obj: Mapping[str, Any]) -> bool:
    """The upstream kuberay-operator chart's Deployment (rendered once `make deps` fetched it)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return obj.get("kind") == "Deployment" and labels.get("app.kubernetes.io/name") == OPERATOR


def operator_group(objects: Iterable[Mapping[str, Any]], values: Mapping[str, Any]) -> list[PodGroup]:
    """The KubeRay operator pod when the chart installs it and the render lacks its subchart."""
    operator = values.get("kuberay-operator") or {}
    if not operator.get("enabled") or any(is_operator(obj) for obj in objects):
        return []
    resources = operator.get("resources") or aks_nodes.KUBERAY_OPERATOR_RESOURCES
    spec = {"containers": [{"name": "kuberay-operator", "resources": resources}], "nodeSelector": {}}
    return [_group(OPERATOR, spec, (1, 1, 1), "kuberay-operator subchart (not rendered offline)")]


def pod_groups(objects: list[Mapping[str, Any]], values: Mapping[str, Any]) -> list[PodGroup]:
    """Every pod the rendered objects (and the operator subchart) create, grouped by shape."""
    hpa = _hpa_ranges(objects)
    groups: list[PodGroup] = []
    for obj in objects:
        kind = obj.get("kind")
        name = obj["metadata"]["name"]
        spec = obj.get("spec") or {}
        at = f"{kind}/{name} at .spec"
        if kind == "RayCluster":
            groups += ray_cluster_groups(name, spec, at)
        elif kind == "RayJob":
            groups += ray_job_groups(f"{name} (RayJob)", spec, at)
        elif kind == "RayCronJob":
            groups += ray_job_groups(f"{name} (RayCronJob run)", spec["jobTemplate"], f"{at}.jobTemplate")
        elif kind == "RayService":
            groups += ray_cluster_groups(
                f"{name} (RayService)", spec["rayClusterConfig"], f"{at}.rayClusterConfig"
            )
        elif kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            replicas = int(spec.get("replicas", 1))
            low, high = hpa.get((kind, name), (replicas, replicas))
            counts = (low, max(replicas, low), high)
            label = OPERATOR if is_operator(obj) else name
            groups.append(_group(label, spec["template"]["spec"], counts, f"{at}.template.spec"))
        elif kind == "Job":
            counts = (int(spec.get("parallelism", 1)),) * 3
            groups.append(_group(name, spec["template"]["spec"], counts, f"{at}.template.spec"))
        elif kind == "Pod":
            groups.append(_group(name, spec, (1, 1, 1), at))
    return groups + operator_group(objects, values)


def render_groups(
    values_files: Iterable[str | Path] = (), set_values: Mapping[str, Any] | None = None
) -> list[PodGroup]:
    """Render the chart (tools/render_chart.py) and return its pod groups."""
    files = list(values_files)
    return pod_groups(render(values_files=files, set_values=set_values), chart_values(files, set_values))


def budget_room(budget: aks_nodes.NodeBudget) -> Resources:
    return Resources(
        cpu=Fraction(budget.left_cpu_m, 1000),
        memory=Fraction(budget.left_memory_mib) * MIB,
        gpu=Fraction(budget.gpus),
    )


def budgets() -> dict[str, aks_nodes.NodeBudget]:
    return {name: aks_nodes.node_budget(pool) for name, pool in aks_nodes.POOLS.items()}


def cores(value: Fraction) -> str:
    return f"{float(value):.3f}".rstrip("0").rstrip(".")


def gib(value: Fraction) -> str:
    return f"{float(value) / GIB:.2f}"


def fit_errors(groups: Iterable[PodGroup]) -> list[str]:
    """One line per pod shape and resource that does not fit one empty node of its pool."""
    errors = []
    for group in groups:
        if group.maximum == 0 and group.replicas == 0 and group.minimum == 0:
            continue
        budget = budgets()[group.pool]
        room = budget_room(budget)
        node = f"a {budget.pool.vm.name} node has"
        after = "left after kube-reserved and daemonsets"
        asked, left = group.requests, room
        if asked.cpu > left.cpu:
            errors.append(
                f"{group.name}: asks {cores(asked.cpu)} CPU, {node} {cores(left.cpu)} CPU {after}: "
                f"{cores(asked.cpu - left.cpu)} CPU short"
            )
        if asked.memory > left.memory:
            errors.append(
                f"{group.name}: asks {gib(asked.memory)} GiB memory, {node} {gib(left.memory)} GiB {after}: "
                f"{gib(asked.memory - left.memory)} GiB short"
            )
        if asked.gpu > left.gpu:
            errors.append(
                f"{group.name}: asks {cores(asked.gpu)} {GPU_RESOURCE}, {node} {cores(left.gpu)}: "
                f"{cores(asked.gpu - left.gpu)} {GPU_RESOURCE} short"
            )
    return errors


@dataclass(frozen=True)
class Packing:
    """Nodes of one pool that first-fit decreasing needs for a set of pods, and the pods no node holds."""

    pool: str
    nodes: list[list[str]]
    unplaced: list[str]


def pack(groups: Iterable[PodGroup], pool: str, count: str) -> Packing:
    """First-fit decreasing of the pool's pods at `count` ("minimum", "replicas" or "maximum")."""
    room = budget_room(budgets()[pool])

    def share(asked: Resources) -> Fraction:
        parts = [asked.cpu / room.cpu, asked.memory / room.memory]
        return max([*parts, asked.gpu / room.gpu] if room.gpu else parts)

    chosen = [g for g in groups if g.pool == pool]
    for g in chosen:
        if getattr(g, count) > MAX_PODS_PACKED:
            raise ValueError(f"{g.name}: {getattr(g, count)} pods at {count}; set the group's maxReplicas")
    pods = [(g.name, g.requests) for g in chosen for _ in range(getattr(g, count))]
    pods.sort(key=lambda pod: share(pod[1]), reverse=True)
    free: list[Resources] = []
    nodes: list[list[str]] = []
    unplaced = []
    for name, asked in pods:
        if not asked.fits_in(room):
            unplaced.append(name)
            continue
        for i, left in enumerate(free):
            if asked.fits_in(left):
                free[i] = left.minus(asked)
                nodes[i].append(name)
                break
        else:
            free.append(room.minus(asked))
            nodes.append([name])
    return Packing(pool, nodes, unplaced)


def budget_lines(budget: aks_nodes.NodeBudget) -> list[str]:
    vm = budget.pool.vm
    return [
        f"{vm.name} ({budget.pool.name} pool, {budget.pool.node_count}-{budget.pool.max_count} nodes, "
        f"max pods {budget.pool.max_pods}): {vm.vcpus} vCPU, {vm.memory_mib / 1024:g} GiB",
        f"  capacity {cores(Fraction(budget.capacity_cpu_m, 1000))} CPU, "
        f"{gib(budget.capacity_memory_mib * MIB)} GiB ({aks_nodes.KERNEL_MEMORY_SOURCE})",
        f"  kube-reserved {budget.kube_reserved_cpu_m}m CPU, "
        f"{float(budget.kube_reserved_memory_mib):g}Mi; eviction {budget.eviction_memory_mib}Mi",
        f"  allocatable {cores(Fraction(budget.allocatable_cpu_m, 1000))} CPU, "
        f"{gib(budget.allocatable_memory_mib * MIB)} GiB",
        f"  daemonsets {budget.daemonset_cpu_m}m CPU, {budget.daemonset_memory_mib}Mi "
        f"({', '.join(d.name for d in budget.daemonsets)})",
        f"  left for the chart's pods: {cores(Fraction(budget.left_cpu_m, 1000))} CPU, "
        f"{gib(budget.left_memory_mib * MIB)} GiB, {budget.gpus} GPU",
    ]


def fit_table(groups: Iterable[PodGroup]) -> str:
    """A Markdown table: each pod shape, its requests, what one node of its pool has left, the margin."""
    header = (
        "| pod | pool | pods (min/install/max) | CPU | memory GiB | GPU | node left CPU | node left GiB "
        "| margin CPU | margin GiB |"
    )
    lines = [header, "|" + "---|" * 10]
    for g in groups:
        room = budget_room(budgets()[g.pool])
        lines.append(
            f"| {g.name} | {g.pool} | {g.minimum}/{g.replicas}/{g.maximum} | {cores(g.requests.cpu)} "
            f"| {gib(g.requests.memory)} | {cores(g.requests.gpu)} | {cores(room.cpu)} | {gib(room.memory)} "
            f"| {cores(room.cpu - g.requests.cpu)} | {gib(room.memory - g.requests.memory)} |"
        )
    return "\n".join(lines)


def report(groups: list[PodGroup]) -> str:
    """The node budgets, the table, and the nodes each pool needs at install and at the most."""
    lines = []
    for budget in budgets().values():
        lines += budget_lines(budget)
    lines += ["", fit_table(groups), ""]
    for pool in aks_nodes.POOLS.values():
        for count in ("replicas", "maximum"):
            packing = pack(groups, pool.name, count)
            lines.append(
                f"{pool.name} pool at {count}: {len(packing.nodes)} node(s) of {pool.vm.name} "
                f"(pool {pool.node_count}-{pool.max_count})"
                + (f"; no node holds {packing.unplaced}" if packing.unplaced else "")
            )
    errors = fit_errors(groups)
    lines += ["", *(errors or ["every pod fits one node of its pool"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--values", action="append", default=[], help="values file (repeatable)")
    args = parser.parse_args(argv)
    scenarios = {"values": args.values} if args.values else {"defaults": [], "GPU overlay": [str(GPU_VALUES)]}
    for title, files in scenarios.items():
        print(f"## {title}\n\n{report(render_groups(files))}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
