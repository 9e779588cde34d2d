"""A RayJob's defaults live in one place: `rayJobDefaults` (and `rayCronJobDefaults` for what a
RayCronJob adds) in values.yaml. The jobs in `rayJobs` and `rayCronJobs` hold only their own keys, and
the schema gives every key of a job either to the job or to the defaults.
What a render does with them: charts/ray-aks/tests/jobdefaults_test.yaml."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tools.render_chart import CHART_DIR

# What only a job can say: no default fits every job (`name` defaults to the job's key).
OWN_KEYS = {"enabled", "name", "command", "image", "args", "gpuArgs", "storagePath", "entrypointOverride"}


def values() -> dict[str, Any]:
    return yaml.safe_load((CHART_DIR / "values.yaml").read_text())


def schema() -> dict[str, Any]:
    return json.loads((CHART_DIR / "values.schema.json").read_text())


def test_every_key_of_a_job_is_its_own_or_has_a_default() -> None:
    job_keys = set(schema()["definitions"]["rayJob"]["properties"])
    defaults = set(values()["rayJobDefaults"])
    assert job_keys == OWN_KEYS | defaults
    assert OWN_KEYS & defaults == {"image"}  # each job names its repository; the rest has a default


def test_the_default_image_is_a_job_image_without_its_repository() -> None:
    root = schema()
    job_image = set(root["definitions"]["workloadImage"]["properties"])
    default_image = root["properties"]["rayJobDefaults"]["properties"]["image"]["properties"]
    assert set(default_image) == job_image - {"repository"}
    assert set(values()["rayJobDefaults"]["image"]) == set(default_image)


def test_values_yaml_gives_every_default_key_a_value() -> None:
    """A key the schema takes as a default but values.yaml leaves out would default to nothing."""
    root, documented = schema()["properties"], values()
    for name in ("rayJobDefaults", "rayCronJobDefaults"):
        assert set(documented[name]) == set(root[name]["properties"]), name


def test_no_job_repeats_a_default() -> None:
    """A job that writes out a default's value keeps it when the default changes: only its own keys."""
    documented = values()
    repeated = []
    for kind, extra in (("rayJobs", {}), ("rayCronJobs", documented["rayCronJobDefaults"])):
        defaults = {**documented["rayJobDefaults"], **extra}
        for key, job in documented[kind].items():
            for name, value in job.items():
                if name == "image":
                    same = {k for k, v in value.items() if defaults["image"].get(k) == v}
                    repeated += [f"{kind}.{key}.image.{k}" for k in same]
                elif name in defaults and defaults[name] == value:
                    repeated.append(f"{kind}.{key}.{name}")
    assert repeated == []


def test_a_cron_job_keeps_the_job_rules_and_adds_deleting_its_runs() -> None:
    """rayCronJobDefaults.deletionRules are rayJobDefaults' plus `DeleteSelf` (a RayCronJob keeps no
    history), as values.yaml documents them."""
    documented = values()
    cron = documented["rayCronJobDefaults"]["deletionRules"]
    assert [r for r in cron if r["policy"] != "DeleteSelf"] == documented["rayJobDefaults"]["deletionRules"]
    conditions = [{k: v for k, v in r["condition"].items() if k != "ttlSeconds"} for r in cron]
    self_conditions = [c for c, r in zip(conditions, cron, strict=True) if r["policy"] == "DeleteSelf"]
    assert self_conditions == [
        c for c, r in zip(conditions, cron, strict=True) if r["policy"] != "DeleteSelf"
    ]


def test_a_job_key_is_described_by_its_default_comment() -> None:
    """`make schema` describes a job's key by the `rayJobDefaults.<key>` comment (no job documents it)."""
    root = schema()
    job = root["definitions"]["rayJob"]["properties"]
    defaults = root["properties"]["rayJobDefaults"]["properties"]
    for key in set(defaults) - OWN_KEYS:
        assert job[key].get("description"), key
        assert job[key]["description"] == defaults[key]["description"], key
