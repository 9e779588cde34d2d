"""Sentence embeddings (all-MiniLM-L6-v2 by default) as a plain class and a Ray Data UDF. No Ray.

Ray Data constructs one instance per actor (`map_batches(SentenceEmbedder, fn_constructor_kwargs=...)`);
the Serve embeddings app calls `embed` on the texts of a batch of requests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TEXT_COLUMN = "text"
EMBEDDING_COLUMN = "embedding"
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class SentenceEmbedder:
    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "cpu",
        torch_threads: int | None = None,
        normalize: bool = True,
        encode_batch_size: int = 64,
    ):
        """`model` is a hub id or a local sentence-transformers directory."""
        import torch
        from sentence_transformers import SentenceTransformer

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.model = SentenceTransformer(model, device=device)
        self.normalize = normalize
        self.encode_batch_size = encode_batch_size
        self.dimension = int(self.model.get_embedding_dimension())

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32; unit length when `normalize`."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.encode_batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Ray Data UDF: batch["text"] -> batch["embedding"], other columns passed through."""
        out = dict(batch)
        out[EMBEDDING_COLUMN] = self.embed([str(text) for text in batch[TEXT_COLUMN]])
        return out
