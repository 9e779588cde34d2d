"""CLIP image embeddings as a Ray Data UDF class (callable on a batch dict); no Ray imports.

Ray Data constructs one instance per actor (`map_batches(ClipImageEmbedder, fn_constructor_kwargs=...)`),
so the model loads once per actor and every batch reuses it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

IMAGE_COLUMN = "image"
EMBEDDING_COLUMN = "embedding"


class ClipImageEmbedder:
    def __init__(self, model: str, device: str = "cpu", torch_threads: int | None = None):
        """`model` is a hub id (e.g. openai/clip-vit-base-patch32) or a local save_pretrained dir."""
        import torch
        from transformers import CLIPModel, CLIPProcessor

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.model = CLIPModel.from_pretrained(model).to(device).eval()
        self.processor = CLIPProcessor.from_pretrained(model)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import torch
        from PIL import Image

        images = [_to_pil(item, Image) for item in batch[IMAGE_COLUMN]]
        inputs = self.processor(images=images, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            features = self.model.get_image_features(**inputs)
            if not isinstance(features, torch.Tensor):  # some transformers versions return an output object
                features = features.pooler_output
            features = torch.nn.functional.normalize(features, dim=-1)
        out = {k: v for k, v in batch.items() if k != IMAGE_COLUMN}
        out[EMBEDDING_COLUMN] = features.cpu().numpy().astype(np.float32)
        return out


def _to_pil(item: Any, image_module: Any):
    """Accept an HxWxC uint8 array (Ray Data's read_images) or encoded image bytes."""
    if isinstance(item, (bytes, bytearray)):
        return image_module.open(io.BytesIO(item)).convert("RGB")
    return image_module.fromarray(np.asarray(item, dtype=np.uint8)).convert("RGB")
