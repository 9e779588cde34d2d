"""The plain alternative to the Serve apps: the same FastAPI routes and model code, one uvicorn process.

No batching: each request runs its own forward pass (in a thread, as FastAPI runs sync work), with
torch's default threads (all cores). Run as `python -m benchmarks.plain_server --app mnist ...`.
"""

from __future__ import annotations

import argparse
import asyncio

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", choices=["mnist", "embeddings"], required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    if args.app == "mnist":
        from ray_aks.serving.mnist import build_api

        api = build_api(PlainMnist(args.model))
    else:
        from ray_aks.serving.embeddings import build_api as build_embeddings_api

        api = build_embeddings_api(PlainEmbeddings(args.model))
    uvicorn.run(api, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
