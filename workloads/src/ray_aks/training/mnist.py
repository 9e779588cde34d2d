"""`ray-aks train mnist`: the MNIST CNN with Ray Train's TorchTrainer (DDP), checkpoints and MLflow.

The driver checks the data, opens the MLflow run and starts the trainer; each worker reads the
idx files, trains on its own shard and reports per-epoch metrics plus a checkpoint (rank 0 logs
them to MLflow). After training the driver evaluates the final checkpoint on the full test split,
prints and logs the metrics table, the training-curve plot and the registered model.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from ray_aks.data.mnist import ensure_mnist_dir, load_mnist_dir
from ray_aks.tracking.mlflow_tracking import (
    RunTracker,
    log_and_register_pytorch_model,
    resolve_tracking_uri,
)
from ray_aks.training.config import MnistTrainConfig, timestamped
from ray_aks.training.worker_loop import OnEpochEnd, Worker, run_worker_loop

logger = logging.getLogger(__name__)

EPOCH_METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


@dataclass
class MnistTrainResult:
    run_name: str
    checkpoint_path: str
    test_metrics: dict[str, float]
    history: list[dict[str, Any]]
    restarts: int
    mlflow_run_id: str | None
    tracking_uri: str
    tracking_problem: str | None
    model_version: int | None = None


class MnistWorkerJob:
    """The CNN's part of the worker loop: this rank's shard of the idx files, one epoch of training
    and a pass over this rank's share of the test split, both summed over the ranks."""

    epoch_metrics = EPOCH_METRICS

    def __init__(self, cfg: MnistTrainConfig) -> None:
        self.cfg = cfg
        self.data = load_mnist_dir(ensure_mnist_dir(cfg.data_dir, cfg.download, cfg.dataset))

    def build_model(self):
        from ray_aks.models.mnist_cnn import MnistCNN

        return MnistCNN(hidden=self.cfg.hidden)

    def load_checkpoint(self, directory: str):
        from ray_aks.models.mnist_cnn import load_checkpoint

        return load_checkpoint(directory)

    def save_checkpoint(self, model, directory: str, **state: Any) -> None:
        from ray_aks.models.mnist_cnn import save_checkpoint

        save_checkpoint(model, directory, **state)

    def run_epoch(self, epoch: int, worker: Worker) -> dict[str, Any]:
        from ray_aks.training.epochs import all_reduce_totals, evaluate, shard_indices, train_one_epoch

        cfg, data, device = self.cfg, self.data, worker.device
        rank, world_size = worker.rank, worker.world_size
        shard = shard_indices(len(data.train_labels), epoch, rank, world_size, cfg.seed)
        images, labels = data.train_images[shard], data.train_labels[shard]
        train = train_one_epoch(worker.model, worker.optimizer, images, labels, cfg.batch_size, device)
        test_shard = np.arange(rank, len(data.test_labels), world_size)
        images, labels = data.test_images[test_shard], data.test_labels[test_shard]
        test = evaluate(worker.plain_model, images, labels, 256, device)
        train, test = all_reduce_totals(train, device), all_reduce_totals(test, device)
        return {
            "epoch": epoch,
            "train_loss": train.loss,
            "train_accuracy": train.accuracy,
            "test_loss": test.loss,
            "test_accuracy": test.accuracy,
        }


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker (ray_aks.training.worker_loop)."""
    cfg = MnistTrainConfig.model_validate(loop_config["config"])
    run_worker_loop(MnistWorkerJob(cfg), cfg, loop_config["tracker"], loop_config["on_epoch_end"])


def train_mnist(cfg: MnistTrainConfig, on_epoch_end: OnEpochEnd | None = None) -> MnistTrainResult:
    """Train, evaluate, log and register; returns what happened (also printed by the CLI).

    `on_epoch_end` is called in every worker after each epoch (ray_aks.training.worker_loop)."""

    from ray_aks.local_ray import connect_ray
    from ray_aks.training.run_state import start_training_run
    from ray_aks.training.trainer import fit, torch_trainer

    # Check the data before any worker starts, so a wrong path is one clear error.
    data_dir = ensure_mnist_dir(cfg.data_dir, cfg.download, cfg.dataset)
    run_name = cfg.run_name or timestamped(cfg.experiment_name)
    tracking_uri = resolve_tracking_uri(cfg.tracking_uri)
    connect_ray()

    tracker = start_training_run(
        tracking_uri,
        cfg.experiment_name,
        cfg.storage_path,
        run_name,
        tags={"ray_aks.job": "train-mnist", "ray_aks.storage_path": cfg.storage_path},
        params=cfg.model_dump(exclude={"tracking_uri", "run_name"}) | {"run_name": run_name},
    )

    trainer = torch_trainer(
        train_loop_per_worker,
        {
            "config": cfg.model_dump(mode="json") | {"data_dir": str(data_dir), "download": False},
            "tracker": tracker,
            "on_epoch_end": on_epoch_end,
        },
        cfg,
        run_name,
    )
    result = fit(trainer, tracker, cfg, run_name)
    return _finish(cfg, run_name, result.checkpoint, tracker, data_dir)


def _finish(
    cfg: MnistTrainConfig, run_name: str, checkpoint, tracker: RunTracker, data_dir
) -> MnistTrainResult:
    """Evaluate the final checkpoint on the whole test split, then log the table, plot and model."""
    import torch

    from ray_aks.models.mnist_cnn import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
    from ray_aks.training.epochs import predict
    from ray_aks.training.report import (
        classification_metrics,
        metrics_table,
        per_class_report,
        training_curve_figure,
    )

    with checkpoint.as_directory() as directory:
        model, state = load_checkpoint(directory)
    data = load_mnist_dir(data_dir)
    predictions = predict(model, data.test_images, progress=True).argmax(axis=1)
    test_metrics = classification_metrics(data.test_labels, predictions)
    table = metrics_table(test_metrics, f"test split of {data_dir} ({len(data.test_labels)} images)")
    print(table, flush=True)

    epoch = int(state["epoch"])
    tracker.log_metrics({f"final_test_{k}": v for k, v in test_metrics.items()}, step=epoch)
    tracker.log_text(
        table + "\n\n" + per_class_report(data.test_labels, predictions, range(10)), "test_report.txt"
    )
    tracker.log_dict({"history": state["history"], "restarts": state["restarts"]}, "history.json")
    tracker.log_figure(
        training_curve_figure(state["history"], f"MNIST CNN: {run_name}"), "training_curve.png"
    )
    with tempfile.TemporaryDirectory() as weights_dir:
        # Weights only (no optimizer state): loadable with load_checkpoint, no unpickling of code.
        save_checkpoint(model, weights_dir, epoch=epoch)
        version = log_and_register_pytorch_model(
            tracker,
            model,
            registered_model_name=cfg.model_name,
            alias=cfg.model_alias,
            input_example=data.test_images[:2, None].astype(np.float32) / 255.0,  # batch > 1: dynamic batch
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"],
            extra_files=[os.path.join(weights_dir, CHECKPOINT_FILE)],
        )
    tracker.finish()
    if tracker.active:
        logger.info(
            "MLflow run %s at %s; registered %s version %s (alias %s)",
            tracker.run_id,
            tracker.uri,
            cfg.model_name,
            version,
            cfg.model_alias,
        )
    return MnistTrainResult(
        run_name=run_name,
        checkpoint_path=checkpoint.path,
        test_metrics=test_metrics,
        history=list(state["history"]),
        restarts=int(state["restarts"]),
        mlflow_run_id=tracker.run_id,
        tracking_uri=tracker.uri,
        tracking_problem=tracker.problem,
        model_version=version,
    )
