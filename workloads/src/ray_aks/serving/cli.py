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
from ray_aks.serving.apps import SERVE_APPS, SERVE_APPS_BY_NAME
from ray_aks.serving.command_config import ServeCommand


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
    unknown = sorted(set(data) - set(SERVE_APPS_BY_NAME))
    if unknown:
        raise typer.BadParameter(f"unknown apps: {', '.join(unknown)}", param_hint="--args-file")
    return data


@config_command(ServeCommand)
def serve(cfg: ServeCommand) -> None:
    """Run Serve apps with serve.run and print their URLs."""
    import importlib

    apps = list(SERVE_APPS) if cfg.app == "all" else [SERVE_APPS_BY_NAME[cfg.app]]
    names = [spec.name for spec in apps]
    all_args = load_args_file(cfg.args_file)
    applications = {}
    for spec in apps:
        name = spec.name
        module = importlib.import_module(spec.module)
        overrides = {arg: getattr(cfg, option) for option, arg in spec.options.items()}
        args = {**all_args.get(name, {}), **{k: v for k, v in overrides.items() if v is not None}}
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
    for spec in apps:
        # One app answers at the root; with `all` each keeps its own prefix.
        prefix = "/" if len(apps) == 1 else spec.route_prefix
        ray_serve.run(applications[spec.name], name=spec.name, route_prefix=prefix)
        root = base + prefix.rstrip("/")
        endpoints = ", ".join(spec.endpoints)
        typer.echo(f"{spec.name}: {root}  ({endpoints}, GET /healthz, docs {root}/docs)")
    typer.echo(json.dumps({"apps": names, "url": base}))
    if cfg.block:
        typer.echo("serving; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            for name in names:
                ray_serve.delete(name)
