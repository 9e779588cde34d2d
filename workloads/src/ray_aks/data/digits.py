"""scikit-learn's handwritten digits as MNIST-shaped data: the offline stand-in for MNIST.

load_digits ships with scikit-learn (no download). Each 8x8 image (0-16) is upscaled 3x to 24x24
and padded to 28x28, as MNIST centres its digits, then scaled to uint8 0-255 like MNIST's idx files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DigitsSplit:
    train_images: np.ndarray  # (N, 28, 28) uint8
    train_labels: np.ndarray  # (N,) uint8
    test_images: np.ndarray
    test_labels: np.ndarray


def upscale_to_28(images_8x8: np.ndarray) -> np.ndarray:
    """(N, 8, 8) values 0-16 -> (N, 28, 28) uint8 0-255."""
    scaled = np.kron(images_8x8, np.ones((1, 3, 3)))  # (N, 24, 24)
    padded = np.pad(scaled, ((0, 0), (2, 2), (2, 2)))
    return np.clip(np.rint(padded * (255.0 / 16.0)), 0, 255).astype(np.uint8)


def digits_28x28(test_fraction: float = 0.25, seed: int = 0) -> DigitsSplit:
    """A stratified, seeded train/test split of the 1,797 digits as 28x28 uint8 images."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = upscale_to_28(digits.images)
    labels = digits.target.astype(np.uint8)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    return DigitsSplit(train_x, train_y, test_x, test_y)
