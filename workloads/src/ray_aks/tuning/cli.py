"""`ray-aks tune`: the Typer command, its options the fields of TuneMnistConfig; Ray Tune loads inside it."""

from __future__ import annotations

from ray_aks.cli_options import config_command
from ray_aks.training.cli import check_mnist_dir, run_job
from ray_aks.tuning.config import TuneMnistConfig


@config_command(TuneMnistConfig)
def tune(cfg: TuneMnistConfig) -> None:
    """Ray Tune with ASHA over learning rate, width and batch size of the MNIST CNN; best config to MLflow."""
    from ray_aks.tuning.mnist_tune import tune_mnist

    check_mnist_dir(cfg.data_dir, cfg.download)
    run_job(tune_mnist, cfg)
