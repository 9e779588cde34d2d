"""Typed config of `ray-aks serve`: its fields are the command's options (ray_aks.cli_options), a
field's description the option's help. The apps' own args are ray_aks.serving.config's models."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ray_aks.serving.apps import SERVE_APPS

# `--app` choices: each app of the registry (ray_aks.serving.apps), or all of them.
AppName = StrEnum("AppName", [(app.name, app.name) for app in SERVE_APPS] + [("all", "all")])


class ServeCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: AppName = Field(AppName.all, description="Which app to run: one of them or all.")
    host: str = Field("127.0.0.1", description="Address Serve's HTTP proxy listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port of Serve's HTTP proxy.")
    address: str | None = Field(
        None, description="Ray cluster to deploy to (default: RAY_ADDRESS, else a new local Ray)."
    )
    mnist_model: str | None = Field(
        None,
        description="MNIST model: models:/<name>@<alias>, models:/<name>/<version> or a checkpoint dir.",
    )
    tracking_uri: str | None = Field(None, description="MLflow tracking URI (default: MLFLOW_TRACKING_URI).")
    textgen_model: str | None = Field(None, description="Text generation model: hub id or local dir.")
    embeddings_model: str | None = Field(
        None, description="sentence-transformers model: hub id or local dir."
    )
    num_cpus: float | None = Field(
        None, ge=0, description="CPUs reserved per replica (default 1; e.g. 0.5 to fit all apps on 2 cores)."
    )
    args_file: Path | None = Field(
        None,
        description="YAML/JSON mapping app name -> builder args (as in serveConfigV2); flags override it.",
    )
    block: bool = Field(True, description="Keep running until Ctrl-C; --no-block returns after deploying.")
