"""`ray-aks serve`: run one or all Serve apps on a local (or given) Ray cluster and print their URLs.

Its options are the fields of ServeCommand (ray_aks.cli_options). Imports only typer and the typed
config at module level; Ray and the builders load when the command runs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import typer

from ray_aks.cli_options import config_command
from ray_aks.serving.command_config import AppName, ServeCommand

# Builder import paths and what each app answers; with `all`, textgen keeps the root prefix so the
# seed's client still posts to /text/simple-gen.
BUILDERS = {
    "mnist": "ray_aks.serving.mnist",
    "textgen": "ray_aks.serving.textgen",
    "embeddings": "ray_aks.serving.embeddings",
}
PREFIX_WHEN_ALL = {"mnist": "/mnist", "textgen": "/", "embeddings": "/embed"}
ENDPOINTS = {
    "mnist": "POST /predict, POST / (seed 000)",
    "textgen": "POST /text/simple-gen",
    "embeddings": "POST /embeddings",
}


def load_args_file(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise typer.BadParameter(f"cannot read {path}: {err}", param_hint="--args-file") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise typer.BadParameter("expected a mapping of app name to its args", param_hint="--args-file")
    unknown = sorted(set(data) - set(BUILDERS))
    if unknown:
        raise typer.BadParameter(f"unknown apps: {', '.join(unknown)}", param_hint="--args-file")
    return data


@config_command(ServeCommand)
def serve(cfg: ServeCommand) -> None:
    """Run Serve apps with serve.run and print their URLs."""
    import importlib

    names = list(BUILDERS) if cfg.app is AppName.all else [cfg.app.value]
    all_args = load_args_file(cfg.args_file)
    overrides = {
        "mnist": {"model": cfg.mnist_model, "tracking_uri": cfg.tracking_uri},
        "textgen": {"model": cfg.textgen_model},
        "embeddings": {"model": cfg.embeddings_model},
    }
    applications = {}
    for name in names:
        module = importlib.import_module(BUILDERS[name])
        args = {**all_args.get(name, {}), **{k: v for k, v in overrides[name].items() if v is not None}}
        if cfg.num_cpus is not None:
            args["ray_actor_options"] = {**args.get("ray_actor_options", {}), "num_cpus": cfg.num_cpus}
        try:
            applications[name] = module.app(args)
        except ValueError as err:
            raise typer.BadParameter(str(err)) from None

    import ray
    from ray import serve as ray_serve

    from ray_aks.local_ray import connect_ray
    from ray_aks.serving.local import start_serve

    if not ray.is_initialized():
        if not (cfg.block or cfg.address or os.environ.get("RAY_ADDRESS")):
            # A Ray started by this command stops when it exits, and the apps with it.
            raise typer.BadParameter("--no-block needs --address (or RAY_ADDRESS) of a running Ray cluster")
        # A local Ray gets the Serve settings the chart's pods get, retried on a loaded machine.
        dashboard = connect_ray(cfg.address)
        if dashboard:
            typer.echo(f"Ray dashboard: {dashboard}")
    base = start_serve(cfg.host, cfg.port)
    for name, application in applications.items():
        prefix = "/" if len(names) == 1 else PREFIX_WHEN_ALL[name]
        ray_serve.run(application, name=name, route_prefix=prefix)
        root = base + prefix.rstrip("/")
        typer.echo(f"{name}: {root}  ({ENDPOINTS[name]}, GET /healthz, docs {root}/docs)")
    typer.echo(json.dumps({"apps": names, "url": base}))
    if cfg.block:
        typer.echo("serving; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            for name in names:
                ray_serve.delete(name)
