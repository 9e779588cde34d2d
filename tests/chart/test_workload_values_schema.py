"""The values schema of the RayJob and RayService cluster overrides follows rayCluster's schema,
and a RayCronJob's follows a RayJob's.

`rayJobs.<job>.rayCluster` and `rayService.rayCluster` are merged over `rayCluster`, so their schema
is derived from rayCluster's (tools/cluster_overrides_schema.py): same keys and types, none required.
A `rayCronJobs` entry is a `rayJobs` entry (its job template) plus schedule, timeZone and suspend.
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


# What a RayCronJob adds to a rayJobs entry, and what it narrows (KubeRay 1.7 limits a RayCronJob
# name to 36 characters: each run is a RayJob named `<name>-<suffix>`).
CRON_ONLY = {"schedule", "timeZone", "suspend"}


def test_a_raycronjob_takes_every_rayjob_key_with_the_same_schema() -> None:
    """Each key refers to the rayJob key's schema (no copy to keep in step); `name` narrows it."""
    definitions = json.loads(SCHEMA.read_text())["definitions"]
    job, cron = definitions["rayJob"], definitions["rayCronJob"]
    assert set(cron["properties"]) == set(job["properties"]) | CRON_ONLY
    for key in job["properties"]:
        schema = cron["properties"][key]
        ref = {"$ref": f"#/definitions/rayJob/properties/{key}"}
        if key == "name":
            assert schema["allOf"] == [ref] and schema["maxLength"] == 36
        else:
            assert {k: v for k, v in schema.items() if k != "description"} == ref, key
    assert cron["additionalProperties"] is False
    assert set(cron["required"]) == set(job["required"]) | {"schedule"}
