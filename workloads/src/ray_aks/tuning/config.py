"""Typed configuration of `ray-aks tune`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ray_aks.training.config import default_storage_path


class TuneMnistConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: str = Field(..., description="directory of MNIST-format idx files (raw or .gz)")
    download: bool = False
    dataset: Literal["mnist", "fashion-mnist"] = "mnist"
    num_samples: int = Field(8, ge=1, description="trials (times the size of lr_grid when given)")
    max_epochs: int = Field(4, ge=1, description="epochs of a trial that ASHA never stops")
    grace_period: int = Field(1, ge=1, description="epochs every trial runs before ASHA may stop it")
    reduction_factor: int = Field(2, ge=2, description="ASHA keeps the best 1/reduction_factor per rung")
    lr_min: float = Field(1e-4, gt=0)
    lr_max: float = Field(1e-2, gt=0)
    lr_grid: list[float] | None = Field(
        None, description="exact learning rates instead of log-uniform sampling"
    )
    hidden_choices: list[int] = Field([32, 64, 128], min_length=1)
    batch_size_choices: list[int] = Field([32, 64, 128], min_length=1)
    cpus_per_trial: float = Field(1.0, gt=0)
    use_gpu: bool = False
    max_concurrent_trials: int | None = Field(
        None, ge=1, description="default: cluster CPUs / cpus_per_trial"
    )
    storage_path: str = Field(default_factory=default_storage_path)
    run_name: str | None = None
    experiment_name: str = "mnist-tune"
    tracking_uri: str | None = None
    seed: int = 0

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
