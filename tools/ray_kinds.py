"""Where each Ray kind keeps its RayCluster spec and its RayJob spec: the one copy the chart checks
(kube-linter's pods) and the exposure check (head Services and Ingresses) both read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The path from the object to its RayClusterSpec (headGroupSpec, workerGroupSpecs, authOptions ...).
RAY_CLUSTER_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
    "RayCronJob": ("spec", "jobTemplate", "rayClusterSpec"),
    "RayService": ("spec", "rayClusterConfig"),
}
# The path from the object to its RayJobSpec (with the submitter pod template).
RAY_JOB_SPEC_PATHS: dict[str, tuple[str, ...]] = {"RayJob": ("spec",), "RayCronJob": ("spec", "jobTemplate")}


def _walk(obj: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any]:
    found: Any = obj
    for key in path:
        found = (found or {}).get(key) or {}
    return found


def ray_cluster_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object's RayClusterSpec ({} where the kind has one but the object leaves it out), or None
    for an object that is not a Ray kind."""
    path = RAY_CLUSTER_SPEC_PATHS.get(obj.get("kind", ""))
    return None if path is None else _walk(obj, path)


def ray_job_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object's RayJobSpec, or None for a kind without one."""
    path = RAY_JOB_SPEC_PATHS.get(obj.get("kind", ""))
    return None if path is None else _walk(obj, path)
