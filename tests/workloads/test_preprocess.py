"""`ray-aks preprocess`: real CSV, parquet and .npy records through Ray Data on the local Ray."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ray_aks.cli import app
from ray_aks.preprocess.job import PreprocessConfig, detect_format, normalise_array, preprocess
from typer.testing import CliRunner


def _records(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "height": rng.normal(170, 10, n),
            "weight": rng.integers(40, 120, n),
            "constant": np.full(n, 7.0),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
        }
    )


def _read_output(directory: Path) -> pd.DataFrame:
    return pd.read_parquet(directory)


@pytest.mark.slow
def test_csv_standardised_through_the_cli(ray_local: None, tmp_path: Path) -> None:
    frame = _records()
    frame.to_csv(tmp_path / "records.csv", index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["preprocess", "--input", str(tmp_path / "records.csv"), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "preprocess: 200 rows" in result.output and "rows/s" in result.output

    written = _read_output(out)
    assert len(written) == 200
    for col in ("height", "weight"):
        assert written[col].mean() == pytest.approx(0, abs=1e-9)
        assert written[col].std(ddof=0) == pytest.approx(1, rel=1e-6)
    assert (written["constant"] == 0).all()  # zero variance: centred, not divided by zero
    assert sorted(written["city"]) == sorted(frame["city"])  # text passes through unchanged


@pytest.mark.slow
def test_parquet_directory_min_max_on_chosen_columns(ray_local: None, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    frames = [_records(100, seed) for seed in (1, 2)]
    for i, frame in enumerate(frames):
        frame.to_parquet(source / f"part-{i}.parquet")
    result = preprocess(
        PreprocessConfig(input=str(source), output=str(tmp_path / "out"), method="minmax", columns=["weight"])
    )

    assert result.rows == 200 and result.rows_per_second > 0
    assert result.scalar_columns == ["weight"]
    written = _read_output(tmp_path / "out")
    assert written["weight"].min() == 0 and written["weight"].max() == 1
    original = pd.concat(frames)
    np.testing.assert_allclose(
        np.sort(written["height"]), np.sort(original["height"])
    )  # not chosen: untouched


@pytest.mark.slow
def test_numpy_records_each_scaled_to_unit_length(ray_local: None, tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(30, 8, 8)).astype(np.uint8)
    np.save(tmp_path / "images.npy", images)
    result = preprocess(
        PreprocessConfig(input=str(tmp_path / "images.npy"), output=str(tmp_path / "out"), method="l2")
    )

    assert result.rows == 30 and result.array_columns == ["data"]
    written = _read_output(tmp_path / "out")
    arrays = np.stack([np.asarray(a, dtype=np.float64).reshape(8, 8) for a in written["data"]])
    np.testing.assert_allclose(np.linalg.norm(arrays.reshape(30, -1), axis=1), 1.0, rtol=1e-5)
    # Each record keeps its own proportions: the same image up to scale.
    expected = images.reshape(30, -1) / np.linalg.norm(images.reshape(30, -1), axis=1, keepdims=True)
    np.testing.assert_allclose(np.sort(arrays.reshape(30, -1), axis=0), np.sort(expected, axis=0), rtol=1e-5)


def test_refusals_are_clear_and_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.csv").write_text("x\n1\n")
    (tmp_path / "mixed" / "b.json").write_text("{}")
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format(tmp_path / "mixed")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        preprocess(PreprocessConfig(input=str(tmp_path / "missing.csv"), output=str(tmp_path / "o")))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.parquet").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        preprocess(PreprocessConfig(input=str(tmp_path / "mixed" / "a.csv"), output=str(tmp_path / "full")))
    assert (tmp_path / "full" / "keep.parquet").read_bytes() == b"precious"


def test_normalise_array_rules() -> None:
    x = np.array([[0.0, 2.0], [4.0, 6.0]])
    np.testing.assert_allclose(normalise_array(x, "minmax"), [[0, 1 / 3], [2 / 3, 1]], rtol=1e-6)
    z = normalise_array(x, "standard")
    assert z.mean() == pytest.approx(0, abs=1e-6) and z.std() == pytest.approx(1, rel=1e-6)
    assert normalise_array(np.zeros((2, 2)), "l2").tolist() == [[0, 0], [0, 0]]
