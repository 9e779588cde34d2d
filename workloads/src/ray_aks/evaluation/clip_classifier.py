"""`ray-aks evaluate clip-classifier`: a registered CLIP-embedding classifier on an image folder.

1. The driver loads the classifier's checkpoint from the MLflow registry (or a checkpoint directory)
   for what it recorded at training: its classes, its CLIP model and how the folder was split.
2. It lists the folder with that same seeded split and takes the CLIP embeddings of the chosen split
   from the cache the training run left under the storage path, or embeds those images with Ray Data.
3. Ray Data batch inference: `map_batches` with `EmbeddingClassifierPredictor` actors, each loading
   the model from the registry once (`--use-gpu`: one GPU per actor); the driver prints accuracy and
   macro precision, recall and F1. `ray-aks train clip-classifier` scores its test split through the
   same `predict_embeddings`, so both report the same numbers for the same split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ray_aks.evaluation.config import ClipEvalConfig
from ray_aks.evaluation.predictor import EmbeddingClassifierPredictor, load_classifier_source
from ray_aks.serving.model_source import is_mlflow_uri
from ray_aks.tracking.mlflow_tracking import resolve_tracking_uri
from ray_aks.training.embedding_cache import cached_embeddings, embed_image_items
from ray_aks.training.image_folder import LabelledImage, list_image_folder

logger = logging.getLogger(__name__)

# Split settings of `ray-aks train clip-classifier` before it recorded them in its checkpoints.
TRAINING_DEFAULT_SPLIT = {"test_fraction": 0.25, "val_fraction": 0.0, "seed": 0}


@dataclass
class ClipEvalPlan:
    """What an evaluation runs on, resolved (and checked) before Ray starts any work."""

    cfg: ClipEvalConfig
    tracking_uri: str | None
    clip_model: str
    classes: list[str]
    epoch: int | None
    split_settings: dict[str, Any]
    all_items: list[LabelledImage]
    items: list[LabelledImage]  # the images of cfg.split


@dataclass
class ClipEvalResult:
    model_uri: str
    split: str
    images: int
    classes: list[str]
    epoch: int | None  # the training epoch of the evaluated checkpoint
    metrics: dict[str, float]
    report: str  # the printed table and the per-class report


def predict_embeddings(
    ds,
    source: str,
    tracking_uri: str | None = None,
    use_gpu: bool = False,
    batch_size: int = 1024,
    actors: int = 1,
):
    """Ray Data batch inference over a dataset with an `embedding` column: a pandas frame of its
    other columns (key, label, ...) and `prediction`. Each actor loads the classifier from `source`
    once; `use_gpu` gives every actor a GPU."""
    import ray.data

    return ds.map_batches(
        EmbeddingClassifierPredictor,
        fn_constructor_kwargs={
            "source": source,
            "tracking_uri": tracking_uri,
            "device": "cuda" if use_gpu else "cpu",
        },
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if use_gpu else 0,
        num_cpus=0 if use_gpu else 1,
        batch_format="numpy",
    ).to_pandas()


class DataDirError(ValueError):
    """The image folder does not fit the classifier (or cannot be split as it was at training)."""


def plan_evaluation(cfg: ClipEvalConfig) -> ClipEvalPlan:
    """Load the classifier's record and list the folder with its split: problems surface here, as
    `ModelSourceError` (the model) or `DataDirError`/`FileNotFoundError` (the folder)."""
    tracking_uri = resolve_tracking_uri(cfg.tracking_uri) if is_mlflow_uri(cfg.model_uri) else None
    _, state = load_classifier_source(cfg.model_uri, tracking_uri)
    recorded = state.get("split") or TRAINING_DEFAULT_SPLIT
    split_settings = {
        "test_fraction": cfg.test_fraction if cfg.test_fraction is not None else recorded["test_fraction"],
        "val_fraction": cfg.val_fraction if cfg.val_fraction is not None else recorded["val_fraction"],
        "seed": cfg.seed if cfg.seed is not None else recorded["seed"],
    }
    clip_model = cfg.clip_model or state.get("clip_model")
    if not clip_model:
        raise DataDirError(f"{cfg.model_uri} does not record its CLIP model: give --clip-model")
    try:
        classes, all_items = list_image_folder(cfg.data_dir, **split_settings)
    except ValueError as err:
        raise DataDirError(str(err)) from None
    if classes != list(state["classes"]):
        raise DataDirError(
            f"the classes of {cfg.data_dir} ({classes}) are not those {cfg.model_uri} was trained on "
            f"({list(state['classes'])})"
        )
    items = [item for item in all_items if cfg.split in ("all", item.split)]
    if not items:
        raise DataDirError(f"the {cfg.split} split of {cfg.data_dir} is empty ({split_settings})")
    return ClipEvalPlan(
        cfg=cfg,
        tracking_uri=tracking_uri,
        clip_model=clip_model,
        classes=classes,
        epoch=state.get("epoch"),
        split_settings=split_settings,
        all_items=all_items,
        items=items,
    )


def run_evaluation(plan: ClipEvalPlan) -> ClipEvalResult:
    """Embed (or reuse the cached embeddings of) the split, predict with Ray Data, score."""
    from ray.data.expressions import col

    from ray_aks.data.parquet import read_parquet
    from ray_aks.local_ray import connect_ray
    from ray_aks.timing import timed
    from ray_aks.training.report import classification_metrics, metrics_table, per_class_report

    cfg = plan.cfg
    connect_ray()
    # The training run cached the embeddings of the whole folder under this split: reuse them when
    # they are there, otherwise embed only the images evaluated.
    cache = cached_embeddings(cfg.storage_path, plan.clip_model, plan.all_items)
    if cache is None:
        with timed("CLIP embedding"):
            cache, _ = embed_image_items(
                plan.items,
                model=plan.clip_model,
                storage_path=cfg.storage_path,
                batch_size=cfg.embed_batch_size,
                actors=cfg.embed_actors,
                device=cfg.embed_device,
            )
    else:
        logger.info("reusing the training run's CLIP embeddings at %s", cache)
    ds = read_parquet(str(cache / "data"))
    if cfg.split != "all":
        ds = ds.filter(expr=col("split") == cfg.split)
    with timed(f"batch inference on the {cfg.split} split"):
        predictions = predict_embeddings(
            ds,
            cfg.model_uri,
            tracking_uri=plan.tracking_uri,
            use_gpu=cfg.use_gpu,
            batch_size=cfg.batch_size,
            actors=cfg.num_actors,
        )
    labels, predicted = predictions["label"].to_numpy(), predictions["prediction"].to_numpy()
    metrics = classification_metrics(labels, predicted)
    epoch = f", epoch {plan.epoch}" if plan.epoch is not None else ""
    table = metrics_table(
        metrics, f"{cfg.model_uri}{epoch} on the {cfg.split} split of {cfg.data_dir} ({len(labels)} images)"
    )
    return ClipEvalResult(
        model_uri=cfg.model_uri,
        split=cfg.split,
        images=len(labels),
        classes=plan.classes,
        epoch=plan.epoch,
        metrics=metrics,
        report=table + "\n\n" + per_class_report(labels, predicted, plan.classes),
    )


def evaluate_clip_classifier(cfg: ClipEvalConfig) -> ClipEvalResult:
    """Load the classifier (registry or checkpoint), score it on a split of the folder, print it."""
    result = run_evaluation(plan_evaluation(cfg))
    print(result.report, flush=True)
    return result
