"""The values file `make aks` writes renders with the chart, CPU and GPU, against its schema.

The file is made the way `make aks` makes it: the module's `tofu output -json` (here from the
real tofu on the module, with stand-ins where Azure assigns ids) piped into
`python -m tools.infra.aks_values - --output FILE`. `helm template` validates it against
values.schema.json; the render must then carry what the file asks for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.support.make import commands, make
from tools.infra.aks_values import OutputsError, chart_values
from tools.infra.harness import Evaluation, TofuError, evaluate
from tools.render_chart import GPU_VALUES, RenderError, render

Objects = list[dict[str, Any]]


def write_values_file(evaluation: Evaluation, path: Path) -> Path:
    """`make aks`'s own pipeline: tofu output -json | python -m tools.infra.aks_values - --output PATH."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.infra.aks_values", "-", "--output", str(path)],
        input=evaluation.output_json,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return path


def kinds(objects: Objects, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def containers(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if "containers" in node and isinstance(node["containers"], list):
            found += node["containers"]
        for value in node.values():
            found += containers(value)
    elif isinstance(node, list):
        for value in node:
            found += containers(value)
    return found


def test_make_aks_writes_the_values_file_with_this_pipeline() -> None:
    out = make("-n", "aks", "TOFU=/opt/tofu").stdout
    pipeline = [c for c in commands(out) if "tools.infra.aks_values" in c]
    assert pipeline == [
        "/opt/tofu -chdir=infra output -json | "
        f"{REPO_ROOT}/.venv/bin/python -m tools.infra.aks_values - --output infra/aks-values.yaml"
    ]


@pytest.fixture(scope="module")
def values_file(module_defaults: Evaluation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_values_file(module_defaults, tmp_path_factory.mktemp("aks") / "aks-values.yaml")


@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_the_values_file_renders_cpu_and_gpu(
    values_file: Path, module_defaults: Evaluation, variant: str
) -> None:
    files = [values_file] + ([GPU_VALUES] if variant == "gpu" else [])
    objects = render(files)
    storage = module_defaults.value("shared_storage")
    (storage_class,) = kinds(objects, "StorageClass")
    parameters = storage_class["parameters"]
    assert parameters["storageAccount"] == storage["account_name"]
    assert parameters["resourceGroup"] == module_defaults.value("resource_group_name")
    assert parameters["containerName"] == storage["container_name"]
    assert parameters["clientID"] == module_defaults.value("workload_identity")["client_id"]
    assert parameters["mountWithWorkloadIdentityToken"] == "true"
    class_name = storage_class["metadata"]["name"]
    (claim,) = [
        c for c in kinds(objects, "PersistentVolumeClaim") if c["spec"].get("storageClassName") == class_name
    ]
    (cluster,) = kinds(objects, "RayCluster")
    groups = [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]
    for group in groups:
        pod = group["template"]
        assert pod["metadata"]["labels"].get("azure.workload.identity/use") == "true"
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"].get("volumes", [])
            if "persistentVolumeClaim" in v
        ]
        assert claim["metadata"]["name"] in claims, (
            f"{group.get('groupName', 'head')} does not mount the shared storage"
        )
    if variant == "gpu":
        assert any(g.get("groupName") == "gpu" for g in cluster["spec"]["workerGroupSpecs"])


def test_the_registry_is_the_one_the_ray_aks_images_come_from(
    values_file: Path, module_defaults: Evaluation
) -> None:
    registry = module_defaults.value("acr_login_server")
    assert registry == f"{module_defaults.value('acr_name')}.azurecr.io"
    objects = render([values_file], {"rayJobs.mnist.enabled": True})
    images = {c["image"] for job in kinds(objects, "RayJob") for c in containers(job)}
    ours = {i for i in images if "/ray-aks-" in i}
    assert ours and all(i.startswith(f"{registry}/") for i in ours), images


def test_the_options_render_mlflow_on_the_shared_storage_and_azure_podmonitors(
    module_with_options: Evaluation, tmp_path: Path
) -> None:
    values_file = write_values_file(module_with_options, tmp_path / "aks-values.yaml")
    objects = render([values_file, GPU_VALUES])
    (mlflow,) = [d for d in kinds(objects, "Deployment") if "mlflow" in d["metadata"]["name"]]
    args = mlflow["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--artifacts-destination=/mnt/cluster_storage/mlflow/artifacts" in args
    monitors = kinds(objects, "PodMonitor")
    assert monitors and all(m["apiVersion"] == "azmonitoring.coreos.com/v1" for m in monitors)


def test_without_shared_storage_the_values_leave_storage_alone(tmp_path: Path) -> None:
    evaluation = evaluate({"mount_shared_storage": False})
    values = chart_values(evaluation.outputs)
    assert set(values) == {"global", "serviceAccount", "workloadIdentity"}
    objects = render([write_values_file(evaluation, tmp_path / "aks-values.yaml")])
    assert not kinds(objects, "StorageClass")


def test_mlflow_on_shared_storage_without_it_is_refused_by_name() -> None:
    with pytest.raises(TofuError) as refused:
        evaluate({"mount_shared_storage": False, "mlflow_artifacts_on_shared_storage": True})
    assert "mlflow_artifacts_on_shared_storage needs mount_shared_storage" in refused.value.message


def test_a_values_file_the_schema_refuses_fails_the_render(values_file: Path, tmp_path: Path) -> None:
    """The render checks the file against the chart's schema (a key the chart lacks is refused)."""
    broken = tmp_path / "broken.yaml"
    values = yaml.safe_load(values_file.read_text())
    values["workloadIdentity"]["clientID"] = values["workloadIdentity"].pop("clientId")
    broken.write_text(yaml.safe_dump(values))
    with pytest.raises(RenderError) as refused:
        render([broken])
    assert "clientID" in refused.value.stderr


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "no output 'chart_values'"),
        ({"chart_values": {"sensitive": True, "value": {"global": {}}}}, "is sensitive"),
        ({"chart_values": {"sensitive": False, "value": {}}}, "non-empty object"),
        ([], "JSON object of outputs"),
    ],
)
def test_the_writer_refuses_what_is_not_the_modules_output(document: Any, message: str) -> None:
    with pytest.raises(OutputsError, match=message):
        chart_values(document)


def test_the_writer_cli_names_a_missing_output_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "values.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "tools.infra.aks_values", "-", "--output", str(target)],
        input='{"cluster_name": {"sensitive": false, "type": "string", "value": "ray-aks"}}',
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "no output 'chart_values'" in result.stderr
    assert not target.exists()
