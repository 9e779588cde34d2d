"""What every Serve app's deployment class shares: its args, the batcher and its runtime knobs,
reconfigure(), the FastAPI app built after the model loads, and the serveConfigV2 builder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

from fastapi import FastAPI
from ray.serve import Application
from ray.serve.deployment import Deployment

from ray_aks.serving.batching import AdaptiveBatcher
from ray_aks.serving.config import BatchedRuntime, DeploymentArgs, parse_args

ArgsT = TypeVar("ArgsT", bound=DeploymentArgs)
RuntimeT = TypeVar("RuntimeT", bound=BatchedRuntime)


class BatchedService(Generic[ArgsT, RuntimeT]):
    """Base of the apps' deployment classes (decorated `@serve.deployment` and `@serve.ingress()`).

    A subclass sets `args_model`, `runtime_model` and `api_builder` (its module's build_api), loads
    its model in __init__ after `super().__init__(args)`, then calls `start_batching`.
    """

    args_model: ClassVar[type[DeploymentArgs]]
    runtime_model: ClassVar[type[BatchedRuntime]]
    api_builder: ClassVar[Callable[[Any], FastAPI]]

    def __init__(self, args: dict[str, Any]):
        self.args: ArgsT = self.args_model.model_validate(args)  # type: ignore[assignment]
        self.runtime: RuntimeT = self.args.user_config  # type: ignore[attr-defined]

    def start_batching(self, run_batch: Callable[[list[Any]], Awaitable[list[Any]]]) -> None:
        runtime = self.runtime
        self.batcher = AdaptiveBatcher(run_batch, runtime.max_batch_size, runtime.batch_wait_timeout_s)

    def check_runtime(self, runtime: RuntimeT) -> RuntimeT:
        """Cross-checks of new knobs against the args (none unless a subclass has some)."""
        return runtime

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Serve calls this with the deployment's user_config, at start and on every change."""
        self.runtime = self.check_runtime(self.runtime_model.model_validate(user_config))  # type: ignore[arg-type]
        self.batcher.max_batch_size = self.runtime.max_batch_size
        self.batcher.batch_wait_timeout_s = self.runtime.batch_wait_timeout_s

    def __serve_build_asgi_app__(self) -> FastAPI:
        # Serve's late-bound ingress (`@serve.ingress()` without an app, see serve.ingress): Serve
        # calls this after __init__, so the routes can use what the replica loaded (the args' limits
        # in the request models, the model's dimension) instead of a FastAPI app built at import.
        return type(self).api_builder(self)


def build_application(
    deployment: Deployment, args_model: type[ArgsT], args: Any, import_path: str
) -> Application:
    """A serveConfigV2 builder's body: validate `args`, then bind the deployment with its options."""
    parsed = parse_args(args_model, args, import_path)
    options = parsed.deployment_options(parsed.user_config)  # type: ignore[attr-defined]
    return deployment.options(**options).bind(parsed.model_dump(mode="json"))
