"""`ray-aks embed`: the batch embedding pipeline from the command line (RayJob entrypoints call it).
Its options are the fields of EmbedCommand (ray_aks.cli_options); Ray and models load when it runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ray_aks.cli_options import config_command
from ray_aks.embedding.config import EmbedCommand


@config_command(EmbedCommand)
def embed(cfg: EmbedCommand) -> None:
    """Embed text lines, parquet text or images with Ray Data and write parquet with ids and vectors."""
    if not Path(cfg.input).exists():
        raise typer.BadParameter(f"{cfg.input} does not exist", param_hint="--input")

    from ray_aks.embedding.pipeline import prepare_output, run_embedding

    try:
        prepare_output(cfg.output, cfg.overwrite)  # before Ray starts: a full output is refused at once
    except FileExistsError as err:
        raise typer.BadParameter(str(err), param_hint="--output") from None

    from ray_aks.local_ray import connect_ray

    connect_ray(cfg.address)
    report = run_embedding(cfg, overwrite=cfg.overwrite)
    typer.echo(report.line())
    if cfg.report_json:
        report_fields = ("rows", "seconds", "rows_per_s", "dimension", "output", "actors", "torch_threads")
        cfg.report_json.write_text(json.dumps({name: getattr(report, name) for name in report_fields}))
