"""The values schema of a workload cluster's overrides, derived from the schema of `rayCluster`.

`rayJobs.<job>.rayCluster` and `rayService.rayCluster` are merged over `rayCluster`, so they take
the same keys with the same types, but none is required (a job sets only what differs) and
`enabled`/`name` do not apply. Helm reads one self-contained values.schema.json, so the derived
schemas sit in it as `definitions.clusterOverrides` and `definitions.workerGroupOverrides`. The one
writer is `make schema` (tools/schemas/chart_values.py), which derives them from
`properties.rayCluster` and `definitions.workerGroup` with derive() below; `make schema-check` and
tests/chart/test_workload_values_schema.py (stale()) fail when the committed ones differ.
"""

from __future__ import annotations

import copy
from typing import Any

from tools.render_chart import CHART_DIR

SCHEMA = CHART_DIR / "values.schema.json"
WORKER_GROUP_REF = "#/definitions/workerGroup"
# Keys of rayCluster that describe the chart's own RayCluster object, not a cluster's shape.
NOT_OVERRIDABLE = ("enabled", "name")


def _optional(node: Any) -> Any:
    """A copy without `required` on objects that are merged; list items keep theirs (lists replace)."""
    if isinstance(node, list):
        return [_optional(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "required":
            continue
        if key == "items":
            out[key] = copy.deepcopy(value)
        elif key == "$ref" and value == WORKER_GROUP_REF:
            out[key] = "#/definitions/workerGroupOverrides"
        else:
            out[key] = _optional(value)
    return out


def derive(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{"clusterOverrides": ..., "workerGroupOverrides": ...} from the rayCluster schema."""
    cluster = _optional(schema["properties"]["rayCluster"])
    for key in NOT_OVERRIDABLE:
        cluster["properties"].pop(key)
    cluster["description"] = "values merged over rayCluster (every key optional)"
    group = _optional(schema["definitions"]["workerGroup"])
    group["description"] = "values merged over the rayCluster worker group of the same name"
    return {"clusterOverrides": cluster, "workerGroupOverrides": group}


def stale(schema: dict[str, Any]) -> list[str]:
    """Names of the derived definitions that differ from what derive() gives."""
    definitions = schema.get("definitions") or {}
    return [name for name, want in derive(schema).items() if definitions.get(name) != want]
