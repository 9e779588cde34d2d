"""`ray-aks train ...`: Typer commands whose options are the typed configs' fields (ray_aks.cli_options);
Ray and torch load inside them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import typer

from ray_aks.cli_options import config_command
from ray_aks.training.config import ClipClassifierConfig, MnistTrainConfig

train_app = typer.Typer(
    help="Distributed training with Ray Train (local Ray, or the cluster in RAY_ADDRESS).",
    no_args_is_help=True,
)

ConfigT = TypeVar("ConfigT")


def check_input(check: Callable[[], object], param_hint: str) -> None:
    """Run a pre-flight check of an input path; a problem is a usage error naming the option."""
    try:
        check()
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        raise typer.BadParameter(str(err), param_hint=param_hint) from None


def check_mnist_dir(data_dir: str, download: bool) -> None:
    import importlib.util

    from ray_aks.data.mnist import find_mnist_dir, load_mnist_dir

    if not download or find_mnist_dir(data_dir) is not None:
        check_input(lambda: load_mnist_dir(data_dir), "--data-dir")
    elif importlib.util.find_spec("torchvision") is None:
        raise typer.BadParameter(
            "needs torchvision, which is not installed: pip install 'ray-aks-workloads[download]'",
            param_hint="--download",
        )


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_job(fn: Callable[[ConfigT], object], cfg: ConfigT) -> None:
    configure_logging()
    fn(cfg)


@train_app.command("mnist")
@config_command(MnistTrainConfig)
def mnist(cfg: MnistTrainConfig) -> None:
    """Train the MNIST CNN with Ray Train (DDP), checkpoint every epoch, log and register it in MLflow."""
    from ray_aks.training.mnist import train_mnist

    check_mnist_dir(cfg.data_dir, cfg.download)
    run_job(train_mnist, cfg)


@train_app.command("clip-classifier")
@config_command(ClipClassifierConfig)
def clip_classifier(cfg: ClipClassifierConfig) -> None:
    """CLIP image embeddings (Ray Data) -> cached parquet -> a small classifier trained with Ray Train;
    the best checkpoint by a validation metric is scored on the test split and registered in MLflow."""
    from ray_aks.training.clip_classifier import train_clip_classifier
    from ray_aks.training.image_folder import list_image_folder

    check_input(
        lambda: list_image_folder(cfg.data_dir, cfg.test_fraction, cfg.seed, cfg.val_fraction), "--data-dir"
    )
    run_job(train_clip_classifier, cfg)
