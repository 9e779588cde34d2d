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


class RayTrainSettings(BaseModel):
    """What every Ray Train job shares: scale, storage, fault tolerance and tracking."""

    model_config = ConfigDict(extra="forbid")

    num_workers: int = Field(2, ge=1, description="Ray Train workers (DDP processes)")
    use_gpu: bool = Field(False, description="one GPU per worker")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs reserved by each worker")
    storage_path: str = Field(default_factory=default_storage_path, description="checkpoints and results")
    run_name: str | None = Field(
        None, description="Ray Train run name; reuse one to resume its latest checkpoint after a restart"
    )
    max_failures: int = Field(2, ge=-1, description="worker-group restarts from the last checkpoint")
    keep_checkpoints: int = Field(2, ge=1, description="newest checkpoints kept in storage")
    experiment_name: str = Field(..., min_length=1, description="MLflow experiment")
    tracking_uri: str | None = Field(None, description="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    seed: int = 0


class MnistTrainConfig(RayTrainSettings):
    data_dir: str = Field(..., description="directory of MNIST-format idx files (raw or .gz)")
    download: bool = Field(False, description="fetch the dataset with torchvision when absent")
    dataset: Literal["mnist", "fashion-mnist"] = "mnist"
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(64, ge=1, description="per worker")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    hidden: int = Field(128, ge=1, description="width of the first linear layer")
    experiment_name: str = "mnist-cnn"
    model_name: str = Field("mnist-cnn", min_length=1, description="MLflow registered model")
    model_alias: str | None = Field("champion", description="alias set on the new model version")
    # Test-only fault injection: rank 0 exits (os._exit) right after epoch N's checkpoint is
    # registered, once, so a test can watch Ray Train restart the worker group and resume.
    fail_after_epoch: int | None = Field(None, ge=1)


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
    data_dir: str = Field(..., description="image folder: one sub-directory per class")
    model: str = Field("openai/clip-vit-base-patch32", description="CLIP hub id or local directory")
    embed_batch_size: int = Field(32, ge=1)
    embed_actors: int = Field(1, ge=1, description="embedding actors (one model copy each)")
    embed_device: str = Field("cpu", description="device of the embedding actors (cpu or cuda)")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="held-out test share of each class")
    val_fraction: float = Field(
        0.15, gt=0, lt=1, description="validation share of each class (picks the best checkpoint)"
    )
    checkpoint_metric: Literal["val_loss", "val_accuracy"] = Field(
        "val_loss", description="validation metric that picks the best checkpoint"
    )
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1, description="per worker")
    lr: float = Field(1e-3, gt=0)
    hidden: int = Field(256, ge=1)
    dropout: float = Field(0.2, ge=0, lt=1)
    experiment_name: str = "clip-classifier"
    model_name: str = Field("clip-classifier", min_length=1)
    model_alias: str | None = "champion"

    @field_validator("val_fraction")
    @classmethod
    def _room_left_to_train(cls, value: float, info: ValidationInfo) -> float:
        return check_room_left_to_train(value, info.data.get("test_fraction"))

    @property
    def checkpoint_mode(self) -> Literal["min", "max"]:
        """Ray Train's order for `checkpoint_metric`: the lowest loss, the highest accuracy."""
        return "min" if self.checkpoint_metric == "val_loss" else "max"
