"""Typed configuration of the evaluation jobs; the CLI builds these, the Ray glue reads them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ray_aks.serving.model_source import check_model_source
from ray_aks.training.config import check_room_left_to_train, default_storage_path

DEFAULT_CLIP_CLASSIFIER = "models:/clip-classifier@champion"


class ClipEvalConfig(BaseModel):
    """Evaluate a trained CLIP-embedding classifier on one split of an image folder.

    The split settings and the CLIP model default to what the classifier recorded at training, so
    the default evaluates exactly the held-out test split the training run evaluated.
    """

    model_config = ConfigDict(extra="forbid")

    model_uri: str = Field(
        DEFAULT_CLIP_CLASSIFIER,
        description="models:/<name>@<alias> or /<version>, runs:/<run_id>/model, or a checkpoint directory",
    )
    data_dir: str = Field(..., description="image folder: one sub-directory per class")
    split: Literal["test", "val", "train", "all"] = Field("test", description="which images to evaluate")
    clip_model: str | None = Field(None, description="CLIP hub id or local directory (default: as trained)")
    test_fraction: float | None = Field(None, gt=0, lt=1, description="default: as trained")
    val_fraction: float | None = Field(None, ge=0, lt=1, description="default: as trained")
    seed: int | None = Field(None, description="seed of the split (default: as trained)")
    use_gpu: bool = Field(False, description="one GPU per classifier actor and CUDA for the CLIP actors")
    batch_size: int = Field(1024, ge=1, description="embeddings per classifier batch")
    num_actors: int = Field(1, ge=1, description="classifier actors (each loads the model once)")
    embed_batch_size: int = Field(32, ge=1)
    embed_actors: int = Field(1, ge=1, description="embedding actors (one CLIP copy each)")
    storage_path: str = Field(
        default_factory=default_storage_path, description="where CLIP embeddings are cached"
    )
    tracking_uri: str | None = Field(None, description="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")

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
