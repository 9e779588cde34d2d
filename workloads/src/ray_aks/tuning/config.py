"""Typed configuration of `ray-aks tune`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ray_aks.training.config import (
    DATASET_HELP,
    DOWNLOAD_HELP,
    MNIST_DIR_HELP,
    STORAGE_HELP,
    TRACKING_HELP,
    default_storage_path,
)


class TuneMnistConfig(BaseModel):
    """The options of `ray-aks tune` (ray_aks.cli_options): a field's description is its help."""

    model_config = ConfigDict(extra="forbid")

    data_dir: str = Field(..., description=f"{MNIST_DIR_HELP}.")
    download: bool = Field(False, description=DOWNLOAD_HELP)
    dataset: Literal["mnist", "fashion-mnist"] = Field("mnist", description=DATASET_HELP)
    num_samples: int = Field(8, ge=1, description="Number of trials (per --lr-grid value when given).")
    max_epochs: int = Field(4, ge=1, description="Epochs of a trial that ASHA lets finish.")
    grace_period: int = Field(1, ge=1, description="Epochs each trial runs before ASHA may stop it.")
    reduction_factor: int = Field(2, ge=2, description="ASHA keeps the best 1/N of trials at each rung.")
    lr_min: float = Field(1e-4, gt=0, description="Lower bound of the log-uniform learning rate.")
    lr_max: float = Field(1e-2, gt=0, description="Upper bound of the log-uniform learning rate.")
    lr_grid: list[float] | None = Field(
        None, description="Try exactly these learning rates (repeatable) instead."
    )
    hidden_choices: list[int] = Field(
        [32, 64, 128],
        min_length=1,
        description="Widths of the first linear layer to choose from.",
        json_schema_extra={"cli": "--hidden"},
    )
    batch_size_choices: list[int] = Field(
        [32, 64, 128],
        min_length=1,
        description="Batch sizes to choose from.",
        json_schema_extra={"cli": "--batch-size"},
    )
    cpus_per_trial: float = Field(1.0, gt=0, description="CPUs reserved by each trial.")
    use_gpu: bool = Field(False, description="Give each trial one GPU.")
    max_concurrent_trials: int | None = Field(
        None, ge=1, description="Trials at once (default: cluster CPUs / --cpus-per-trial)."
    )
    storage_path: str = Field(default_factory=default_storage_path, description=STORAGE_HELP)
    run_name: str | None = Field(
        None, description="Tune experiment name (default: <experiment>-<timestamp>)."
    )
    experiment_name: str = Field(
        "mnist-tune", description="MLflow experiment (parent run plus one child per trial)."
    )
    tracking_uri: str | None = Field(None, description=TRACKING_HELP)
    seed: int = Field(0, description="Seed of the search and of each trial.")

    @model_validator(mode="after")
    def _check(self) -> TuneMnistConfig:
        if self.lr_min > self.lr_max:
            raise ValueError(f"lr_min ({self.lr_min}) must not exceed lr_max ({self.lr_max})")
        if self.grace_period > self.max_epochs:
            raise ValueError(
                f"grace_period ({self.grace_period}) must not exceed max_epochs ({self.max_epochs})"
            )
        if any(v <= 0 for v in self.hidden_choices + self.batch_size_choices + (self.lr_grid or [])):
            raise ValueError("hidden, batch size and learning-rate values must be positive")
        return self
