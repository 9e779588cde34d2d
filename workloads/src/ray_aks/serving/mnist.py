"""`ray_aks.serving.mnist:app`: the MNIST classifier behind FastAPI, with dynamic batching.

POST /predict takes JSON {"data": 28x28 numbers in [0, 1]}, JSON {"image": "<base64 PNG/JPEG>"}
or a raw image body (Content-Type: image/*) and answers {"prediction", "confidence",
"probabilities"}. POST / (the route prefix itself, e.g. /mnist) is the root's JSON API: JSON
{"data": 28x28 or a flat 784 numbers in [0, 1]}, with the same answer. GET /healthz answers once the
model is loaded.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Protocol

import numpy as np
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from ray.serve import Application

from ray_aks.serving.config import BatchedRuntime, DeploymentArgs
from ray_aks.serving.deployment import BatchedService, batched_deployment, build_application
from ray_aks.serving.http import BATCH_SIZE_HEADER, BODY_ERRORS, ApiInfo, create_api, raise_validation_error
from ray_aks.serving.images import IMAGE_SIZE, ImageDecodeError, decode_base64, to_mnist_pixels
from ray_aks.serving.model_source import check_model_source

IMPORT_PATH = "ray_aks.serving.mnist:app"
DEFAULT_MODEL = "models:/mnist-cnn@champion"
NUM_CLASSES = 10
MNIST_API = ApiInfo(
    "MNIST digit classifier", "Classifies a 28x28 handwritten digit. Requests are batched across clients."
)


class MnistArgs(DeploymentArgs):
    """Builder args of the MNIST app (serveConfigV2 `args`)."""

    model: str = Field(
        DEFAULT_MODEL,
        description="models:/<name>@<alias>, models:/<name>/<version>, or a checkpoint directory.",
    )
    tracking_uri: str | None = Field(None, description="MLflow tracking URI (default: MLFLOW_TRACKING_URI).")
    max_image_pixels: int = Field(
        16_000_000, ge=1, description="Decoded images with more pixels get 400 (decompression bombs)."
    )
    user_config: BatchedRuntime = Field(
        default_factory=BatchedRuntime, description="Runtime knobs, changeable in place."
    )

    @field_validator("model")
    @classmethod
    def _model_source(cls, value: str) -> str:
        return check_model_source(value)


Pixel = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
PixelRow = Annotated[list[Pixel], Field(min_length=IMAGE_SIZE, max_length=IMAGE_SIZE)]
PixelGrid = Annotated[list[PixelRow], Field(min_length=IMAGE_SIZE, max_length=IMAGE_SIZE)]
FLAT_PIXELS = IMAGE_SIZE * IMAGE_SIZE
FlatPixels = Annotated[list[Pixel], Field(min_length=FLAT_PIXELS, max_length=FLAT_PIXELS)]


def _pixel_layout(value: Any) -> str | None:
    # Picks the one form to validate against, so a 422 names that form's problem, not both forms'.
    if not isinstance(value, list):
        return None
    return "rows" if value and isinstance(value[0], list) else "flat"


# The root's clients reshape `data` themselves, so they may send the 28 rows or the 784 pixels flat.
RowsOrFlatPixels = Annotated[
    Annotated[PixelGrid, Tag("rows")] | Annotated[FlatPixels, Tag("flat")],
    Discriminator(
        _pixel_layout,
        custom_error_type="pixels_layout",
        custom_error_message=(
            f"data must be {IMAGE_SIZE} rows of {IMAGE_SIZE} numbers or a flat list of {FLAT_PIXELS} numbers"
        ),
    ),
]

# A "1": the stroke in columns 12-15 of rows 4-23.
EXAMPLE_DATA = [[1.0 if 4 <= r <= 23 and 12 <= c <= 15 else 0.0 for c in range(28)] for r in range(28)]
# A 7 from scikit-learn's digits, 28x28 PNG.
EXAMPLE_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAAAfElEQVR42rXQwQ2CQBRF0cOEAqYErADsADrACqzBCixh6MAS"
    "jBVoCZRCCS6QuDNEhrv6+cm7eXn8S7EcFXcaBi6fX/iVDKu0T/AgcWTcpi1BpOLESCJubjtrJw603JZBsmhnEg2o822LnisdU9"
    "a2Z15fZx5tpKdbnwx24Q2+zw7WupL49AAAAABJRU5ErkJggg=="
)


class PredictJSON(BaseModel):
    """Exactly one of `data` (pixels) or `image` (base64 PNG or JPEG)."""

    model_config = ConfigDict(extra="forbid")

    data: PixelGrid | None = Field(None, description="28 rows of 28 pixel intensities in [0, 1].")
    image: str | None = Field(None, min_length=1, description="A base64 PNG or JPEG (a data: URL works too).")

    @model_validator(mode="after")
    def _exactly_one(self) -> PredictJSON:
        if (self.data is None) == (self.image is None):
            raise ValueError("give exactly one of 'data' (28x28 pixels) or 'image' (base64)")
        return self


class RootPixelsRequest(BaseModel):
    """The JSON request to the app's root: `data` only, as 28 rows or 784 flat."""

    model_config = ConfigDict(extra="forbid")

    data: RowsOrFlatPixels = Field(
        description=f"{IMAGE_SIZE} rows of {IMAGE_SIZE} pixels in [0, 1], or the {FLAT_PIXELS} pixels flat."
    )


class Prediction(BaseModel):
    prediction: int = Field(ge=0, le=NUM_CLASSES - 1, description="The most probable digit.")
    confidence: float = Field(ge=0, le=1, description="Its probability.")
    probabilities: list[float] = Field(description="Probability of each digit 0-9.")


class MnistBackend(Protocol):
    """What the HTTP layer needs: the Serve replica below, or a plain server in a benchmark."""

    args: MnistArgs
    runtime: BatchedRuntime

    async def classify(self, pixels: np.ndarray) -> tuple[np.ndarray, int]: ...


def _request_body(
    description: str,
    schema: type[BaseModel],
    examples: dict[str, tuple[str, Any]],
    other_media: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An OpenAPI requestBody of JSON in `schema`, with named examples (summary, value), and any
    other media types the route reads itself."""
    json_body = {
        "schema": schema.model_json_schema(),
        "examples": {
            name: {"summary": summary, "value": value} for name, (summary, value) in examples.items()
        },
    }
    return {
        "required": True,
        "description": description,
        "content": {"application/json": json_body, **(other_media or {})},
    }


def _predict_request_body() -> dict[str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return _request_body(
        "JSON pixels, JSON base64 image, or the raw image bytes.",
        PredictJSON,
        {
            "pixels": ("28x28 pixels in [0, 1]", {"data": EXAMPLE_DATA}),
            "image": ("base64 PNG", {"image": EXAMPLE_PNG_BASE64}),
        },
        {"image/png": binary, "image/jpeg": binary},
    )


def _root_request_body() -> dict[str, Any]:
    flat = np.asarray(EXAMPLE_DATA).ravel().tolist()
    return _request_body(
        "The pixels as 28 rows or flat.",
        RootPixelsRequest,
        {
            "rows": ("28x28 pixels in [0, 1]", {"data": EXAMPLE_DATA}),
            "flat": ("784 pixels in [0, 1], row by row", {"data": flat}),
        },
    )


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _unsupported_media(media: str, accepted: str) -> HTTPException:
    return HTTPException(415, f"unsupported content-type {media!r}: send {accepted}")


async def read_pixels(request: Request, max_pixels: int) -> np.ndarray:
    """The request's image as (28, 28) float32; 4xx with the reason for anything unusable."""
    media = _media_type(request)
    body = await request.body()
    try:
        if media.startswith("image/"):
            return to_mnist_pixels(body, max_pixels)
        if _is_json(media):
            try:
                parsed = PredictJSON.model_validate_json(body)
            except ValidationError as err:
                raise_validation_error(err.errors(include_url=False))
            if parsed.data is not None:
                return np.asarray(parsed.data, dtype=np.float32)
            return to_mnist_pixels(decode_base64(parsed.image or ""), max_pixels)
    except ImageDecodeError as err:
        raise HTTPException(400, str(err)) from None
    raise _unsupported_media(media, "application/json or an image/* body")


async def read_root_pixels(request: Request) -> np.ndarray:
    """The root request's `data` (28 rows or 784 flat) as (28, 28) float32; 4xx with the reason otherwise."""
    media = _media_type(request)
    if not _is_json(media):
        raise _unsupported_media(media, "application/json")
    try:
        parsed = RootPixelsRequest.model_validate_json(await request.body())
    except ValidationError as err:
        raise_validation_error(err.errors(include_url=False))
    return np.asarray(parsed.data, dtype=np.float32).reshape(IMAGE_SIZE, IMAGE_SIZE)


def build_api(backend: MnistBackend) -> FastAPI:
    api = create_api(backend, MNIST_API)

    async def answer(pixels: np.ndarray, response: Response) -> Prediction:
        probabilities, batch_size = await backend.classify(pixels)
        response.headers[BATCH_SIZE_HEADER] = str(batch_size)
        best = int(probabilities.argmax())
        return Prediction(
            prediction=best, confidence=float(probabilities[best]), probabilities=probabilities.tolist()
        )

    @api.post(
        "/predict",
        response_model=Prediction,
        summary="Classify one digit",
        openapi_extra={"requestBody": _predict_request_body()},
        responses={
            400: {"description": "Bad base64, not an image, or an image too large to decode."},
            415: {"description": "Content-Type is neither JSON nor image/*."},
            **BODY_ERRORS,
        },
    )
    async def predict(request: Request, response: Response) -> Prediction:
        return await answer(await read_pixels(request, backend.args.max_image_pixels), response)

    # Clients of the root post to the route prefix itself (http://localhost:8000/mnist). Under a
    # prefix that path reaches the app as "", which "/" alone answers only with a 307 to /mnist/.
    @api.post("", include_in_schema=False)
    @api.post(
        "/",
        response_model=Prediction,
        summary="Classify one digit (JSON pixels at the route prefix)",
        openapi_extra={"requestBody": _root_request_body()},
        responses={415: {"description": "Content-Type is not JSON."}, **BODY_ERRORS},
    )
    async def predict_at_root(request: Request, response: Response) -> Prediction:
        return await answer(await read_root_pixels(request), response)

    return api


@batched_deployment
class MnistService(BatchedService[MnistArgs, BatchedRuntime]):
    """One replica: the model, the batcher, and a FastAPI app built after the model loads."""

    api_builder = build_api

    def load_model(self) -> None:
        import torch

        from ray_aks.serving.model_source import load_mnist_model

        torch.set_num_threads(self.args.threads)
        self.device = self.args.device
        self.model = load_mnist_model(self.args.model, self.args.tracking_uri, self.device)

    async def classify(self, pixels: np.ndarray) -> tuple[np.ndarray, int]:
        return await self.batcher.submit(pixels)

    async def run_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        # The forward pass runs in a thread so the event loop keeps queueing the next batch.
        return list(await asyncio.to_thread(self._forward, np.stack(images)))

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.model(torch.from_numpy(batch).unsqueeze(1).to(self.device))
            return torch.softmax(logits, dim=1).cpu().numpy()


def app(args: MnistArgs | dict[str, Any]) -> Application:
    """serveConfigV2 builder: `import_path: ray_aks.serving.mnist:app` with `args:` as in MnistArgs."""
    return build_application(MnistService, MnistArgs, args, IMPORT_PATH)
