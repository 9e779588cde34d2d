"""The plain alternative to the Serve apps: the same FastAPI routes and model code, one uvicorn process.

No batching: each request runs its own forward pass or generation (in a thread, as FastAPI runs
sync work), with torch's default threads (all cores).
Run as `python -m benchmarks.plain_server --app mnist ...`.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import numpy as np


class PlainMnist:
    """An MnistBackend without Serve: one image per forward pass."""

    def __init__(self, model: str):
        from ray_aks.serving.mnist import MnistArgs
        from ray_aks.serving.model_source import load_mnist_model

        self.args = MnistArgs(model=model)
        self.runtime = self.args.user_config
        self.model = load_mnist_model(model)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return torch.softmax(self.model(torch.from_numpy(batch).unsqueeze(1)), dim=1).numpy()

    async def classify(self, pixels: np.ndarray) -> tuple[np.ndarray, int]:
        return (await asyncio.to_thread(self._forward, pixels[None]))[0], 1


class PlainEmbeddings:
    """An EmbeddingsBackend without Serve: each request's texts in their own model call."""

    def __init__(self, model: str):
        from ray_aks.models.text_embedder import SentenceEmbedder
        from ray_aks.serving.embeddings import EmbeddingsArgs

        self.args = EmbeddingsArgs(model=model)
        self.runtime = self.args.user_config
        self.embedder = SentenceEmbedder(model, normalize=self.args.normalize)
        self.dimension = self.embedder.dimension

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int, int]:
        return await asyncio.to_thread(self.embedder.embed, texts), 1, len(texts)


class PlainTextgen:
    """A TextGenService without Serve: each request generates on its own, in a thread."""

    def __init__(self, model: str):
        from ray_aks.models.text_generator import TextGenerator
        from ray_aks.serving.textgen import TextgenArgs

        self.args = TextgenArgs(model=model)
        self.runtime = self.args.user_config
        self.generator = TextGenerator(model)

    async def generate(self, prompt: Any) -> tuple[list[dict[str, Any]], int]:
        return (await asyncio.to_thread(self.generator.generate_batch, [prompt]))[0], 1


PLAIN_BACKENDS = {"mnist": PlainMnist, "embeddings": PlainEmbeddings, "textgen": PlainTextgen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", choices=sorted(PLAIN_BACKENDS), required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import importlib

    import uvicorn

    # The app's own routes (build_api) over the plain backend.
    build_api = importlib.import_module(f"ray_aks.serving.{args.app}").build_api
    api = build_api(PLAIN_BACKENDS[args.app](args.model))
    uvicorn.run(api, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
