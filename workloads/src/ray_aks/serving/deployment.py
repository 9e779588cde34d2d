"""What every Serve app's deployment class shares: its args, the batcher and its runtime knobs,
reconfigure(), the FastAPI app built after the model loads, the Serve deployment made of the class,
and the serveConfigV2 builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

from fastapi import FastAPI
from ray import serve
from ray.serve import Application
from ray.serve.deployment import Deployment

from ray_aks.serving.batching import AdaptiveBatcher
from ray_aks.serving.config import BatchedRuntime, DeploymentArgs, parse_args

ArgsT = TypeVar("ArgsT", bound=DeploymentArgs)
RuntimeT = TypeVar("RuntimeT", bound=BatchedRuntime)


class BatchedService(Generic[ArgsT, RuntimeT]):
    """Base of the apps' deployment classes (each made a Serve deployment by `batched_deployment`).

    A subclass names its args and runtime models once, as its parameters
    (`BatchedService[MnistArgs, BatchedRuntime]`), sets `api_builder` (its module's build_api), loads
    its model in `load_model` and runs one batch of requests through it in `run_batch`.
    """

    args_model: ClassVar[type[DeploymentArgs]]
    runtime_model: ClassVar[type[BatchedRuntime]]
    api_builder: ClassVar[Callable[[Any], FastAPI]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Only a class statement that subscripts BatchedService names the models; a subclass of that
        # (serve.ingress's wrapper) inherits them.
        for base in cls.__dict__.get("__orig_bases__", ()):
            if get_origin(base) is BatchedService:
                cls.args_model, cls.runtime_model = get_args(base)

    def __init__(self, args: dict[str, Any]):
        self.args: ArgsT = self.args_model.model_validate(args)  # type: ignore[assignment]
        self.runtime: RuntimeT = self.args.user_config  # type: ignore[attr-defined]
        self.load_model()
        runtime = self.runtime
        self.batcher = AdaptiveBatcher(self.run_batch, runtime.max_batch_size, runtime.batch_wait_timeout_s)

    def load_model(self) -> None:
        """Load the model named by self.args (once, before the first request)."""
        raise NotImplementedError

    async def run_batch(self, items: list[Any]) -> list[Any]:
        """One result per item, in order: what the batcher runs on the requests that queued."""
        raise NotImplementedError

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


def batched_deployment(service: type[BatchedService[Any, Any]]) -> Deployment:
    """Class decorator: the Serve deployment of a BatchedService, named after the class, with the
    late-bound ingress (`@serve.ingress()` without an app) that builds the FastAPI app per replica."""
    return serve.deployment(name=service.__name__)(serve.ingress()(service))


def build_application(
    deployment: Deployment, args_model: type[ArgsT], args: Any, import_path: str
) -> Application:
    """A serveConfigV2 builder's body: validate `args`, then bind the deployment with its options."""
    parsed = parse_args(args_model, args, import_path)
    options = parsed.deployment_options(parsed.user_config)  # type: ignore[attr-defined]
    return deployment.options(**options).bind(parsed.model_dump(mode="json"))
