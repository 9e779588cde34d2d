"""The contract between the chart and the code, checked on real renders with the real package.

Every RayJob entrypoint (and every RayCronJob's job template entrypoint) of every ct scenario (and
the GPU overlay with every workload on) parses
with the real `ray-aks` command: Typer's Click command resolves the subcommands and `make_context`
converts and checks every option (types, ranges, required options), without running anything.
Every serveConfigV2 application imports with the real package, and its args validate against the
pydantic Args model of the builder's signature.
"""

from __future__ import annotations

import importlib
import shlex
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError
from ray_aks.cli import app as cli_app
from typer.main import get_command

from tests.chart.every_workload import EVERY_WORKLOAD
from tools.render_chart import CHART_DIR, GPU_VALUES, render

SCENARIOS = sorted((CHART_DIR / "ci").glob("*-values.yaml"))


def _renders() -> dict[str, list[dict[str, Any]]]:
    renders = {path.name: render(values_files=[path]) for path in SCENARIOS}
    renders["gpu overlay, every workload"] = render(values_files=[GPU_VALUES], set_values=EVERY_WORKLOAD)
    renders["cpu, every workload"] = render(set_values=EVERY_WORKLOAD)
    return renders


RENDERS = _renders()


def _of_kind(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}: {obj['metadata']['name']}", obj)
        for name, objects in RENDERS.items()
        for obj in objects
        if obj.get("kind") == kind
    ]


# (where, RayJobSpec): every RayJob's spec and every RayCronJob's job template.
RAY_JOBS = [(where, obj["spec"]) for where, obj in _of_kind("RayJob")] + [
    (where, obj["spec"]["jobTemplate"]) for where, obj in _of_kind("RayCronJob")
]
SERVE_APPS = [
    (f"{where}/{application['name']}", application)
    for where, service in _of_kind("RayService")
    for application in yaml.safe_load(service["spec"]["serveConfigV2"])["applications"]
]


def parse_cli(argv: list[str]) -> Any:
    """The Click context of the leaf command `argv` names, parsed as `ray-aks` would, not run."""
    command: Any = get_command(cli_app)
    name, parent = "ray-aks", None
    while True:
        context = command.make_context(name, list(argv), parent=parent)
        if not hasattr(command, "resolve_command"):
            return context
        name, command, argv = command.resolve_command(context, list(argv))
        parent = context


def builder_args_model(import_path: str) -> type[BaseModel]:
    """Import `module:attr` and return the pydantic model its `args` parameter takes."""
    module_name, _, attribute = import_path.partition(":")
    builder = getattr(importlib.import_module(module_name), attribute)
    assert callable(builder), f"{import_path} is not callable"
    hint = typing.get_type_hints(builder)["args"]
    models = [t for t in typing.get_args(hint) or (hint,) if isinstance(t, type) and issubclass(t, BaseModel)]
    assert len(models) == 1, f"{import_path}'s args annotation {hint} names no single pydantic model"
    return models[0]


def test_the_renders_cover_every_job_command_and_serve_app() -> None:
    commands = {shlex.split(job["entrypoint"])[1] for _, job in RAY_JOBS}
    assert {"train", "tune", "embed"} <= commands
    assert _of_kind("RayCronJob"), "no scenario renders a RayCronJob"
    entrypoints = " ".join(job["entrypoint"] for _, job in RAY_JOBS)
    assert "train mnist" in entrypoints and "train clip-classifier" in entrypoints
    assert {app["import_path"] for _, app in SERVE_APPS} == {
        "ray_aks.serving.mnist:app",
        "ray_aks.serving.textgen:app",
        "ray_aks.serving.embeddings:app",
    }


@pytest.mark.parametrize(("where", "job"), RAY_JOBS, ids=[w for w, _ in RAY_JOBS])
def test_every_rayjob_entrypoint_parses_with_the_ray_aks_cli(where: str, job: dict[str, Any]) -> None:
    argv = shlex.split(job["entrypoint"])
    assert argv[0] == "ray-aks", f"{where}: the entrypoint does not run ray-aks"
    context = parse_cli(argv[1:])
    assert context.params, f"{where}: parsed to a command without parameters"


@pytest.mark.parametrize(("where", "application"), SERVE_APPS, ids=[w for w, _ in SERVE_APPS])
def test_every_serve_app_imports_and_its_args_validate(where: str, application: dict[str, Any]) -> None:
    model = builder_args_model(application["import_path"])
    parsed = model.model_validate(application["args"])
    options = application["args"]["ray_actor_options"]
    assert parsed.ray_actor_options.num_gpus == options["num_gpus"]


def test_gpu_mode_reaches_the_parsed_options() -> None:
    gpu_jobs = [job for where, job in RAY_JOBS if where.startswith("gpu overlay")]
    assert len(gpu_jobs) == 4
    for job in gpu_jobs:
        params = parse_cli(shlex.split(job["entrypoint"])[1:]).params
        assert params.get("use_gpu") is True or params.get("num_gpus", 0) > 0, job["entrypoint"]
    gpu_apps = [app for where, app in SERVE_APPS if where.startswith("gpu overlay")]
    assert gpu_apps
    for app in gpu_apps:
        parsed = builder_args_model(app["import_path"]).model_validate(app["args"])
        assert parsed.device == "cuda", app["name"]


# The checkers themselves: a wrong flag, type or range, or bad app args, must fail them.
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "mnist", "--epoch", "3"], "No such option"),
        (["train", "mnist", "--epochs", "three"], "valid integer"),
        (["train", "mnist", "--num-workers", "0"], "greater than or equal to 1"),
        (["tune"], "Missing parameter: data_dir"),
        (["train", "resnet"], "No such command"),
    ],
)
def test_parse_cli_refuses_what_ray_aks_refuses(argv: list[str], message: str) -> None:
    with pytest.raises(Exception, match=message):
        parse_cli(argv)


def test_builder_args_model_refuses_unknown_and_invalid_args() -> None:
    model = builder_args_model("ray_aks.serving.mnist:app")
    with pytest.raises(ValidationError):
        model.model_validate({"model": "models:/m@a", "num_gpus": 1})
    with pytest.raises(ValidationError):
        model.model_validate({"autoscaling_config": {"min_replicas": 3, "max_replicas": 1}})


def test_the_scenarios_are_yaml_files_of_the_chart() -> None:
    assert SCENARIOS and all(Path(p).parent == CHART_DIR / "ci" for p in SCENARIOS)


def test_the_serve_cluster_runs_with_the_serve_settings_of_local_serve() -> None:
    """rayService.throughputOptimized renders ray_aks.serving.local.SERVE_ENV, no more and no less, on
    every container of the Serve cluster: the pods serve as `ray-aks serve`, the tests and the
    benchmarks do."""
    from ray_aks.serving.local import SERVE_ENV

    services = _of_kind("RayService")
    assert services
    for where, service in services:
        cluster = service["spec"]["rayClusterConfig"]
        pods = [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]
        for pod in pods:
            env = {e["name"]: e.get("value") for e in pod["template"]["spec"]["containers"][0]["env"]}
            rendered = {name: value for name, value in env.items() if name.startswith("RAY_SERVE_")}
            assert rendered == SERVE_ENV, where
