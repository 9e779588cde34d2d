"""Find every pod spec in rendered objects and judge its GPU placement, without knowing the kinds.

A pod spec is any mapping with a `containers` list, wherever it sits: a Pod's `spec`, a
RayCluster's head and worker group templates, a RayJob's or RayService's `rayClusterSpec`, a
Deployment's template. Tolerations are matched with the Kubernetes rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"
AKS_GPU_LABEL = ("kubernetes.azure.com/accelerator", "nvidia")
# Taints of AKS GPU pools: AKS docs use sku=gpu:NoSchedule; the NVIDIA GPU operator uses nvidia.com/gpu.
AKS_GPU_TAINTS = (
    {"key": "sku", "value": "gpu", "effect": "NoSchedule"},
    {"key": GPU_RESOURCE, "value": "", "effect": "NoSchedule"},
)


@dataclass(frozen=True)
class PodSpec:
    """A pod spec found in a rendered object, with where it was found."""

    kind: str
    name: str
    path: str
    spec: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.kind}/{self.name} at {self.path}"


def pod_specs(objects: list[Mapping[str, Any]]) -> list[PodSpec]:
    """Every pod spec in every object, depth first."""
    found = []
    for obj in objects:
        kind = obj.get("kind", "?")
        name = (obj.get("metadata") or {}).get("name", "?")
        for path, spec in _walk(obj, ""):
            found.append(PodSpec(kind, name, path, spec))
    return found


def _walk(node: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        containers = node.get("containers")
        if isinstance(containers, list) and all(isinstance(c, Mapping) for c in containers):
            yield path or ".", node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{path}[{i}]")


def requests_gpu(spec: Mapping[str, Any]) -> bool:
    """True when any container or init container asks for nvidia.com/gpu (requests or limits)."""
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        for block in ("requests", "limits"):
            if GPU_RESOURCE in (resources.get(block) or {}):
                return True
    return False


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, str]) -> bool:
    """Kubernetes' rule: effect empty or equal; Exists matches the key (or every key); Equal key and value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint["effect"]:
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return key in ("", taint["key"])
    return key == taint["key"] and (toleration.get("value") or "") == taint["value"]


def tolerated_gpu_taints(spec: Mapping[str, Any]) -> list[str]:
    """The AKS GPU taints some toleration of the pod matches, as key=value:effect."""
    tolerations = spec.get("tolerations") or []
    return [
        f"{taint['key']}={taint['value']}:{taint['effect']}"
        for taint in AKS_GPU_TAINTS
        if any(tolerates(t, taint) for t in tolerations)
    ]


def selects_gpu_nodes(spec: Mapping[str, Any]) -> bool:
    """True when the pod can only land on nodes labelled kubernetes.azure.com/accelerator=nvidia."""
    key, value = AKS_GPU_LABEL
    if (spec.get("nodeSelector") or {}).get(key) == value:
        return True
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    # Every term (they are ORed) must pin the label, or some term would admit other nodes.
    return bool(terms) and all(
        any(
            expr.get("key") == key and expr.get("operator") == "In" and expr.get("values") == [value]
            for expr in term.get("matchExpressions") or []
        )
        for term in terms
    )


def mentions_gpu_nodes(spec: Mapping[str, Any]) -> bool:
    """True when the pod's nodeSelector or node affinity names the AKS GPU label at all."""
    key, _ = AKS_GPU_LABEL
    if key in (spec.get("nodeSelector") or {}):
        return True
    return key in repr((spec.get("affinity") or {}).get("nodeAffinity") or {})


def gpu_placement_errors(objects: list[Mapping[str, Any]]) -> list[str]:
    """What is wrong with GPU placement in a render: one line per pod spec and problem."""
    errors = []
    for pod in pod_specs(objects):
        tolerated = tolerated_gpu_taints(pod.spec)
        if requests_gpu(pod.spec):
            if not selects_gpu_nodes(pod.spec):
                errors.append(f"{pod.where}: requests {GPU_RESOURCE} but does not select {AKS_GPU_LABEL[0]}")
            if len(tolerated) != len(AKS_GPU_TAINTS):
                errors.append(f"{pod.where}: requests {GPU_RESOURCE} but tolerates only {tolerated}")
        else:
            if tolerated:
                errors.append(f"{pod.where}: requests no GPU but tolerates GPU taints {tolerated}")
            if mentions_gpu_nodes(pod.spec):
                errors.append(f"{pod.where}: requests no GPU but selects GPU nodes")
    return errors
