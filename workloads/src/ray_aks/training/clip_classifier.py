"""`ray-aks train clip-classifier`: image folder -> CLIP embeddings (Ray Data) -> classifier (Ray Train).

1. The driver lists the folder (one sub-directory per class) and makes a seeded split, stratified
   by class, into train, validation and test images.
2. Ray Data reads the images and embeds them with `ClipImageEmbedder` actors (`map_batches` with a
   class, so each actor loads CLIP once); the embeddings are cached as parquet under the storage
   path, keyed by the model and the files, so a re-run (or a restarted job) skips this step.
3. Ray Train trains `EmbeddingClassifier` on Ray Data shards of the training split, with a
   checkpoint every epoch. Rank 0 evaluates the whole validation split after every epoch; the
   train and validation loss and accuracy go to Ray Train's report and to MLflow. Ray Train keeps
   the best checkpoints by the validation metric (`checkpoint_metric`, val_loss by default) and
   always the latest, which a restart resumes from.
4. The best checkpoint by that metric is the model: batch inference with Ray Data on the held-out
   test split (`ray_aks.evaluation.clip_classifier.predict_embeddings`, the same code as
   `ray-aks evaluate clip-classifier`) gives accuracy, precision, recall and F1; the driver prints
   and logs them and registers that checkpoint's classifier in MLflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ray_aks.tracking.mlflow_tracking import (
    RunTracker,
    log_and_register_pytorch_model,
    resolve_tracking_uri,
    start_run,
)
from ray_aks.training.config import ClipClassifierConfig, timestamped

if TYPE_CHECKING:
    from ray_aks.training.epochs import PassTotals

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
CACHE_DIR = "clip-embeddings"
COMPLETE_MARKER = "_COMPLETE"
EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class LabelledImage:
    key: str  # "<class>/<file name>": stable whatever prefix a filesystem adds to the path
    path: str
    label: int
    split: str


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


def image_key(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"


def list_image_folder(
    data_dir: str, test_fraction: float, seed: int, val_fraction: float = 0.0
) -> tuple[list[str], list[LabelledImage]]:
    """Classes (sorted sub-directory names) and every image with its label and split.

    Each class is split on its own (stratified) by a seeded permutation: its first share is the
    test split, the next the validation split (none when val_fraction is 0), the rest train; every
    split of every class gets at least one image.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    per_class = {
        sub.name: sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        for sub in sorted(root.iterdir())
        if sub.is_dir() and not sub.name.startswith(".")
    }
    per_class = {name: files for name, files in per_class.items() if files}
    if len(per_class) < 2:
        raise ValueError(
            f"{root} needs at least two class sub-directories with images ({sorted(IMAGE_SUFFIXES)}); "
            f"found {sorted(per_class) or 'none'}"
        )
    with_val = val_fraction > 0
    needed = 3 if with_val else 2
    too_small = [name for name, files in per_class.items() if len(files) < needed]
    if too_small:
        splits = "train, validation and test" if with_val else "train and test"
        raise ValueError(
            f"classes {too_small} in {root} have fewer than {needed} images: need one each for {splits}"
        )
    classes = sorted(per_class)
    rng = np.random.default_rng(seed)
    items = []
    for label, name in enumerate(classes):
        files = per_class[name]
        n = len(files)
        n_test = min(n - needed + 1, max(1, round(test_fraction * n)))
        n_val = min(n - n_test - 1, max(1, round(val_fraction * n))) if with_val else 0
        order = rng.permutation(n).tolist()
        split_of = {i: "test" for i in order[:n_test]} | {i: "val" for i in order[n_test : n_test + n_val]}
        items += [
            LabelledImage(image_key(str(f)), str(f.resolve()), label, split_of.get(i, "train"))
            for i, f in enumerate(files)
        ]
    return classes, items


def cache_key(model: str, items: list[LabelledImage]) -> str:
    """Same model (and, for a local model, same weights file) + same files and split -> same cache."""
    digest = hashlib.sha256(model.encode())
    for weights in sorted(Path(model).glob("*.safetensors")) if Path(model).is_dir() else []:
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for item in items:
        stat = os.stat(item.path)
        digest.update(f"{item.key}:{item.label}:{item.split}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def clip_embedding_dim(model: str) -> int:
    """Width of CLIP's image embeddings, from the model's config alone (no weights, no data pass)."""
    from transformers import CLIPConfig

    return int(CLIPConfig.from_pretrained(model).projection_dim)


def add_labels(
    batch: dict[str, np.ndarray], assignments: dict[str, tuple[int, str]]
) -> dict[str, np.ndarray]:
    """Ray Data step: label and split of each image, from its class directory and file name."""
    keys = [image_key(str(p)) for p in batch["path"]]
    batch["key"] = np.array(keys)
    batch["label"] = np.array([assignments[k][0] for k in keys], dtype=np.int64)
    batch["split"] = np.array([assignments[k][1] for k in keys])
    del batch["path"]
    return batch


def cached_embeddings(storage_path: str, model: str, items: list[LabelledImage]) -> Path | None:
    """The complete embeddings cache of exactly these images (and splits) by this model, if any."""
    cache = Path(storage_path) / CACHE_DIR / cache_key(model, items)
    return cache if (cache / COMPLETE_MARKER).is_file() else None


def embed_images(cfg: ClipClassifierConfig, items: list[LabelledImage]) -> tuple[Path, bool]:
    """CLIP embeddings of every image as parquet under the storage path; (directory, reused cache?)."""
    return embed_image_items(
        items,
        model=cfg.model,
        storage_path=cfg.storage_path,
        batch_size=cfg.embed_batch_size,
        actors=cfg.embed_actors,
        device=cfg.embed_device,
    )


def embed_image_items(
    items: list[LabelledImage], model: str, storage_path: str, batch_size: int, actors: int, device: str
) -> tuple[Path, bool]:
    """CLIP embeddings of `items` (columns key, label, split, embedding) as parquet, cached under
    the storage path; (directory, reused cache?)."""
    import ray.data

    from ray_aks.models.clip_embedder import ClipImageEmbedder

    cached = cached_embeddings(storage_path, model, items)
    if cached is not None:
        logger.info("reusing cached CLIP embeddings at %s", cached)
        return cached, True
    cache = Path(storage_path) / CACHE_DIR / cache_key(model, items)
    ds = ray.data.read_images([item.path for item in items], include_paths=True, mode="RGB")
    ds = ds.map_batches(
        add_labels,
        fn_kwargs={"assignments": {i.key: (i.label, i.split) for i in items}},
        batch_format="numpy",
    )
    on_gpu = device.startswith("cuda")
    ds = ds.map_batches(
        ClipImageEmbedder,
        fn_constructor_kwargs={"model": model, "device": device, "torch_threads": 1},
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if on_gpu else 0,
        num_cpus=0 if on_gpu else 1,
        batch_format="numpy",
    )
    ds.write_parquet(str(cache / "data"))
    (cache / COMPLETE_MARKER).write_text(json.dumps({"model": model, "images": len(items)}))
    return cache, False


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


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker: this rank's shard of the training embeddings, one report per
    epoch; rank 0 also evaluates the whole validation split, with the weights it checkpoints."""
    import ray.train
    import ray.train.torch
    import torch
    from torch.nn import functional as F

    from ray_aks.models.embedding_classifier import EmbeddingClassifier, load_classifier, save_classifier
    from ray_aks.training.epochs import PassTotals, all_reduce_totals
    from ray_aks.training.ray_runtime import log_checkpointed_epochs

    cfg = ClipClassifierConfig.model_validate(loop_config["config"])
    tracker: RunTracker = loop_config["tracker"]
    classes: list[str] = loop_config["classes"]
    rank = ray.train.get_context().get_world_rank()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, int(cfg.cpus_per_worker)))
    device = ray.train.torch.get_device()

    model = EmbeddingClassifier(loop_config["in_dim"], len(classes), cfg.hidden, cfg.dropout)
    start_epoch, history, optimizer_state = 1, [], None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as directory:
            restored, state = load_classifier(directory)
        model.load_state_dict(restored.state_dict())
        start_epoch, history, optimizer_state = (
            int(state["epoch"]) + 1,
            list(state["history"]),
            state["optimizer"],
        )
        if rank == 0:
            tracker.log_metrics({"resumed_from_epoch": state["epoch"]}, step=int(state["epoch"]))
            tracker.log_epochs(history, EPOCH_METRICS)  # checkpointed before a kill, not yet logged
    model = ray.train.torch.prepare_model(model)
    plain_model = model.module if hasattr(model, "module") else model
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)

    shard = ray.train.get_dataset_shard("train")
    val_data = ray.train.get_dataset_shard("val")  # not split: every rank gets all of it
    for epoch in range(start_epoch, cfg.epochs + 1):
        model.train()
        totals = PassTotals()
        batches = shard.iter_torch_batches(
            batch_size=cfg.batch_size,
            dtypes={"embedding": torch.float32, "label": torch.long},
            device=device,
            local_shuffle_buffer_size=cfg.batch_size * 4,
            local_shuffle_seed=cfg.seed + epoch,
        )
        for batch in batches:
            x, y = batch["embedding"], batch["label"]
            if len(y) < 2:  # BatchNorm cannot normalise a single row; the shards are equal, so all ranks skip
                continue
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            totals.loss_sum += float(loss.detach()) * len(y)
            totals.correct += int((logits.argmax(dim=1) == y).sum())
            totals.count += len(y)
        totals = all_reduce_totals(totals, device)
        metrics = {"epoch": epoch, "train_loss": totals.loss, "train_accuracy": totals.accuracy}
        if rank == 0:
            # Rank 0 alone: its weights, BatchNorm statistics included, are the ones it checkpoints
            # (DDP leaves each rank's running statistics a little apart), and only rank 0's report
            # carries the metrics Ray Train scores checkpoints by.
            val = validation_totals(
                plain_model,
                val_data.iter_torch_batches(
                    batch_size=1024, dtypes={"embedding": torch.float32, "label": torch.long}, device=device
                ),
            )
            metrics |= {"val_loss": val.loss, "val_accuracy": val.accuracy}
        history.append(metrics)
        with tempfile.TemporaryDirectory() as directory:
            report_checkpoint = None
            if rank == 0:
                save_classifier(
                    plain_model,
                    directory,
                    classes,
                    epoch=epoch,
                    optimizer=optimizer.state_dict(),
                    history=history,
                    clip_model=cfg.model,
                    split={
                        "test_fraction": cfg.test_fraction,
                        "val_fraction": cfg.val_fraction,
                        "seed": cfg.seed,
                    },
                )
                report_checkpoint = ray.train.Checkpoint.from_directory(directory)
            ray.train.report(
                metrics, checkpoint=report_checkpoint, checkpoint_dir_name=f"checkpoint_epoch_{epoch:04d}"
            )
        if rank == 0:
            log_checkpointed_epochs(tracker, history, EPOCH_METRICS)


def train_clip_classifier(cfg: ClipClassifierConfig) -> ClipClassifierResult:
    from ray.data.expressions import col

    from ray_aks.training.ray_runtime import init_ray, read_parquet, timed, torch_trainer

    classes, items = list_image_folder(cfg.data_dir, cfg.test_fraction, cfg.seed, cfg.val_fraction)
    run_name = cfg.run_name or timestamped(cfg.experiment_name)
    init_ray()
    tracker = start_run(
        resolve_tracking_uri(cfg.tracking_uri),
        cfg.experiment_name,
        run_name=run_name,
        tags={"ray_aks.job": "train-clip-classifier", "ray_aks.clip_model": cfg.model},
    )
    tracker.log_params(
        cfg.model_dump(exclude={"tracking_uri", "run_name"})
        | {"classes": classes, "images": len(items), "run_name": run_name}
        | {f"{split}_images": sum(item.split == split for item in items) for split in SPLITS}
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
        {"config": cfg.model_dump(mode="json"), "tracker": tracker, "classes": classes, "in_dim": in_dim},
        cfg,
        run_name,
        datasets={"train": train_ds, "val": val_ds},
        checkpoint_score=(cfg.checkpoint_metric, cfg.checkpoint_mode),
        datasets_to_split=["train"],
    )
    try:
        with timed("classifier training"):
            result = trainer.fit()
    except Exception:
        tracker.finish("FAILED")
        raise
    if result.checkpoint is None:
        raise RuntimeError(f"run {run_name} finished without a checkpoint under {cfg.storage_path}")
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
    from ray_aks.training.ray_runtime import timed
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
