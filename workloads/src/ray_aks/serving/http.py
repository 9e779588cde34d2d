"""FastAPI pieces every app shares: body limits (413/408), JSON-safe 422s, error docs, batch headers.

Client mistakes must end as 4xx with a reason, never as a 500 or a replica stuck on a slow upload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ray_aks.serving.config import HttpLimits

# Each response of a batched endpoint says how many requests shared its model call.
BATCH_SIZE_HEADER = "x-batch-size"


class BodyLimitMiddleware:
    """Pure ASGI middleware: 413 for a body over the limit, 408 for a body that arrives too slowly.

    A declared Content-Length over the limit is refused before reading; a chunked body is counted
    as it streams. Errors raised from `receive` are HTTPExceptions, which FastAPI renders as JSON.
    `limits` is called per request so reconfigure() changes apply at once.
    """

    def __init__(self, app: ASGIApp, limits: Callable[[], HttpLimits]):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits()
        declared = _content_length(scope)
        if declared is not None and declared > limits.max_body_bytes:
            response = JSONResponse({"detail": _too_large(limits.max_body_bytes)}, status_code=413)
            await response(scope, receive, send)
            return

        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.body_timeout_s
        received = 0
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body only a disconnect can come: no deadline for that
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(deadline - loop.time(), 0))
            except TimeoutError:
                raise HTTPException(
                    408, f"request body not received within {limits.body_timeout_s:g}s"
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limits.max_body_bytes:
                    raise HTTPException(413, _too_large(limits.max_body_bytes))
                body_done = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return str(value)


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors as JSON-safe dicts without the offending input.

    FastAPI's default 422 echoes the input, and a NaN in it makes the 422 itself fail with a 500.
    """
    safe = []
    for error in errors:
        item = {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}
        if error.get("ctx"):
            item["ctx"] = {key: _json_safe(val) for key, val in error["ctx"].items()}
        safe.append(item)
    return safe


async def _validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_errors(list(exc.errors()))}, status_code=422)


def _error_doc(description: str, example: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]},
                "example": {"detail": example},
            }
        },
    }


# OpenAPI entries for the 4xx answers every endpoint with a body can give.
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    408: _error_doc("The body did not arrive within body_timeout_s.", "request body not received within 10s"),
    413: _error_doc("The body is larger than max_body_bytes.", _too_large(1_048_576)),
    422: _error_doc(
        "The body has the wrong shape, type or values; `loc` and `msg` say where and why.",
        [{"type": "finite_number", "loc": ["body", "data", 0, 3], "msg": "Input should be a finite number"}],
    ),
}


class _ModelArgs(Protocol):
    @property
    def model(self) -> str: ...


class Backend(Protocol):
    """What the shared parts read of an app's backend (a Serve replica, or a plain server in a
    benchmark): its args' model and the runtime knobs in force."""

    @property
    def args(self) -> _ModelArgs: ...

    @property
    def runtime(self) -> HttpLimits: ...


@dataclass(frozen=True)
class ApiInfo:
    """What an app's OpenAPI document says of it; `{model}` in the description becomes the model."""

    title: str
    description: str


def create_api(backend: Backend, info: ApiInfo) -> FastAPI:
    """A FastAPI app with the backend's body limits, the shared error handling and `GET /healthz`
    naming its model; the app adds its routes."""
    model = backend.args.model
    api = FastAPI(title=info.title, description=info.description.format(model=model), version="1.0.0")
    # Read per request: reconfigure() replaces the backend's runtime.
    api.add_middleware(BodyLimitMiddleware, limits=lambda: backend.runtime)
    api.add_exception_handler(RequestValidationError, _validation_error_handler)

    @api.get("/healthz", summary="Ready once the model is loaded")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "model": model}

    return api


def raise_validation_error(errors: list[dict[str, Any]], prefix: tuple[str, ...] = ("body",)) -> None:
    """Raise a 422 for pydantic-style errors found outside FastAPI's own body parsing."""
    raise RequestValidationError([{**e, "loc": (*prefix, *e.get("loc", ()))} for e in errors])
