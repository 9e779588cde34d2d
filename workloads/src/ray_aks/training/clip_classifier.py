"""`ray-aks train clip-classifier`: image folder -> CLIP embeddings (Ray Data) -> classifier (Ray Train).

1. The driver lists the folder (one sub-directory per class) and makes a seeded split, stratified
   by class, into train, validation and test images (`ray_aks.training.image_folder`).
2. Ray Data reads the images and embeds them with `ClipImageEmbedder` actors (`map_batches` with a
   class, so each actor loads CLIP once); the embeddings are cached as parquet under the storage
   path, keyed by the model and the files, so a re-run (or a restarted job) skips this step
   (`ray_aks.training.embedding_cache`).
3. Ray Train trains `EmbeddingClassifier` on Ray Data shards of the training split, with a
   checkpoint every epoch (the shared worker loop, `ray_aks.training.worker_loop`). Rank 0 evaluates
   the whole validation split after every epoch; the train and validation loss and accuracy go to
   Ray Train's report and to MLflow. Ray Train keeps the best checkpoints by the validation metric
   (`checkpoint_metric`, val_loss by default) and always the latest, which a restart resumes from.
4. The best checkpoint by that metric is the model: batch inference with Ray Data on the held-out
   test split (`ray_aks.evaluation.clip_classifier.predict_embeddings`, the same code as
   `ray-aks evaluate clip-classifier`) gives accuracy, precision, recall and F1; the driver prints
   and logs them and registers that checkpoint's classifier in MLflow.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ray_aks.tracking.mlflow_tracking import (
    RunTracker,
    log_and_register_pytorch_model,
    resolve_tracking_uri,
)
from ray_aks.training.config import ClipClassifierConfig, timestamped
from ray_aks.training.embedding_cache import clip_embedding_dim, embed_images
from ray_aks.training.image_folder import SPLITS, list_image_folder
from ray_aks.training.worker_loop import OnEpochEnd, Worker, run_worker_loop

if TYPE_CHECKING:
    from ray_aks.training.epochs import PassTotals

logger = logging.getLogger(__name__)

EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


@dataclass
class ClipClassifierResult:
    run_name: str
    classes: list[str]
    checkpoint_path: str  # the best checkpoint by checkpoint_metric: the registered model
    best_epoch: int
    checkpoint_metric: str
    latest_checkpoint_path: str
    embeddings_path: str
    embeddings_cached: bool
    test_metrics: dict[str, float]
    history: list[dict[str, Any]]  # every epoch, from the latest checkpoint
    mlflow_run_id: str | None
    tracking_problem: str | None
    model_version: int | None


def validation_totals(model, batches) -> PassTotals:
    """Summed cross-entropy and correct predictions of `model` (eval mode) over labelled batches."""
    import torch
    from torch.nn import functional as F

    from ray_aks.training.epochs import PassTotals

    model.eval()
    totals = PassTotals()
    with torch.inference_mode():
        for batch in batches:
            x, y = batch["embedding"], batch["label"]
            logits = model(x)
            totals.loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            totals.correct += int((logits.argmax(dim=1) == y).sum())
            totals.count += len(y)
    return totals


class ClassifierWorkerJob:
    """The classifier's part of the worker loop: one epoch over this rank's shard of the training
    embeddings; rank 0 also evaluates the whole validation split, with the weights it checkpoints."""

    epoch_metrics = EPOCH_METRICS

    def __init__(self, cfg: ClipClassifierConfig, classes: list[str], in_dim: int) -> None:
        import ray.train

        self.cfg, self.classes, self.in_dim = cfg, classes, in_dim
        self.train_shard = ray.train.get_dataset_shard("train")
        self.val_data = ray.train.get_dataset_shard("val")  # not split: every rank gets all of it

    def build_model(self):
        from ray_aks.models.embedding_classifier import EmbeddingClassifier

        return EmbeddingClassifier(self.in_dim, len(self.classes), self.cfg.hidden, self.cfg.dropout)

    def load_checkpoint(self, directory: str):
        from ray_aks.models.embedding_classifier import load_classifier

        return load_classifier(directory)

    def save_checkpoint(self, model, directory: str, **state: Any) -> None:
        from ray_aks.models.embedding_classifier import save_classifier

        cfg = self.cfg
        split = {"test_fraction": cfg.test_fraction, "val_fraction": cfg.val_fraction, "seed": cfg.seed}
        save_classifier(model, directory, self.classes, clip_model=cfg.model, split=split, **state)

    def run_epoch(self, epoch: int, worker: Worker) -> dict[str, Any]:
        import torch

        from ray_aks.training.epochs import PassTotals, all_reduce_totals, train_step

        cfg, device = self.cfg, worker.device
        dtypes = {"embedding": torch.float32, "label": torch.long}
        worker.model.train()
        totals = PassTotals()
        batches = self.train_shard.iter_torch_batches(
            batch_size=cfg.batch_size,
            dtypes=dtypes,
            device=device,
            local_shuffle_buffer_size=cfg.batch_size * 4,
            local_shuffle_seed=cfg.seed + epoch,
        )
        for batch in batches:
            x, y = batch["embedding"], batch["label"]
            if len(y) < 2:  # BatchNorm cannot normalise a single row; the shards are equal, so all ranks skip
                continue
            totals.add(*train_step(worker.model, worker.optimizer, x, y), y)
        totals = all_reduce_totals(totals, device)
        metrics = {"epoch": epoch, "train_loss": totals.loss, "train_accuracy": totals.accuracy}
        if worker.rank == 0:
            # Rank 0 alone: its weights, BatchNorm statistics included, are the ones it checkpoints
            # (DDP leaves each rank's running statistics a little apart), and only rank 0's report
            # carries the metrics Ray Train scores checkpoints by.
            val = validation_totals(
                worker.plain_model,
                self.val_data.iter_torch_batches(batch_size=1024, dtypes=dtypes, device=device),
            )
            metrics |= {"val_loss": val.loss, "val_accuracy": val.accuracy}
        return metrics


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker (ray_aks.training.worker_loop)."""
    cfg = ClipClassifierConfig.model_validate(loop_config["config"])
    job = ClassifierWorkerJob(cfg, loop_config["classes"], loop_config["in_dim"])
    run_worker_loop(job, cfg, loop_config["tracker"], loop_config["on_epoch_end"])


def train_clip_classifier(
    cfg: ClipClassifierConfig, on_epoch_end: OnEpochEnd | None = None
) -> ClipClassifierResult:
    """Embed, train, evaluate the best checkpoint, log and register; returns what happened.

    `on_epoch_end` is called in every worker after each epoch (ray_aks.training.worker_loop)."""
    from ray.data.expressions import col

    from ray_aks.data.parquet import read_parquet
    from ray_aks.local_ray import connect_ray
    from ray_aks.timing import timed
    from ray_aks.training.run_state import start_training_run
    from ray_aks.training.trainer import fit, torch_trainer

    classes, items = list_image_folder(cfg.data_dir, cfg.test_fraction, cfg.seed, cfg.val_fraction)
    run_name = cfg.run_name or timestamped(cfg.experiment_name)
    connect_ray()
    tracker = start_training_run(
        resolve_tracking_uri(cfg.tracking_uri),
        cfg.experiment_name,
        cfg.storage_path,
        run_name,
        tags={
            "ray_aks.job": "train-clip-classifier",
            "ray_aks.clip_model": cfg.model,
            "ray_aks.storage_path": cfg.storage_path,
        },
        params=cfg.model_dump(exclude={"tracking_uri", "run_name"})
        | {"classes": classes, "images": len(items), "run_name": run_name}
        | {f"{split}_images": sum(item.split == split for item in items) for split in SPLITS},
    )

    with timed("CLIP embedding"):
        cache, cached = embed_images(cfg, items)
    embeddings = read_parquet(str(cache / "data"))

    def split(name: str):
        return embeddings.filter(expr=col("split") == name)

    # Embeddings are small (a few KiB per image): hold the training and validation splits in the
    # object store so each epoch reads them from memory instead of re-reading parquet.
    with timed("loading the training and validation splits"):
        train_ds = split("train").select_columns(["embedding", "label"]).materialize()
        val_ds = split("val").select_columns(["embedding", "label"]).materialize()
    in_dim = clip_embedding_dim(cfg.model)
    logger.info("CLIP embeddings (dim %d, cached=%s) at %s", in_dim, cached, cache)

    trainer = torch_trainer(
        train_loop_per_worker,
        {
            "config": cfg.model_dump(mode="json"),
            "tracker": tracker,
            "classes": classes,
            "in_dim": in_dim,
            "on_epoch_end": on_epoch_end,
        },
        cfg,
        run_name,
        datasets={"train": train_ds, "val": val_ds},
        checkpoint_score=(cfg.checkpoint_metric, cfg.checkpoint_mode),
        datasets_to_split=["train"],
    )
    result = fit(trainer, tracker, cfg, run_name)
    best = result.get_best_checkpoint(cfg.checkpoint_metric, cfg.checkpoint_mode)
    with best.as_directory() as best_dir, result.checkpoint.as_directory() as latest_dir:
        return _finish(
            cfg,
            run_name,
            classes,
            tracker,
            best_dir,
            latest_dir,
            split("test"),
            cache,
            cached,
            checkpoint_paths=(best.path, result.checkpoint.path),
        )


def _finish(
    cfg: ClipClassifierConfig,
    run_name: str,
    classes: list[str],
    tracker: RunTracker,
    best_dir: str,
    latest_dir: str,
    test_ds,
    cache: Path,
    cached: bool,
    checkpoint_paths: tuple[str, str],
) -> ClipClassifierResult:
    """Evaluate the best checkpoint on the test split, log the metrics and register its classifier."""
    import torch

    from ray_aks.evaluation.clip_classifier import predict_embeddings
    from ray_aks.models.embedding_classifier import CHECKPOINT_FILE, load_classifier
    from ray_aks.timing import timed
    from ray_aks.training.report import classification_metrics, metrics_table, per_class_report

    model, state = load_classifier(best_dir)
    history = list(load_classifier(latest_dir)[1]["history"])  # every epoch; the best's stops at it
    best_epoch = int(state["epoch"])
    logger.info(
        "best checkpoint by %s: epoch %d of %d (%s)",
        cfg.checkpoint_metric,
        best_epoch,
        len(history),
        ", ".join(f"{k}={v:.4f}" for k, v in state["history"][-1].items() if k != "epoch"),
    )
    with timed("batch inference on the held-out split"):
        predictions = predict_embeddings(test_ds, best_dir, use_gpu=cfg.use_gpu)
    labels, predicted = predictions["label"].to_numpy(), predictions["prediction"].to_numpy()
    test_metrics = classification_metrics(labels, predicted)
    table = metrics_table(
        test_metrics,
        f"held-out split of {cfg.data_dir} ({len(labels)} images), "
        f"best checkpoint by {cfg.checkpoint_metric}: epoch {best_epoch}",
    )
    print(table, flush=True)
    tracker.log_metrics(
        {f"test_{k}": v for k, v in test_metrics.items()} | {"best_epoch": best_epoch}, step=best_epoch
    )
    tracker.set_tags({"ray_aks.checkpoint_metric": cfg.checkpoint_metric, "ray_aks.best_epoch": best_epoch})
    tracker.log_text(table + "\n\n" + per_class_report(labels, predicted, classes), "test_report.txt")
    tracker.log_dict(
        {
            "classes": classes,
            "history": history,
            "best_epoch": best_epoch,
            "checkpoint_metric": cfg.checkpoint_metric,
        },
        "classes.json",
    )
    version = log_and_register_pytorch_model(
        tracker,
        model,
        registered_model_name=cfg.model_name,
        alias=cfg.model_alias,
        input_example=np.random.default_rng(0).standard_normal((2, model.in_dim)).astype(np.float32),
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"],
        extra_files=[os.path.join(best_dir, CHECKPOINT_FILE)],
    )
    tracker.finish()
    return ClipClassifierResult(
        run_name=run_name,
        classes=classes,
        checkpoint_path=checkpoint_paths[0],
        best_epoch=best_epoch,
        checkpoint_metric=cfg.checkpoint_metric,
        latest_checkpoint_path=checkpoint_paths[1],
        embeddings_path=str(cache),
        embeddings_cached=cached,
        test_metrics=test_metrics,
        history=history,
        mlflow_run_id=tracker.run_id,
        tracking_problem=tracker.problem,
        model_version=version,
    )
