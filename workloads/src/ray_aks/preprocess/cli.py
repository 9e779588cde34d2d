"""`ray-aks preprocess`: the Typer command, its options the fields of PreprocessConfig; Ray Data loads
inside it."""

from __future__ import annotations

from ray_aks.cli_options import config_command
from ray_aks.preprocess.config import PreprocessConfig
from ray_aks.training.cli import check_input, run_job


@config_command(PreprocessConfig)
def preprocess(cfg: PreprocessConfig) -> None:
    """Ray Data job: read records, normalise each one, write parquet; reports rows and rows/s."""
    from ray_aks.preprocess.job import check_output, resolve_format
    from ray_aks.preprocess.job import preprocess as run_preprocess

    check_input(lambda: resolve_format(cfg.input, cfg.input_format), "--input")
    check_input(lambda: check_output(cfg.output), "--output")
    run_job(run_preprocess, cfg)
