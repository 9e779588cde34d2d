"""`ray-aks train clip-classifier`: image folder -> CLIP embeddings (Ray Data) -> classifier (Ray Train).

1. The driver lists the folder (one sub-directory per class) and makes a seeded, stratified split.
2. Ray Data reads the images and embeds them with `ClipImageEmbedder` actors (`map_batches` with a
   class, so each actor loads CLIP once); the embeddings are cached as parquet under the storage
   path, keyed by the model and the files, so a re-run (or a restarted job) skips this step.
3. Ray Train trains `EmbeddingClassifier` on Ray Data shards of the training split, with a
   checkpoint every epoch (rank 0 logs per-epoch metrics to MLflow).
4. Batch inference with Ray Data on the held-out split gives accuracy, precision, recall and F1;
   the driver prints and logs them and registers the classifier in MLflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ray_aks.tracking.mlflow_tracking import (
    RunTracker,
    log_and_register_pytorch_model,
    resolve_tracking_uri,
    start_run,
)
from ray_aks.training.config import ClipClassifierConfig, timestamped

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
CACHE_DIR = "clip-embeddings"
COMPLETE_MARKER = "_COMPLETE"
EPOCH_METRICS = ("train_loss", "train_accuracy")


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
    checkpoint_path: str
    embeddings_path: str
    embeddings_cached: bool
    test_metrics: dict[str, float]
    history: list[dict[str, Any]]
    mlflow_run_id: str | None
    tracking_problem: str | None
    model_version: int | None


def image_key(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"


def list_image_folder(
    data_dir: str, test_fraction: float, seed: int
) -> tuple[list[str], list[LabelledImage]]:
    """Classes (sorted sub-directory names) and every image with its label and split."""
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
    too_small = [name for name, files in per_class.items() if len(files) < 2]
    if too_small:
        raise ValueError(f"classes {too_small} in {root} have fewer than 2 images: nothing to hold out")
    classes = sorted(per_class)
    rng = np.random.default_rng(seed)
    items = []
    for label, name in enumerate(classes):
        files = per_class[name]
        n_test = min(len(files) - 1, max(1, round(test_fraction * len(files))))
        test = set(rng.permutation(len(files))[:n_test].tolist())
        items += [
            LabelledImage(image_key(str(f)), str(f.resolve()), label, "test" if i in test else "train")
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


def embed_images(cfg: ClipClassifierConfig, items: list[LabelledImage]) -> tuple[Path, bool]:
    """CLIP embeddings of every image as parquet under the storage path; (directory, reused cache?)."""
    import ray.data

    from ray_aks.models.clip_embedder import ClipImageEmbedder

    cache = Path(cfg.storage_path) / CACHE_DIR / cache_key(cfg.model, items)
    if (cache / COMPLETE_MARKER).is_file():
        logger.info("reusing cached CLIP embeddings at %s", cache)
        return cache, True
    ds = ray.data.read_images([item.path for item in items], include_paths=True, mode="RGB")
    ds = ds.map_batches(
        add_labels,
        fn_kwargs={"assignments": {i.key: (i.label, i.split) for i in items}},
        batch_format="numpy",
    )
    on_gpu = cfg.embed_device.startswith("cuda")
    ds = ds.map_batches(
        ClipImageEmbedder,
        fn_constructor_kwargs={"model": cfg.model, "device": cfg.embed_device, "torch_threads": 1},
        batch_size=cfg.embed_batch_size,
        compute=ray.data.ActorPoolStrategy(size=cfg.embed_actors),
        num_gpus=1 if on_gpu else 0,
        num_cpus=0 if on_gpu else 1,
        batch_format="numpy",
    )
    ds.write_parquet(str(cache / "data"))
    (cache / COMPLETE_MARKER).write_text(json.dumps({"model": cfg.model, "images": len(items)}))
    return cache, False


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker: this rank's shard of the embeddings, one report per epoch."""
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
                )
                report_checkpoint = ray.train.Checkpoint.from_directory(directory)
            ray.train.report(
                metrics, checkpoint=report_checkpoint, checkpoint_dir_name=f"checkpoint_epoch_{epoch:04d}"
            )
        if rank == 0:
            log_checkpointed_epochs(tracker, history, EPOCH_METRICS)


def predict_batch(batch: dict[str, np.ndarray], checkpoint_dir: str) -> dict[str, np.ndarray]:
    """Ray Data batch-inference step: embeddings -> predicted labels.

    A task, not an actor pool: the head is a few KiB, so loading it per batch costs less than
    starting a dedicated actor process.
    """
    import torch

    from ray_aks.models.embedding_classifier import load_classifier

    model, _ = load_classifier(checkpoint_dir)
    with torch.inference_mode():
        logits = model(torch.as_tensor(np.asarray(batch["embedding"], dtype=np.float32)))
    return {"key": batch["key"], "label": batch["label"], "prediction": logits.argmax(dim=1).numpy()}


def train_clip_classifier(cfg: ClipClassifierConfig) -> ClipClassifierResult:
    from ray.data.expressions import col

    from ray_aks.training.ray_runtime import init_ray, read_parquet, timed, torch_trainer

    classes, items = list_image_folder(cfg.data_dir, cfg.test_fraction, cfg.seed)
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
    )

    with timed("CLIP embedding"):
        cache, cached = embed_images(cfg, items)
    embeddings = read_parquet(str(cache / "data"))
    # Embeddings are small (a few KiB per image): hold the training split in the object store so
    # each epoch's shards come from memory instead of re-reading parquet.
    with timed("loading the training split"):
        train_ds = (
            embeddings.filter(expr=col("split") == "train")
            .select_columns(["embedding", "label"])
            .materialize()
        )
    test_ds = embeddings.filter(expr=col("split") == "test")
    in_dim = clip_embedding_dim(cfg.model)
    logger.info("CLIP embeddings (dim %d, cached=%s) at %s", in_dim, cached, cache)

    trainer = torch_trainer(
        train_loop_per_worker,
        {"config": cfg.model_dump(mode="json"), "tracker": tracker, "classes": classes, "in_dim": in_dim},
        cfg,
        run_name,
        datasets={"train": train_ds},
    )
    try:
        with timed("classifier training"):
            result = trainer.fit()
    except Exception:
        tracker.finish("FAILED")
        raise
    if result.checkpoint is None:
        raise RuntimeError(f"run {run_name} finished without a checkpoint under {cfg.storage_path}")

    with result.checkpoint.as_directory() as checkpoint_dir:
        with timed("batch inference on the held-out split"):
            predictions = test_ds.map_batches(
                predict_batch,
                fn_kwargs={"checkpoint_dir": checkpoint_dir},
                batch_size=1024,
                batch_format="numpy",
            ).to_pandas()
        return _finish(
            cfg, run_name, classes, tracker, result.checkpoint, checkpoint_dir, predictions, cache, cached
        )


def _finish(cfg, run_name, classes, tracker, checkpoint, checkpoint_dir, predictions, cache, cached):
    import torch

    from ray_aks.models.embedding_classifier import CHECKPOINT_FILE, load_classifier
    from ray_aks.training.report import classification_metrics, metrics_table, per_class_report

    labels, predicted = predictions["label"].to_numpy(), predictions["prediction"].to_numpy()
    test_metrics = classification_metrics(labels, predicted)
    table = metrics_table(test_metrics, f"held-out split of {cfg.data_dir} ({len(labels)} images)")
    print(table, flush=True)
    model, state = load_classifier(checkpoint_dir)
    tracker.log_metrics({f"test_{k}": v for k, v in test_metrics.items()}, step=int(state["epoch"]))
    tracker.log_text(table + "\n\n" + per_class_report(labels, predicted, classes), "test_report.txt")
    tracker.log_dict({"classes": classes, "history": state["history"]}, "classes.json")
    version = log_and_register_pytorch_model(
        tracker,
        model,
        registered_model_name=cfg.model_name,
        alias=cfg.model_alias,
        input_example=np.random.default_rng(0).standard_normal((2, model.in_dim)).astype(np.float32),
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"],
        extra_files=[os.path.join(checkpoint_dir, CHECKPOINT_FILE)],
    )
    tracker.finish()
    return ClipClassifierResult(
        run_name=run_name,
        classes=classes,
        checkpoint_path=checkpoint.path,
        embeddings_path=str(cache),
        embeddings_cached=cached,
        test_metrics=test_metrics,
        history=list(state["history"]),
        mlflow_run_id=tracker.run_id,
        tracking_problem=tracker.problem,
        model_version=version,
    )
