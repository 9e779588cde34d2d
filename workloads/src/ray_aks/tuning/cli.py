"""`ray-aks tune`: the Typer command; Ray Tune loads inside it."""

from __future__ import annotations

import typer

from ray_aks.training.cli import STORAGE_HELP, TRACKING_HELP, build_config, check_mnist_dir, run_job
from ray_aks.training.config import default_storage_path
from ray_aks.tuning.config import TuneMnistConfig


def tune(
    data_dir: str = typer.Option(..., help="Directory of MNIST/Fashion-MNIST idx files (raw or .gz)."),
    download: bool = typer.Option(False, help="Download the dataset with torchvision when it is absent."),
    dataset: str = typer.Option("mnist", help="Which dataset --download fetches: mnist or fashion-mnist."),
    num_samples: int = typer.Option(8, min=1, help="Number of trials (per --lr-grid value when given)."),
    max_epochs: int = typer.Option(4, min=1, help="Epochs of a trial that ASHA lets finish."),
    grace_period: int = typer.Option(1, min=1, help="Epochs each trial runs before ASHA may stop it."),
    reduction_factor: int = typer.Option(2, min=2, help="ASHA keeps the best 1/N of trials at each rung."),
    lr_min: float = typer.Option(1e-4, min=0.0, help="Lower bound of the log-uniform learning rate."),
    lr_max: float = typer.Option(1e-2, min=0.0, help="Upper bound of the log-uniform learning rate."),
    lr_grid: list[float] = typer.Option(None, help="Try exactly these learning rates (repeatable) instead."),
    hidden: list[int] = typer.Option([32, 64, 128], help="Widths of the first linear layer to choose from."),
    batch_size: list[int] = typer.Option([32, 64, 128], help="Batch sizes to choose from."),
    cpus_per_trial: float = typer.Option(1.0, min=0.01, help="CPUs reserved by each trial."),
    use_gpu: bool = typer.Option(False, help="Give each trial one GPU."),
    max_concurrent_trials: int = typer.Option(
        None, min=1, help="Trials at once (default: cluster CPUs / --cpus-per-trial).", show_default=False
    ),
    storage_path: str = typer.Option(None, help=STORAGE_HELP, show_default=False),
    run_name: str = typer.Option(
        None, help="Tune experiment name (default: <experiment>-<timestamp>).", show_default=False
    ),
    experiment_name: str = typer.Option(
        "mnist-tune", help="MLflow experiment (parent run plus one child per trial)."
    ),
    tracking_uri: str = typer.Option(None, help=TRACKING_HELP, show_default=False),
    seed: int = typer.Option(0, help="Seed of the search and of each trial."),
) -> None:
    """Ray Tune with ASHA over learning rate, width and batch size of the MNIST CNN; best config to MLflow."""
    from ray_aks.tuning.mnist_tune import tune_mnist

    cfg = build_config(
        TuneMnistConfig,
        data_dir=data_dir,
        download=download,
        dataset=dataset,
        num_samples=num_samples,
        max_epochs=max_epochs,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
        lr_min=lr_min,
        lr_max=lr_max,
        lr_grid=lr_grid or None,
        hidden_choices=hidden,
        batch_size_choices=batch_size,
        cpus_per_trial=cpus_per_trial,
        use_gpu=use_gpu,
        max_concurrent_trials=max_concurrent_trials,
        storage_path=storage_path or default_storage_path(),
        run_name=run_name,
        experiment_name=experiment_name,
        tracking_uri=tracking_uri,
        seed=seed,
    )
    check_mnist_dir(cfg.data_dir, cfg.download)
    run_job(tune_mnist, cfg)
