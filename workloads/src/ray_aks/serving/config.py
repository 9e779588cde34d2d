"""Typed builder args shared by every Serve app: replica resources, scaling, HTTP limits, batching.

Serve passes `args` from serveConfigV2 as a plain dict; `parse_args` validates it into an app's
model and fails with a message that names the app and every offending key.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ArgsT = TypeVar("ArgsT", bound=BaseModel)


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a values file must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ActorOptions(StrictModel):
    """Ray actor options of each replica (Serve's `ray_actor_options`)."""

    num_cpus: float = Field(1.0, ge=0, description="CPUs reserved per replica.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs per replica; > 0 runs the model on CUDA.")
    memory: int | None = Field(None, ge=0, description="Heap memory reserved per replica, in bytes.")
    accelerator_type: str | None = Field(None, description="Ray accelerator type, e.g. A100.")
    runtime_env: dict[str, Any] | None = Field(
        None, description="Ray runtime_env of the replicas, e.g. {env_vars: {HF_HUB_OFFLINE: '1'}}."
    )

    def to_ray(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class HttpLimits(StrictModel):
    """Limits every app enforces before a request reaches the model (runtime knobs: user_config)."""

    max_body_bytes: int = Field(
        1_048_576, ge=1, le=1 << 30, description="Larger request bodies get 413 without being read."
    )
    body_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="A body not fully received within this many seconds gets 408."
    )


class BatchedRuntime(HttpLimits):
    """Runtime knobs of the batched apps; Serve applies changes in place through reconfigure()."""

    max_batch_size: int = Field(32, ge=1, le=4096, description="Most requests run in one model call.")
    batch_wait_timeout_s: float = Field(
        0.0,
        ge=0,
        le=60,
        description=(
            "Extra wait for a batch to fill once the model is free. 0: run what queued while the model "
            "was busy, and a lone request at once."
        ),
    )


class DeploymentArgs(StrictModel):
    """How many replicas run and what each one reserves."""

    num_replicas: int | None = Field(
        None, ge=1, description="Fixed replica count (1 when neither this nor autoscaling_config is set)."
    )
    autoscaling_config: dict[str, Any] | None = Field(
        None, description="Serve autoscaling_config (min_replicas, max_replicas, target_ongoing_requests...)."
    )
    max_ongoing_requests: int = Field(16, ge=1, description="Requests one replica handles at once.")
    ray_actor_options: ActorOptions = Field(default_factory=ActorOptions)
    torch_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads per replica (default: num_cpus, at least 1)."
    )

    @field_validator("autoscaling_config")
    @classmethod
    def _known_autoscaling_keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        from ray.serve.config import AutoscalingConfig

        unknown = sorted(set(value) - set(AutoscalingConfig.model_fields))
        if unknown:
            raise ValueError(f"unknown autoscaling_config keys: {', '.join(unknown)}")
        AutoscalingConfig(**value)  # Ray's own checks (min <= max, positive targets, ...)
        return value

    @model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> DeploymentArgs:
        if self.num_replicas is not None and self.autoscaling_config is not None:
            raise ValueError("set num_replicas or autoscaling_config, not both")
        return self

    @property
    def device(self) -> str:
        return "cuda" if self.ray_actor_options.num_gpus > 0 else "cpu"

    @property
    def threads(self) -> int:
        return self.torch_threads or max(1, round(self.ray_actor_options.num_cpus))

    def deployment_options(self, user_config: BaseModel) -> dict[str, Any]:
        """Keyword arguments for `Deployment.options()`."""
        options: dict[str, Any] = {
            "ray_actor_options": self.ray_actor_options.to_ray(),
            "max_ongoing_requests": self.max_ongoing_requests,
            "user_config": user_config.model_dump(),
        }
        if self.autoscaling_config is not None:
            options["autoscaling_config"] = self.autoscaling_config
        else:
            options["num_replicas"] = self.num_replicas or 1
        return options


def parse_args(model: type[ArgsT], args: ArgsT | dict[str, Any] | None, import_path: str) -> ArgsT:
    """Validate builder args (a dict from serveConfigV2, or the model itself) with a clear error."""
    if isinstance(args, model):
        return args
    try:
        return model.model_validate(args or {})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(args)'}: {e['msg']}" for e in err.errors()
        )
        raise ValueError(f"invalid args for {import_path}: {problems}") from None
