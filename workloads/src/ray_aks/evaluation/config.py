"""Typed configuration of the evaluation jobs; the CLI builds these, the Ray glue reads them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ray_aks.serving.model_source import check_model_source
from ray_aks.training.config import TRACKING_HELP, check_room_left_to_train, default_storage_path

DEFAULT_CLIP_CLASSIFIER = "models:/clip-classifier@champion"
AS_TRAINED = "Default: as recorded by the training run."


class ClipEvalConfig(BaseModel):
    """Evaluate a trained CLIP-embedding classifier on one split of an image folder.

    The split settings and the CLIP model default to what the classifier recorded at training, so
    the default evaluates exactly the held-out test split the training run evaluated. The fields are
    the options of `ray-aks evaluate clip-classifier` (ray_aks.cli_options): a description is the help.
    """

    model_config = ConfigDict(extra="forbid")

    model_uri: str = Field(
        DEFAULT_CLIP_CLASSIFIER,
        description="The classifier: models:/<name>@<alias>, models:/<name>/<version>, runs:/<run_id>/model "
        "or a checkpoint directory.",
    )
    data_dir: str = Field(..., description="Image folder with one sub-directory per class.")
    split: Literal["test", "val", "train", "all"] = Field(
        "test", description="Images to evaluate: test, val, train or all."
    )
    clip_model: str | None = Field(None, description=f"CLIP model: hub id or a local directory. {AS_TRAINED}")
    test_fraction: float | None = Field(
        None, gt=0, lt=1, description=f"Test share of each class. {AS_TRAINED}"
    )
    val_fraction: float | None = Field(
        None, ge=0, lt=1, description=f"Validation share of each class. {AS_TRAINED}"
    )
    seed: int | None = Field(None, description=f"Seed of the split. {AS_TRAINED}")
    use_gpu: bool = Field(False, description="One GPU per classifier actor; CLIP embeds on CUDA.")
    batch_size: int = Field(1024, ge=1, description="Embeddings per classifier batch.")
    num_actors: int = Field(1, ge=1, description="Classifier actors (each loads the model once).")
    embed_batch_size: int = Field(32, ge=1, description="Images per embedding batch.")
    embed_actors: int = Field(1, ge=1, description="Embedding actors (each holds one CLIP copy).")
    storage_path: str = Field(
        default_factory=default_storage_path,
        description="Where CLIP embeddings are cached; the cache a training run left there is reused. "
        "Default: /mnt/cluster_storage when mounted, else ~/ray_results.",
    )
    tracking_uri: str | None = Field(None, description=TRACKING_HELP)

    @field_validator("model_uri")
    @classmethod
    def _model_source(cls, value: str) -> str:
        return check_model_source(value)

    @field_validator("val_fraction")
    @classmethod
    def _room_left_to_train(cls, value: float | None, info: ValidationInfo) -> float | None:
        return check_room_left_to_train(value, info.data.get("test_fraction"))

    @property
    def embed_device(self) -> str:
        return "cuda" if self.use_gpu else "cpu"
