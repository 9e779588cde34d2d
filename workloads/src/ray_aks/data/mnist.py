"""MNIST-format datasets on disk: find, load, write (digits) and download (torchvision). No Ray imports.

A dataset directory holds the four standard idx files, raw or gzipped:
train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte.
torchvision's layout (<dir>/MNIST/raw/, <dir>/FashionMNIST/raw/) is found too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ray_aks.data.digits import digits_28x28
from ray_aks.data.idx import read_idx, write_idx

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
Dataset = Literal["mnist", "fashion-mnist"]
_TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


@dataclass(frozen=True)
class ImageSplit:
    """Images (N, 28, 28) uint8 and labels (N,) int64 for the train and test splits."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _file_in(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def find_mnist_dir(data_dir: str | Path) -> Path | None:
    """The directory under `data_dir` that holds all four idx files, or None."""
    root = Path(data_dir)
    candidates = [root] + [root / sub / "raw" for sub in _TORCHVISION_DIRS.values()]
    for directory in candidates:
        if all(_file_in(directory, stem) for stem in FILES.values()):
            return directory
    return None


def load_mnist_dir(data_dir: str | Path) -> ImageSplit:
    """Load the four idx files; a missing or malformed file is a clear error naming it."""
    directory = find_mnist_dir(data_dir)
    if directory is None:
        raise _missing_files_error(data_dir)
    arrays = {key: read_idx(_file_in(directory, stem)) for key, stem in FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{directory}: {split} images {images.shape} and labels {labels.shape} do not match "
                "(expected (N, H, W) images and N labels)"
            )
    return ImageSplit(
        train_images=arrays["train_images"].astype(np.uint8),
        train_labels=arrays["train_labels"].astype(np.int64),
        test_images=arrays["test_images"].astype(np.uint8),
        test_labels=arrays["test_labels"].astype(np.int64),
    )


def write_digits_idx(output: str | Path, compress: bool = True, seed: int = 0) -> Path:
    """Write scikit-learn's digits (upscaled to 28x28) as the four MNIST idx files; returns the dir."""
    out = Path(output)
    split = digits_28x28(seed=seed)
    suffix = ".gz" if compress else ""
    write_idx(split.train_images, out / (FILES["train_images"] + suffix))
    write_idx(split.train_labels, out / (FILES["train_labels"] + suffix))
    write_idx(split.test_images, out / (FILES["test_images"] + suffix))
    write_idx(split.test_labels, out / (FILES["test_labels"] + suffix))
    return out


def download_mnist(data_dir: str | Path, dataset: Dataset = "mnist") -> Path:
    """Fetch MNIST or Fashion-MNIST with torchvision (the `download` extra) into `data_dir`."""
    try:
        from torchvision import datasets
    except ImportError as err:
        raise RuntimeError("--download needs torchvision: pip install 'ray-aks-workloads[download]'") from err
    cls = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    for train in (True, False):
        cls(root=str(data_dir), train=train, download=True)
    found = find_mnist_dir(data_dir)
    if found is None:
        raise RuntimeError(f"torchvision downloaded {dataset} but no idx files were found under {data_dir}")
    return found


def ensure_mnist_dir(data_dir: str | Path, download: bool, dataset: Dataset = "mnist") -> Path:
    """The idx directory under `data_dir`, downloading first when asked and the files are absent."""
    found = find_mnist_dir(data_dir)
    if found is not None:
        return found
    if download:
        return download_mnist(data_dir, dataset)
    raise _missing_files_error(data_dir)


def _missing_files_error(data_dir: str | Path) -> FileNotFoundError:
    missing = [stem for stem in FILES.values() if _file_in(Path(data_dir), stem) is None]
    return FileNotFoundError(
        f"{data_dir} does not hold MNIST idx files (missing: {', '.join(missing)}; raw or .gz); "
        "pass --download to fetch MNIST, or write digits with `ray-aks data digits --output DIR`"
    )
