"""`ray-aks serve`: run one or all Serve apps on a local (or given) Ray cluster and print their URLs.

Imports only typer at module level; Ray and the builders load when the command runs.
"""

from __future__ import annotations

import json
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer


class AppName(StrEnum):
    mnist = "mnist"
    textgen = "textgen"
    embeddings = "embeddings"
    all = "all"


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


def serve(
    app: AppName = typer.Option(AppName.all, "--app", help="Which app to run: one of them or all."),
    host: str = typer.Option("127.0.0.1", help="Address Serve's HTTP proxy listens on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port of Serve's HTTP proxy."),
    address: str | None = typer.Option(
        None, help="Ray cluster to deploy to (default: RAY_ADDRESS, else a new local Ray)."
    ),
    mnist_model: str | None = typer.Option(
        None, help="MNIST model: models:/<name>@<alias>, models:/<name>/<version> or a checkpoint dir."
    ),
    tracking_uri: str | None = typer.Option(None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)."),
    textgen_model: str | None = typer.Option(None, help="Text generation model: hub id or local dir."),
    embeddings_model: str | None = typer.Option(
        None, help="sentence-transformers model: hub id or local dir."
    ),
    num_cpus: float | None = typer.Option(
        None, min=0, help="CPUs reserved per replica (default 1; e.g. 0.5 to fit all apps on 2 cores)."
    ),
    args_file: Path | None = typer.Option(
        None, help="YAML/JSON mapping app name -> builder args (as in serveConfigV2); flags override it."
    ),
    block: bool = typer.Option(True, help="Keep running until Ctrl-C; --no-block returns after deploying."),
) -> None:
    """Run Serve apps with serve.run and print their URLs."""
    import importlib

    names = list(BUILDERS) if app is AppName.all else [app.value]
    all_args = load_args_file(args_file)
    overrides = {
        "mnist": {"model": mnist_model, "tracking_uri": tracking_uri},
        "textgen": {"model": textgen_model},
        "embeddings": {"model": embeddings_model},
    }
    applications = {}
    for name in names:
        module = importlib.import_module(BUILDERS[name])
        args = {**all_args.get(name, {}), **{k: v for k, v in overrides[name].items() if v is not None}}
        if num_cpus is not None:
            args["ray_actor_options"] = {**args.get("ray_actor_options", {}), "num_cpus": num_cpus}
        try:
            applications[name] = module.app(args)
        except ValueError as err:
            raise typer.BadParameter(str(err)) from None

    import ray
    from ray import serve as ray_serve

    from ray_aks.serving.local import apply_serve_env, start_serve

    if not ray.is_initialized():
        if not block and address is None and not os.environ.get("RAY_ADDRESS"):
            # A Ray started by this command stops when it exits, and the apps with it.
            raise typer.BadParameter("--no-block needs --address (or RAY_ADDRESS) of a running Ray cluster")
        if address is None and not os.environ.get("RAY_ADDRESS"):
            apply_serve_env()  # a Ray started here gets the Serve settings the chart's pods get
        ray.init(address=address)
    base = start_serve(host, port)
    for name, application in applications.items():
        prefix = "/" if len(names) == 1 else PREFIX_WHEN_ALL[name]
        ray_serve.run(application, name=name, route_prefix=prefix)
        root = base + prefix.rstrip("/")
        typer.echo(f"{name}: {root}  ({ENDPOINTS[name]}, GET /healthz, docs {root}/docs)")
    typer.echo(json.dumps({"apps": names, "url": base}))
    if block:
        typer.echo("serving; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            for name in names:
                ray_serve.delete(name)
