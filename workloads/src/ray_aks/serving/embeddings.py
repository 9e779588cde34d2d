"""`ray_aks.serving.embeddings:app`: sentence embeddings at POST /embeddings, batched across clients.

The body is {"input": "one text"} or {"input": ["text", ...]} (count and length bounded by the
args); the answer is {"model", "dimension", "embeddings": [[...], ...]}, one vector per text in order.
"""

# No `from __future__ import annotations`: FastAPI must see the request class built in build_api.
import asyncio
from typing import Annotated, Any, Protocol

import numpy as np
from fastapi import FastAPI, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from ray.serve import Application

from ray_aks.serving.config import BatchedRuntime, DeploymentArgs
from ray_aks.serving.deployment import BatchedService, batched_deployment, build_application
from ray_aks.serving.http import BATCH_SIZE_HEADER, BODY_ERRORS, ApiInfo, create_api

IMPORT_PATH = "ray_aks.serving.embeddings:app"
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# The response header with the number of texts (not requests) in the model call.
BATCH_TEXTS_HEADER = "x-batch-texts"
EMBEDDINGS_API = ApiInfo(
    "Text embeddings", "Sentence embeddings from {model}; requests are batched across clients."
)


class EmbeddingsRuntime(BatchedRuntime):
    max_batch_size: int = Field(16, ge=1, le=4096, description="Most requests run in one model call.")


class EmbeddingsArgs(DeploymentArgs):
    """Builder args of the embeddings app (serveConfigV2 `args`)."""

    model: str = Field(
        DEFAULT_MODEL, min_length=1, description="sentence-transformers hub id or local directory."
    )
    max_texts: int = Field(64, ge=1, le=10_000, description="Most texts in one request.")
    max_chars: int = Field(2000, ge=1, le=1_000_000, description="Longest accepted text.")
    normalize: bool = Field(True, description="Return unit-length vectors (cosine similarity = dot product).")
    encode_batch_size: int = Field(64, ge=1, le=4096, description="Texts per forward pass inside a batch.")
    user_config: EmbeddingsRuntime = Field(default_factory=EmbeddingsRuntime)


def _one_or_many(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ValueError("input must be a string or a list of strings")
    return value


def request_model(args: EmbeddingsArgs) -> type[BaseModel]:
    """The request body with the configured limits, so the OpenAPI schema states them."""
    text_schema = {"type": "string", "minLength": 1, "maxLength": args.max_chars}
    input_schema = {
        "anyOf": [
            text_schema,
            {"type": "array", "items": text_schema, "minItems": 1, "maxItems": args.max_texts},
        ],
        "description": "One text, or a list of texts embedded in order.",
    }
    Text = Annotated[str, Field(min_length=1, max_length=args.max_chars, strict=True)]
    Texts = Annotated[
        list[Text],
        Field(min_length=1, max_length=args.max_texts),
        BeforeValidator(_one_or_many),
        WithJsonSchema(input_schema),
    ]

    class EmbeddingsRequest(BaseModel):
        model_config = ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [
                    {"input": "A man is eating food."},
                    {"input": ["A man is eating food.", "A man is eating a piece of bread."]},
                ]
            },
        )

        input: Texts

    return EmbeddingsRequest


class EmbeddingsResponse(BaseModel):
    model: str
    dimension: int
    embeddings: list[list[float]] = Field(description="One vector per input text, in order.")


class EmbeddingsBackend(Protocol):
    args: EmbeddingsArgs
    runtime: EmbeddingsRuntime
    dimension: int

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int, int]: ...


def build_api(backend: EmbeddingsBackend) -> FastAPI:
    api = create_api(backend, EMBEDDINGS_API)
    EmbeddingsRequest = request_model(backend.args)

    @api.post("/embeddings", response_model=EmbeddingsResponse, summary="Embed texts", responses=BODY_ERRORS)
    async def embeddings(request: EmbeddingsRequest, response: Response) -> dict[str, Any]:
        vectors, batch_requests, batch_texts = await backend.embed(request.input)
        response.headers[BATCH_SIZE_HEADER] = str(batch_requests)
        response.headers[BATCH_TEXTS_HEADER] = str(batch_texts)
        return {"model": backend.args.model, "dimension": backend.dimension, "embeddings": vectors.tolist()}

    return api


@batched_deployment
class EmbeddingService(BatchedService[EmbeddingsArgs, EmbeddingsRuntime]):
    api_builder = build_api

    def load_model(self) -> None:
        from ray_aks.models.text_embedder import SentenceEmbedder

        self.embedder = SentenceEmbedder(
            self.args.model,
            device=self.args.device,
            torch_threads=self.args.threads,
            normalize=self.args.normalize,
            encode_batch_size=self.args.encode_batch_size,
        )
        self.dimension = self.embedder.dimension

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int, int]:
        (vectors, batch_texts), batch_requests = await self.batcher.submit(texts)
        return vectors, batch_requests, batch_texts

    async def run_batch(self, requests: list[list[str]]) -> list[tuple[np.ndarray, int]]:
        """All texts of the batched requests go through the model in one call, then split back."""
        texts = [text for request in requests for text in request]
        vectors = await asyncio.to_thread(self.embedder.embed, texts)
        ends = np.cumsum([len(request) for request in requests])[:-1]
        return [(part, len(texts)) for part in np.split(vectors, ends)]


def app(args: EmbeddingsArgs | dict[str, Any]) -> Application:
    """serveConfigV2 builder: `import_path: ray_aks.serving.embeddings:app`, `args:` as in EmbeddingsArgs."""
    return build_application(EmbeddingService, EmbeddingsArgs, args, IMPORT_PATH)
