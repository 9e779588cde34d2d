"""`ray-aks.rayJobDefaults` (what a job in rayJobs or rayCronJobs leaves out) against `rayJobs.mnist`,
the job values.yaml documents in full: the two must not drift apart."""

from __future__ import annotations

import re

import yaml

from tools.render_chart import CHART_DIR

# Keys where rayJobs.mnist differs from what a job gets by leaving them out, on purpose.
MNIST_OWN = {
    "command",  # each job runs its own command
    "args",
    "gpuArgs",
    "enabled",  # every job is off until enabled
    "storagePath",  # the default is no --storage-path; MNIST's keeps checkpoints on the shared storage
    "deletionRules",  # null on both: ray-aks.defaultDeletionRules then decides
}


def job_defaults() -> dict:
    text = (CHART_DIR / "templates" / "workloads" / "_workloads.tpl").read_text()
    body = re.search(r'{{- define "ray-aks.rayJobDefaults" -}}\n(.*?){{- end -}}', text, re.DOTALL)
    assert body, "ray-aks.rayJobDefaults not found in _workloads.tpl"
    assert "{{" not in body.group(1), "the defaults are plain YAML"
    return yaml.safe_load(body.group(1))


def test_a_job_that_leaves_a_key_out_gets_what_rayjobs_mnist_documents() -> None:
    mnist = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["rayJobs"]["mnist"]
    defaults = job_defaults()
    assert set(defaults) - {"args", "gpuArgs", "storagePath"} == set(mnist) - MNIST_OWN
    for key, value in defaults.items():
        if key in MNIST_OWN:
            continue
        if key == "image":  # each job names its image's repository
            assert value == {k: v for k, v in mnist["image"].items() if k != "repository"}
            continue
        assert mnist[key] == value, (
            f"rayJobs.mnist.{key} is {mnist[key]!r}, a job that leaves it out gets {value!r}"
        )
