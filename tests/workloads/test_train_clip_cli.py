"""`ray-aks train clip-classifier` and `ray-aks evaluate clip-classifier`: usage errors, never a
traceback, for bad flags and inputs (help for every option: test_cli_training.py; real runs:
test_train_clip.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ray_aks.cli import app
from ray_aks.models.embedding_classifier import EmbeddingClassifier, save_classifier
from typer.testing import CliRunner

from tests.conftest import free_port
from tests.workloads.training_data import write_image_folder

runner = CliRunner()


def usage_error(*args: str) -> str:
    """Run the CLI expecting a usage error (exit 2, no traceback); its output as one line of words."""
    result = runner.invoke(app, list(args), env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and "Traceback" not in result.output
    return " ".join(result.output.replace("│", " ").split())


def test_evaluate_is_listed_by_the_top_level_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "evaluate" in result.output
    result = runner.invoke(app, ["evaluate", "--help"])
    assert result.exit_code == 0 and "clip-classifier" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--val-fraction", "0"], "--val-fraction"),
        (["--val-fraction", "1.5"], "--val-fraction"),
        (["--val-fraction", "0.5", "--test-fraction", "0.5"], "--val-fraction"),
        (["--checkpoint-metric", "val_f1"], "--checkpoint-metric"),
        (["--keep-checkpoints", "0"], "--keep-checkpoints"),
    ],
)
def test_bad_train_flags_are_usage_errors_naming_the_option(args: list[str], named: str) -> None:
    message = usage_error("train", "clip-classifier", "--data-dir", "d", *args)
    assert named in message


def test_val_and_test_shares_must_leave_images_to_train() -> None:
    message = usage_error(
        "train", "clip-classifier", "--data-dir", "d", "--val-fraction", "0.5", "--test-fraction", "0.5"
    )
    assert "val_fraction + test_fraction must be below 1 (got 0.5 + 0.5)" in message


def test_a_folder_too_small_for_a_validation_split_is_a_usage_error(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=2)
    message = usage_error("train", "clip-classifier", "--data-dir", str(tmp_path))
    assert (
        "--data-dir" in message
        and "fewer than 3 images: need one each for train, validation and test" in message
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--model-uri", "models:/clip-classifier"], "--model-uri"),
        (["--split", "holdout"], "--split"),
        (["--test-fraction", "1.5"], "--test-fraction"),
        (["--val-fraction", "-0.1"], "--val-fraction"),
        (["--num-actors", "0"], "--num-actors"),
        (["--batch-size", "many"], "--batch-size"),
        (["--epochz", "3"], "--epochz"),
    ],
)
def test_bad_evaluate_flags_are_usage_errors_naming_the_option(args: list[str], named: str) -> None:
    assert named in usage_error("evaluate", "clip-classifier", "--data-dir", "d", *args)


@pytest.fixture
def checkpoint_dir(tmp_path: Path) -> Path:
    """A classifier checkpoint as training writes it, for classes the test folder does not have."""
    model = EmbeddingClassifier(in_dim=16, num_classes=2, hidden=8)
    save_classifier(model, tmp_path / "checkpoint", ["cats", "dogs"], epoch=3, clip_model="some/clip")
    return tmp_path / "checkpoint"


def test_a_directory_without_a_checkpoint_is_a_usage_error_naming_model_uri(tmp_path: Path) -> None:
    message = usage_error(
        "evaluate", "clip-classifier", "--model-uri", str(tmp_path), "--data-dir", str(tmp_path)
    )
    assert "--model-uri" in message and "no classifier checkpoint at" in message


def test_a_folder_with_other_classes_is_a_usage_error_naming_data_dir(
    tmp_path: Path, checkpoint_dir: Path
) -> None:
    images = write_image_folder(tmp_path / "images", per_class=4)
    message = usage_error(
        "evaluate", "clip-classifier", "--model-uri", str(checkpoint_dir), "--data-dir", str(images)
    )
    assert "--data-dir" in message
    assert "['blue', 'green', 'red']) are not those" in message and "(['cats', 'dogs'])" in message


def test_a_tracking_server_that_does_not_answer_is_a_usage_error(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    message = usage_error("evaluate", "clip-classifier", "--data-dir", str(tmp_path), "--tracking-uri", uri)
    assert "--tracking-uri" in message and f"MLflow at {uri} does not answer" in message


@pytest.mark.slow
def test_a_model_missing_from_the_registry_is_a_usage_error(mlflow_server: str, tmp_path: Path) -> None:
    message = usage_error(
        "evaluate", "clip-classifier", "--model-uri", "models:/no-such-classifier@champion",
        "--data-dir", str(tmp_path), "--tracking-uri", mlflow_server,
    )  # fmt: skip
    assert "--model-uri" in message and "no-such-classifier" in message
