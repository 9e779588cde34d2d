"""The CLIP-embedding classifier on generated images with a tiny CLIP saved like a hub model:
the seeded train/validation/test split, training with the best checkpoint by a validation metric,
and evaluation of the registered model loaded back from a real MLflow registry with Ray Data."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from ray_aks.evaluation.clip_classifier import evaluate_clip_classifier
from ray_aks.evaluation.config import ClipEvalConfig
from ray_aks.evaluation.predictor import load_classifier_source
from ray_aks.models.clip_embedder import ClipImageEmbedder
from ray_aks.models.embedding_classifier import EmbeddingClassifier, load_classifier
from ray_aks.training.clip_classifier import ClipClassifierResult, train_clip_classifier
from ray_aks.training.config import ClipClassifierConfig
from ray_aks.training.embedding_cache import embed_images
from ray_aks.training.image_folder import list_image_folder
from typer.testing import CliRunner

from tests.workloads.training_data import CLASS_COLOURS, save_tiny_clip, write_image_folder

METRICS = {"accuracy", "precision_macro", "recall_macro", "f1_macro"}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


def test_embedder_matches_clip_image_features(tiny_clip: Path) -> None:
    """The shared UDF gives CLIP's projected image embedding, L2-normalised, for any image size."""
    from transformers import CLIPImageProcessor, CLIPModel

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for h, w in [(40, 50), (64, 32), (32, 32)]]
    out = ClipImageEmbedder(str(tiny_clip))({"image": images, "id": np.arange(3)})
    assert out["embedding"].shape == (3, 16) and out["embedding"].dtype == np.float32
    np.testing.assert_array_equal(out["id"], np.arange(3))  # other columns pass through
    assert "image" not in out

    model = CLIPModel.from_pretrained(tiny_clip).eval()
    pixels = CLIPImageProcessor.from_pretrained(tiny_clip)(images=images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        pooled = model.vision_model(pixel_values=pixels).pooler_output
        expected = torch.nn.functional.normalize(model.visual_projection(pooled), dim=-1).numpy()
    np.testing.assert_allclose(out["embedding"], expected, rtol=1e-4, atol=1e-5)


def test_image_folder_split_is_stratified_and_seeded(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=8)
    classes, items = list_image_folder(str(tmp_path), test_fraction=0.25, seed=3)
    assert classes == sorted(CLASS_COLOURS)
    for label in range(len(classes)):
        assert sum(1 for i in items if i.label == label and i.split == "test") == 2
    assert list_image_folder(str(tmp_path), 0.25, 3)[1] == items


def test_validation_split_is_stratified_seeded_and_leaves_the_test_split_alone(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=10)
    classes, items = list_image_folder(str(tmp_path), test_fraction=0.2, seed=3, val_fraction=0.3)
    counts = Counter((i.label, i.split) for i in items)
    for label in range(len(classes)):
        assert (counts[label, "test"], counts[label, "val"], counts[label, "train"]) == (2, 3, 5)
    assert list_image_folder(str(tmp_path), 0.2, 3, 0.3)[1] == items
    assert list_image_folder(str(tmp_path), 0.2, 4, 0.3)[1] != items
    # Adding a validation split takes its images from train, never from test.
    _, without_val = list_image_folder(str(tmp_path), 0.2, 3)
    assert {i.key for i in items if i.split == "test"} == {i.key for i in without_val if i.split == "test"}


def test_validation_split_needs_three_images_per_class(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=3)
    (tmp_path / "red" / "red-002.png").unlink()
    list_image_folder(str(tmp_path), 0.25, 0)  # train and test alone: two images are enough
    with pytest.raises(
        ValueError,
        match=r"classes \['red'\] .* fewer than 3 images: need one each for train, validation and test",
    ):
        list_image_folder(str(tmp_path), 0.25, 0, val_fraction=0.2)


def test_image_folder_with_one_class_is_a_clear_error(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=3)
    for name in ("green", "red"):
        for f in (tmp_path / name).iterdir():
            f.unlink()
    with pytest.raises(
        ValueError, match=r"at least two class sub-directories with images .* found \['blue'\]"
    ):
        list_image_folder(str(tmp_path), 0.25, 0)


@dataclass
class Trained:
    cfg: ClipClassifierConfig
    result: ClipClassifierResult
    tracking_uri: str


@pytest.fixture(scope="module")
def trained(
    ray_local: None, mlflow_server: str, tiny_clip: Path, tmp_path_factory: pytest.TempPathFactory
) -> Trained:
    """One training run shared by the tests below: 60 images, 12 of them validation, 15 test."""
    tmp = tmp_path_factory.mktemp("clip-train")
    cfg = ClipClassifierConfig(
        data_dir=str(write_image_folder(tmp / "images", per_class=20)),
        model=str(tiny_clip),  # a local directory, loaded through the same from_pretrained path as a hub id
        val_fraction=0.2,
        epochs=6,
        num_workers=2,
        cpus_per_worker=0.5,  # leaves one CPU for Ray Data
        batch_size=8,
        lr=3e-3,
        storage_path=str(tmp / "storage"),
        run_name="clip-colours",
        experiment_name="clip-classifier-test",
        model_name="clip-classifier-test",
        tracking_uri=mlflow_server,
    )
    return Trained(cfg, train_clip_classifier(cfg), mlflow_server)


def best_epoch_by(history: list[dict], metric: str = "val_loss") -> int:
    return min(history, key=lambda row: row[metric])["epoch"]


@pytest.mark.slow
def test_clip_classifier_trains_on_ray_data_shards_and_logs_metrics(
    trained: Trained, tiny_clip: Path
) -> None:
    cfg, result = trained.cfg, trained.result
    assert result.classes == sorted(CLASS_COLOURS)
    assert not result.embeddings_cached
    assert (Path(result.embeddings_path) / "data").is_dir()
    assert [row["epoch"] for row in result.history] == list(range(1, 7))
    assert set(result.test_metrics) == METRICS
    assert result.test_metrics["accuracy"] > 0.6  # three classes: chance is 1/3

    client = mlflow.MlflowClient(tracking_uri=trained.tracking_uri)
    run = client.get_run(result.mlflow_run_id)
    assert run.info.status == "FINISHED"
    for name, value in result.test_metrics.items():
        assert run.data.metrics[f"test_{name}"] == pytest.approx(value)
    assert run.data.tags["ray_aks.clip_model"] == str(tiny_clip)
    assert (
        run.data.params["train_images"],
        run.data.params["val_images"],
        run.data.params["test_images"],
    ) == (
        "33",
        "12",
        "15",
    )

    model, state = load_classifier(result.checkpoint_path)
    assert isinstance(model, EmbeddingClassifier) and state["classes"] == result.classes
    assert [type(m).__name__ for m in model.layers] == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]

    # The embeddings are cached under the storage path: a second pass reuses them without Ray Data.
    _, items = list_image_folder(cfg.data_dir, cfg.test_fraction, cfg.seed, cfg.val_fraction)
    assert embed_images(cfg, items) == (Path(result.embeddings_path), True)


@pytest.mark.slow
def test_validation_metrics_of_every_epoch_reach_the_history_and_mlflow(trained: Trained) -> None:
    result = trained.result
    for row in result.history:
        assert set(row) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
        assert row["val_loss"] > 0 and 0 <= row["val_accuracy"] <= 1
        assert round(row["val_accuracy"] * 12) == pytest.approx(row["val_accuracy"] * 12)  # 12 images
    client = mlflow.MlflowClient(tracking_uri=trained.tracking_uri)
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        logged = {m.step: m.value for m in client.get_metric_history(result.mlflow_run_id, key)}
        assert logged == pytest.approx({row["epoch"]: row[key] for row in result.history}), key


@pytest.mark.slow
def test_the_registered_model_is_the_best_checkpoint_by_validation_loss(trained: Trained) -> None:
    cfg, result = trained.cfg, trained.result
    assert result.checkpoint_metric == "val_loss"
    assert result.best_epoch == best_epoch_by(result.history)
    assert Path(result.checkpoint_path).name == f"checkpoint_epoch_{result.best_epoch:04d}"
    assert Path(result.latest_checkpoint_path).name == "checkpoint_epoch_0006"

    client = mlflow.MlflowClient(tracking_uri=trained.tracking_uri)
    version = client.get_model_version_by_alias(cfg.model_name, "champion")
    assert version.run_id == result.mlflow_run_id and int(version.version) == result.model_version
    run = client.get_run(result.mlflow_run_id)
    assert run.data.metrics["best_epoch"] == result.best_epoch
    assert run.data.tags["ray_aks.checkpoint_metric"] == "val_loss"

    registered, state = load_classifier_source(f"models:/{cfg.model_name}@champion", trained.tracking_uri)
    assert state["epoch"] == result.best_epoch
    assert state["clip_model"] == cfg.model
    assert state["split"] == {"test_fraction": 0.25, "val_fraction": 0.2, "seed": 0}
    best, _ = load_classifier(result.checkpoint_path)
    for name, tensor in best.state_dict().items():
        torch.testing.assert_close(registered.state_dict()[name], tensor, msg=name)


@pytest.mark.slow
def test_evaluation_from_the_registry_matches_the_training_test_metrics(trained: Trained) -> None:
    cfg, result = trained.cfg, trained.result
    evaluation = evaluate_clip_classifier(
        ClipEvalConfig(
            model_uri=f"models:/{cfg.model_name}@champion",
            data_dir=cfg.data_dir,
            storage_path=cfg.storage_path,  # the training run's embeddings cache
            tracking_uri=trained.tracking_uri,
        )
    )
    assert (evaluation.split, evaluation.images, evaluation.epoch) == ("test", 15, result.best_epoch)
    assert evaluation.classes == result.classes
    assert set(evaluation.metrics) == METRICS
    assert evaluation.metrics == pytest.approx(result.test_metrics)


@pytest.mark.slow
def test_evaluate_cli_scores_a_registered_version_on_the_validation_split(
    trained: Trained, tmp_path: Path
) -> None:
    """Through the command, with the model by version and its embeddings computed afresh (another
    storage path): its validation accuracy is the one training reported for that epoch."""
    cfg, result = trained.cfg, trained.result
    args = [
        "evaluate", "clip-classifier",
        "--model-uri", f"models:/{cfg.model_name}/{result.model_version}",
        "--data-dir", cfg.data_dir,
        "--split", "val",
        "--storage-path", str(tmp_path / "storage"),
        "--tracking-uri", trained.tracking_uri,
        "--no-use-gpu",
    ]  # fmt: skip
    from ray_aks.cli import app

    done = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert f"on the val split of {cfg.data_dir} (12 images)" in done.output
    shown = {
        m["name"]: float(m["value"])
        for m in re.finditer(r"^(?P<name>\w+)\s+(?P<value>[\d.]+)$", done.output, re.M)
    }
    assert set(shown) >= METRICS
    best = result.history[result.best_epoch - 1]
    assert shown["accuracy"] == pytest.approx(best["val_accuracy"], abs=5e-5)
    assert list((tmp_path / "storage" / "clip-embeddings").iterdir())  # embedded the 12 images itself


@pytest.mark.slow
def test_a_rerun_with_the_same_run_name_resumes_and_picks_the_best_of_all_epochs(trained: Trained) -> None:
    cfg = trained.cfg.model_copy(update={"epochs": 8, "model_name": "clip-classifier-resumed"})
    again = train_clip_classifier(cfg)
    assert again.embeddings_cached
    assert [row["epoch"] for row in again.history] == list(range(1, 9))
    assert again.history[:6] == trained.result.history  # resumed from the checkpoint, not retrained
    assert again.best_epoch == best_epoch_by(again.history)
    client = mlflow.MlflowClient(tracking_uri=trained.tracking_uri)
    run = client.get_run(again.mlflow_run_id)
    assert run.data.metrics["resumed_from_epoch"] == 6
    assert [m.step for m in client.get_metric_history(again.mlflow_run_id, "val_loss")] == list(range(1, 9))
    _, state = load_classifier_source(f"models:/{cfg.model_name}@champion", trained.tracking_uri)
    assert state["epoch"] == again.best_epoch


def report_fixed_validation_losses(config: dict) -> None:
    """A Ray Train loop that reports given validation losses, with a checkpoint every epoch."""
    import ray.train

    for epoch, val_loss in enumerate(config["val_losses"], start=1):
        with tempfile.TemporaryDirectory() as directory:
            (Path(directory) / "epoch").write_text(str(epoch))
            ray.train.report(
                {"epoch": epoch, "val_loss": val_loss},
                checkpoint=ray.train.Checkpoint.from_directory(directory),
                checkpoint_dir_name=f"checkpoint_epoch_{epoch:04d}",
            )


@pytest.mark.slow
def test_checkpoint_score_keeps_the_best_checkpoints_and_the_latest(ray_local: None, tmp_path: Path) -> None:
    """The Ray glue the classifier trains with, on losses whose best is not the last epoch."""
    from ray_aks.training.trainer import torch_trainer

    cfg = ClipClassifierConfig(
        data_dir=str(tmp_path),
        num_workers=1,
        cpus_per_worker=0.5,
        keep_checkpoints=1,
        storage_path=str(tmp_path / "storage"),
    )
    trainer = torch_trainer(
        report_fixed_validation_losses,
        {"val_losses": [0.9, 0.3, 0.5, 0.7]},
        cfg,
        "fixed-losses",
        checkpoint_score=("val_loss", cfg.checkpoint_mode),
    )
    result = trainer.fit()
    best = result.get_best_checkpoint("val_loss", "min")
    assert Path(best.path).name == "checkpoint_epoch_0002"
    assert Path(result.checkpoint.path).name == "checkpoint_epoch_0004"
    kept = sorted(p.name for p in (tmp_path / "storage" / "fixed-losses").glob("checkpoint_epoch_*"))
    assert kept == ["checkpoint_epoch_0002", "checkpoint_epoch_0004"]  # epochs 1 and 3 deleted
