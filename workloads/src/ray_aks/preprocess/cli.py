"""`ray-aks preprocess`: the Typer command; Ray Data loads inside it."""

from __future__ import annotations

import typer

from ray_aks.preprocess.job import PreprocessConfig
from ray_aks.training.cli import build_config, check_input, run_job


def preprocess(
    input: str = typer.Option(
        ..., help="A parquet, CSV or .npy file, or a directory of them (on shared storage in a cluster)."
    ),
    output: str = typer.Option(
        ..., help="New (or empty) directory for the parquet output (shared storage in a cluster)."
    ),
    input_format: str = typer.Option("auto", help="auto (from file suffixes), parquet, csv or numpy."),
    method: str = typer.Option(
        "standard",
        help="standard (zero mean, unit variance per column), minmax ([0, 1] per column) "
        "or l2 (unit-length records).",
    ),
    columns: list[str] = typer.Option(None, help="Numeric columns to normalise (repeatable; default: all)."),
) -> None:
    """Ray Data job: read records, normalise each one, write parquet; reports rows and rows/s."""
    from ray_aks.preprocess.job import check_output, resolve_format
    from ray_aks.preprocess.job import preprocess as run_preprocess

    cfg = build_config(
        PreprocessConfig,
        input=input,
        output=output,
        input_format=input_format,
        method=method,
        columns=columns or None,
    )
    check_input(lambda: resolve_format(cfg.input, cfg.input_format), "--input")
    check_input(lambda: check_output(cfg.output), "--output")
    run_job(run_preprocess, cfg)
