"""`ray-aks train mnist`: the seeds' CNN with Ray Train's TorchTrainer (DDP), checkpoints and MLflow.

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
    start_run,
)
from ray_aks.training.config import MnistTrainConfig, timestamped

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


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker: resume, train on this rank's shard, report, checkpoint."""
    import ray.train
    import ray.train.torch
    import torch

    from ray_aks.models.mnist_cnn import MnistCNN, load_checkpoint, save_checkpoint
    from ray_aks.training.epochs import all_reduce_totals, evaluate, shard_indices, train_one_epoch
    from ray_aks.training.ray_runtime import log_checkpointed_epochs

    cfg = MnistTrainConfig.model_validate(loop_config["config"])
    tracker: RunTracker = loop_config["tracker"]
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, int(cfg.cpus_per_worker)))

    data = load_mnist_dir(ensure_mnist_dir(cfg.data_dir, cfg.download, cfg.dataset))
    device = ray.train.torch.get_device()
    if rank == 0:
        tracker.connect()  # import mlflow now, not between a report and the next epoch

    model = MnistCNN(hidden=cfg.hidden)
    start_epoch, history, restarts, optimizer_state = 1, [], 0, None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as directory:
            restored, state = load_checkpoint(directory)
        model.load_state_dict(restored.state_dict())
        start_epoch = int(state["epoch"]) + 1
        history = list(state["history"])
        restarts = int(state["restarts"]) + 1
        optimizer_state = state["optimizer"]
        if rank == 0:
            logger.warning("resuming from the checkpoint of epoch %d (restart %d)", state["epoch"], restarts)
            tracker.log_metrics({"resumed_from_epoch": state["epoch"], "restarts": restarts}, step=restarts)
            tracker.set_tags({"ray_aks.restarts": restarts, "ray_aks.resumed_from_epoch": state["epoch"]})
            tracker.log_epochs(history, EPOCH_METRICS)  # checkpointed before a kill, not yet logged

    model = ray.train.torch.prepare_model(model)  # moves to the device; DDP when world_size > 1
    plain_model = model.module if hasattr(model, "module") else model
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)  # casts the state to the parameters' device

    test_shard = np.arange(rank, len(data.test_labels), world_size)
    for epoch in range(start_epoch, cfg.epochs + 1):
        shard = shard_indices(len(data.train_labels), epoch, rank, world_size, cfg.seed)
        train = train_one_epoch(
            model, optimizer, data.train_images[shard], data.train_labels[shard], cfg.batch_size, device
        )
        test = evaluate(plain_model, data.test_images[test_shard], data.test_labels[test_shard], 256, device)
        train, test = all_reduce_totals(train, device), all_reduce_totals(test, device)
        metrics = {
            "epoch": epoch,
            "train_loss": train.loss,
            "train_accuracy": train.accuracy,
            "test_loss": test.loss,
            "test_accuracy": test.accuracy,
        }
        history.append(metrics)
        with tempfile.TemporaryDirectory() as directory:
            report_checkpoint = None
            if rank == 0:  # one copy of the weights; the other ranks hold the same ones (DDP)
                save_checkpoint(
                    plain_model,
                    directory,
                    epoch=epoch,
                    optimizer=optimizer.state_dict(),
                    history=history,
                    restarts=restarts,
                )
                report_checkpoint = ray.train.Checkpoint.from_directory(directory)
            ray.train.report(
                metrics, checkpoint=report_checkpoint, checkpoint_dir_name=f"checkpoint_epoch_{epoch:04d}"
            )
        if rank == 0:
            log_checkpointed_epochs(tracker, history, EPOCH_METRICS)
        if cfg.fail_after_epoch == epoch and restarts == 0 and rank == 0:
            # After its MLflow logging, so after Ray Train registered this epoch's checkpoint.
            logger.warning("fault injection: rank %d exits after epoch %d", rank, epoch)
            os._exit(1)


def train_mnist(cfg: MnistTrainConfig) -> MnistTrainResult:
    """Train, evaluate, log and register; returns what happened (also printed by the CLI)."""

    from ray_aks.training.ray_runtime import init_ray, read_run_state, torch_trainer, write_run_state

    # Check the data before any worker starts, so a wrong path is one clear error.
    data_dir = ensure_mnist_dir(cfg.data_dir, cfg.download, cfg.dataset)
    run_name = cfg.run_name or timestamped(cfg.experiment_name)
    tracking_uri = resolve_tracking_uri(cfg.tracking_uri)
    init_ray()

    previous = read_run_state(cfg.storage_path, run_name)
    tracker = start_run(
        tracking_uri,
        cfg.experiment_name,
        run_name=run_name,
        resume_run_id=previous.get("mlflow_run_id"),
        tags={"ray_aks.job": "train-mnist", "ray_aks.storage_path": cfg.storage_path},
    )
    if tracker.active:
        write_run_state(cfg.storage_path, run_name, {"mlflow_run_id": tracker.run_id})
        if tracker.reopened:
            tracker.set_tags({"ray_aks.driver_restarted": "true"})
        tracker.log_params(
            cfg.model_dump(exclude={"tracking_uri", "fail_after_epoch", "run_name"}) | {"run_name": run_name}
        )

    trainer = torch_trainer(
        train_loop_per_worker,
        {
            "config": cfg.model_dump(mode="json") | {"data_dir": str(data_dir), "download": False},
            "tracker": tracker,
        },
        cfg,
        run_name,
    )
    try:
        result = trainer.fit()
    except Exception:
        tracker.finish("FAILED")
        raise
    if result.checkpoint is None:
        raise RuntimeError(f"run {run_name} finished without a checkpoint under {cfg.storage_path}")
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
