"""The training side of the `ray-aks` CLI: help for every subcommand, usage errors for bad flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from ray_aks.cli import app
from ray_aks.data.mnist import FILES, load_mnist_dir
from typer.testing import CliRunner

from tests.support.fresh_python import run_in_fresh_python

COMMANDS = {
    ("train", "mnist"): [
        "--data-dir", "--download", "--epochs", "--num-workers", "--use-gpu", "--cpus-per-worker",
        "--batch-size", "--lr", "--hidden", "--storage-path", "--experiment-name", "--model-name",
        "--model-alias", "--max-failures", "--seed", "--run-name", "--tracking-uri",
    ],
    ("train", "clip-classifier"): [
        "--data-dir", "--model", "--num-workers", "--use-gpu", "--storage-path", "--epochs",
        "--embed-batch-size", "--test-fraction", "--val-fraction", "--checkpoint-metric",
        "--keep-checkpoints",
    ],
    ("evaluate", "clip-classifier"): [
        "--model-uri", "--data-dir", "--split", "--clip-model", "--test-fraction", "--val-fraction", "--seed",
        "--use-gpu", "--batch-size", "--num-actors", "--embed-batch-size", "--embed-actors", "--storage-path",
        "--tracking-uri",
    ],
    ("tune",): [
        "--data-dir", "--num-samples", "--max-epochs", "--grace-period", "--cpus-per-trial", "--lr-min",
        "--lr-max", "--hidden", "--batch-size",
    ],
    ("preprocess",): ["--input", "--output", "--input-format", "--method", "--columns"],
    ("data", "digits"): ["--output", "--gzip"],
}  # fmt: skip

runner = CliRunner()


def _command(path: tuple[str, ...]):
    """The click command behind `ray-aks <path>` (typer 0.29 ships its own click)."""
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_help_lists_every_option(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for option in COMMANDS[path]:
        assert option in result.output, f"{' '.join(path)} --help does not mention {option}"


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_every_option_has_help_text(path: tuple[str, ...]) -> None:
    command = _command(path)
    assert command.help
    undocumented = [p.name for p in command.params if p.param_type_name == "option" and not p.help]
    assert not undocumented, f"{' '.join(path)}: options without help: {undocumented}"


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_unknown_flag_is_a_usage_error_naming_it(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--epochz", "3"])
    assert result.exit_code == 2
    assert "No such option: --epochz" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["train", "mnist", "--data-dir", "d", "--epochs", "0"], "--epochs"),
        (["train", "mnist", "--data-dir", "d", "--num-workers", "two"], "--num-workers"),
        (["train", "mnist", "--data-dir", "d", "--dataset", "kmnist"], "--dataset"),
        (["train", "mnist", "--epochs", "2"], "--data-dir"),
        (["train", "clip-classifier", "--data-dir", "d", "--test-fraction", "1.5"], "--test-fraction"),
        (["tune", "--data-dir", "d", "--grace-period", "5", "--max-epochs", "2"], "grace_period"),
        (["preprocess", "--input", "a", "--output", "b", "--method", "zscore"], "--method"),
    ],
)
def test_bad_value_is_a_usage_error_naming_the_option(args: list[str], named: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output


def test_data_digits_writes_mnist_files_through_the_console_script(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("ray-aks")
    done = subprocess.run(
        [str(cli), "data", "digits", "--output", str(tmp_path / "digits"), "--no-gzip"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 1347 train and 450 test digits" in done.stdout
    assert sorted(p.name for p in (tmp_path / "digits").iterdir()) == sorted(FILES.values())
    assert load_mnist_dir(tmp_path / "digits").test_images.shape == (450, 28, 28)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "mnist", "--data-dir", "{tmp}"], "does not hold MNIST idx files"),
        (["tune", "--data-dir", "{tmp}/nowhere"], "missing: train-images-idx3-ubyte"),
        (["train", "clip-classifier", "--data-dir", "{tmp}"], "needs at least two class sub-directories"),
        (["preprocess", "--input", "{tmp}/none.csv", "--output", "{tmp}/out"], "does not exist"),
        (["train", "mnist", "--data-dir", "{tmp}/empty", "--download"], "needs torchvision"),
    ],
)
def test_unusable_input_path_is_a_usage_error_naming_the_option(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, [a.format(tmp=tmp_path) for a in args], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert any(flag in result.output for flag in ("--data-dir", "--input", "--download"))
    assert "Traceback" not in result.output


def test_commands_and_model_code_load_without_ray() -> None:
    """CLI modules stay light (help is instant); model code and data readers never import Ray."""
    code = (
        "import sys\n"
        "import ray_aks.training.cli, ray_aks.tuning.cli, ray_aks.preprocess.cli, ray_aks.data.cli\n"
        "import ray_aks.evaluation.cli, ray_aks.evaluation.config\n"
        "heavy = sorted({'ray', 'torch', 'mlflow', 'transformers'} & set(sys.modules))\n"
        "assert not heavy, f'CLI modules import {heavy}'\n"
        "import ray_aks.models.mnist_cnn, ray_aks.models.embedding_classifier, ray_aks.models.clip_embedder\n"
        "import ray_aks.data.idx, ray_aks.data.mnist, ray_aks.training.epochs, ray_aks.training.report\n"
        "import ray_aks.evaluation.predictor\n"
        "assert 'ray' not in sys.modules, 'model code or a data reader imports ray'\n"
    )
    run_in_fresh_python(code)
