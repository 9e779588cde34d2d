"""CLIP embeddings of an image folder's images, computed with Ray Data and cached as parquet under
the storage path, keyed by the model and the files: a re-run (or a restarted job) skips the step."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from ray_aks.training.config import ClipClassifierConfig
from ray_aks.training.image_folder import LabelledImage, image_key

logger = logging.getLogger(__name__)

CACHE_DIR = "clip-embeddings"
COMPLETE_MARKER = "_COMPLETE"


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
