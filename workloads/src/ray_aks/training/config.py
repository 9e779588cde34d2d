"""Typed configuration of the training jobs; the CLI builds these, the Ray glue reads them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# The chart mounts shared storage (Azure Files/Blob RWX) here on every Ray pod.
CLUSTER_STORAGE = "/mnt/cluster_storage"


def default_storage_path() -> str:
    """/mnt/cluster_storage when mounted (in the cluster), else Ray's usual ~/ray_results."""
    if os.path.isdir(CLUSTER_STORAGE):
        return CLUSTER_STORAGE
    return str(Path.home() / "ray_results")


def timestamped(prefix: str) -> str:
    return f"{prefix}-{dt.datetime.now():%Y%m%d-%H%M%S}"


STORAGE_HELP = (
    "Where checkpoints and results go: shared storage in a cluster. "
    "Default: /mnt/cluster_storage when mounted, else ~/ray_results."
)
TRACKING_HELP = "MLflow tracking URI. Default: $MLFLOW_TRACKING_URI, else a local ./mlruns store."
MNIST_DIR_HELP = "Directory of MNIST/Fashion-MNIST idx files (raw or .gz)"
DOWNLOAD_HELP = "Download the dataset with torchvision when it is absent."
DATASET_HELP = "Which dataset --download fetches: mnist or fashion-mnist."


class RayTrainSettings(BaseModel):
    """What every Ray Train job shares: scale, storage, fault tolerance and tracking.

    The fields of the configs are the options of their `ray-aks` commands (ray_aks.cli_options):
    a field's description is the option's help.
    """

    model_config = ConfigDict(extra="forbid")

    num_workers: int = Field(2, ge=1, description="Ray Train workers (DDP processes).")
    use_gpu: bool = Field(False, description="Give each worker one GPU (CUDA); CPU otherwise.")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs reserved per worker.")
    storage_path: str = Field(default_factory=default_storage_path, description=STORAGE_HELP)
    run_name: str | None = Field(
        None,
        description="Ray Train run name (default: <experiment>-<timestamp>). "
        "Reuse it to resume after a restart.",
    )
    experiment_name: str = Field(..., min_length=1, description="MLflow experiment.")
    model_alias: str | None = Field(
        "champion", description="Alias pointed at the newly registered version (empty: none)."
    )
    max_failures: int = Field(
        2, ge=-1, description="Worker-group restarts from the last checkpoint (-1: no limit)."
    )
    keep_checkpoints: int = Field(2, ge=1, description="Newest checkpoints kept under the storage path.")
    tracking_uri: str | None = Field(None, description=TRACKING_HELP)
    seed: int = Field(0, description="Seed of model init and data shuffling.")

    @field_validator("model_alias")
    @classmethod
    def _empty_alias_is_none(cls, value: str | None) -> str | None:
        return value or None


class MnistTrainConfig(RayTrainSettings):
    data_dir: str = Field(..., description=f"{MNIST_DIR_HELP}; written by --download.")
    download: bool = Field(False, description=DOWNLOAD_HELP)
    dataset: Literal["mnist", "fashion-mnist"] = Field("mnist", description=DATASET_HELP)
    epochs: int = Field(5, ge=1, description="Training epochs.")
    batch_size: int = Field(64, ge=1, description="Batch size per worker.")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    hidden: int = Field(128, ge=1, description="Width of the CNN's first linear layer.")
    experiment_name: str = Field("mnist-cnn", min_length=1, description="MLflow experiment.")
    model_name: str = Field(
        "mnist-cnn", min_length=1, description="MLflow registered model name for the final model."
    )


def check_room_left_to_train(val_fraction: float | None, test_fraction: float | None) -> float | None:
    """The validation and test shares of an image folder's split leave images to train on (training
    and evaluation split a folder alike); returns val_fraction."""
    if val_fraction is not None and test_fraction is not None and val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 (got {val_fraction} + {test_fraction}): "
            "nothing would be left to train on"
        )
    return val_fraction


class ClipClassifierConfig(RayTrainSettings):
    data_dir: str = Field(..., description="Image folder with one sub-directory per class.")
    model: str = Field(
        "openai/clip-vit-base-patch32", description="CLIP model: hub id or a local save_pretrained directory."
    )
    embed_batch_size: int = Field(32, ge=1, description="Images per embedding batch.")
    embed_actors: int = Field(1, ge=1, description="Embedding actors (each holds one model copy).")
    test_fraction: float = Field(
        0.25, gt=0, lt=1, description="Held-out test share of each class, scored once after training."
    )
    val_fraction: float = Field(
        0.15, gt=0, lt=1, description="Validation share of each class, scored every epoch."
    )
    checkpoint_metric: Literal["val_loss", "val_accuracy"] = Field(
        "val_loss",
        description="Validation metric that picks the best checkpoint (the registered model): "
        "val_loss (lowest) or val_accuracy (highest).",
    )
    epochs: int = Field(10, ge=1, description="Classifier training epochs.")
    batch_size: int = Field(32, ge=1, description="Batch size per worker.")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    hidden: int = Field(256, ge=1, description="Width of the classifier's hidden layer.")
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout before the last layer.")
    use_gpu: bool = Field(False, description="GPU for the embedding actors and the workers.")
    experiment_name: str = Field("clip-classifier", min_length=1, description="MLflow experiment.")
    model_name: str = Field("clip-classifier", min_length=1, description="MLflow registered model name.")
    keep_checkpoints: int = Field(
        2, ge=1, description="Best checkpoints (by --checkpoint-metric) kept, besides the latest."
    )
    seed: int = Field(0, description="Seed of the split, init and shuffling.")

    @field_validator("val_fraction")
    @classmethod
    def _room_left_to_train(cls, value: float, info: ValidationInfo) -> float:
        return check_room_left_to_train(value, info.data.get("test_fraction"))

    @property
    def checkpoint_mode(self) -> Literal["min", "max"]:
        """Ray Train's order for `checkpoint_metric`: the lowest loss, the highest accuracy."""
        return "min" if self.checkpoint_metric == "val_loss" else "max"

    @property
    def embed_device(self) -> str:
        """The embedding actors run where the workers do: CUDA with --use-gpu, else CPU."""
        return "cuda" if self.use_gpu else "cpu"
