"""Client images to MNIST input: base64 or raw bytes -> (28, 28) float32 in [0, 1], white on black.

Raises ImageDecodeError (the app answers 400) for bad base64, bytes that are no image, an image
format outside ACCEPTED_FORMATS, or more pixels than allowed (decompression bombs).
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np

IMAGE_SIZE = 28  # MNIST's side; ray_aks.models.mnist_cnn is not imported here (it imports torch)
ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")


class ImageDecodeError(ValueError):
    """The client's image cannot be used; the message says why."""


def decode_base64(text: str) -> bytes:
    """Standard base64, optionally as a data URL (data:image/png;base64,...)."""
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ImageDecodeError(f"image is not valid base64: {err}") from None


def to_mnist_pixels(raw: bytes, max_pixels: int) -> np.ndarray:
    """Decode, convert to grayscale, resize to 28x28 and scale to [0, 1] with MNIST's polarity.

    MNIST digits are light on a dark background; an image whose border is mostly light (a dark
    digit on paper) is inverted. Transparent pixels count as white paper.
    """
    from PIL import Image, UnidentifiedImageError

    if not raw:
        raise ImageDecodeError("image is empty")
    try:
        with Image.open(io.BytesIO(raw), formats=ACCEPTED_FORMATS) as image:
            if image.width * image.height > max_pixels:
                raise ImageDecodeError(
                    f"image is {image.width}x{image.height} pixels; the limit is {max_pixels} pixels"
                )
            image.load()
            gray = _to_gray(image, Image)
    except UnidentifiedImageError:
        raise ImageDecodeError(f"body is not an image in one of {', '.join(ACCEPTED_FORMATS)}") from None
    except ImageDecodeError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageDecodeError(f"image could not be decoded: {err}") from None

    if gray.size != (IMAGE_SIZE, IMAGE_SIZE):
        gray = gray.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(gray, dtype=np.float32) / 255.0
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 0.5:
        pixels = 1.0 - pixels
    return pixels


def _to_gray(image, image_module):
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
        return image_module.alpha_composite(paper, rgba).convert("L")
    return image.convert("L")
