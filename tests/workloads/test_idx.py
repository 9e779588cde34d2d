"""The idx reader and writer on generated files, and the MNIST directory loader built on them."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from ray_aks.data.idx import IdxFormatError, read_idx, write_idx
from ray_aks.data.mnist import FILES, find_mnist_dir, load_mnist_dir, write_digits_idx


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_uint8_images_round_trip_raw_and_gzipped(tmp_path: Path, name: str) -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = write_idx(images, tmp_path / name)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    restored = read_idx(path)
    assert restored.dtype == np.uint8
    np.testing.assert_array_equal(restored, images)


def test_header_is_the_mnist_layout(tmp_path: Path) -> None:
    labels = np.array([7, 2, 1], dtype=np.uint8)
    data = write_idx(labels, tmp_path / "labels", compress=False).read_bytes()
    # magic 0x00000801 (unsigned byte, 1 dimension), then the count as a big-endian uint32
    assert data[:8] == bytes([0, 0, 0x08, 1, 0, 0, 0, 3])
    assert data[8:] == bytes([7, 2, 1])


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32, np.float64, np.int8])
def test_other_idx_types_round_trip(tmp_path: Path, dtype: type) -> None:
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    restored = read_idx(write_idx(array, tmp_path / "a.idx"))
    assert restored.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(restored, array)


def test_gzip_is_detected_from_content_not_name(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    path = write_idx(array, tmp_path / "no-suffix", compress=True)
    np.testing.assert_array_equal(read_idx(path), array)


def test_wrong_magic_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(b"\x01\x02\x08\x01" + b"\x00\x00\x00\x01" + b"\x05")
    with pytest.raises(IdxFormatError, match=r"bad-idx3-ubyte: wrong magic number 01020801"):
        read_idx(path)


def test_unknown_type_code_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "odd"
    path.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 9]))
    with pytest.raises(IdxFormatError, match="unknown idx type code 0x42"):
        read_idx(path)


def test_truncated_raw_file_is_a_clear_error(tmp_path: Path) -> None:
    path = write_idx(np.zeros((4, 28, 28), dtype=np.uint8), tmp_path / "t-idx3-ubyte", compress=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        IdxFormatError, match=r"truncated: shape \(4, 28, 28\) needs 3136 data bytes, found 3036"
    ):
        read_idx(path)


def test_truncated_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0, 0, 4]))
    with pytest.raises(IdxFormatError, match="truncated header"):
        read_idx(path)


def test_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = write_idx(np.ones((50, 28, 28), dtype=np.uint8), tmp_path / "t.gz")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(IdxFormatError, match=r"t\.gz: cannot read idx data"):
        read_idx(path)


def test_trailing_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3])))
    with pytest.raises(IdxFormatError, match="has trailing bytes"):
        read_idx(path)


def test_digits_as_mnist_files_load_back(tmp_path: Path) -> None:
    out = write_digits_idx(tmp_path / "digits", compress=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(f + ".gz" for f in FILES.values())
    split = load_mnist_dir(out)
    assert split.train_images.shape[1:] == (28, 28) and split.train_images.dtype == np.uint8
    assert len(split.train_images) + len(split.test_images) == 1797  # all of scikit-learn's digits
    assert set(np.unique(split.test_labels)) == set(range(10))
    assert split.train_images.max() == 255


def test_torchvision_layout_is_found(tmp_path: Path) -> None:
    write_digits_idx(tmp_path / "FashionMNIST" / "raw", compress=False)
    assert find_mnist_dir(tmp_path) == tmp_path / "FashionMNIST" / "raw"


def test_missing_files_name_what_is_missing(tmp_path: Path) -> None:
    write_digits_idx(tmp_path, compress=False)
    (tmp_path / FILES["test_labels"]).unlink()
    with pytest.raises(FileNotFoundError, match="missing: t10k-labels-idx1-ubyte"):
        load_mnist_dir(tmp_path)


def test_mismatched_images_and_labels_are_refused(tmp_path: Path) -> None:
    write_digits_idx(tmp_path, compress=False)
    write_idx(np.zeros(3, dtype=np.uint8), tmp_path / FILES["test_labels"])
    with pytest.raises(ValueError, match=r"test images .* and labels .* do not match"):
        load_mnist_dir(tmp_path)
