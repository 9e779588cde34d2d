"""The values schema of the RayJob and RayService cluster overrides follows rayCluster's schema.

`rayJobs.<job>.rayCluster` and `rayService.rayCluster` are merged over `rayCluster`, so their schema
is derived from rayCluster's (tools/cluster_overrides_schema.py): same keys and types, none required.
"""

from __future__ import annotations

import copy
import json

from tools.cluster_overrides_schema import SCHEMA, derive, stale


def test_the_override_definitions_match_the_raycluster_schema() -> None:
    assert stale(json.loads(SCHEMA.read_text())) == []


def test_a_new_raycluster_key_makes_the_overrides_stale() -> None:
    schema = json.loads(SCHEMA.read_text())
    changed = copy.deepcopy(schema)
    changed["properties"]["rayCluster"]["properties"]["newKey"] = {"type": "string"}
    assert stale(changed) == ["clusterOverrides"]


def test_overrides_require_nothing_and_leave_out_enabled_and_name() -> None:
    derived = derive(json.loads(SCHEMA.read_text()))["clusterOverrides"]
    assert "required" not in derived
    assert not {"enabled", "name"} & set(derived["properties"])
    assert derived["additionalProperties"] is False
