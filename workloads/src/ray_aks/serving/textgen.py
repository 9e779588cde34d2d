"""`ray_aks.serving.textgen:app`: text generation at POST /text/simple-gen.

A client sends {"input": "..."} and gets what transformers' text-generation pipeline
returns: [{"generated_text": "<input><continuation>"}]. Optional max_new_tokens, temperature
(0, or anything below 0.001, = greedy) and top_p are bounded by the builder args; their defaults are
runtime knobs. Concurrent requests share generate calls (up to 10 by default; see batching.py).
"""

# No `from __future__ import annotations`: FastAPI must see the request class built in build_api.
import asyncio
from typing import Any, Protocol

from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from ray.serve import Application

from ray_aks.serving.config import BatchedRuntime, DeploymentArgs
from ray_aks.serving.deployment import BatchedService, batched_deployment, build_application
from ray_aks.serving.http import BATCH_SIZE_HEADER, BODY_ERRORS, ApiInfo, create_api, raise_validation_error

IMPORT_PATH = "ray_aks.serving.textgen:app"
DEFAULT_MODEL = "distilgpt2"
EXAMPLE_PROMPT = "Once upon a time"
TEXTGEN_API = ApiInfo("Text generation", "Continues a prompt with a causal language model ({model}).")


class TextgenRuntime(BatchedRuntime):
    """Runtime knobs (user_config): batching, and generation defaults for requests that leave a field out."""

    max_batch_size: int = Field(10, ge=1, le=4096, description="Most requests in one generate call.")

    default_max_new_tokens: int = Field(50, ge=1, description="New tokens when a request gives none.")
    default_temperature: float = Field(0.0, ge=0, description="0 decodes greedily; > 0 samples.")
    default_top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass when sampling.")


class TextgenArgs(DeploymentArgs):
    """Builder args of the text-generation app (serveConfigV2 `args`)."""

    model: str = Field(DEFAULT_MODEL, min_length=1, description="Hub id or local save_pretrained directory.")
    max_input_chars: int = Field(2000, ge=1, le=1_000_000, description="Longest accepted `input`.")
    max_new_tokens_limit: int = Field(256, ge=1, le=8192, description="Largest accepted max_new_tokens.")
    max_temperature: float = Field(2.0, ge=0, le=100, description="Largest accepted temperature.")
    max_ongoing_requests: int = Field(
        20, ge=1, description="Requests one replica takes at once (queued for, or in, a batch)."
    )
    user_config: TextgenRuntime = Field(default_factory=TextgenRuntime)

    @model_validator(mode="after")
    def _defaults_within_limits(self) -> "TextgenArgs":
        check_runtime(self.user_config, self)
        return self


def check_runtime(runtime: TextgenRuntime, args: TextgenArgs) -> TextgenRuntime:
    if runtime.default_max_new_tokens > args.max_new_tokens_limit:
        raise ValueError(
            f"default_max_new_tokens={runtime.default_max_new_tokens} is above "
            f"max_new_tokens_limit={args.max_new_tokens_limit}"
        )
    if runtime.default_temperature > args.max_temperature:
        raise ValueError(
            f"default_temperature={runtime.default_temperature} is above "
            f"max_temperature={args.max_temperature}"
        )
    return runtime


class GeneratedText(BaseModel):
    generated_text: str = Field(description="The input followed by the generated continuation.")


def request_model(args: TextgenArgs) -> type[BaseModel]:
    """The request body with the configured limits, so the OpenAPI schema states them."""

    class SimpleGenRequest(BaseModel):
        model_config = ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [
                    {"input": EXAMPLE_PROMPT},
                    {"input": EXAMPLE_PROMPT, "max_new_tokens": 20, "temperature": 0.8, "top_p": 0.95},
                ]
            },
        )

        input: str = Field(min_length=1, max_length=args.max_input_chars, description="The prompt.")
        max_new_tokens: int | None = Field(
            None, ge=1, le=args.max_new_tokens_limit, strict=True, description="Tokens to generate."
        )
        temperature: float | None = Field(
            None,
            ge=0,
            le=args.max_temperature,
            allow_inf_nan=False,
            strict=True,
            description="0 (or below 0.001) = greedy.",
        )
        top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False, strict=True)

    return SimpleGenRequest


class TextgenBackend(Protocol):
    args: TextgenArgs
    runtime: TextgenRuntime
    generator: Any  # ray_aks.models.text_generator.TextGenerator

    async def generate(self, prompt: Any) -> tuple[list[dict[str, Any]], int]:
        """A prepared Prompt's answer and the number of requests in its generate call."""
        ...


def build_api(backend: TextgenBackend) -> FastAPI:
    from ray_aks.models.text_generator import GenerationParams, PromptTooLongError

    api = create_api(backend, TEXTGEN_API)
    SimpleGenRequest = request_model(backend.args)

    @api.post(
        "/text/simple-gen",
        response_model=list[GeneratedText],
        summary="Continue a prompt",
        responses=BODY_ERRORS,
    )
    async def simple_gen(request: SimpleGenRequest, response: Response) -> list[dict[str, Any]]:
        runtime = backend.runtime
        params = GenerationParams(
            max_new_tokens=request.max_new_tokens or runtime.default_max_new_tokens,
            temperature=runtime.default_temperature if request.temperature is None else request.temperature,
            top_p=request.top_p or runtime.default_top_p,
        )
        try:
            # Tokenizing takes well under a millisecond: the prompt is checked here, so that one
            # request too long for the context never fails the batch it would have joined.
            prompt = backend.generator.prepare(request.input, params)
        except PromptTooLongError as err:
            raise_validation_error([{"type": "too_long", "loc": ("input",), "msg": str(err)}])
            raise  # unreachable: raise_validation_error always raises
        answer, batch_size = await backend.generate(prompt)
        response.headers[BATCH_SIZE_HEADER] = str(batch_size)
        return answer

    return api


@batched_deployment
class TextGenService(BatchedService[TextgenArgs, TextgenRuntime]):
    api_builder = build_api

    def load_model(self) -> None:
        from ray_aks.models.text_generator import TextGenerator

        self.generator = TextGenerator(self.args.model, self.args.device, self.args.threads)

    def check_runtime(self, runtime: TextgenRuntime) -> TextgenRuntime:
        return check_runtime(runtime, self.args)

    async def generate(self, prompt: Any) -> tuple[list[dict[str, Any]], int]:
        return await self.batcher.submit(prompt)

    async def run_batch(self, prompts: list[Any]) -> list[list[dict[str, Any]]]:
        # In a thread, so the event loop keeps taking requests for the next batch.
        return await asyncio.to_thread(self.generator.generate_batch, prompts)


def app(args: TextgenArgs | dict[str, Any]) -> Application:
    """serveConfigV2 builder: `import_path: ray_aks.serving.textgen:app` with `args:` as in TextgenArgs."""
    return build_application(TextGenService, TextgenArgs, args, IMPORT_PATH)
