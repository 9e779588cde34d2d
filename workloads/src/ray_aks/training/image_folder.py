"""An image folder with one sub-directory per class, and its seeded, stratified split into train,
validation and test images; `ray-aks train clip-classifier` and `evaluate clip-classifier` split alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class LabelledImage:
    key: str  # "<class>/<file name>": stable whatever prefix a filesystem adds to the path
    path: str
    label: int
    split: str


def image_key(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"


def list_image_folder(
    data_dir: str, test_fraction: float, seed: int, val_fraction: float = 0.0
) -> tuple[list[str], list[LabelledImage]]:
    """Classes (sorted sub-directory names) and every image with its label and split.

    Each class is split on its own (stratified) by a seeded permutation: its first share is the
    test split, the next the validation split (none when val_fraction is 0), the rest train; every
    split of every class gets at least one image.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    per_class = {
        sub.name: sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        for sub in sorted(root.iterdir())
        if sub.is_dir() and not sub.name.startswith(".")
    }
    per_class = {name: files for name, files in per_class.items() if files}
    if len(per_class) < 2:
        raise ValueError(
            f"{root} needs at least two class sub-directories with images ({sorted(IMAGE_SUFFIXES)}); "
            f"found {sorted(per_class) or 'none'}"
        )
    with_val = val_fraction > 0
    needed = 3 if with_val else 2
    too_small = [name for name, files in per_class.items() if len(files) < needed]
    if too_small:
        splits = "train, validation and test" if with_val else "train and test"
        raise ValueError(
            f"classes {too_small} in {root} have fewer than {needed} images: need one each for {splits}"
        )
    classes = sorted(per_class)
    rng = np.random.default_rng(seed)
    items = []
    for label, name in enumerate(classes):
        files = per_class[name]
        n = len(files)
        n_test = min(n - needed + 1, max(1, round(test_fraction * n)))
        n_val = min(n - n_test - 1, max(1, round(val_fraction * n))) if with_val else 0
        order = rng.permutation(n).tolist()
        split_of = {i: "test" for i in order[:n_test]} | {i: "val" for i in order[n_test : n_test + n_val]}
        items += [
            LabelledImage(image_key(str(f)), str(f.resolve()), label, split_of.get(i, "train"))
            for i, f in enumerate(files)
        ]
    return classes, items
