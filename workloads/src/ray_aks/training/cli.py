"""`ray-aks train ...`: Typer commands that build the typed configs; Ray and torch load inside them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import typer
from pydantic import BaseModel, ValidationError

from ray_aks.training.config import (
    ClipClassifierConfig,
    MnistTrainConfig,
    default_storage_path,
)

train_app = typer.Typer(
    help="Distributed training with Ray Train (local Ray, or the cluster in RAY_ADDRESS).",
    no_args_is_help=True,
)

ConfigT = TypeVar("ConfigT", bound=BaseModel)

STORAGE_HELP = (
    "Where checkpoints and results go: shared storage in a cluster. "
    "Default: /mnt/cluster_storage when mounted, else ~/ray_results."
)
RUN_NAME_HELP = "Ray Train run name (default: <experiment>-<timestamp>). Reuse it to resume after a restart."
TRACKING_HELP = "MLflow tracking URI. Default: $MLFLOW_TRACKING_URI, else a local ./mlruns store."


def build_config(cls: type[ConfigT], **values) -> ConfigT:
    """Validate CLI values into the typed config; a bad value is a usage error naming it."""
    try:
        return cls(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as err:
        problems = "; ".join(
            f"--{'-'.join(str(part) for part in e['loc']).replace('_', '-')}: {e['msg']}"
            for e in err.errors()
        )
        raise typer.BadParameter(problems) from None


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
def mnist(
    data_dir: str = typer.Option(
        ..., help="Directory of MNIST/Fashion-MNIST idx files (raw or .gz); written by --download."
    ),
    download: bool = typer.Option(False, help="Download the dataset with torchvision when it is absent."),
    dataset: str = typer.Option("mnist", help="Which dataset --download fetches: mnist or fashion-mnist."),
    epochs: int = typer.Option(5, min=1, help="Training epochs."),
    num_workers: int = typer.Option(2, min=1, help="Ray Train workers (DDP processes)."),
    use_gpu: bool = typer.Option(False, help="Give each worker one GPU (CUDA); CPU otherwise."),
    cpus_per_worker: float = typer.Option(1.0, min=0.01, help="CPUs reserved per worker."),
    batch_size: int = typer.Option(64, min=1, help="Batch size per worker."),
    lr: float = typer.Option(1e-3, min=0.0, help="Adam learning rate."),
    hidden: int = typer.Option(128, min=1, help="Width of the CNN's first linear layer."),
    storage_path: str = typer.Option(None, help=STORAGE_HELP, show_default=False),
    run_name: str = typer.Option(None, help=RUN_NAME_HELP, show_default=False),
    experiment_name: str = typer.Option("mnist-cnn", help="MLflow experiment."),
    model_name: str = typer.Option("mnist-cnn", help="MLflow registered model name for the final model."),
    model_alias: str = typer.Option("champion", help="Alias pointed at the newly registered version."),
    max_failures: int = typer.Option(
        2, min=-1, help="Worker-group restarts from the last checkpoint (-1: no limit)."
    ),
    keep_checkpoints: int = typer.Option(2, min=1, help="Newest checkpoints kept under the storage path."),
    tracking_uri: str = typer.Option(None, help=TRACKING_HELP, show_default=False),
    seed: int = typer.Option(0, help="Seed of model init and data shuffling."),
) -> None:
    """Train the MNIST CNN with Ray Train (DDP), checkpoint every epoch, log and register it in MLflow."""
    from ray_aks.training.mnist import train_mnist

    cfg = build_config(
        MnistTrainConfig,
        data_dir=data_dir,
        download=download,
        dataset=dataset,
        epochs=epochs,
        num_workers=num_workers,
        use_gpu=use_gpu,
        cpus_per_worker=cpus_per_worker,
        batch_size=batch_size,
        lr=lr,
        hidden=hidden,
        storage_path=storage_path or default_storage_path(),
        run_name=run_name,
        experiment_name=experiment_name,
        model_name=model_name,
        model_alias=model_alias or None,
        max_failures=max_failures,
        keep_checkpoints=keep_checkpoints,
        tracking_uri=tracking_uri,
        seed=seed,
    )
    check_mnist_dir(cfg.data_dir, cfg.download)
    run_job(train_mnist, cfg)


@train_app.command("clip-classifier")
def clip_classifier(
    data_dir: str = typer.Option(..., help="Image folder with one sub-directory per class."),
    model: str = typer.Option(
        "openai/clip-vit-base-patch32", help="CLIP model: hub id or a local save_pretrained directory."
    ),
    embed_batch_size: int = typer.Option(32, min=1, help="Images per embedding batch."),
    embed_actors: int = typer.Option(1, min=1, help="Embedding actors (each holds one model copy)."),
    test_fraction: float = typer.Option(
        0.25, min=0.01, max=0.99, help="Held-out test share of each class, scored once after training."
    ),
    val_fraction: float = typer.Option(
        0.15, min=0.01, max=0.99, help="Validation share of each class, scored every epoch."
    ),
    checkpoint_metric: str = typer.Option(
        "val_loss",
        help="Validation metric that picks the best checkpoint (the registered model): "
        "val_loss (lowest) or val_accuracy (highest).",
    ),
    epochs: int = typer.Option(10, min=1, help="Classifier training epochs."),
    num_workers: int = typer.Option(2, min=1, help="Ray Train workers for the classifier."),
    use_gpu: bool = typer.Option(False, help="GPU for the embedding actors and the workers."),
    cpus_per_worker: float = typer.Option(1.0, min=0.01, help="CPUs reserved per worker."),
    batch_size: int = typer.Option(32, min=1, help="Batch size per worker."),
    lr: float = typer.Option(1e-3, min=0.0, help="Adam learning rate."),
    hidden: int = typer.Option(256, min=1, help="Width of the classifier's hidden layer."),
    dropout: float = typer.Option(0.2, min=0.0, max=0.99, help="Dropout before the last layer."),
    storage_path: str = typer.Option(None, help=STORAGE_HELP, show_default=False),
    run_name: str = typer.Option(None, help=RUN_NAME_HELP, show_default=False),
    experiment_name: str = typer.Option("clip-classifier", help="MLflow experiment."),
    model_name: str = typer.Option("clip-classifier", help="MLflow registered model name."),
    model_alias: str = typer.Option("champion", help="Alias pointed at the newly registered version."),
    max_failures: int = typer.Option(2, min=-1, help="Worker-group restarts from the last checkpoint."),
    keep_checkpoints: int = typer.Option(
        2, min=1, help="Best checkpoints (by --checkpoint-metric) kept, besides the latest."
    ),
    tracking_uri: str = typer.Option(None, help=TRACKING_HELP, show_default=False),
    seed: int = typer.Option(0, help="Seed of the split, init and shuffling."),
) -> None:
    """CLIP image embeddings (Ray Data) -> cached parquet -> a small classifier trained with Ray Train;
    the best checkpoint by a validation metric is scored on the test split and registered in MLflow."""
    from ray_aks.training.clip_classifier import list_image_folder, train_clip_classifier

    cfg = build_config(
        ClipClassifierConfig,
        data_dir=data_dir,
        model=model,
        embed_batch_size=embed_batch_size,
        embed_actors=embed_actors,
        embed_device="cuda" if use_gpu else "cpu",
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        checkpoint_metric=checkpoint_metric,
        epochs=epochs,
        num_workers=num_workers,
        use_gpu=use_gpu,
        cpus_per_worker=cpus_per_worker,
        batch_size=batch_size,
        lr=lr,
        hidden=hidden,
        dropout=dropout,
        storage_path=storage_path or default_storage_path(),
        run_name=run_name,
        experiment_name=experiment_name,
        model_name=model_name,
        model_alias=model_alias or None,
        max_failures=max_failures,
        keep_checkpoints=keep_checkpoints,
        tracking_uri=tracking_uri,
        seed=seed,
    )
    check_input(
        lambda: list_image_folder(cfg.data_dir, cfg.test_fraction, cfg.seed, cfg.val_fraction), "--data-dir"
    )
    run_job(train_clip_classifier, cfg)
