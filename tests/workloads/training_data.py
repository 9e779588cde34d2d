"""Small real inputs for the training tests, generated on the spot: a tiny CLIP and an image folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Three classes an untrained CLIP can still tell apart: the dominant colour of the picture.
CLASS_COLOURS = {"blue": (30, 60, 220), "green": (40, 200, 60), "red": (220, 40, 40)}


def save_tiny_clip(directory: Path) -> Path:
    """A CLIP built from CLIPConfig (random weights, 32x32 input) saved like a hub model."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTextConfig, CLIPVisionConfig

    # Sizes both towers use (tiny: the tests train on 2 shared cores); the vision tower has a layer more.
    common = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 2}
    text = CLIPTextConfig(
        vocab_size=64,
        num_hidden_layers=1,
        max_position_embeddings=16,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        **common,
    )
    vision = CLIPVisionConfig(image_size=32, patch_size=8, num_hidden_layers=2, **common)
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16)
    import torch

    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(directory)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        directory
    )
    return directory


def write_image_folder(directory: Path, per_class: int = 16, seed: int = 0) -> Path:
    """PNG images in one sub-directory per class: a coloured square on noise, random size and place."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, colour in CLASS_COLOURS.items():
        (directory / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = rng.integers(40, 72, size=2)
            image = rng.integers(0, 90, size=(h, w, 3), dtype=np.uint8)
            size = int(min(h, w) * rng.uniform(0.5, 0.8))
            top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
            image[top : top + size, left : left + size] = colour
            Image.fromarray(image).save(directory / name / f"{name}-{i:03d}.png")
    return directory
