"""A seeded mutator of the chart's values: each mutation is one bad or odd change to the default
values or to the GPU overlay, with the values path it touches.

Mutations are whole values files (helm merges them over values.yaml); a key set to null is how a
values file removes a default key, so "missing required key" mutations set it to null.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.reliability.chart_tools import load_yaml
from tools.render_chart import CHART_DIR, GPU_VALUES

Path_ = tuple[str | int, ...]

# Upstream kuberay-operator values are checked by its own chart, which offline renders leave out.
SUBCHART_KEY = "kuberay-operator"
UNKNOWN_PREFIX = "zzfuzz"

KINDS = (
    "wrong_type",
    "out_of_range",
    "huge_number",
    "unknown_key",
    "missing_required",
    "empty_string",
    "bad_enum",
    "gpu_odd",
)


@dataclass(frozen=True)
class Mutation:
    kind: str
    base: str  # "defaults" or "gpu"
    path: Path_
    value: Any  # what was put at path (None: removed)
    values: dict[str, Any]  # the whole values file

    def describe(self) -> str:
        return (
            f"{self.kind} on {self.base} at {dotted(self.path)} = {json.dumps(self.value, default=str)[:80]}"
        )


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def pointer(path: Path_) -> str:
    """The JSON pointer of path, as schema errors write it ('/' in a key is escaped as '~1')."""
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def defaults() -> dict[str, Any]:
    return load_yaml(CHART_DIR / "values.yaml")


def gpu_overlay() -> dict[str, Any]:
    return load_yaml(GPU_VALUES)


def schema() -> dict[str, Any]:
    return json.loads((CHART_DIR / "values.schema.json").read_text())


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def subschema(root: dict[str, Any], path: Path_) -> dict[str, Any] | None:
    """The schema of the value at path (following properties, patternProperties, items, $ref)."""
    node: dict[str, Any] | None = root
    for part in path:
        node = _resolve(root, node)
        if node is None:
            return None
        if isinstance(part, int):
            node = node.get("items") if isinstance(node.get("items"), dict) else None
            continue
        props = node.get("properties") or {}
        if part in props:
            node = props[part]
        elif node.get("patternProperties"):
            node = next(iter(node["patternProperties"].values()))
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return _resolve(root, node)


def _resolve(root: dict[str, Any], node: dict[str, Any] | None) -> dict[str, Any] | None:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _paths(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            if path == () and key == SUBCHART_KEY:
                yield (key, "enabled"), value.get("enabled")
                continue
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _paths(item, (*path, i))


def _enable_features(values: dict[str, Any], path: Path_) -> None:
    """Set every `enabled` flag on the way to path, and a registry for the workload images. A section
    without a flag of its own whose settings serve its sub-features (`monitoring.labels` labels the
    PodMonitors and the PrometheusRule) gets those turned on: otherwise nothing renders the key."""
    node: Any = values
    for depth, part in enumerate(path):
        if isinstance(node, dict) and "enabled" in node:
            node["enabled"] = True
        child = node[part]
        if depth and isinstance(node, dict) and "enabled" not in node and not _has_flag(child):
            for feature in node.values():
                if _has_flag(feature):
                    feature["enabled"] = True
        node = child
    if path and path[0] in ("rayJobs", "rayService") and not values["global"].get("imageRegistry"):
        values["global"]["imageRegistry"] = "fuzz.azurecr.io"


def _has_flag(node: Any) -> bool:
    return isinstance(node, dict) and "enabled" in node


def _set(values: dict[str, Any], path: Path_, value: Any) -> None:
    node: Any = values
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _other_type(rng: random.Random, current: Any) -> Any:
    choices = ["not-a-number", 12345, True, [1, "two"], {"nested": "map"}, 2.5, "yes"]
    return rng.choice([c for c in choices if type(c) is not type(current) or c == "yes"])


class ValuesMutator:
    """Mutation n is a pure function of (seed, n)."""

    def __init__(self, seed: int = 20261122):
        self.seed = seed
        self.schema = schema()
        self.bases = {"defaults": defaults()}
        self.bases["gpu"] = merged(self.bases["defaults"], gpu_overlay())

    def mutation(self, n: int) -> Mutation:
        rng = random.Random(f"{self.seed}-{n}")
        kind = KINDS[n % len(KINDS)]
        base_name = "gpu" if kind == "gpu_odd" or rng.random() < 0.3 else "defaults"
        values = copy.deepcopy(self.bases[base_name])
        path, value = getattr(self, f"_{kind}")(rng, values)
        if path:
            _set(values, path, value)
        return Mutation(kind, base_name, path, value, values)

    def mutations(self, count: int) -> list[Mutation]:
        return [self.mutation(n) for n in range(count)]

    # Each mutation kind picks a path and the value to put there.

    def _leaves(self, values: dict[str, Any], want=lambda v: True) -> list[tuple[Path_, Any]]:
        return [(p, v) for p, v in _paths(values) if p and not isinstance(v, dict | list) and want(v)]

    def _containers(self, values: dict[str, Any]) -> list[Path_]:
        return [p for p, v in _paths(values) if isinstance(v, dict) and (not p or p[0] != SUBCHART_KEY)]

    def _wrong_type(self, rng, values):
        path, current = rng.choice([(p, v) for p, v in _paths(values) if p])
        return path, _other_type(rng, current)

    def _out_of_range(self, rng, values):
        numbers = self._leaves(values, lambda v: isinstance(v, int | float) and not isinstance(v, bool))
        numbers += self._leaves(values, lambda v: isinstance(v, str) and v[:1].isdigit())
        path, _ = rng.choice(numbers)
        return path, rng.choice([-1, 0, -100000, "-1", "0", "1e400", 0.5])

    def _huge_number(self, rng, values):
        path, _ = rng.choice([(p, v) for p, v in _paths(values) if p])
        return path, rng.choice([2**63, 10**18, 1e308, 2**31, "99999999999999999999"])

    def _unknown_key(self, rng, values):
        parent = rng.choice(
            [
                p
                for p in self._containers(values)
                # `global` is Helm's map shared with subcharts, open by convention; a job's gpuArgs
                # reach its entrypoint only in GPU mode.
                if p[:1] != ("global",) and (values["global"]["gpu"] or "gpuArgs" not in p)
            ]
        )
        key = f"{UNKNOWN_PREFIX}{rng.randrange(10**6)}"
        if (subschema(self.schema, parent) or {}).get("additionalProperties") is not False:
            # A free-form map the chart passes through (Serve app args, actor options, annotations):
            # its keys reach the output only while its feature renders, so turn the feature on.
            _enable_features(values, parent)
        return (*parent, key), rng.choice(["a-string", 7, True, {"k": "v"}])

    def _missing_required(self, rng, values):
        required = []
        for path, node in _paths(values):
            sub = subschema(self.schema, path) if isinstance(node, dict) else None
            for key in (sub or {}).get("required") or []:
                if key in node and (not path or path[0] != SUBCHART_KEY):
                    required.append((*path, key))
        return rng.choice(required), None

    def _empty_string(self, rng, values):
        path, _ = rng.choice([(p, v) for p, v in _paths(values) if p and not isinstance(v, dict | list)])
        return path, ""

    def _bad_enum(self, rng, values):
        enums = []
        for path, _node in _paths(values):
            sub = subschema(self.schema, path) if path else None
            if sub and "enum" in sub:
                enums.append(path)
        return rng.choice(enums), rng.choice(["Bogus", "clusterip", "TOKEN", " ", "none"])

    def _gpu_odd(self, rng, values):
        gpu = ("rayCluster", "workerGroups", "gpu")
        odd: list[tuple[Path_, Any]] = [
            ((*gpu, "enabled"), False),
            ((*gpu, "resources", "limits", "nvidia.com/gpu"), rng.choice([0, -1, "one", 1000, 0.5])),
            ((*gpu, "resources", "requests", "nvidia.com/gpu"), rng.choice([0, 2, "1"])),
            ((*gpu, "resources", "limits"), {"cpu": "3", "memory": "20Gi"}),
            ((*gpu, "maxReplicas"), rng.choice([0, -2, 10**9])),
            ((*gpu, "minReplicas"), rng.choice([3, -1])),
            ((*gpu, "replicas"), rng.choice([5, -1, None])),
            ((*gpu, "tolerations"), rng.choice([[], [{"key": "sku"}], "gpu"])),
            ((*gpu, "nodeSelector"), rng.choice([{}, {"kubernetes.azure.com/accelerator": "amd"}])),
            ((*gpu, "image", "tag"), rng.choice(["", "latest", "2.60.0-py311-cpu"])),
            (("global", "gpu"), rng.choice([False, "true", 1])),
            (("rayCluster", "workerGroups", "gpu-" + "x" * 40), {"enabled": True}),
            (
                ("rayCluster", "workerGroups", "GPU_Big"),
                copy.deepcopy(values["rayCluster"]["workerGroups"]["gpu"]),
            ),
        ]
        return rng.choice(odd)
